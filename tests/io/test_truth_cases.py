"""The loader against the truth table of ../shared/data/dicom_cases (truth.json), case by case.

Where truth.json says SimpleITK is wrong (tilt, echoes, 4D, enhanced frames), these tests hold the loader to
the truth, never to SimpleITK.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from medview.io import assemble_volume, load_volumes, open_folder


@pytest.fixture(scope="module")
def truth(shared_data):
    return json.loads((shared_data / "dicom_cases" / "truth.json").read_text())


@pytest.fixture(scope="module")
def cases(shared_data):
    return shared_data / "dicom_cases"


def _check_geometry(volume, expected):
    assert volume.shape == tuple(expected["shape_krc"])
    spacing = expected["spacing_xyz"]
    assert volume.pixel_spacing[1] == pytest.approx(spacing[0], abs=1e-4)
    assert volume.pixel_spacing[0] == pytest.approx(spacing[1], abs=1e-4)
    if spacing[2] is not None:
        assert volume.slice_spacing == pytest.approx(spacing[2], abs=1e-3)
    assert volume.origin == pytest.approx(expected["origin_lps"], abs=1e-3)
    assert volume.direction.ravel() == pytest.approx(expected["direction"], abs=1e-4)
    assert volume.plane.name == expected["nearest_plane"]
    assert volume.plane.angle_deg == pytest.approx(expected["normal_angle_to_nearest_deg"], abs=0.01)


def test_gantry_tilt_gives_warnings_and_true_per_slice_positions(cases, truth):
    case = truth["ct_head_ge_gantry_tilt"]
    [volume] = load_volumes(cases / "ct_head_ge_gantry_tilt")
    _check_geometry(volume, case["volumes"][0])
    assert volume.slice_spacing is None, "uneven spacing has no single slice spacing"
    ipp = np.array(case["slice_geometry_from_tags"]["ipp_sorted"])
    assert np.abs(volume.positions - ipp).max() < 1e-3
    assert volume.slice_steps == pytest.approx(case["slice_geometry_from_tags"]["step_along_normal_mm"], abs=1e-3)
    assert volume.tilt_deg == pytest.approx(18.5, abs=0.05)
    text = " | ".join(volume.warnings)
    assert "gantry tilt 18.5°" in text
    assert "uneven slice spacing: 4.00 / 1.08 / 7.00 mm" in text
    assert "slice thickness changes: 4 → 7 mm" in text
    for check in case["volumes"][0]["value_checks"]:
        assert volume.voxels[tuple(check["index_krc"])] == check["value"]
    # voxel (k, r, c) lies at IPP_k + c·Δ·row + r·Δ·col: exact on the sheared stack, never a regular grid
    row, col = np.array(case["slice_geometry_from_tags"]["row_dir"]), np.array(
        case["slice_geometry_from_tags"]["col_dir"])
    expected = ipp[27] + 100 * 0.4882812 * row + 200 * 0.4882812 * col
    assert volume.voxel_to_lps(27, 200, 100) == pytest.approx(expected, abs=1e-3)
    assert volume.lps_to_voxel(expected) == pytest.approx([27, 200, 100], abs=1e-3)


def test_multi_echo_series_splits_by_echo_never_one_72_slice_stack(cases, truth):
    case = truth["mr_siemens_multi_echo"]
    catalog = open_folder(cases / "mr_siemens_multi_echo")
    assert len(catalog.volumes) == 2
    volumes = [assemble_volume(spec) for spec in catalog.volumes]
    for volume, expected in zip(volumes, case["volumes"], strict=True):
        assert f"TE {expected['echo_time_ms']:g} ms" in volume.info.part
        _check_geometry(volume, expected)
        for check in expected["value_checks"]:
            assert volume.voxels[tuple(check["index_krc"])] == check["value"]
        assert any("2 echoes" in w for w in volume.warnings)


@pytest.mark.parametrize("values", ["displayed", "floating"])
def test_philips_4d_is_a_time_axis_with_displayed_or_float_values(cases, truth, values):
    case = truth["mr_philips_4d_oblique_scaling"]
    expected = case["volumes"][0]
    catalog = open_folder(cases / "mr_philips_4d_oblique_scaling")
    assert len(catalog.volumes) == 1
    volume = assemble_volume(catalog.volumes[0], philips_values=values)
    assert volume.is_4d and volume.time_points == 3
    assert volume.voxels.dtype.kind == "f"
    _check_geometry(volume, expected)
    assert volume.time_labels == ("TemporalPositionIdentifier 1", "TemporalPositionIdentifier 2",
                                  "TemporalPositionIdentifier 3")
    key = "display_value_simpleitk" if values == "displayed" else "philips_float_value"
    for check in expected["value_checks"]:
        assert volume.voxels[tuple(check["index_tkrc"])] == pytest.approx(check[key], rel=1e-5)
    assert ("displayed value" if values == "displayed" else "floating-point value") in volume.value_note


def test_sagittal_sorted_by_position_not_instance_number(cases, truth):
    expected = truth["mr_siemens_sagittal"]["volumes"][0]
    [volume] = load_volumes(cases / "mr_siemens_sagittal")
    _check_geometry(volume, expected)
    assert volume.warnings == ()
    for check in expected["value_checks"]:
        assert volume.voxels[tuple(check["index_krc"])] == check["value"]


def test_enhanced_multiframe_files_make_one_4d_volume(cases, truth):
    expected = truth["mr_siemens_enhanced_4d"]["volumes"][0]
    catalog = open_folder(cases / "mr_siemens_enhanced_4d")
    assert len(catalog.volumes) == 1
    volume = assemble_volume(catalog.volumes[0])
    assert volume.time_points == 4
    _check_geometry(volume, expected)
    assert volume.warnings == ()
    for check in expected["value_checks"]:
        assert volume.voxels[tuple(check["index_tkrc"])] == check["value"]


def test_enhanced_fieldmap_splits_by_frame_type_with_per_frame_rescale(cases, truth):
    case = truth["mr_philips_enhanced_fieldmap"]
    catalog = open_folder(cases / "mr_philips_enhanced_fieldmap")
    assert len(catalog.volumes) == 2
    by_part = {spec.info.part.split(", ")[-1]: spec for spec in catalog.volumes}
    assert set(by_part) == {"magnitude", "field map"}
    for expected in case["volumes"]:
        part = "field map" if "FIELD_MAP" in expected["label"] else "magnitude"
        for values, key in (("displayed", "display_value"), ("floating", "philips_float_value")):
            volume = assemble_volume(by_part[part], philips_values=values)
            _check_geometry(volume, expected)
            assert volume.warnings == (), "a 0.0034 mm drift must not read as tilt or uneven spacing"
            for check in expected["value_checks"]:
                assert volume.voxels[tuple(check["index_krc"])] == pytest.approx(check[key], rel=1e-5)


def test_field_map_value_in_hz(cases):
    catalog = open_folder(cases / "mr_philips_enhanced_fieldmap")
    [spec] = [s for s in catalog.volumes if "field map" in s.info.part]
    assert assemble_volume(spec).voxels[16, 32, 32] == pytest.approx(17.9487, abs=1e-4)


def test_nine_transfer_syntaxes_decode_identically_and_mosaic_is_unpacked(cases, truth, shared_data):
    case = truth["mr_transfer_syntaxes_mosaic"]
    catalog = open_folder(cases / "mr_transfer_syntaxes_mosaic")
    assert len(catalog.volumes) == 9, "one volume per file, never stacked"
    volumes = [assemble_volume(spec) for spec in catalog.volumes]
    for volume in volumes:
        assert volume.shape == (35, 64, 64)
        assert np.array_equal(volume.voxels, volumes[0].voxels)
        assert any("mosaic unpacked into 35 slices of 64×64 (tile order ascending)" in w for w in volume.warnings)
        assert volume.plane.name == "axial" and volume.plane.angle_deg == pytest.approx(6.2, abs=0.05)
    # the tiles are the mosaic's pixels: tile (i // 6, i % 6) of the 384² frame is slice i
    frame = np.zeros((384, 384), volumes[0].voxels.dtype)
    for i in range(35):
        frame[(i // 6) * 64:(i // 6 + 1) * 64, (i % 6) * 64:(i % 6 + 1) * 64] = volumes[0].voxels[i]
    for check in case["mosaic_frame"]["value_checks"]:
        assert frame[tuple(check["index_krc"][1:])] == check["value"]
    # dcm2niix's un-mosaicked geometry (rows flipped): slice i at the NIfTI affine's k column
    affine = np.array(case["unmosaiced_reference"]["nifti_affine_lps"])
    nifti_origin, j_axis, k_axis = affine[:, 3], affine[:, 1], affine[:, 2]
    for k in (0, 17, 34):
        ours = volumes[0].voxel_to_lps(k, 63, 0)  # our row 63 is the NIfTI's j = 0
        assert ours == pytest.approx(nifti_origin + k * k_axis, abs=0.01)
    assert volumes[0].voxel_to_lps(0, 0, 0) == pytest.approx(nifti_origin + 63 * j_axis, abs=0.01)


def test_a_left_out_slice_gives_a_missing_slices_warning(tmp_path, cases):
    files = sorted((cases / "mr_siemens_sagittal").iterdir())
    for path in files:
        if path != files[17]:
            (tmp_path / path.name).symlink_to(path)
    [volume] = load_volumes(tmp_path)
    assert volume.n_slices == 34
    missing = [w for w in volume.warnings if w.startswith("missing slices")]
    assert len(missing) == 1 and "9.60 mm gap" in missing[0] and "about 1 slice missing" in missing[0]
    assert not any(w.startswith("uneven") for w in volume.warnings)


def test_mosaic_tiles_stacked_against_the_normal_are_reversed_into_slice_order(cases, tmp_path):
    data = (cases / "mr_transfer_syntaxes_mosaic" / "1.dcm").read_bytes()
    flipped = data.replace(b"0.10799944", b"-.10799944").replace(b"0.99415095", b"-.99415095")
    assert flipped != data
    (tmp_path / "descending.dcm").write_bytes(flipped)
    [ascending] = load_volumes(cases / "mr_transfer_syntaxes_mosaic" / "1.dcm")
    [descending] = load_volumes(tmp_path / "descending.dcm")
    assert any("tile order descending" in w for w in descending.warnings)
    assert np.array_equal(descending.voxels, ascending.voxels[::-1])
    # tile 0 sits where the mosaic's corrected origin is, now the last slice in ascending order
    assert descending.positions[-1] == pytest.approx(ascending.positions[0], abs=1e-6)
    assert np.all(np.diff(descending.positions @ descending.normal) > 0)
