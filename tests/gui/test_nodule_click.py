"""A click on a lung nodule of a chest CT: the nodule model is chosen, answers as the headless API does, draws
its saliency on the clicked slice, and offers no slice or series run."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import medview.ai.registry as registry
from medview.ai.infer import classifier_for
from medview.ai.manifest import read_card
from medview.io import load_volume
from tests.gui.helpers import click_pixel, open_and_wait, shown_window

TIMEOUT = 120_000


@pytest.fixture()
def chest_window(qtbot, tmp_path, tiny_models, tiny_nodule_model, monkeypatch, shared_data):
    """The window on the thin-slice LIDC chest CT, with the brain models and the nodule model installed (the
    brain detector chosen first, as a user coming from an MRI would have it)."""
    folder = tmp_path / "models"
    shutil.copytree(tiny_models, folder)
    shutil.copytree(tiny_nodule_model, folder / "nodule")
    monkeypatch.setattr(registry, "BUNDLED", tmp_path / "no-bundled-models")
    monkeypatch.setenv("MEDVIEW_MODELS", str(folder))
    main = shown_window(qtbot, tmp_path)
    open_and_wait(qtbot, main, shared_data / "samples" / "ct_chest_lidc_0314", k=159)
    yield main
    main.cancel_loading()


def test_a_click_on_the_lidc_nodule_uses_the_nodule_model_and_draws_its_saliency(qtbot, chest_window,
                                                                                  tiny_nodule_model, shared_data):
    window = chest_window
    panel, view = window.inference, window.view
    qtbot.waitUntil(lambda: window.shown.loaded, timeout=TIMEOUT)
    panel.click_mode.setChecked(True)
    with qtbot.waitSignal(panel.result_drawn, timeout=TIMEOUT) as drawn:
        click_pixel(qtbot, view, 243, 184)
    prediction = drawn.args[0]
    assert prediction.kind == "nodule" and prediction.point == (184.0, 243.0)
    assert prediction.model_name == read_card(tiny_nodule_model).name
    headless = classifier_for(read_card(tiny_nodule_model)).classify_slice(
        load_volume(shared_data / "samples" / "ct_chest_lidc_0314"), 159, (184, 243))
    assert prediction.label == headless.label
    assert prediction.probabilities == pytest.approx(headless.probabilities, abs=1e-5)
    assert "nodule under the click" in panel.answer.text()
    # read on the nodule's widest section (k 158): the answer and its saliency are filed there and shown there
    assert prediction.read_slice == headless.read_slice == 158
    assert "Read on slice 159/275, the nodule's widest section" in panel.status.text()
    assert view.k == 158 and view.heat_source == window.shown.ref(158)
    assert window.session.answers_on(window.shown.ref(158)) and not window.session.answers_on(window.shown.ref(159))
    assert window.session.marks[window.shown.ref(159)] == [(184, 243)]  # the click stays where it was made
    if headless.saliency.max() > 0:  # a two-step model may have no positive evidence at all
        shown = view.heat_values
        assert np.unravel_index(shown.argmax(), shown.shape) == np.unravel_index(
            headless.saliency.argmax(), headless.saliency.shape)
    assert "research use only" in view.ai_label.text()


def test_no_slice_or_series_run_is_offered_for_a_nodule_model(qtbot, chest_window):
    panel = chest_window.inference
    index = next(i for i, card in enumerate(panel.cards) if card.task == "nodule")
    panel.model_box.setCurrentIndex(index)
    assert not panel.series_button.isEnabled() and not panel.slice_button.isEnabled()
    assert "does not find nodules" in panel.series_button.toolTip()
    assert "Assumes a nodule under the cursor" in panel.card_view.toPlainText()
    brain = next(i for i, card in enumerate(panel.cards) if card.task == "patch")
    panel.model_box.setCurrentIndex(brain)
    assert panel.series_button.isEnabled()
