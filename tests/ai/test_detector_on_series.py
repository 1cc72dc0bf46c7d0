"""The detector where it is used: a click in air gets no answer, a slice is flagged by the slice operating
point, the series answer has one shape for the CLI and the GUI, and a series that does not fit says so."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest

from medview.ai.manifest import read_card, seal

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "mr_brain_t1post_tcia_btp"


def _classify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medview.cli", "classify", *args], capture_output=True, text=True,
                          timeout=600)


def test_the_head_check_finds_air_outside_and_tissue_inside_on_mr_and_lung_inside_on_ct(shared_data):
    from medview.ai.body import body_mask, inside
    from medview.io import load_volume

    mr = load_volume(SAMPLE)
    head = body_mask(mr.slice(17), mr.pixel_spacing, "MR")
    assert not inside(head, (2, 2)), "air in the corner"
    assert inside(head, (175, 210)) and inside(head, (75, 150)), "the tumour and normal brain"
    assert inside(body_mask(mr.slice(8), mr.pixel_spacing, "MR"), (136, 119)), "the pituitary gland"
    ct = load_volume(shared_data / "samples" / "ct_chest")
    body = body_mask(ct.slice(14), ct.pixel_spacing, "CT")
    assert inside(body, (160, 305)), "the lung mass"
    lung = np.argwhere((ct.slice(14) < -700) & body)
    assert len(lung) > 5000, "the lungs count as inside the body"
    assert not inside(body, (5, 5))


def test_a_click_in_air_outside_the_head_gets_no_answer(tiny_models):
    from medview.ai.infer import OUTSIDE_BODY, classifier_for
    from medview.io import load_volume

    classifier = classifier_for(read_card(tiny_models / "patch"))
    volume = load_volume(SAMPLE)
    air = classifier.classify_slice(volume, 17, (2.0, 2.0))
    assert not air.answered
    assert air.label == OUTSIDE_BODY == "outside the head: no answer"
    assert air.probabilities == {} and air.saliency is None and air.tumour_probability is None
    tissue = classifier.classify_slice(volume, 17, (75.0, 150.0))
    assert tissue.answered and set(tissue.probabilities) == set(classifier.card.labels)
    done = _classify(str(SAMPLE), "--slice", "17", "--at", "2,2", "--model", str(tiny_models / "patch"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"] == "outside the head: no answer"


def _with_thresholds(source: Path, folder: Path, place: float, slice_: float) -> Path:
    shutil.copytree(source, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["operating_point"]["threshold"] = place
    manifest["operating_point"]["slice"]["threshold"] = slice_
    (folder / "manifest.json").write_text(json.dumps(seal(manifest)))
    return folder


def test_a_slice_is_flagged_by_the_slice_operating_point_not_the_place_one(tiny_models, tmp_path):
    from medview.ai.detect import iter_series
    from medview.ai.infer import Classifier
    from medview.io import load_volume

    volume = load_volume(SAMPLE)
    probe = list(iter_series(Classifier(read_card(tiny_models / "patch")), volume))
    scores = np.array([f.score for f in probe if f.score is not None])
    between = float(np.median(scores))
    folder = _with_thresholds(tiny_models / "patch", tmp_path / "m", place=0.0, slice_=between)
    card = read_card(folder)
    assert card.patch_threshold == 0.0 and card.slice_threshold == between
    findings = list(iter_series(Classifier(card), volume))
    assert [f.flagged for f in findings] == [f.score is not None and f.score >= between for f in findings]
    assert any(not f.flagged for f in findings), "every slice passes the place operating point of 0"
    assert all((f.label is not None) == f.flagged for f in findings)
    slice_answer = Classifier(card).classify_slice(volume, findings[0].k)
    assert slice_answer.kind == "slice" and slice_answer.threshold == between
    assert slice_answer.flagged == findings[0].flagged


def test_all_slices_json_has_one_entry_per_slice_in_the_documented_shape(tiny_models):
    done = _classify(str(SAMPLE), "--all-slices", "--json", "--model", str(tiny_models / "patch"))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    card = read_card(tiny_models / "patch")
    assert set(answer) >= {"model", "threshold", "fits", "does_not_fit", "disclaimer", "slices"}
    assert answer["model"] == {"name": card.name, "version": card.version, "sha256": card.weights_sha256}
    assert answer["threshold"] == card.slice_threshold
    assert answer["fits"] is True and answer["does_not_fit"] == []
    assert answer["disclaimer"] == "AI generated, research use only"
    assert [s["k"] for s in answer["slices"]] == list(range(24))
    for entry in answer["slices"]:
        assert set(entry) == {"k", "score", "flagged", "label", "point"}
        assert isinstance(entry["flagged"], bool)
        assert isinstance(entry["score"], float) and len(entry["point"]) == 2, "every slice of a head has tissue"
        assert entry["flagged"] == (entry["score"] >= answer["threshold"])
        assert (entry["label"] is not None) == entry["flagged"]


def test_all_slices_is_refused_beside_slice_or_at_in_one_line(tiny_models):
    for extra in (["--slice", "3"], ["--at", "10,10"]):
        done = _classify(str(SAMPLE), "--all-slices", *extra, "--model", str(tiny_models / "patch"))
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def _sample_copy(tmp_path: Path, **tags) -> Path:
    folder = tmp_path / "series"
    folder.mkdir()
    for source in sorted(SAMPLE.iterdir()):
        dataset = pydicom.dcmread(source)
        for keyword, value in tags.items():
            setattr(dataset, keyword, value)
        dataset.save_as(folder / source.name)
    return folder


def test_a_series_with_an_empty_contrast_agent_runs_and_says_not_stated(tiny_models, tmp_path):
    folder = _sample_copy(tmp_path, ContrastBolusAgent="", SeriesDescription="AX T1", ProtocolName="")
    done = _classify(str(folder), "--all-slices", "--json", "--model", str(tiny_models / "patch"))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["fits"] is True and answer["does_not_fit"] == []
    assert "not stated" in done.stderr and "contrast agent" in done.stderr


def test_fit_names_a_sequence_mismatch_without_refusing_and_refuses_a_modality_mismatch(tiny_models):
    from medview.ai.fit import check_fit
    from medview.core.volume import SeriesInfo

    card = read_card(tiny_models / "patch")
    t2 = check_fit(card, SeriesInfo(modality="MR", body_part="BRAIN", series_description="AX T2 FLAIR"))
    assert not t2.fits and not t2.refused and "FLAIR" in t2.reasons[0]
    before = check_fit(card, SeriesInfo(modality="MR", body_part="HEAD", series_description="T1 pre"))
    assert not before.fits and "before contrast" in before.reasons[0]
    stated = check_fit(card, SeriesInfo(modality="MR", body_part="BRAIN", series_description="T1post",
                                        contrast_agent="10cc Multihance"))
    assert stated.fits and not stated.not_stated
    unknown = check_fit(card, SeriesInfo(modality="MR"))
    assert unknown.fits and "body part" in unknown.not_stated
    ct = check_fit(card, SeriesInfo(modality="CT", body_part="CHEST"))
    assert ct.refused and not ct.fits
    colour = check_fit(card, SeriesInfo(modality="MR", body_part="BRAIN"), photometric="RGB")
    assert colour.refused and "greyscale" in colour.reasons[0]


def test_a_ct_series_is_refused_for_the_brain_model_unless_run_anyway(tiny_models, shared_data):
    chest = str(shared_data / "samples" / "ct_chest")
    done = _classify(chest, "--slice", "14", "--at", "160,305", "--model", str(tiny_models / "patch"))
    assert done.returncode == 2 and "the series is CT" in done.stderr and "Traceback" not in done.stderr
    anyway = _classify(chest, "--slice", "14", "--at", "160,305", "--model", str(tiny_models / "patch"),
                       "--run-anyway", "--json")
    assert anyway.returncode == 0, anyway.stderr
    assert json.loads(anyway.stdout)["fits"] is False


@pytest.mark.parametrize("args", [["--slice", "99"], ["--slice", "-1"]])
def test_a_slice_outside_the_series_is_one_line(tiny_models, args):
    done = _classify(str(SAMPLE), *args, "--model", str(tiny_models / "patch"))
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_classify_names_the_slice_by_the_one_numbering_rule(tiny_models):
    done = _classify(str(SAMPLE), "--slice", "17", "--at", "75,150", "--model", str(tiny_models / "patch"),
                     "--saliency", "none")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("slice 18/24 (k 17, im 18) at column 75, row 150: ")


@pytest.mark.parametrize("side", ["just below P(tumour)", "just above P(tumour)"])
def test_a_click_is_named_by_the_operating_point_not_by_the_largest_probability(side):
    """The label and the flag say the same thing: a click at or above the place operating point is named a
    tumour type even when "no tumour" has the largest probability, and below it "no tumour" even when a tumour
    class has (the label once followed the largest probability while the flag followed the operating point)."""
    from dataclasses import replace

    from medview.ai.infer import Classifier
    from medview.io import load_volume

    card = read_card(Path(__file__).resolve().parents[2] / "resources" / "models" / "brain-tumour-patch")
    volume = load_volume(SAMPLE)
    p = Classifier(card).classify_slice(volume, 17, point=(75, 150), saliency=None).tumour_probability
    threshold = p - 1e-4 if side == "just below P(tumour)" else p + 1e-4
    moved = replace(card, operating_point={**card.operating_point, "threshold": threshold})
    answer = Classifier(moved).classify_slice(volume, 17, point=(75, 150), saliency=None)
    negative = card.labels[card.negative_index]
    assert answer.flagged is (threshold <= p)
    assert (answer.label != negative) is answer.flagged, answer.headline()
    assert answer.probability == answer.probabilities[answer.label]
