"""The inference panel as a user meets it: click on the tumour, classify a series, cancel, broken models."""

from __future__ import annotations

import json

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, Qt

from medview.ai.infer import classifier_for
from medview.ai.manifest import read_card
from medview.gui.app import SAMPLE
from medview.io import load_volume
from tests.gui.helpers import click_pixel

TIMEOUT = 120_000


def test_a_click_on_the_tumour_shows_what_the_headless_api_says_there(qtbot, window, models):
    panel, view = window.inference, window.view
    panel.click_mode.setChecked(True)
    with qtbot.waitSignal(panel.result_drawn, timeout=TIMEOUT) as drawn:
        click_pixel(qtbot, view, 210, 175)
    prediction = drawn.args[0]
    assert prediction.point == (175.0, 210.0)
    headless = classifier_for(read_card(models / "patch")).classify_slice(load_volume(SAMPLE), 17, (175, 210))
    assert prediction.label == headless.label
    assert prediction.probabilities == pytest.approx(headless.probabilities, abs=1e-5)
    for label, probability in headless.probabilities.items():
        assert panel.bars[label].value() == int(round(probability * 1000))
    assert headless.label in panel.answer.text()
    # the overlay on screen is the headless saliency, peak for peak, on the clicked slice
    assert view.heat_on_screen() and view.heat_source == window.shown.ref(17)
    shown = view.heat_values
    assert np.unravel_index(shown.argmax(), shown.shape) == np.unravel_index(
        headless.saliency.argmax(), headless.saliency.shape)
    assert view.ai_label.isVisible() and "research use only" in view.ai_label.text()
    assert window.session.marks[window.shown.ref(17)] == [(175, 210)]


def test_classify_slice_is_the_detectors_find_then_type_as_the_headless_api_says(qtbot, window, models):
    panel = window.inference
    with qtbot.waitSignal(panel.result_drawn, timeout=TIMEOUT) as drawn:
        panel.classify_slice()
    shown = drawn.args[0]
    headless = classifier_for(read_card(models / "patch")).classify_slice(load_volume(SAMPLE), 17)
    assert shown.kind == headless.kind == "slice"
    assert (shown.label, shown.point, shown.flagged) == (headless.label, headless.point, headless.flagged)
    assert panel.answer.text() == headless.headline()
    assert panel.answer.text().startswith(("no tumour found", "tumour at ("))


def test_a_result_for_slice_5_arriving_while_slice_9_is_shown_is_not_drawn_on_9(qtbot, window):
    panel, view = window.inference, window.view
    view.set_slice(5)
    view.set_slice(9)  # the user moved on before the result came back
    card = panel.card_for("patch")
    key = (window.shown.ref(5), (100.0, 100.0), card.weights_sha256)
    prediction = classifier_for(card).classify_slice(window.shown.volume, 5, (100.0, 100.0))
    view.show_saliency(None, None)
    panel._classified((key, prediction))  # the job made for slice 5 ends now
    assert not view.heat_on_screen()
    assert panel.answer.text() == "" and not any(bar.isVisibleTo(panel) for bar in panel.bars.values())
    assert "slice 6/24 kept" in panel.status.text()
    view.set_slice(5)
    assert view.heat_on_screen() and view.heat_source == key[0]
    assert prediction.label in panel.answer.text()
    shown = {label: bar.value() for label, bar in panel.bars.items() if bar.isVisibleTo(panel)}
    assert shown == {label: int(round(p * 1000)) for label, p in prediction.probabilities.items()}


def test_a_series_run_can_be_cancelled_halfway_and_the_viewer_carries_on(qtbot, window):
    panel = window.inference
    panel.classify_series()
    qtbot.waitUntil(lambda: len(panel.series_scores()) >= 3, timeout=TIMEOUT)
    panel.cancel_series()
    done = len(panel.series_scores())
    qtbot.wait(500)
    assert len(panel.series_scores()) <= done + 1 < window.shown.n_slices
    assert "cancelled" in panel.status.text()
    window.view.step(1)
    assert window.view.k == 18


def test_a_full_series_run_plots_every_slice_and_a_plot_click_jumps(qtbot, window):
    panel = window.inference
    with qtbot.waitSignal(panel.series_finished, timeout=TIMEOUT) as finished:
        panel.classify_series()
    scores = finished.args[0]
    assert sorted(scores) == list(range(24))
    x, y = panel.curve.getData()
    assert list(x) == list(range(1, 25)) and np.all((0 <= y) & (y <= 1))  # slices as read: k + 1
    # a click on the plot at slice 10 shows slice 10 (k 9)
    box = panel.plot.getPlotItem().vb
    where = panel.plot.mapFromScene(box.mapViewToScene(pg.Point(10, 0.5)))
    qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(where.x(), where.y()))
    assert window.view.k == 9
    from medview.ai.detect import iter_series

    headless = list(iter_series(classifier_for(panel.card_for("patch")), load_volume(SAMPLE)))
    assert [scores[f.k] for f in headless] == pytest.approx([f.score for f in headless], abs=1e-6)
    flagged = [panel.flagged.item(i) for i in range(panel.flagged.count())]
    assert [int(item.data(Qt.ItemDataRole.UserRole)) for item in flagged] == [f.k for f in headless if f.flagged], \
        "the panel runs the CLI's series function"
    if flagged:  # a listed slice is named as the plot counts it, and a click on it goes there
        k = int(flagged[0].data(Qt.ItemDataRole.UserRole))
        assert flagged[0].text().startswith(f"slice {k + 1}/24")
        panel.flagged.itemClicked.emit(flagged[0])
        assert window.view.k == k


def test_a_broken_model_folder_shows_an_error_and_the_viewer_still_scrolls(qtbot, window, models):
    manifest = models / "patch" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["weights"]["sha256"] = "0" * 64
    manifest.write_text(json.dumps(data))
    window.inference.reload_models()
    assert "Refused" in window.inference.status.text() and "sha256" in window.inference.status.text()
    failures = []
    window.inference.failed.connect(failures.append)
    window.inference.classify_point(175, 210)
    assert failures and "No fitting model" in failures[0]
    window.view.step(-1)
    assert window.view.k == 16


def test_torch_is_not_imported_by_opening_the_window(tmp_path):
    import subprocess
    import sys

    code = ("import sys, os\nos.environ['QT_QPA_PLATFORM']='offscreen'\n"
            "from PySide6.QtWidgets import QApplication\nfrom PySide6.QtCore import QSettings\n"
            "from medview.gui.main_window import MainWindow\napp = QApplication([])\n"
            f"w = MainWindow(QSettings({str(tmp_path / 's.ini')!r}, QSettings.Format.IniFormat))\nw.show()\n"
            "app.processEvents()\nprint('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_showing_another_series_does_not_read_the_model_folders_again(qtbot, window, monkeypatch, shared_data):
    """Reading the model folders (cards, weight hashes) is disk work: it ran on the GUI thread for every series
    shown (29 ms of a 150 ms stall with two bundled models)."""
    import medview.ai.registry as registry
    from tests.gui.helpers import open_and_wait

    reads = []
    real = registry.scan_models
    monkeypatch.setattr(registry, "scan_models", lambda *a, **k: reads.append(1) or real(*a, **k))
    chosen = window.inference.card()
    open_and_wait(qtbot, window, shared_data / "dicom_cases" / "mr_siemens_sagittal")
    assert reads == [] and window.inference.cards
    open_and_wait(qtbot, window, SAMPLE, k=17)
    assert reads == [] and window.inference.card().weights_sha256 == chosen.weights_sha256
