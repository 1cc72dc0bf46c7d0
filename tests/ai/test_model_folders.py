"""Model folders read like any hostile input: each malformed folder is refused with its one reason, while the
good models are still listed, the window opens and `classify` with a good model still works."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from medview.ai.manifest import read_card, seal, sha256_of
from medview.ai.registry import BUNDLED, scan_models
from medview.ai.weights_check import expected_shapes, trainable_parameters
from medview.errors import ModelError

GOOD = BUNDLED / "brain-tumour-patch"
DEEP = 100_000  # far past Python's recursion limit


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def _write(folder: Path, manifest: dict, sealed: bool = True) -> None:
    text = json.dumps(seal(manifest) if sealed else manifest, indent=2)
    (folder / "manifest.json").write_text(text)


def _edit(change):
    """A damage that edits the parsed manifest and seals it again, so the edit is the only fault."""
    def damage(folder: Path) -> None:
        manifest = _manifest(folder)
        change(manifest)
        _write(folder, manifest)
    return damage


def _raw(old: str, new: str):
    """A damage made in the manifest's text (for what JSON's writer will not write: NaN, Infinity, 1e9), at the
    last place `old` stands (the calibration comes after the training record, which may say the same words)."""
    def damage(folder: Path) -> None:
        path = folder / "manifest.json"
        text = path.read_text()
        assert old in text
        head, _, tail = text.rpartition(old)
        path.write_text(head + new + tail)
    return damage


def _weights(change_header):
    """A damage of the safetensors header (the card's sha256 updated, so the lie is the only fault)."""
    def damage(folder: Path) -> None:
        path = folder / "model.safetensors"
        data = path.read_bytes()
        length = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + length])
        body = data[8 + length:]
        new_header, body = change_header(header, body)
        path.write_bytes(len(new_header).to_bytes(8, "little") + new_header + body)
        manifest = _manifest(folder)
        manifest["weights"]["sha256"] = sha256_of(path)
        _write(folder, manifest)
    return damage


def _shape_lie(header, body):
    header["head.3.weight"]["shape"] = [4, 128]  # 2048 bytes of F32 claimed, 1024 there
    return json.dumps(header).encode(), body


def _consistent_shape_lie(header, body):
    """Shape and bytes agree, but the network of the card has another shape: the last layer 8 classes wide."""
    entry = header["head.3.bias"]
    begin, end = entry["data_offsets"]
    extra = 4 * 4
    entry["shape"], entry["data_offsets"] = [8], [begin, end + extra]
    for other in header.values():
        if isinstance(other, dict) and other is not entry and other["data_offsets"][0] >= end:
            other["data_offsets"] = [other["data_offsets"][0] + extra, other["data_offsets"][1] + extra]
    return json.dumps(header).encode(), body[:end] + bytes(extra) + body[end:]


def _offset_lie(header, body):
    """The ~1.4 TB tensor: a shape and byte range far past the end of the file."""
    header["head.3.weight"]["shape"] = [4, 87_500_000_000]
    begin = header["head.3.weight"]["data_offsets"][0]
    header["head.3.weight"]["data_offsets"] = [begin, begin + 4 * 4 * 87_500_000_000]
    return json.dumps(header).encode(), body


def _deep_header(header, body):
    header["__metadata__"] = {"note": "x"}
    text = json.dumps(header)
    return (text[:-1] + ', "deep": ' + "[" * DEEP + "]" * DEEP + "}").encode(), body


def _header_length_lie(folder: Path) -> None:
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[:8] = (len(data) * 4).to_bytes(8, "little")
    path.write_bytes(bytes(data))
    manifest = _manifest(folder)
    manifest["weights"]["sha256"] = sha256_of(path)
    _write(folder, manifest)


def _deep_manifest(folder: Path) -> None:
    text = (folder / "manifest.json").read_text()
    (folder / "manifest.json").write_text(text[:-2] + ', "deep": ' + "[" * DEEP + "]" * DEEP + "}")


