"""The lung nodule model: one mapping from a CT series to its input, the LIDC-IDRI split, training, evaluation
beside the size baseline, and the click on real chest CTs."""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from medview.ai import nodule_data as data
from medview.ai.manifest import read_card
from medview.ai.nodule_eval import evaluate_nodules, paired_bootstrap, rank_auc
from medview.ai.nodule_input import (
    NoduleGeometry,
    disc_inside,
    nodule_input,
    slab_weights,
    slices_read,
    widest_section,
)
from medview.ai.nodule_train import (
    centred_click,
    click_fits,
    crop_input,
    lung_padded,
    threshold_at_sensitivity,
    threshold_youden,
)

LIDC_0314 = "samples/ct_chest_lidc_0314"
CT_CHEST = "samples/ct_chest"


@pytest.fixture(scope="module")
def nodules(shared_data):
    return data.read_nodules(shared_data / "ct_lung_nodule")


@pytest.fixture(scope="module")
def lidc_0314(shared_data):
    from medview.io import assemble_volume, open_folder

    return assemble_volume(open_folder(shared_data / LIDC_0314).find(None))


def run_medview(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medview.cli", *args], capture_output=True, text=True, timeout=300)


# -- the one mapping ---------------------------------------------------------------------------------------

def test_a_thin_series_is_averaged_over_the_slab_and_a_thick_one_keeps_the_clicked_slice():
    thin = np.arange(20) * 1.0
    weights = slab_weights(thin, 10, 5.0)
    assert np.flatnonzero(weights).tolist() == [8, 9, 10, 11, 12]
    assert np.allclose(weights[8:13], 0.2)
    thick = np.arange(10) * 8.0  # 8 mm slices: a 5 mm slab is the clicked slice alone
    assert np.flatnonzero(slab_weights(thick, 4, 5.0)).tolist() == [4]
    assert np.flatnonzero(slab_weights(thin, 10, 0.0)).tolist() == [10]
    edge = slab_weights(thin, 0, 5.0)  # cut off by the end of the data: thinner, never padded
    assert np.flatnonzero(edge).tolist() == [0, 1, 2] and np.isclose(edge.sum(), 1)


def _sphere_in_lung(radius_mm: float = 6.0, centre_k: int = 20, n: int = 41) -> np.ndarray:
    """1 mm slices of lung (-850 HU) holding a soft-tissue ball (40 HU) centred at slice centre_k, row 32, column 32,
    and a vessel (a 1.5 mm rod, 40 HU) running through every slice 7 mm beside it."""
    z, y, x = np.mgrid[0:n, 0:64, 0:64].astype(np.float32)
    hu = np.full((n, 64, 64), -850, np.float32)
    hu[np.hypot(np.hypot(z - centre_k, y - 32), x - 32) <= radius_mm] = 40
    hu[np.hypot(y - 32, x - 45) <= 1.5] = 40
    return hu


def test_a_click_on_a_nodules_pole_is_read_on_its_widest_section():
    hu = _sphere_in_lung()
    z_mm = np.arange(len(hu), dtype=np.float64)
    for k in (15, 17, 20, 23, 25):  # the ball spans slices 14 to 26; its widest section is slice 20
        assert widest_section(hu.__getitem__, z_mm, k, (1.0, 1.0), (32.0, 33.0), 9.0) == 20
    # a wider section is looked for within 10 mm only: more than 10 mm past the ball's last slice (26) a click
    # stays on its slice; a click on the vessel alone stays on its slice too
    assert widest_section(hu.__getitem__, z_mm, 37, (1.0, 1.0), (32.0, 33.0), 9.0) == 37
    assert widest_section(hu.__getitem__, z_mm, 33, (1.0, 1.0), (32.0, 45.0), 9.0) == 33
    # a click beside the pole, 7 mm from the axis, finds nothing to follow on its slice (the section there is 3.3 mm
    # across) and is read where the ball reaches it: its widest section
    assert widest_section(hu.__getitem__, z_mm, 15, (1.0, 1.0), (32.0, 39.0), 9.0) == 20
    # a click in lung with nothing under it within 3 mm stays where it was
    assert widest_section(hu.__getitem__, z_mm, 17, (1.0, 1.0), (10.0, 10.0), 9.0) == 17


def test_a_click_on_a_nodule_is_not_read_on_a_wider_structure_that_does_not_touch_it():
    hu = _sphere_in_lung(radius_mm=4.0)  # the ball spans slices 16 to 24; its widest section is slice 20
    hu[27:29, 30:35, :] = 40  # a vessel running in the plane 7 mm above it, wider than the ball, not touching it
    z_mm = np.arange(len(hu), dtype=np.float64)
    for k in (18, 20, 23):
        assert widest_section(hu.__getitem__, z_mm, k, (1.0, 1.0), (32.0, 32.0), 9.0) == 20
    # a click on the vessel is read on the vessel (as wide on both its slices: the clicked one)
    assert widest_section(hu.__getitem__, z_mm, 28, (1.0, 1.0), (32.0, 32.0), 9.0) == 28


def test_the_viewer_hands_over_every_slice_a_click_may_read():
    z_mm = np.arange(60) * 1.0
    needed = slices_read(z_mm, 30, 5.0)
    assert needed.tolist() == list(range(18, 43))  # ±10 mm of candidates, each with its 5 mm slab
    thick = np.arange(12) * 8.0
    assert slices_read(thick, 5, 5.0).tolist() == [4, 5, 6]


def test_the_series_and_its_training_crop_give_the_same_input(shared_data, lidc_0314, nodules):
    """LIDC-IDRI-0314_n1 is cut from the sample series: the mapping on the DICOM series (k, row, column from
    the geometry) and on the crop gives the same network input, value for value."""
    nodule = next(n for n in nodules if n.key == "LIDC-IDRI-0314_n1")
    crop = data.load_crop(shared_data / "ct_lung_nodule", nodule)
    with np.load(shared_data / "ct_lung_nodule" / nodule.file) as raw:
        origin = raw["origin_xyz_mm"]
    volume = lidc_0314
    k0, r0, c0 = np.round(volume.lps_to_voxel(origin)).astype(int)
    assert (k0, r0, c0) == (149, 221, 163)
    assert np.array_equal(volume.voxels[k0:k0 + crop.hu.shape[0], r0:r0 + 44, c0:c0 + 44], crop.hu)
    geometry = dataclasses.replace(NoduleGeometry(), field_of_view_mm=9.0)  # a disc inside the crop: no padding
    click = centred_click(nodule, crop)
    for slab_mm in (0.0, 5.0):
        from_crop, _ = crop_input(crop, click, geometry, slab_mm)
        from_series, placement = nodule_input(lambda j: volume.slice(j), volume.positions @ volume.normal,
                                              volume.pixel_spacing, k0 + click.k, (r0 + click.row, c0 + click.column),
                                              geometry, slab_mm)
        assert np.abs(from_crop - from_series).max() < 1e-5
    assert placement.size == geometry.size


def test_the_field_of_view_of_a_centred_click_lies_inside_every_training_crop_and_its_lung_padding(shared_data):
    """The network never sees a crop's border: the disc around every annotated centre lies inside its crop
    grown by the lung-like padding."""
    geometry = NoduleGeometry()
    with open(shared_data / "ct_lung_nodule" / "labels.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if "0332_n1" not in r["file"]]
    reach = geometry.field_of_view_mm - geometry.crop_padding_mm
    for r in rows:
        shape = (int(r["shape_y"]), int(r["shape_x"]))
        spacing = (float(r["spacing_y_mm"]), float(r["spacing_x_mm"]))
        assert disc_inside(shape, spacing, (float(r["centre_vox_y"]), float(r["centre_vox_x"])), reach), r["file"]


def test_lung_padding_keeps_the_crop_looks_like_lung_and_never_mirrors_the_nodule(shared_data, nodules):
    nodule = max(nodules, key=lambda n: n.diameter_mm)  # the largest: its mirror would reach into the padding
    crop = data.load_crop(shared_data / "ct_lung_nodule", nodule)
    k = centred_click(nodule, crop).k
    hu, mask = crop.hu[k], crop.mask[k]
    padded = lung_padded(hu, mask, (12, 12))
    assert padded.shape == (hu.shape[0] + 24, hu.shape[1] + 24)
    assert np.array_equal(padded[12:-12, 12:-12], hu)
    outside = np.ones(padded.shape, bool)
    outside[12:-12, 12:-12] = False
    mirrored = np.pad(mask > 0, 12, mode="reflect") & outside
    assert mirrored.any()
    lung = np.median(hu[(mask == 0) & (hu < -500)])
    assert (padded[mirrored] == lung).all()  # the nodule's mirror image is lung, not a second nodule
    assert np.median(padded[outside]) < -500  # the padding is mostly aerated lung, not air or a wall
    assert padded[outside].min() > -1100


def test_outside_the_field_of_view_the_input_is_air_whatever_the_crop(shared_data, nodules):
    geometry = NoduleGeometry()
    from medview.ai.nodule_input import field_of_view

    outside = ~field_of_view(geometry)
    for nodule in nodules[:20]:
        crop = data.load_crop(shared_data / "ct_lung_nodule", nodule)
        x, _ = crop_input(crop, centred_click(nodule, crop), geometry)
        assert (x[outside] == 0).all() and 0 <= x.min() and x.max() <= 1


def test_a_displaced_click_whose_view_leaves_the_crop_is_refused(shared_data, nodules):
    nodule = nodules[0]
    crop = data.load_crop(shared_data / "ct_lung_nodule", nodule)
    centre = centred_click(nodule, crop)
    assert click_fits(crop, centre, NoduleGeometry())
    far = type(centre)(centre.k, 1.0, 1.0)
    assert not click_fits(crop, far, NoduleGeometry())


# -- data, split, labels -----------------------------------------------------------------------------------

def test_split_is_by_patient_fixed_and_leaves_out_the_mixed_up_crop(nodules):
    assert all(n.key != "LIDC-IDRI-0332_n1" for n in nodules)
    assert len(nodules) == 826
    parts = data.split_patients(nodules)
    assert not parts["train"] & parts["val"] and not parts["train"] & parts["test"] and not parts["val"] & parts["test"]
    assert set().union(*parts.values()) == {n.patient_id for n in nodules}
    assert data.split_digest(parts) == data.split_digest(data.split_patients(nodules))
    for part in ("val", "test"):
        _, y = data.part_of(nodules, parts[part], "dataset")
        assert 0.2 < y.mean() < 0.5  # stratified: about a third malignant on each side


def test_the_rating_definition_leaves_rating_3_out_and_keeps_the_patients_sides(nodules):
    parts = data.split_patients(nodules)
    chosen, y = data.part_of(nodules, parts["train"], "rating")
    assert all(n.rating != 3 for n in chosen)
    assert all((n.rating >= 4) == bool(t) for n, t in zip(chosen, y, strict=True))
    assert {n.patient_id for n in chosen} <= parts["train"]


# -- figures -----------------------------------------------------------------------------------------------

def test_rank_auc_is_scikit_learns_auc():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    scores = np.round(rng.random(200) + y * 0.3, 2)  # with ties
    assert rank_auc(scores, y) == pytest.approx(roc_auc_score(y, scores))


def test_paired_bootstrap_sees_a_better_score_and_not_a_copy():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 100)
    good = y + rng.normal(0, 0.5, 200)
    poor = y + rng.normal(0, 2.0, 200)
    patients = [f"p{i // 2}" for i in range(200)]
    better = paired_bootstrap(good, poor, y, patients, resamples=300)
    assert better["ci95"][0] > 0 and better["above_zero"]
    same = paired_bootstrap(good, good, y, patients, resamples=300)
    assert same["auc_difference"] == 0 and not same["above_zero"]


def test_threshold_at_sensitivity_reaches_the_target():
    scores = np.linspace(0, 1, 101)
    positives = scores > 0.3
    threshold = threshold_at_sensitivity(scores, positives, 0.9)
    assert (scores[positives] >= threshold).mean() >= 0.9
    assert (scores[positives] >= threshold + 0.011).mean() < 0.9


def test_the_youden_threshold_gives_the_best_balanced_accuracy():
    rng = np.random.default_rng(2)
    positives = rng.random(300) < 0.3
    scores = rng.random(300) + positives * 0.5
    threshold = threshold_youden(scores, positives)

    def balanced(t):
        called = scores >= t
        return (called[positives].mean() + (~called[~positives]).mean()) / 2

    assert all(balanced(threshold) >= balanced(t) for t in np.unique(scores))


# -- training and evaluation end to end --------------------------------------------------------------------

def test_training_writes_a_sealed_nodule_card_with_split_labels_and_baseline(tiny_nodule_model):
    card = read_card(tiny_nodule_model)
    raw = card.raw
    assert card.task == "nodule" and card.labels == ("benign", "malignant") and card.modality == "CT"
    assert raw["label_definition"]["name"] == "dataset"
    split = raw["training_data"]["split"]
    assert split["by"] == "patient_id" and split["seed"] == data.SPLIT_SEED
    assert "LIDC-IDRI-0332_n1" in raw["training_data"]["excluded"]
    assert raw["input"]["slab_mm"] in (0.0, 2.0, 5.0) and raw["input"]["window_hu"] == [-1000.0, 400.0]
    test = raw["metrics"]["test"]
    assert {"auc", "balanced_accuracy", "sensitivity", "specificity", "ece_before_calibration",
            "ece_after_calibration", "size_baseline", "displaced_clicks", "saliency", "slabs"} <= set(test)
    assert 0 <= raw["operating_point"]["threshold"] <= 1
    assert "does not find nodules" in raw["assumes"]


def test_the_size_statement_says_better_only_when_the_interval_lies_above_zero():
    from medview.ai.nodule_eval import size_statement

    def figures(low: float, high: float) -> dict:
        return {"test": {"auc": 0.95, "patients": 68, "size_baseline": {"auc": 0.93},
                         "model_minus_size_baseline": {"auc_difference": (low + high) / 2, "ci95": [low, high],
                                                       "above_zero": low > 0}}}

    level = size_statement(figures(-0.017, 0.054))
    assert "it is not shown to rank nodules better" in level and "95 % CI -0.017 to +0.054 over 68 patients" in level
    better = size_statement(figures(0.004, 0.06))
    assert "it ranks nodules better (the interval lies above 0)" in better and "not shown" not in better
    assert size_statement({"validation": {}}) is None  # before the test part is scored, nothing is claimed


def test_the_card_says_where_a_reader_sees_it_whether_the_model_beats_the_nodules_size(tiny_nodule_model):
    from medview.ai.nodule_eval import SIZE_STATEMENT, size_statement
    from medview.gui.inference_panel import card_html

    raw = read_card(tiny_nodule_model).raw
    test = raw["metrics"]["test"]
    stated = [line for line in raw["limitations"] if line.startswith(SIZE_STATEMENT)]
    assert len(stated) == 1 and raw["limitations"][-1] == "Not validated for clinical use."
    assert f"test AUC {test['auc']:.3f} against {test['size_baseline']['auc']:.3f}" in stated[0]
    assert stated[0] == size_statement(raw["metrics"])
    assert stated[0] in card_html(read_card(tiny_nodule_model), None)  # the panel shows the card's limits


def test_evaluate_json_puts_the_model_on_top_and_the_baseline_beside_it(tiny_nodule_model, shared_data):
    done = run_medview("evaluate", str(shared_data / "ct_lung_nodule"), "--model", str(tiny_nodule_model),
                       "--limit", "8", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for key in ("auc", "balanced_accuracy", "ece_after_calibration", "sensitivity", "specificity"):
        assert key in report
    assert {"auc", "balanced_accuracy"} <= set(report["size_baseline"])
    assert report["split"] == "test" and "validation" in report
    assert report["saliency"]["click_point_baseline"] in (0.0, None)  # the click is never in the dilated mask


def test_evaluate_with_the_rating_labels(tiny_nodule_model, shared_data):
    report = evaluate_nodules(shared_data / "ct_lung_nodule", read_card(tiny_nodule_model), "rating", limit=6)
    assert report["label_definition"] == "rating" and report["card_label_definition"] == "dataset"


# -- the click on real chest CTs ---------------------------------------------------------------------------

def test_classify_a_click_on_the_lidc_nodule_gives_probability_and_saliency(tiny_nodule_model, shared_data):
    done = run_medview("classify", str(shared_data / LIDC_0314), "--slice", "159", "--at", "184,243",
                       "--model", str(tiny_nodule_model), "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["kind"] == "nodule" and answer["answered"] and answer["label"] in ("benign", "malignant")
    assert set(answer["probabilities"]) == {"benign", "malignant"}
    assert answer["disclaimer"] == "AI generated, research use only" and "saliency_peak" in answer
    assert answer["read_slice"] == 158  # LIDC-IDRI-0314_n1 is widest on k 158


def test_clicks_on_the_lidc_nodules_neighbouring_slices_read_its_widest_section(tiny_nodule_model, lidc_0314):
    from medview.ai.infer import classifier_for

    classifier = classifier_for(read_card(tiny_nodule_model))
    answers = [classifier.classify_slice(lidc_0314, k, (184, 243), saliency=None) for k in (154, 158, 163)]
    assert [a.read_slice for a in answers] == [158, 158, 158]
    assert answers[0].probabilities == answers[2].probabilities


def test_a_click_in_the_air_outside_the_chest_is_refused_in_one_line(tiny_nodule_model, shared_data):
    done = run_medview("classify", str(shared_data / CT_CHEST), "--slice", "14", "--at", "5,5",
                       "--model", str(tiny_nodule_model))
    assert done.returncode == 0, done.stderr
    assert "outside the body (air): no answer" in done.stdout.splitlines()[0]


def test_a_nodule_model_has_no_slice_answer(tiny_nodule_model, shared_data):
    done = run_medview("classify", str(shared_data / CT_CHEST), "--slice", "14", "--model", str(tiny_nodule_model))
    assert done.returncode != 0 and "does not find nodules" in done.stderr


# -- the bundled model -------------------------------------------------------------------------------------

def test_without_a_model_a_click_on_a_chest_ct_uses_the_bundled_nodule_model_and_calls_the_cancer_malignant(
        shared_data):
    """The lung cancer of the 8 mm chest CT (k 14, column 160, row 305), larger than any training nodule."""
    done = run_medview("classify", str(shared_data / CT_CHEST), "--slice", "14", "--at", "160,305", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["model"]["name"] == "lung-nodule-malignancy" and answer["fits"]
    assert answer["label"] == "malignant" and answer["flagged"]


def test_evaluate_picks_the_bundled_model_whose_labels_match_the_dataset(shared_data):
    done = run_medview("evaluate", str(shared_data / "ct_lung_nodule"), "--limit", "6", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["model"]["name"] == "lung-nodule-malignancy" and report["label_definition"] == "dataset"


def test_a_coronal_series_is_refused_by_the_axial_nodule_model(tiny_nodule_model):
    from medview.ai.infer import classifier_for
    from medview.core.volume import SeriesInfo, Volume
    from medview.errors import ModelError

    voxels = np.full((5, 64, 64), 40, dtype=np.int16)  # soft tissue: inside the body
    positions = np.array([[0.0, float(y), 0.0] for y in range(5)])
    coronal = Volume(voxels, positions, np.array([1.0, 0, 0]), np.array([0, 0, -1.0]), (0.7, 0.7),
                     SeriesInfo(modality="CT", body_part="CHEST"))
    assert coronal.plane.name == "coronal"
    with pytest.raises(ModelError, match="reads axial slices; this series is coronal"):
        classifier_for(read_card(tiny_nodule_model)).classify_slice(coronal, 2, (32, 32))


def test_a_report_with_a_click_on_a_chest_ct_holds_the_nodule_models_finding(shared_data, tmp_path):
    html = tmp_path / "report.html"
    done = run_medview("report", str(shared_data / LIDC_0314), "--html", str(html), "--slice", "159",
                       "--classify-at", "184,243")
    assert done.returncode == 0, done.stderr
    text = html.read_text()
    assert "lung-nodule-malignancy" in text and "research use only" in text
