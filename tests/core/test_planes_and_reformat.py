"""Multi-planar reformatting against the truth table: planes map patient space both ways, reformats sample
the voxels where they really are (de-sheared on gantry tilt, uneven spacing honoured), markers come from the
plane's own directions.

The truth geometry here is taken from truth.json (per-slice ImagePositionPatient, or origin + direction +
spacing for regular stacks), never from medview's own loader.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from medview.core import planes
from medview.core.reformat import (
    Slab,
    SlabMode,
    _general,
    gaps,
    gaps_crossed,
    reformat,
    sample_plane,
    sample_points,
)
from medview.core.volume import Volume
from medview.io.loader import load_volume

CASES = ("mr_siemens_sagittal", "mr_philips_4d_oblique_scaling", "ct_head_ge_gantry_tilt")


@pytest.fixture(scope="module")
def truth(shared_data):
    return json.loads((shared_data / "dicom_cases" / "truth.json").read_text())


@pytest.fixture(scope="module")
def volumes(shared_data):
    return {name: load_volume(shared_data / "dicom_cases" / name) for name in CASES}


class TruthGeometry:
    """voxel (k, r, c) ↔ LPS from truth.json alone: per-slice positions where given, else origin + direction."""

    def __init__(self, case: dict) -> None:
        volume = case["volumes"][0]
        direction = np.array(volume["direction"]).reshape(3, 3)
        self.row, self.col = direction[:, 0], direction[:, 1]
        spacing = volume["spacing_xyz"]
        self.col_mm, self.row_mm = spacing[0], spacing[1]
        n = volume["shape_krc"][0]
        tags = case.get("slice_geometry_from_tags") or {}
        if "ipp_sorted" in tags:
            self.positions = np.array(tags["ipp_sorted"], dtype=float)
            self.row, self.col = np.array(tags["row_dir"]), np.array(tags["col_dir"])
        else:
            origin = np.array(volume["origin_lps"], dtype=float)
            self.positions = origin + np.arange(n)[:, None] * spacing[2] * direction[:, 2]
        self.normal = np.cross(self.row, self.col)

    def to_lps(self, k: int, r: float, c: float) -> np.ndarray:
        return self.positions[k] + c * self.col_mm * self.row + r * self.row_mm * self.col

    def to_voxel(self, point) -> np.ndarray:
        projections = self.positions @ self.normal
        k = float(np.interp(point @ self.normal, projections, np.arange(len(projections))))
        low = min(int(np.floor(k)), len(projections) - 2)
        base = self.positions[low] + (k - low) * (self.positions[low + 1] - self.positions[low])
        offset = point - base
        return np.array([k, offset @ self.col / self.row_mm, offset @ self.row / self.col_mm])


@pytest.mark.parametrize("name", CASES)
def test_a_point_picked_in_one_plane_is_the_same_lps_point_in_the_others(name, volumes, truth):
    volume, geometry = volumes[name], TruthGeometry(truth[name])
    shape = np.array(volume.shape)
    rng = np.random.default_rng(7)
    for _ in range(12):
        # a click on a voxel centre of an acquired slice, somewhere inside the volume
        k, r, c = (rng.integers(1, shape - 1)).tolist()
        clicked = volume.voxel_to_lps(k, r, c)
        assert clicked == pytest.approx(geometry.to_lps(k, r, c), abs=0.02)  # the truth (spacing to 4 decimals)
        views = planes.anatomical_planes(volume, clicked)
        for source_name, source in views.items():
            row, column, off = source.lps_to_pixel(clicked)
            assert abs(off) < 1e-6
            picked = source.pixel_to_lps(row, column)  # the point picked in this plane ...
            moved = planes.anatomical_planes(volume, picked)  # ... becomes the crosshair
            for other_name, other in moved.items():
                other_row, other_column, distance = other.lps_to_pixel(picked)
                assert abs(distance) < 1e-6, (source_name, other_name)
                back = other.pixel_to_lps(other_row, other_column)
                assert np.linalg.norm(back - picked) < 1e-6
                # a click lands on a whole pixel: within half a pixel of this plane, i.e. half a voxel
                nearest = other.pixel_to_lps(round(other_row), round(other_column))
                error = nearest - picked
                assert abs(error @ other.down) <= other.spacing[0] / 2 + 1e-6
                assert abs(error @ other.right) <= other.spacing[1] / 2 + 1e-6
            # and the truth's voxel of the picked point is the voxel clicked
            assert geometry.to_voxel(picked) == pytest.approx((k, r, c), abs=0.5)


def test_gantry_tilt_coronal_reformat_gives_the_stored_hu_at_each_voxels_true_position(volumes, truth):
    case = truth["ct_head_ge_gantry_tilt"]
    volume, geometry = volumes["ct_head_ge_gantry_tilt"], TruthGeometry(case)
    assert volume.sheared and volume.uneven
    checks = case["volumes"][0]["value_checks"]
    # more voxels than the table names: the stored HU read straight from the array (k 14 is next to the gap)
    extra = [{"index_krc": [k, r, c], "value": float(volume.voxels[k, r, c])}
             for k, r, c in ((3, 300, 200), (13, 256, 300), (14, 250, 260), (20, 200, 256), (26, 310, 180))]
    for check in checks + extra:
        k, r, c = check["index_krc"]
        point = geometry.to_lps(k, r, c)
        coronal = planes.anatomical_planes(volume, point, anchor=point)["coronal"]
        row, column, distance = coronal.lps_to_pixel(point)
        assert abs(distance) < 1e-6 and abs(row - round(row)) < 1e-6 and abs(column - round(column)) < 1e-6
        image = reformat(volume, coronal)
        assert image[round(row), round(column)] == pytest.approx(check["value"], abs=0.5), check
        assert sample_points(volume, point) == pytest.approx(check["value"], abs=0.5)

    # the same test would fail on SimpleITK's regular grid: a stack put where a single spacing says
    regular = Volume(volume.voxels, volume.positions[0] + np.arange(volume.n_slices)[:, None]
                     * float(np.median(volume.slice_steps)) * volume.normal, volume.row_cosine, volume.column_cosine,
                     volume.pixel_spacing)
    wrong = [check for check in checks + extra
             if abs(float(sample_points(regular, geometry.to_lps(*check["index_krc"]))) - check["value"]) > 0.5]
    assert len(wrong) >= 3


def test_gantry_tilt_coronal_reformat_is_de_sheared(volumes):
    """Each coronal row that lies on a slice holds that slice's own row: the shear is undone, not drawn."""
    volume = volumes["ct_head_ge_gantry_tilt"]
    k, r = 20, 256
    point = volume.voxel_to_lps(k, r, 0)
    coronal = planes.anatomical_planes(volume, point, anchor=point)["coronal"]
    row, column, _ = coronal.lps_to_pixel(point)
    image = reformat(volume, coronal)
    line = image[round(row), round(column):round(column) + volume.shape[2]]
    assert np.array_equal(line, volume.voxels[k, r].astype(np.float32))


