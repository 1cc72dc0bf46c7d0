"""Saliency lands on the slice's own pixels; the input mapping is the dataset's own; classify's contract."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from medview.ai.inputs import Placement, patch_input, png_unit_range, sample_square, slice_input


class _OneQuadrant(torch.nn.Module):
    """A lesion map that is 'tumour' in one quadrant of the model input only."""

    def __init__(self, quadrant: tuple[slice, slice]) -> None:
        super().__init__()
        self.quadrant = quadrant

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits = torch.full(features.shape[:1] + (1,) + features.shape[2:], -20.0)
        logits[..., self.quadrant[0], self.quadrant[1]] = 20.0
        return logits


def _card(folder, task, size, mm, labels):
    weights = folder / "model.safetensors"
    from safetensors.torch import save_file

    from medview.ai.network import LesionCNN

    network = LesionCNN(len(labels), (8, 16), 8)
    with torch.no_grad():  # positive head weights: every class gains from the features it pools
        for layer in network.head:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.abs_()
    save_file(network.state_dict(), str(weights))
    from medview.ai.manifest import read_card, seal, sha256_of

    manifest = {
        "name": f"test-{task}", "version": "0", "task": task, "labels": labels, "modality": "MR",
        "body_part": "BRAIN", "input": {"size": size, "mm_per_pixel": mm, "patch_mm": size * mm},
        "weights": {"file": weights.name, "sha256": sha256_of(weights)},
        "architecture": {"name": "LesionCNN", "widths": [8, 16], "hidden": 8}, "intended_use": "tests",
        "research_use_only": True,
    }
    (folder / "manifest.json").write_text(json.dumps(seal(manifest)))
    return read_card(folder)


def test_a_model_that_looks_at_one_quadrant_has_its_saliency_peak_there_on_the_slice(tmp_path):
    from medview.ai.infer import Classifier

    card = _card(tmp_path, "slice", 64, 2.0, ["a", "b", "c"])
    classifier = Classifier(card)
    # gate grid is 32×32 (one pool): "tumour" in the input's lower-right quadrant only
    classifier.network.gate.lesion = _OneQuadrant((slice(16, 32), slice(16, 32)))
    rng = np.random.default_rng(0)
    image = rng.normal(100, 20, size=(300, 200)).astype(np.float32)
    spacing = (0.5, 0.8)  # anisotropic pixels, non-square image
    prediction = classifier.classify(image, spacing, saliency="gradcam")
    heat = prediction.saliency
    assert heat.shape == image.shape
    r, c = np.unravel_index(int(heat.argmax()), heat.shape)
    _, placement = slice_input(image, spacing, 64, 2.0)
    ir, ic = placement.to_input(r, c)
    assert ir >= 31 and ic >= 31, "the peak lies in the quadrant the model looked at"
    # nothing of the saliency lands in the quadrant it never looked at
    top_left = [placement.to_input(rr, cc) for rr in range(0, 300, 7) for cc in range(0, 200, 7)]
    cold = [heat[rr, cc] for (rr, cc), (i, j) in zip(
        [(rr, cc) for rr in range(0, 300, 7) for cc in range(0, 200, 7)], top_left, strict=True)
        if i < 28 and j < 28]
    assert max(cold) < 1e-3


def test_patch_saliency_peaks_near_the_click(tmp_path):
    from medview.ai.infer import Classifier

    card = _card(tmp_path, "patch", 32, 1.0, ["no tumour", "x", "y", "z"])
    classifier = Classifier(card)
    classifier.network.gate.lesion = _OneQuadrant((slice(7, 9), slice(7, 9)))  # the patch centre, 16×16 grid
    image = np.random.default_rng(1).normal(100, 20, size=(256, 256)).astype(np.float32)
    prediction = classifier.classify(image, (0.75, 0.75), point=(180.0, 60.0))
    r, c = np.unravel_index(int(prediction.saliency.argmax()), prediction.saliency.shape)
    assert abs(c - 180) <= 4 and abs(r - 60) <= 4
    assert prediction.point == (180.0, 60.0)
    assert prediction.tumour_probability == pytest.approx(1 - prediction.probabilities["no tumour"], abs=1e-5)


def test_dataset_png_maps_to_the_slice_input_by_2x2_averaging(shared_data):
    from medview.ai.dataset import load_png

    image = png_unit_range(load_png(shared_data / "brain_tumor_mri" / "images" / "0001.png"))
    x, placement = slice_input(image, (0.98, 0.98), 128, 1.96, already_unit=True)
    assert np.allclose(x, image.reshape(128, 2, 128, 2).mean((1, 3)), atol=1e-5)
    assert placement.extent_rc == pytest.approx((256, 256))


def test_dicom_slice_is_resampled_to_the_training_mm_per_pixel():
    # a 10 mm bright square on a 0.5 mm grid is 5 pixels wide at 2 mm per pixel (half, 4 whole, half), centred
    image = np.zeros((200, 200), np.float32)
    image[90:110, 90:110] = 1.0
    x, placement = sample_square(image, (0.5, 0.5), (99.5, 99.5), 32, 2.0)
    assert x.shape == (32, 32)
    assert x.sum() == pytest.approx(20 * 20 / 16, rel=1e-4)
    rows = np.nonzero(x.max(1) > 0.99)[0]
    assert list(rows) == [14, 15, 16, 17]
    assert x[13, 15] == pytest.approx(0.5) and x[18, 15] == pytest.approx(0.5)


def test_patch_outside_the_image_is_black_not_wrapped():
    image = np.ones((50, 50), np.float32)
    x, _ = patch_input(image, (1.0, 1.0), (0, 0), 20, 1.0, already_unit=True)
    assert x[:9, :9].max() == 0 and x[11:, 11:].min() == 1


def test_placement_round_trip():
    placement = Placement((100.0, 80.0), (64.0, 32.0), 64, (256, 256))
    assert placement.to_input(100.0, 80.0) == pytest.approx((31.5, 31.5))
