"""The four sample folders: geometry and values against SimpleITK voxel for voxel, and the README's facts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from medview.io import assemble_volume, load_volume, open_folder


def _simpleitk(folder):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def _same_as_simpleitk(volume, image):
    assert volume.shape == tuple(reversed(image.GetSize()))
    assert volume.spacing_xyz == pytest.approx(image.GetSpacing(), abs=1e-4)
    assert volume.origin == pytest.approx(image.GetOrigin(), abs=1e-3)
    assert volume.direction.ravel() == pytest.approx(image.GetDirection(), abs=1e-5)
    reference = sitk.GetArrayViewFromImage(image)
    assert np.array_equal(volume.voxels, reference), "every voxel equal to SimpleITK's"


@pytest.mark.parametrize("sample", ["ct_chest", "ct_chest_lidc_0314", "mr_brain_t1post_tcia_btp"])
def test_sample_equals_simpleitk_voxel_for_voxel(shared_data, sample):
    folder = shared_data / "samples" / sample
    volume = load_volume(folder)
    _same_as_simpleitk(volume, _simpleitk(folder))
    assert volume.warnings == ()


def test_ct_chest_slice_order_and_hounsfield(shared_data):
    folder = shared_data / "samples" / "ct_chest"
    catalog = open_folder(folder)
    [spec] = catalog.volumes
    assert spec.images[0][0].instance_number == 30, "k 0 is instance 30 (ascending z)"
    assert [spec.images[0][k].instance_number for k in (12, 16)] == [18, 14]
    volume = assemble_volume(spec)
    assert volume.value_unit == "HU"
    stored = pydicom.dcmread(spec.images[0][14].path)
    expected = stored.pixel_array * float(stored.RescaleSlope) + float(stored.RescaleIntercept)
    assert np.array_equal(volume.voxels[14], expected)
    # the mass in the right lower lobe (patient right = image left) is soft tissue at the README's click point
    assert -100 < volume.voxels[14, 305, 160] < 150


def test_lidc_ct_sorted_by_position_not_file_name(shared_data):
    folder = shared_data / "samples" / "ct_chest_lidc_0314"
    catalog = open_folder(folder)
    [spec] = catalog.volumes
    assert spec.shape == (275, 512, 512)
    names = [h.path for h in spec.images[0]]
    assert names != sorted(names), "file names are not slice order"
    volume = assemble_volume(spec)
    assert volume.spacing_xyz == pytest.approx((0.78125, 0.78125, 1.0))
    assert volume.origin == pytest.approx((-201, -59, -679.8), abs=1e-3)
    assert (int(volume.voxels.min()), int(volume.voxels.max())) == (-1000, 1979)
    assert volume.voxels.dtype == np.int16
    # the nodule at (159, 243, 184) is denser than the lung around it
    assert volume.voxels[159, 243, 184] > -300 > volume.voxels[159, 243, 160]


def test_brain_sample_slice_order_and_oblique_plane(shared_data):
    catalog = open_folder(shared_data / "samples" / "mr_brain_t1post_tcia_btp")
    [spec] = catalog.volumes
    assert [h.instance_number for h in spec.images[0]] == list(range(1, 25)), "k = instance - 1"
    volume = assemble_volume(spec)
    assert volume.shape == (24, 320, 260)
    assert volume.pixel_spacing == pytest.approx((0.6875, 0.6875))
    assert volume.slice_spacing == pytest.approx(6.5, abs=1e-3)
    assert volume.plane.name == "axial" and volume.plane.angle_deg == pytest.approx(10.2, abs=0.05)
    # image right is patient left: the row direction points to the patient's left (+x in LPS)
    assert volume.row_cosine[0] > 0.9


def test_dicomdir_cd_finds_all_31_images_of_2_patients_and_6_studies(shared_data):
    catalog = open_folder(shared_data / "samples" / "dicomdir_cd")
    assert catalog.skipped == []
    images = [h for spec in catalog.volumes for point in spec.images for h in point]
    assert len({h.sop_instance_uid for h in images}) == 31
    assert len({spec.info.patient_id for spec in catalog.volumes}) == 2
    assert len({spec.info.study_instance_uid for spec in catalog.volumes}) == 6
    for spec in catalog.volumes:
        assemble_volume(spec)


@pytest.mark.parametrize("how", ["a relative path", "a link to the CD"])
def test_a_cd_opened_by_another_path_reads_each_file_once(shared_data, tmp_path, monkeypatch, how):
    """The DICOMDIR's references and the folder's own files are one set of files, whatever path the CD was
    opened by (each file was read twice and named "a duplicate of" itself, 31 times, on a relative path)."""
    cd = shared_data / "samples" / "dicomdir_cd"
    if how == "a relative path":
        monkeypatch.chdir(cd.parent)
        opened = Path("dicomdir_cd")
    else:
        opened = tmp_path / "cdrom"
        opened.symlink_to(cd, target_is_directory=True)
    catalog = open_folder(opened)
    assert catalog.skipped == []
    assert catalog.n_files == 31


def test_dicomdir_file_itself_reads_its_references(shared_data):
    catalog = open_folder(shared_data / "samples" / "dicomdir_cd" / "DICOMDIR")
    images = [h for spec in catalog.volumes for point in spec.images for h in point]
    assert len(images) == 31


def test_volume_order_is_fixed_and_series_index_means_the_same_volume(shared_data):
    folder = shared_data / "samples" / "dicomdir_cd"
    first = [(s.info.patient_id, s.info.study_instance_uid, s.info.series_instance_uid, s.info.part)
             for s in open_folder(folder).volumes]
    second = [(s.info.patient_id, s.info.study_instance_uid, s.info.series_instance_uid, s.info.part)
              for s in open_folder(folder).volumes]
    assert first == second
    dates = [(s.info.patient_name, s.info.patient_id, s.info.study_date) for s in open_folder(folder).volumes]
    assert dates == sorted(dates)


def test_scan_from_a_worker_thread_finds_the_same_images(shared_data):
    """In a threaded process (the GUI) the scan never forks: same result, read in that process."""
    import threading

    from medview.io import scan_folder

    folder = shared_data / "samples" / "ct_chest_lidc_0314"
    direct = scan_folder(folder)
    found = {}
    thread = threading.Thread(target=lambda: found.update(result=scan_folder(folder)))
    thread.start()
    thread.join(timeout=120)
    assert [h.path for h in found["result"].images] == [h.path for h in direct.images]
