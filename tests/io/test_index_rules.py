"""The splitting rules of the index, on edited copies of a real series written to a temporary folder."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.uid import generate_uid

from medview.io import assemble_volume, open_folder


@pytest.fixture()
def sagittal(shared_data):
    return sorted((shared_data / "dicom_cases" / "mr_siemens_sagittal").iterdir())


def _copy(files, folder, prefix, edit=None):
    folder.mkdir(exist_ok=True)
    for path in files:
        dataset = pydicom.dcmread(path)
        if edit:
            edit(dataset)
        dataset.save_as(folder / f"{prefix}_{path.name}")


def test_repeats_told_apart_by_acquisition_number_become_a_time_axis(sagittal, tmp_path):
    def second(ds):
        ds.SOPInstanceUID = generate_uid()
        ds.AcquisitionNumber = 2

    _copy(sagittal, tmp_path / "s", "a", lambda ds: setattr(ds, "AcquisitionNumber", 1))
    _copy(sagittal, tmp_path / "s", "b", second)
    [spec] = open_folder(tmp_path / "s").volumes
    assert spec.shape == (2, 35, 256, 256)
    assert spec.time_labels == ("AcquisitionNumber 1", "AcquisitionNumber 2")


def test_repeats_with_no_temporal_key_are_separate_volumes(sagittal, tmp_path):
    def strip(ds):
        for keyword in ("AcquisitionNumber", "AcquisitionTime", "TriggerTime", "TemporalPositionIdentifier"):
            if keyword in ds:
                delattr(ds, keyword)

    def again(ds):
        strip(ds)
        ds.SOPInstanceUID = generate_uid()

    _copy(sagittal, tmp_path / "s", "a", strip)
    _copy(sagittal, tmp_path / "s", "b", again)
    volumes = open_folder(tmp_path / "s").volumes
    assert [v.shape for v in volumes] == [(35, 256, 256), (35, 256, 256)]
    assert all(any("no temporal key" in w for w in v.warnings) for v in volumes)


def test_the_same_instance_twice_is_reported_as_a_duplicate(sagittal, tmp_path):
    _copy(sagittal, tmp_path / "s", "a")
    _copy(sagittal[:3], tmp_path / "s", "copy")
    catalog = open_folder(tmp_path / "s")
    [spec] = catalog.volumes
    assert spec.shape == (35, 256, 256)
    assert len(catalog.skipped) == 3 and all("duplicate of" in s.reason for s in catalog.skipped)


def test_two_orientations_under_one_series_are_two_volumes(sagittal, tmp_path):
    def axial(ds):
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [y, z, x]  # a stack along z, as an axial scout series would be

    _copy(sagittal[:20], tmp_path / "s", "a")
    _copy(sagittal[20:], tmp_path / "s", "b", axial)
    volumes = open_folder(tmp_path / "s").volumes
    assert sorted(v.n_slices for v in volumes) == [15, 20]
    assert all(any("orientations" in w for w in v.warnings) for v in volumes)
    assert {assemble_volume(v).plane.name for v in volumes} == {"sagittal", "axial"}


def test_image_type_words_beyond_the_part_never_split_a_series(sagittal, tmp_path):
    def add(ds):
        ds.ImageType = [*ds.ImageType, "ADD"]

    _copy(sagittal[:10], tmp_path / "s", "a", add)
    _copy(sagittal[10:], tmp_path / "s", "b")
    [spec] = open_folder(tmp_path / "s").volumes
    assert spec.n_slices == 35
