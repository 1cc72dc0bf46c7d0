"""Training end to end on a few images, model folders that refuse tampering, the split, the registry."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest

from medview.ai import dataset as data
from medview.ai.manifest import read_card
from medview.errors import ModelError


@pytest.fixture(scope="module")
def brain_data(shared_data):
    return shared_data / "brain_tumor_mri"


def test_training_writes_a_complete_model_folder_that_loads(tiny_models):
    for task, labels in (("slice", 3), ("patch", 4)):
        card = read_card(tiny_models / task)
        assert card.task == task and len(card.labels) == labels
        manifest = card.raw
        assert manifest["research_use_only"] is True
        assert manifest["training"]["command"].startswith("medview train")
        assert set(manifest["metrics"]) >= {"validation", "test"}
        assert manifest["calibration"]["temperature"] > 0
        assert manifest["training_data"]["split"]["by"] == "patient_family"
        assert (tiny_models / task / "model.safetensors").is_file()
    assert read_card(tiny_models / "patch").operating_point["threshold"] is not None


def test_split_puts_no_family_on_two_sides_and_is_stratified_and_fixed(brain_data):
    rows = data.read_labels(brain_data)
    parts = data.split_families(rows)
    assert not parts["train"] & parts["val"] and not parts["train"] & parts["test"]
    assert not parts["val"] & parts["test"]
    assert parts["train"] | parts["val"] | parts["test"] == {row.family for row in rows}
    for name in ("val", "test"):
        assert {row.label for row in data.rows_of(rows, parts, name)} == {"glioma", "meningioma", "pituitary"}
    assert data.split_digest(parts) == data.split_digest(data.split_families(rows))
    # families, not ids: MR024780B and MR024780D are one person
    family_of = {row.patient_id: row.family for row in rows}
    assert family_of.get("MR024780B") == family_of.get("MR024780D")


def _copy(folder, tmp_path, name="model"):
    target = tmp_path / name
    shutil.copytree(folder, target)
    return target


def test_tampered_weights_are_refused(tiny_models, tmp_path):
    folder = _copy(tiny_models / "slice", tmp_path)
    weights = folder / "model.safetensors"
    data_bytes = bytearray(weights.read_bytes())
    data_bytes[-10] ^= 0xFF
    weights.write_bytes(bytes(data_bytes))
    with pytest.raises(ModelError, match="does not match"):
        read_card(folder)


class _Payload:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(_Payload.marker),))


@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_pickle_and_torch_checkpoints_are_refused_and_no_code_runs(tiny_models, tmp_path, kind):
    import hashlib

    import torch

    folder = _copy(tiny_models / "slice", tmp_path)
    marker = tmp_path / "code_ran"
    _Payload.marker = str(marker)
    weights = folder / "model.safetensors"
    if kind == "pickle":
        weights.write_bytes(pickle.dumps({"state": _Payload()}))
    else:
        torch.save({"state": _Payload()}, weights)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["weights"]["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()  # even a matching hash
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="not a safetensors file"):
        read_card(folder)
    assert not marker.exists(), "the payload ran"


def test_a_pickle_named_in_the_manifest_is_refused(tiny_models, tmp_path):
    folder = _copy(tiny_models / "slice", tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["weights"]["file"] = "model.pt"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="safetensors"):
        read_card(folder)


@pytest.mark.parametrize("damage", ["not json", "missing labels", "not research"])
def test_malformed_manifests_are_refused_with_a_reason(tiny_models, tmp_path, damage):
    folder = _copy(tiny_models / "slice", tmp_path)
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    if damage == "not json":
        path.write_text("{ nope")
    elif damage == "missing labels":
        del manifest["labels"]
        path.write_text(json.dumps(manifest))
    else:
        manifest["research_use_only"] = False
        path.write_text(json.dumps(manifest))
    with pytest.raises(ModelError):
        read_card(folder)


def test_registry_lists_good_models_and_reports_broken_ones(tiny_models, tmp_path):
    from medview.ai.registry import find_model, scan_models

    root = tmp_path / "models"
    shutil.copytree(tiny_models, root)
    (root / "slice" / "manifest.json").write_text("{")
    cards, problems = scan_models([root])
    assert [c.task for c in cards] == ["patch"]
    assert len(problems) == 1 and "not valid JSON" in problems[0].reason
    assert find_model(root / "patch").task == "patch"
    assert not cards[0].fits("CT", "CHEST") and cards[0].fits("MR", "BRAIN")


def test_classify_cli_gives_label_and_probabilities_as_json(tiny_models, shared_data):
    sample = shared_data / "samples" / "mr_brain_t1post_tcia_btp"
    done = subprocess.run([sys.executable, "-m", "medview.cli", "classify", str(sample), "--slice", "17", "--at",
                           "175,210", "--model", str(tiny_models / "patch"), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["label"] in result["probabilities"]
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-4
    assert result["disclaimer"].startswith("AI generated, research use only")
    assert 0 <= result["saliency_peak"]["column"] < 260 and 0 <= result["saliency_peak"]["row"] < 320


def test_evaluate_defaults_to_the_cards_test_part_on_its_own_dataset(tiny_models, brain_data):
    from medview.ai.evaluate import evaluate

    card = read_card(tiny_models / "slice")
    report = evaluate(brain_data, card, limit=6)
    assert report["split"] == "test"
    test_families = set(card.raw["training_data"]["split"]["families"]["test"])
    rows = [r for r in data.read_labels(brain_data) if r.family in test_families]
    assert report["images"] == 6 and len(rows) > 6
    assert {"accuracy", "macro_auc", "per_class", "confusion", "ece_before_calibration",
            "ece_after_calibration", "pointing_game"} <= set(report)
    assert np.isfinite(report["pointing_game"]["centre_baseline"])


def test_classify_cli_on_a_dataset_png(tiny_models, brain_data):
    done = subprocess.run([sys.executable, "-m", "medview.cli", "classify", str(brain_data / "images" / "0001.png"),
                           "--model", str(tiny_models / "slice"), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result["probabilities"]) == {"glioma", "meningioma", "pituitary"}
    assert result["task"] == "slice"


def test_classify_cli_refuses_a_point_outside_the_image(tiny_models, shared_data):
    done = subprocess.run([sys.executable, "-m", "medview.cli", "classify",
                           str(shared_data / "samples" / "mr_brain_t1post_tcia_btp"), "--slice", "3", "--at",
                           "900,10", "--model", str(tiny_models / "patch")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "outside the image" in done.stderr and "Traceback" not in done.stderr


def test_each_batch_is_trained_at_its_scheduled_rate_and_none_past_the_planned_steps():
    import torch

    from medview.ai.train import learning_rate_at, scheduled_batches

    optimiser = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    order = np.arange(10)
    seen, rates = [], []
    for index in scheduled_batches(order, 4, optimiser, 2e-3, step=3, total=5):
        seen.append(index.tolist())
        rates.append(optimiser.param_groups[0]["lr"])
    assert seen == [[0, 1, 2, 3], [4, 5, 6, 7]]  # steps 3 and 4 of 5: the last batch is not handed out
    assert rates == [learning_rate_at(3 / 5, 2e-3), learning_rate_at(4 / 5, 2e-3)]