def _linked_weights(folder: Path) -> None:
    """The weights are a link into another model folder (the same bytes: only the link is wrong)."""
    other = folder.parent / "other-model-weights"
    other.mkdir()
    (other / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    (folder / "model.safetensors").unlink()
    os.symlink(other / "model.safetensors", folder / "model.safetensors")


def _reordered_labels_unsealed(folder: Path) -> None:
    manifest = _manifest(folder)
    manifest["labels"] = [manifest["labels"][2], *manifest["labels"][:2], manifest["labels"][3]]
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


MALFORMED = {
    "calibration a list": (_edit(lambda m: m.update(calibration=[1.0])), "calibration must be an object"),
    "size Infinity": (_raw('"size": 64', '"size": Infinity'), r"input\.size is not a finite number"),
    "deep JSON in the manifest": (_deep_manifest, "nested 100001 levels deep"),
    "deep JSON in the safetensors header": (_weights(_deep_header), "header: JSON nested"),
    "unknown architecture": (_edit(lambda m: m["architecture"].update(name="ResNet9000")),
                             "not an architecture medview knows"),
    "widths missing": (_edit(lambda m: m["architecture"].pop("widths")), "architecture.widths must list"),
    "widths 200000": (_edit(lambda m: m["architecture"].update(widths=[16, 32, 64, 200000])),
                      r"architecture\.widths\[3\] must lie in 1\.\.2048"),
    "mm_per_pixel NaN": (_raw('"mm_per_pixel": 1.0', '"mm_per_pixel": NaN'),
                         r"input\.mm_per_pixel is not a finite number"),
    "mm_per_pixel 0": (_edit(lambda m: m["input"].update(mm_per_pixel=0)), r"input\.mm_per_pixel must be >"),
    "size 1e9": (_raw('"size": 64', '"size": 1000000000'), r"input\.size must lie in 8\.\.1024"),
    "size -64": (_raw('"size": 64', '"size": -64'), r"input\.size must lie in 8\.\.1024"),
    "operating point a string": (_edit(lambda m: m.update(operating_point="0.5")),
                                 "operating_point must be an object"),
    "operating point NaN": (_raw('"threshold": ', '"threshold": NaN, "was": '),  # the slice one, the last
                            r"operating_point\.slice\.threshold is not a finite number"),
    "operating point 1.5": (_edit(lambda m: m["operating_point"].update(threshold=1.5)),
                            r"operating_point\.threshold must be >= 0 and <= 1"),
    "slice operating point 1.5": (_edit(lambda m: m["operating_point"].update(slice={"threshold": 1.5})),
                                  r"operating_point\.slice\.threshold must be"),
    "temperature 0": (_edit(lambda m: m["calibration"].update(temperature=0)),
                      r"calibration\.temperature must be > 0\.001"),
    "temperature NaN": (_raw('"temperature": ', '"temperature": NaN, "was": '),
                        r"calibration\.temperature is not a finite number"),
    "duplicate labels": (_edit(lambda m: m.update(labels=["normal brain", "glioma", "glioma", "pituitary"])),
                         "labels must be unique: 'glioma'"),
    "empty label": (_edit(lambda m: m["labels"].__setitem__(1, " ")), r"labels\[1\] must be a non-empty text"),
    "tensor shape lie": (_weights(_shape_lie), "has 1024 bytes, but its shape"),
    "tensor shape not the architecture's": (_weights(_consistent_shape_lie),
                                            r"'head\.3\.bias' has shape \[8\], the card's architecture builds \[4\]"),
    "tensor offset lie (1.4 TB)": (_weights(_offset_lie), "past the end of the file"),
    "header length lie": (_header_length_lie, "not a safetensors file"),
    "parameters lie": (_edit(lambda m: m["architecture"].update(parameters=12)),
                       "architecture.parameters says 12"),
    "weights linked into another folder": (_linked_weights, "is a link"),
    "labels reordered, card not sealed again": (_reordered_labels_unsealed, "edited after it was sealed"),
    "weights of 300 MB": (lambda f: os.truncate(f / "model.safetensors", 300 << 20), "is 300 MB"),
    "card never sealed": (lambda f: _write(f, {k: v for k, v in _manifest(f).items() if k != "integrity"},
                                           sealed=False), "not sealed"),
}


@pytest.fixture()
def root(tmp_path) -> Path:
    """A models folder with the bundled detector, good."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copytree(BUNDLED / "brain-tumour-patch", folder / "brain-tumour-patch")
    return folder


@pytest.mark.parametrize("damage", list(MALFORMED))
def test_a_malformed_model_folder_is_refused_with_its_reason_and_the_good_ones_stay(root, damage):
    make, reason = MALFORMED[damage]
    bad = root / "bad-model"
    shutil.copytree(GOOD, bad)
    make(bad)
    with pytest.raises(ModelError, match=reason):
        read_card(bad)
    cards, problems = scan_models([root])
    assert sorted(card.name for card in cards) == ["brain-tumour-patch"]
    assert [problem.folder.name for problem in problems] == ["bad-model"]
    assert "\n" not in problems[0].reason and "Traceback" not in problems[0].reason


def test_the_bundled_models_pass_and_the_schema_accepts_keys_it_does_not_know(root):
    folder = root / "brain-tumour-patch"
    manifest = _manifest(folder)
    manifest["operating_point"]["slice"] = {"threshold": 0.4, "sensitivity": 0.9, "specificity": 0.8}
    manifest.update(inside_body={"threshold_hu": -500, "fraction": 0.5}, sequence={"weighting": "T1"},
                    slice_answer={"rule": "max", "top": 3}, something_new={"any": ["thing"]})
    manifest["metrics"]["validation"]["macro_auc"] = float("nan")  # undefined on a tiny split: a statement
    _write(folder, manifest)
    card = read_card(folder)
    assert card.operating_point["slice"]["threshold"] == 0.4 and card.raw["something_new"] == {"any": ["thing"]}
    cards, problems = scan_models([root])
    assert len(cards) == 1 and problems == []


def test_shapes_computed_without_torch_are_the_networks_own():
    from medview.ai.network import build

    for architecture, classes in (({"name": "LesionCNN", "widths": [16, 32, 64, 96], "hidden": 64}, 4),
                                  ({"name": "LesionCNN", "widths": [32, 64, 128], "hidden": 64, "stem": 16}, 3),
                                  ({"name": "LesionCNN", "widths": [8]}, 2)):
        network = build(architecture, classes)
        assert expected_shapes(architecture, classes) == {
            name: tuple(tensor.shape) for name, tensor in network.state_dict().items()}
        assert trainable_parameters(expected_shapes(architecture, classes)) == sum(
            p.numel() for p in network.parameters())


def test_an_edited_card_is_refused_and_sealing_it_again_restores_it(root):
    folder = root / "brain-tumour-patch"
    manifest = _manifest(folder)
    manifest["operating_point"]["threshold"] = 0.99  # a quiet edit: never flag anything
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    with pytest.raises(ModelError, match="edited after it was sealed"):
        read_card(folder)
    _write(folder, manifest)
    assert read_card(folder).operating_point["threshold"] == 0.99


@pytest.fixture()
def hostile_user_folder(tmp_path) -> Path:
    """$MEDVIEW_MODELS with one folder per damage above (the bundled models stay where they are)."""
    folder = tmp_path / "user-models"
    folder.mkdir()
    for i, (make, _reason) in enumerate(MALFORMED.values()):
        bad = folder / f"bad-{i:02d}"
        shutil.copytree(GOOD, bad)
        make(bad)
    return folder


def test_classify_with_a_good_model_works_beside_bad_folders(hostile_user_folder, shared_data):
    sample = shared_data / "samples" / "mr_brain_t1post_tcia_btp"
    done = subprocess.run([sys.executable, "-m", "medview.cli", "classify", str(sample), "--slice", "17", "--at",
                           "175,210", "--model", "brain-tumour-patch", "--saliency", "none", "--json"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MEDVIEW_MODELS": str(hostile_user_folder)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model"]["name"] == "brain-tumour-patch"
    assert "Traceback" not in done.stderr


def test_the_window_opens_with_bad_model_folders_and_lists_the_good_ones(qtbot, tmp_path, hostile_user_folder,
                                                                          monkeypatch):
    from PySide6.QtCore import QSettings

    from medview.gui.main_window import MainWindow

    monkeypatch.setenv("MEDVIEW_MODELS", str(hostile_user_folder))
    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.inference.reload_models()
    assert sorted(card.name for card in window.inference.cards) == ["brain-tumour-patch", "lung-nodule-malignancy"]
    assert "Refused" in window.inference.status.text() and "bad-00" in window.inference.status.text()