def test_orientation_markers_of_each_plane_are_right_on_the_sagittal_case(volumes):
    volume = volumes["mr_siemens_sagittal"]
    views = planes.anatomical_planes(volume, planes.volume_centre(volume))
    expected = {"axial": {"left": "R", "right": "L", "top": "A", "bottom": "P"},
                "coronal": {"left": "R", "right": "L", "top": "S", "bottom": "I"},
                "sagittal": {"left": "A", "right": "P", "top": "S", "bottom": "I"}}
    for name, markers in expected.items():
        assert views[name].markers() == markers, name
    # the sagittal reformat is the acquired plane itself: the same pixels and the same letters
    assert planes.acquired_plane(volume, 17).markers() == expected["sagittal"]
    through_17 = views["sagittal"].through(volume.voxel_to_lps(17, 0, 0))
    image = sample_plane(volume, through_17)
    row, column, _ = through_17.lps_to_pixel(volume.voxel_to_lps(17, 0, 0))
    assert np.array_equal(image[round(row):round(row) + 256, round(column):round(column) + 256],
                          volume.voxels[17].astype(np.float32))
    # markers follow the view's flips
    assert views["axial"].markers(flip_horizontal=True)["left"] == "L"


@pytest.mark.parametrize("name", CASES)
def test_the_separable_path_equals_map_coordinates(name, volumes):
    volume = volumes[name]
    stack = volume.voxels[0] if volume.is_4d else volume.voxels
    for plane in planes.anatomical_planes(volume, planes.volume_centre(volume) + 3.3).values():
        fast, reference = sample_plane(volume, plane), _general(volume, stack, plane)
        both = np.isfinite(fast) & np.isfinite(reference)
        assert both.sum() > 0.8 * np.isfinite(reference).sum()
        assert np.max(np.abs(fast[both] - reference[both])) < 0.02


