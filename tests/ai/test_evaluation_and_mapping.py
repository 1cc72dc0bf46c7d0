"""Evaluation by the card's own geometry, the patch model's detector figures, metrics that can be checked by
hand, classify on a dataset PNG, and the bundled DICOM sample mapped like a training image."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from medview.ai import metrics
from medview.ai.manifest import read_card, seal


def test_ece_and_auc_match_hand_computed_values():
    # two bins used: confidence 0.9 (3 of 4 right) and 0.6 (1 of 2 right)
    p = np.array([[0.9, 0.1]] * 4 + [[0.4, 0.6]] * 2)
    y = np.array([0, 0, 0, 1, 1, 0])
    assert metrics.ece(p, y) == pytest.approx(4 / 6 * abs(0.75 - 0.9) + 2 / 6 * abs(0.5 - 0.6))
    assert metrics.roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)
    report = metrics.classification_report(np.array([[0.8, 0.2, 0.0], [0.3, 0.7, 0.0]]), np.array([0, 0]),
                                           ["a", "b", "c"])
    assert report["balanced_accuracy"] == 0.5, "classes without examples do not count"


def test_temperature_fitted_on_overconfident_logits_cools_them():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 2000)
    logits = rng.normal(0, 1, (2000, 3))
    logits[np.arange(2000), y] += 1.0
    logits *= 4  # right 2/3 of the time but nearly always ~certain
    t = metrics.fit_temperature(logits, y)
    assert t > 2
    assert metrics.ece(metrics.softmax(logits, t), y) < metrics.ece(metrics.softmax(logits), y) / 3


def test_patch_evaluation_reports_the_detector_at_the_cards_operating_point(tiny_models, shared_data):
    from medview.ai.evaluate import evaluate, format_report

    card = read_card(tiny_models / "patch")
    report = evaluate(shared_data / "brain_tumor_mri", card, "val", limit=4)
    assert report["n"] == 16, "two tumour and two no-tumour patches per image"
    assert report["per_class"]["no tumour"]["support"] == 8
    detector = report["detector"]
    assert detector["threshold"] == card.operating_point["threshold"]
    assert 0 <= detector["sensitivity"] <= 1 and 0 <= detector["specificity"] <= 1
    assert report["detector_brain_negatives"]["threshold"] == card.operating_point["threshold"]
    assert "tumour vs no tumour (whole head)" in format_report(report)


def test_evaluation_cuts_inputs_by_the_cards_geometry_not_the_training_defaults(tiny_models, tmp_path):
    import shutil

    from medview.ai.evaluate import setup_of

    folder = tmp_path / "m"
    shutil.copytree(tiny_models / "slice", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["input"].update(size=96, mm_per_pixel=2.5)
    (folder / "manifest.json").write_text(json.dumps(seal(manifest)))
    setup = setup_of(read_card(folder))
    assert (setup.size, setup.mm_per_pixel) == (96, 2.5)


def test_classify_a_dataset_png_from_the_command_line(tiny_models, shared_data):
    png = shared_data / "brain_tumor_mri" / "images" / "0001.png"
    done = subprocess.run([sys.executable, "-m", "medview.cli", "classify", str(png), "--model",
                           str(tiny_models / "slice"), "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result["probabilities"]) == {"glioma", "meningioma", "pituitary"}
    assert result["label"] == max(result["probabilities"], key=result["probabilities"].get)
    assert 0 <= result["saliency_peak"]["column"] < 256 and 0 <= result["saliency_peak"]["row"] < 256


def test_a_refused_model_is_one_line_on_the_command_line_and_exit_2(tiny_models, tmp_path, shared_data):
    import shutil

    folder = tmp_path / "bad"
    shutil.copytree(tiny_models / "slice", folder)
    (folder / "model.safetensors").write_bytes(b"\x80\x04not safetensors at all")
    png = shared_data / "brain_tumor_mri" / "images" / "0001.png"
    done = subprocess.run([sys.executable, "-m", "medview.cli", "classify", str(png), "--model", str(folder)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "not a safetensors file" in done.stderr and "Traceback" not in done.stderr


def _head_extent_mm(x: np.ndarray, mm_per_pixel: float) -> tuple[float, float]:
    head = x > 0.08
    rows, columns = np.nonzero(head.any(1))[0], np.nonzero(head.any(0))[0]
    return (rows[-1] - rows[0] + 1) * mm_per_pixel, (columns[-1] - columns[0] + 1) * mm_per_pixel


def test_the_bundled_dicom_sample_maps_to_the_field_of_view_and_values_of_training_images(shared_data):
    """The TCIA glioblastoma (0.6875 mm pixels, 320×260) through the input mapping: a head of the training
    images' size in mm inside the same 251 mm square, and brain values in the same range."""
    from medview.ai.dataset import load_png, read_labels
    from medview.ai.inputs import png_unit_range, slice_input
    from medview.io import load_volume

    volume = load_volume(shared_data / "samples" / "mr_brain_t1post_tcia_btp")
    x, placement = slice_input(volume.slice(17), volume.pixel_spacing, 128, 1.96)
    assert x.shape == (128, 128)
    assert placement.extent_rc == pytest.approx((128 * 1.96 / 0.6875,) * 2)
    height, width = _head_extent_mm(x, 1.96)
    root = shared_data / "brain_tumor_mri"
    rows = read_labels(root)[::60]
    extents = np.array([_head_extent_mm(slice_input(png_unit_range(load_png(root / r.file)), (0.98, 0.98), 128,
                                                    1.96, True)[0], 1.96) for r in rows])
    assert np.percentile(extents[:, 0], 5) <= height <= np.percentile(extents[:, 0], 95)
    assert np.percentile(extents[:, 1], 5) <= width <= np.percentile(extents[:, 1], 95)
    median_in_head = float(np.median(x[x > 0.08]))
    assert 0.18 < median_in_head < 0.36, median_in_head
