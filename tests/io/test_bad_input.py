"""Bad input: every file is loaded or reported with a reason, good series still load, no traceback, no hang."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from medview.io import load_volume, open_folder
from tests.io import corrupt

MALFORMED = ["MR_truncated.dcm", "emri_small_jpeg_2k_lossless_too_short.dcm", "bad_sequence.dcm",
             "explicit_VR-UN.dcm", "J2K_pixelrep_mismatch.dcm", "no_meta.dcm", "meta_missing_tsyntax.dcm",
             "no_meta_group_length.dcm", "JPEG-lossy.dcm", "liver.dcm"]

RUNNER = """
import json, sys
from medview.io import open_folder, assemble_volume
from medview.errors import MedviewError
catalog = open_folder(sys.argv[1])
loaded, failed, shapes = [], {}, []
for spec in catalog.volumes:
    files = sorted({h.path for point in spec.images for h in point})
    try:
        volume = assemble_volume(spec)
    except MedviewError as error:
        failed.update({f: str(error) for f in files})
        continue
    loaded.extend(files)
    shapes.append([spec.info.series_instance_uid, list(volume.shape), list(volume.warnings)])
print(json.dumps({"loaded": loaded, "failed": failed, "shapes": shapes,
                  "skipped": {s.path: s.reason for s in catalog.skipped}}))
"""


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory, shared_data) -> Path:
    folder = tmp_path_factory.mktemp("bad_input")
    brain = shared_data / "samples" / "mr_brain_t1post_tcia_btp"
    good = folder / "good_brain"
    shutil.copytree(brain, good)
    for name in MALFORMED:
        shutil.copy(get_testdata_file(name), folder / name)
    (folder / "empty.dcm").write_bytes(b"")
    (folder / "random.bin").write_bytes(random.Random(1).randbytes(70_000))
    (folder / "notes.txt").write_text("Not a DICOM file: a radiologist's shopping list.\n")
    first = (brain / "1-01.dcm").read_bytes()
    (folder / "truncated_copy_of_brain_slice.dcm").write_bytes(first[: len(first) // 2])

    donors = sorted((shared_data / "dicom_cases" / "mr_siemens_sagittal").iterdir())[:6]
    rng = random.Random(20261124)
    damaged = folder / "damaged"
    damaged.mkdir()
    for i, donor in enumerate(donors):
        data = donor.read_bytes()
        (damaged / f"truncated_{i}.dcm").write_bytes(corrupt.truncate(data, rng))
        (damaged / f"flipped_{i}.dcm").write_bytes(corrupt.flip_header_bytes(data, rng))
    sagittal = donors[0].read_bytes()
    (damaged / "huge_pixel_length.dcm").write_bytes(corrupt.huge_pixel_length(sagittal))
    (damaged / "huge_text_length.dcm").write_bytes(corrupt.huge_text_length(sagittal))
    (damaged / "deep_sequences.dcm").write_bytes(corrupt.deep_sequences(sagittal))
    (damaged / "says_rle.dcm").write_bytes(corrupt.wrong_transfer_syntax(sagittal, b"1.2.840.10008.1.2.5\x00"))
    (damaged / "says_implicit.dcm").write_bytes(
        corrupt.wrong_transfer_syntax(sagittal, b"1.2.840.10008.1.2\x00\x00\x00"))
    return folder


def _run(folder: Path) -> tuple[dict, subprocess.CompletedProcess]:
    done = subprocess.run([sys.executable, "-c", RUNNER, str(folder)], capture_output=True, text=True,
                          timeout=180, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), done


def test_every_bad_file_is_loaded_or_reported_and_good_series_still_load(bad_folder, shared_data):
    outcome, done = _run(bad_folder)
    assert "Traceback" not in done.stderr
    every_file = {str(p) for p in bad_folder.rglob("*") if p.is_file()}
    accounted = set(outcome["loaded"]) | set(outcome["skipped"]) | set(outcome["failed"])
    assert every_file - accounted == set(), "files dropped silently"
    for path, reason in {**outcome["skipped"], **outcome["failed"]}.items():
        assert reason and "Traceback" not in reason, path
    brain_uid = "1.3.6.1.4.1.14519.5.2.1.4429.7055.197322826283777183783875680644"
    brain = [shape for uid, shape, _ in outcome["shapes"] if uid == brain_uid]
    assert brain == [[24, 320, 260]]
    assert outcome["skipped"][str(bad_folder / "empty.dcm")] == "empty file (0 bytes)"
    assert "not a DICOM file" in outcome["skipped"][str(bad_folder / "notes.txt")]
    assert "truncated" in outcome["skipped"][str(bad_folder / "truncated_copy_of_brain_slice.dcm")]
    assert "segmentation" in outcome["skipped"][str(bad_folder / "liver.dcm")]


def test_good_series_beside_bad_files_has_the_original_voxels(bad_folder, shared_data):
    original = load_volume(shared_data / "samples" / "mr_brain_t1post_tcia_btp")
    catalog = open_folder(bad_folder)
    uid = original.info.series_instance_uid
    beside = load_volume(bad_folder, series=catalog.volumes.index(
        next(s for s in catalog.volumes if s.info.series_instance_uid == uid)))
    assert np.array_equal(beside.voxels, original.voxels)
    assert np.allclose(beside.positions, original.positions)


def test_a_slice_that_fails_to_decode_is_blank_and_named_not_the_whole_series(tmp_path, shared_data):
    source = shared_data / "dicom_cases" / "mr_siemens_sagittal"
    for path in sorted(source.iterdir()):
        shutil.copy(path, tmp_path / path.name)
    victim = sorted(tmp_path.iterdir())[10]
    victim.write_bytes(corrupt.wrong_transfer_syntax(victim.read_bytes(), b"1.2.840.10008.1.2.5\x00"))
    volume = load_volume(tmp_path)
    assert volume.shape == (35, 256, 256)
    broken = [w for w in volume.warnings if "could not be decoded" in w]
    assert len(broken) == 1 and victim.name in broken[0]


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)} {stat.st_size} {stat.st_mtime_ns} {stat.st_mode}".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_scanned_folder_is_never_written(bad_folder):
    before = _tree_hash(bad_folder)
    names_before = sorted(os.listdir(bad_folder))
    done = subprocess.run([sys.executable, "-m", "medview.cli", "info", "--json", str(bad_folder)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)
    assert sorted(os.listdir(bad_folder)) == names_before
    assert _tree_hash(bad_folder) == before


def test_info_on_a_folder_with_nothing_loadable_exits_nonzero_with_one_line(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    done = subprocess.run([sys.executable, "-m", "medview.cli", "info", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and done.stderr.startswith("medview: nothing could be loaded")


def test_a_header_claiming_a_gigantic_image_is_refused_before_allocating(tmp_path, shared_data):
    import pydicom
    from pydicom.uid import RLELossless

    dataset = pydicom.dcmread(shared_data / "samples" / "mr_brain_t1post_tcia_btp" / "1-01.dcm")
    dataset.compress(RLELossless, encoding_plugin="pylibjpeg")
    dataset.Rows, dataset.Columns, dataset.NumberOfFrames = 65535, 65535, 40
    dataset.save_as(tmp_path / "giant.dcm")
    catalog = open_folder(tmp_path)
    assert catalog.volumes == []
    [skipped] = catalog.skipped
    assert "header claims 40 frames, the pixel data holds 1 fragment" in skipped.reason