def test_a_rotated_plane_goes_through_the_point_and_samples_true_values(volumes):
    volume = volumes["ct_head_ge_gantry_tilt"]
    point = volume.voxel_to_lps(14, 256, 256)
    axial = planes.anatomical_planes(volume, point, anchor=point)["axial"]
    oblique = planes.rotated(axial, volume, axial.right, 30.0, point)
    row, column, distance = oblique.lps_to_pixel(point)
    assert abs(distance) < 1e-6
    assert abs(float(np.degrees(np.arccos(oblique.normal @ axial.normal))) - 30.0) < 1e-6
    assert sample_points(volume, oblique.pixel_to_lps(row, column)) == pytest.approx(14.0, abs=0.5)


def _ramp_volume(steps=(2.0,) * 9) -> Volume:
    """A 10-slice axial stack whose every voxel holds its slice's z (mm): values say where they were taken."""
    z = np.concatenate([[0.0], np.cumsum(steps)])
    voxels = np.broadcast_to(z[:, None, None], (len(z), 8, 8)).astype(np.float32).copy()
    return Volume(voxels, [(0.0, 0.0, float(v)) for v in z], (1, 0, 0), (0, 1, 0), (1.0, 1.0))


def test_uneven_spacing_is_honoured_between_slices():
    volume = _ramp_volume((1.0, 1.0, 5.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0))
    assert sample_points(volume, (3.0, 3.0, 4.5)) == pytest.approx(4.5, abs=1e-4)  # inside the 5 mm step
    coronal = planes.anatomical_planes(volume, (3.0, 3.0, 4.0))["coronal"]
    image = reformat(volume, coronal)
    rows = [coronal.lps_to_pixel((3.0, 3.0, z))[0] for z in (0.0, 4.0, 13.0)]
    for row, z in zip(rows, (0.0, 4.0, 13.0), strict=True):
        assert image[round(row), 3] == pytest.approx(z, abs=0.6)  # each row shows the z it is at


def test_slab_mip_minip_and_average_span_the_thickness_in_mm():
    volume = _ramp_volume()  # z = 0, 2, ..., 18 mm
    axial = planes.anatomical_planes(volume, (3.0, 3.0, 10.0))["axial"]
    assert reformat(volume, axial)[3, 3] == pytest.approx(10.0)
    assert reformat(volume, axial, slab=Slab(10.0, SlabMode.MIP))[3, 3] == pytest.approx(15.0)
    assert reformat(volume, axial, slab=Slab(10.0, SlabMode.MINIP))[3, 3] == pytest.approx(5.0)
    assert reformat(volume, axial, slab=Slab(10.0, SlabMode.AVERAGE))[3, 3] == pytest.approx(10.0)
    with pytest.raises(ValueError):
        Slab(-1.0)


def test_a_gap_over_twice_the_median_spacing_is_named_where_a_plane_crosses_it():
    volume = _ramp_volume((2.0, 2.0, 2.0, 6.0, 2.0, 2.0, 2.0, 2.0, 2.0))  # slice 5 missing: 6 mm
    assert [(g.k, g.step_mm) for g in gaps(volume)] == [(3, 6.0)]
    views = planes.anatomical_planes(volume, (3.0, 3.0, 4.0))
    assert [g.k for g in gaps_crossed(volume, views["coronal"])] == [3]
    assert "6.0 mm gap between slices 4 and 5" in str(gaps_crossed(volume, views["coronal"])[0])
    assert gaps_crossed(volume, views["axial"]) == []  # on slice 3, not across the gap
    assert gaps_crossed(volume, views["axial"].through((0, 0, 8.0))) != []  # between slices 4 and 5
    assert gaps_crossed(volume, views["axial"], Slab(6.0)) != []


def test_the_parallel_reformat_of_a_regular_stack_is_the_slice_itself(shared_data):
    volume = load_volume(shared_data / "samples" / "ct_chest")
    for k in (0, 14, volume.n_slices - 1):
        axial = planes.anatomical_planes(volume, volume.voxel_to_lps(k, 0, 0))["axial"]
        assert axial.shape == volume.shape[1:]
        assert np.array_equal(sample_plane(volume, axial), volume.voxels[k].astype(np.float32))


def test_points_inside_and_outside_the_volume(volumes):
    volume = volumes["mr_siemens_sagittal"]
    assert planes.inside(volume, planes.volume_centre(volume))
    assert not planes.inside(volume, planes.volume_centre(volume) + (0, 0, 500))
    assert np.isnan(sample_points(volume, planes.volume_centre(volume) + (0, 0, 500)))


def test_a_plane_has_an_image_ref_of_its_orientation_and_position(volumes):
    from medview.core.session import SeriesKey

    volume = volumes["mr_siemens_sagittal"]
    key = SeriesKey("1.2.3")
    views = planes.anatomical_planes(volume, planes.volume_centre(volume))
    moved = views["coronal"].through(planes.volume_centre(volume) + (0.0, 0.0, 7.0))  # in the plane: same image
    assert moved.ref(key) == views["coronal"].ref(key)
    assert views["coronal"].shifted(2.0).ref(key) != views["coronal"].ref(key)
    assert views["coronal"].ref(key).plane != views["axial"].ref(key).plane


def test_on_a_sheared_stack_the_plane_parallel_to_the_slices_shows_each_slice_its_own_pixels(volumes):
    volume = volumes["ct_head_ge_gantry_tilt"]
    views = planes.anatomical_planes(volume, planes.volume_centre(volume))
    for k in (0, 13, 14, 27):
        axial = planes.moved_to(volume, views["axial"], volume.voxel_to_lps(k, 100, 100))
        row, column, distance = axial.lps_to_pixel(volume.voxel_to_lps(k, 0, 0))
        assert abs(distance) < 1e-6 and abs(row - round(row)) < 1e-6 and abs(column - round(column)) < 1e-6
        image = sample_plane(volume, axial)
        r0, c0 = round(row), round(column)
        assert np.array_equal(image[r0:r0 + 512, c0:c0 + 512], volume.voxels[k].astype(np.float32)), k


def test_planes_aligned_to_the_patient_are_true_anatomical_planes_and_still_sample_true_values(volumes):
    volume = volumes["ct_head_ge_gantry_tilt"]
    point = volume.voxel_to_lps(14, 256, 256)
    views = planes.anatomical_planes(volume, point, planes.patient_frame(volume), anchor=point)
    assert views["axial"].normal == pytest.approx((0, 0, 1))
    assert views["coronal"].normal == pytest.approx((0, 1, 0))
    assert views["sagittal"].normal == pytest.approx((-1, 0, 0))
    assert views["axial"].markers() == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    for plane in views.values():  # oblique to the tilted slices: the general path, the same true value
        row, column, distance = plane.lps_to_pixel(point)
        assert abs(distance) < 1e-6
        assert reformat(volume, plane)[round(row), round(column)] == pytest.approx(14.0, abs=0.5)
