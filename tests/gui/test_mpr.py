"""The MPR layout driven as a reader would: three linked planes on a gantry-tilted CT, clicked, scrolled and
measured on; and the command line that opens it (--layout, --crosshair through the one argv pre-pass)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt

from medview import cli_values
from medview.core.annotations import Annotation
from medview.core.session import ACQUIRED
from medview.errors import MedviewError
from medview.gui.main_window import MainWindow
from tests.gui.helpers import click_pixel, left_drag

TIMEOUT = 60_000
PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def tilted(qtbot, tmp_path, shared_data):
    main = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat), with_inference=False)
    qtbot.addWidget(main)
    main.resize(1400, 700)
    main.show()
    qtbot.waitExposed(main)
    with qtbot.waitSignal(main.series_loaded, timeout=TIMEOUT):
        main.open_path(str(shared_data / "dicom_cases" / "ct_head_ge_gantry_tilt"))
    yield main
    main.mpr.cancel()
    main.cancel_loading()


def _mpr(qtbot, main, crosshair=None, layout="1x3"):
    with qtbot.waitSignal(main.mpr.drawn, timeout=TIMEOUT):
        main.set_layout(layout, crosshair=crosshair)
    qtbot.waitUntil(lambda: main.mpr.job is None or not main.mpr.job.running, timeout=TIMEOUT)
    return main.mpr


def test_three_linked_planes_show_the_tilted_ct_with_their_own_markers_and_the_hu_at_the_crosshair(qtbot, tilted):
    volume = tilted.shown.volume
    voxel = volume.voxel_to_lps(14, 256, 256)  # truth.json: HU 14 there
    mpr = _mpr(qtbot, tilted, crosshair=voxel)
    assert tilted.layouts.currentWidget() is mpr
    assert [v for v in mpr.shown_views()] == ["axial", "coronal", "sagittal"]
    for name in mpr.shown_views():
        view = mpr.views[name]
        assert view.plane is not None and np.isfinite(view.values).mean() > 0.2, name
        row, column, distance = view.plane.lps_to_pixel(voxel)
        assert abs(distance) < 1e-6  # every plane goes through the crosshair
    # the acquisition-aligned axial is slice 14 itself, and its letters are the tilted plane's (18.5° off axial)
    axial = mpr.views["axial"]
    row, column, _ = axial.plane.lps_to_pixel(voxel)
    assert axial.values[round(row), round(column)] == pytest.approx(14.0)
    assert axial.markers["left"].text() == "R" and axial.markers["top"].text() == "AS"
    assert mpr.views["sagittal"].markers["left"].text() == "AS"
    qtbot.waitUntil(lambda: "14.0 HU" in tilted.cursor_label.text(), timeout=TIMEOUT)
    assert "LPS (" in tilted.cursor_label.text()


def test_a_click_in_one_plane_moves_the_crosshair_and_the_other_planes_to_the_same_point(qtbot, tilted):
    mpr = _mpr(qtbot, tilted)
    coronal = mpr.views["coronal"]
    target_row, target_column = 20, 300
    qtbot.mouseClick(coronal.graphics.viewport(), Qt.MouseButton.LeftButton,
                     pos=coronal.widget_point_of(target_row, target_column).toPoint())
    qtbot.waitUntil(lambda: mpr.job is None or not mpr.job.running, timeout=TIMEOUT)
    clicked = coronal.plane.pixel_to_lps(target_row, target_column)
    assert np.linalg.norm(mpr.point - clicked) < max(coronal.plane.spacing)  # within a pixel of the click
    for name in ("axial", "sagittal"):
        view = mpr.views[name]
        assert abs(view.plane.lps_to_pixel(mpr.point)[2]) < 1e-6, name
        qtbot.waitUntil(lambda v=view: abs(v.plane.lps_to_pixel(mpr.point)[2]) < 1e-6, timeout=TIMEOUT)
    # the crosshair lines of the axial view cross at the point
    row, column = mpr.views["axial"].crosshair_pixel()
    assert mpr.views["axial"].plane.pixel_to_lps(row, column) == pytest.approx(mpr.point, abs=1e-6)


def test_the_wheel_steps_one_plane_from_acquired_slice_to_acquired_slice_across_uneven_spacing(qtbot, tilted):
    volume = tilted.shown.volume
    mpr = _mpr(qtbot, tilted, crosshair=volume.voxel_to_lps(13, 256, 256))
    coronal_before = mpr.planes["coronal"]
    mpr._scrolled("axial", 1)  # what a wheel step up in the axial view does
    qtbot.waitUntil(lambda: mpr.job is None or not mpr.job.running, timeout=TIMEOUT)
    k, _, _ = volume.lps_to_voxel(mpr.point)
    assert k == pytest.approx(14.0, abs=1e-6)  # the 1.08 mm step, not the median 4 mm
    assert mpr.planes["coronal"].position_mm == pytest.approx(coronal_before.position_mm)


def test_a_length_drawn_on_the_coronal_plane_is_filed_under_that_plane_and_drawn_only_there(qtbot, tilted):
    mpr = _mpr(qtbot, tilted)
    tilted.set_tool("length")
    coronal = mpr.views["coronal"]
    for row, column in ((10, 200), (10, 300)):
        qtbot.mouseClick(coronal.graphics.viewport(), Qt.MouseButton.LeftButton,
                         pos=coronal.widget_point_of(row, column).toPoint())
    ref = coronal.series.ref()
    assert ref.plane != ACQUIRED and ref.plane[0] == "mpr"
    annotations = tilted.session.on(ref)
    assert len(annotations) == 1 and annotations[0].kind == "length"
    # 100 columns of 0.488 mm in this plane's own spacing (within a click's rounding to the screen pixel)
    length = mpr.layers["coronal"].values(annotations[0])[0].value
    assert length == pytest.approx(100 * coronal.plane.spacing[1], abs=1.5)
    assert len(mpr.layers["coronal"].items) == 1
    assert mpr.layers["axial"].items == [] and mpr.layers["sagittal"].items == []
    assert tilted.layer.items == []  # not on the single view's acquired slice either
    tilted.set_tool(None)


def test_slab_mip_and_the_window_lock(qtbot, tilted):
    mpr = _mpr(qtbot, tilted)
    plain = mpr.views["axial"].values.copy()
    with qtbot.waitSignal(mpr.drawn, timeout=TIMEOUT):
        mpr.slab_mm.setValue(10.0)
    qtbot.waitUntil(lambda: "MIP 10 mm" in mpr.views["axial"].texts["bottom_left"].text(), timeout=TIMEOUT)
    both = np.isfinite(plain) & np.isfinite(mpr.views["axial"].values)
    assert np.all(mpr.views["axial"].values[both] >= plain[both] - 1e-3)
    assert np.mean(mpr.views["axial"].values[both] > plain[both] + 1) > 0.1
    # W/L shared by default; unlocked, a right-drag in one view changes only that view
    mpr.views["axial"].drag_window(30, 0)
    assert mpr.views["coronal"].window == mpr.views["axial"].window
    mpr.link_window.setChecked(False)
    mpr.views["axial"].drag_window(30, 0)
    assert mpr.views["coronal"].window != mpr.views["axial"].window


def test_shift_drag_turns_the_other_planes_into_oblique_planes_through_the_crosshair(qtbot, tilted):
    mpr = _mpr(qtbot, tilted)
    before = mpr.planes["coronal"].normal
    mpr._turned("axial", 25.0)
    qtbot.waitUntil(lambda: mpr.job is None or not mpr.job.running, timeout=TIMEOUT)
    angle = np.degrees(np.arccos(np.clip(mpr.planes["coronal"].normal @ before, -1, 1)))
    assert angle == pytest.approx(25.0, abs=1e-6)
    assert abs(mpr.planes["coronal"].lps_to_pixel(mpr.point)[2]) < 1e-6
    assert mpr.planes["coronal"].normal @ mpr.planes["axial"].normal == pytest.approx(0.0, abs=1e-9)
    qtbot.waitUntil(lambda: mpr.views["coronal"].plane.name.startswith("oblique"), timeout=TIMEOUT)


def test_the_2x2_layout_adds_the_acquired_slice_under_its_own_acquired_ref(qtbot, tilted):
    volume = tilted.shown.volume
    mpr = _mpr(qtbot, tilted, crosshair=volume.voxel_to_lps(20, 100, 100), layout="2x2")
    acquired = mpr.views["acquired"]
    assert acquired.isVisible()
    assert np.array_equal(acquired.values, volume.voxels[20].astype(np.float32))
    assert acquired.series.ref().plane == ACQUIRED and acquired.series.ref().k == 20
    tilted.session.add(acquired.series.ref(), Annotation("arrow", ((10, 10), (50, 50))))
    tilted.view.set_slice(20)
    tilted.layer.redraw(force=True)
    assert len(tilted.layer.items) == 1  # the same image in the single view


# -- the command line ---------------------------------------------------------------------------------------------
def _medview(*argv: str) -> subprocess.CompletedProcess:
    import os

    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(PROJECT)}
    return subprocess.run([sys.executable, "-m", "medview.cli", *argv], capture_output=True, text=True,
                          timeout=120, env=environment)


def _one_line(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if "propagateSizeHints" not in line]
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("argv", [["--crosshair=-57.4,131.2,-520.4"], ["--crosshair", "-57.4,131.2,-520.4"]])
def test_crosshair_with_or_without_equals_goes_through_the_one_pre_pass(argv):
    from medview.gui.app import parse_arguments

    args = parse_arguments(["PATH", *argv, "--window", "-400/40", "--layout", "mpr"])
    assert cli_values.crosshair(args.crosshair) == (-57.4, 131.2, -520.4)
    assert args.window == "-400/40" and args.layout == "mpr" and args.path == "PATH"
    assert cli_values.join_values(["--crosshair", "--slice", "3"]) == ["--crosshair", "--slice", "3"]


@pytest.mark.parametrize("text", ["1,2", "a,b,c", "1,2,nan", ""])
def test_a_bad_crosshair_is_refused(text):
    with pytest.raises(MedviewError, match="--crosshair"):
        cli_values.crosshair(text)


def test_crosshair_with_slice_is_refused_in_one_line(shared_data, tmp_path):
    done = _medview(str(shared_data / "dicom_cases" / "ct_head_ge_gantry_tilt"), "--slice", "3", "--crosshair",
                    "0,0,40", "--screenshot", str(tmp_path / "x.png"))
    _one_line(done, "--crosshair", "--slice")
    assert not (tmp_path / "x.png").exists()


def test_a_crosshair_outside_the_volume_is_refused_in_one_line(shared_data, tmp_path):
    done = _medview(str(shared_data / "dicom_cases" / "ct_head_ge_gantry_tilt"), "--crosshair", "0,0,-900",
                    "--screenshot", str(tmp_path / "x.png"))
    _one_line(done, "--crosshair 0,0,-900", "outside the volume")
    assert not (tmp_path / "x.png").exists()
    _one_line(_medview("PATH", "--layout", "three"), "--layout")


def test_medview_help_lists_the_viewer_flags():
    done = _medview("--help")
    assert done.returncode == 0
    for flag in ("--layout", "--crosshair", "--window", "--slice", "--screenshot"):
        assert flag in done.stdout


def test_the_mpr_screenshot_at_a_crosshair(shared_data, tmp_path):
    folder = shared_data / "dicom_cases" / "ct_head_ge_gantry_tilt"
    truth = json.loads((shared_data / "dicom_cases" / "truth.json").read_text())["ct_head_ge_gantry_tilt"]
    position = np.array(truth["slice_geometry_from_tags"]["ipp_sorted"][14]) + 256 * 0.4882812 * np.array(
        truth["slice_geometry_from_tags"]["row_dir"]) + 256 * 0.4882812 * np.array(
        truth["slice_geometry_from_tags"]["col_dir"])
    text = ",".join(f"{v:.3f}" for v in position)
    done = _medview(str(folder), "--layout", "mpr", "--crosshair", text, "--screenshot", str(tmp_path / "m.png"),
                    "--size", "1200x600")
    assert done.returncode == 0, done.stderr
    from PySide6.QtGui import QImage

    image = QImage(str(tmp_path / "m.png")).convertToFormat(QImage.Format.Format_Grayscale8)
    pixels = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(image.height(), image.bytesPerLine())
    assert image.width() == 1200 and pixels.std() > 20  # the planes are drawn, not a blank window




def test_measurements_on_a_reformat_go_into_the_report_with_their_plane_and_patient_positions(qtbot, tilted,
                                                                                               tmp_path):
    import highdicom as hd

    from medview.core import planes
    from medview.gui.report_dialog import gather_reading
    from medview.report.export import Targets, export_report

    mpr = _mpr(qtbot, tilted)
    coronal = mpr.views["coronal"]
    ref = coronal.series.ref()
    tilted.session.add(ref, Annotation("length", ((200.5, 10.5), (300.5, 10.5))))
    tilted.session.add(ref, Annotation("ellipse", ((240, 8), (280, 20))))
    # the plane made again from its ref alone is the plane drawn on
    again = planes.plane_of_ref(ref)
    assert again.shape == coronal.plane.shape
    assert np.allclose(again.pixel_to_lps(10, 200), coronal.plane.pixel_to_lps(10, 200), atol=0.05)
    reading, sources = gather_reading(tilted)
    length, ellipse = reading.measurements
    assert length.plane.startswith("coronal reformat") and length.plane == ellipse.plane
    assert length.values[0].value == pytest.approx(100 * coronal.plane.spacing[1], abs=1e-3)
    assert np.linalg.norm(np.subtract(*length.points_lps)) == pytest.approx(length.values[0].value, abs=0.05)
    mean = ellipse.values[0].value
    assert np.isfinite(mean)
    out = tmp_path / "out"
    export_report(reading, sources, Targets(html=out / "r.html", dicom_folder=out / "dicom"))
    assert length.plane in (out / "r.html").read_text()
    sr = hd.sr.srread(out / "dicom" / "medview-report-SR.dcm")
    groups = sr.content.get_planar_roi_measurement_groups()
    regions = [g.roi for g in groups]
    assert len(groups) == 2 and all(isinstance(r, hd.sr.Scoord3DContentItem) for r in regions)
    assert np.allclose(regions[0].value, np.array(length.points_lps), atol=1e-3)


def test_a_bidimensional_measurement_on_the_sagittal_plane(qtbot, tilted, tmp_path):
    import highdicom as hd

    from medview.gui.report_dialog import gather_reading
    from medview.report.export import Targets, export_report

    mpr = _mpr(qtbot, tilted)
    tilted.set_tool("bidimensional")
    sagittal = mpr.views["sagittal"]
    for row, column in ((10, 250), (20, 350), (20, 290), (10, 310)):
        qtbot.mouseClick(sagittal.graphics.viewport(), Qt.MouseButton.LeftButton,
                         pos=sagittal.widget_point_of(row, column).toPoint())
    tilted.set_tool(None)
    (drawn,) = tilted.session.on(sagittal.series.ref())
    long_axis, short_axis = mpr.layers["sagittal"].values(drawn)
    row_mm, col_mm = sagittal.plane.spacing
    a, b, c, d = (np.array([p[0] * col_mm, p[1] * row_mm]) for p in drawn.points)
    assert (b - a) @ (d - c) == pytest.approx(0.0, abs=1e-6)  # perpendicular in this plane's mm
    assert long_axis.value == pytest.approx(np.linalg.norm(b - a)) and short_axis.value > 0
    assert len(mpr.layers["sagittal"].items) == 1 and mpr.layers["coronal"].items == []
    reading, sources = gather_reading(tilted)
    export_report(reading, sources, Targets(dicom_folder=tmp_path / "dicom"))
    sr = hd.sr.srread(tmp_path / "dicom" / "medview-report-SR.dcm")
    (group,) = sr.content.get_planar_roi_measurement_groups()
    names = [m.name.meaning for m in group.get_measurements()]
    assert names == ["Long axis", "Short axis"]


def test_the_plane_under_the_mouse_is_made_first_and_a_gap_is_said_in_the_view(qtbot):
    from medview.core.session import SeriesKey
    from medview.core.volume import Volume
    from medview.core.window_level import Window
    from medview.gui.mpr_layout import MprLayout

    z = np.array([0, 2, 4, 6, 12, 14, 16, 18, 20, 22], dtype=float)  # a 6 mm gap: slice 5 is missing
    voxels = np.broadcast_to(z[:, None, None], (len(z), 32, 32)).astype(np.int16).copy()
    volume = Volume(voxels, [(0.0, 0.0, v) for v in z], (1, 0, 0), (0, 1, 0), (1.0, 1.0), value_unit="HU")
    layout = MprLayout()
    qtbot.addWidget(layout)
    layout.resize(900, 400)
    layout.show()
    with qtbot.waitSignal(layout.drawn, timeout=TIMEOUT):
        layout.set_volume(volume, SeriesKey("1.2.3"), Window(40, 10), point=(10.0, 12.0, 4.0))  # on slice 3
    assert "gap between slices 4 and 5" in layout.views["coronal"].texts["bottom_left"].text()
    assert "gap" not in layout.views["axial"].texts["bottom_left"].text()
    landed = []
    for name, view in layout.views.items():
        view.slice_changed.connect(lambda _k, n=name: landed.append(n))
    layout.hovered = "sagittal"
    with qtbot.waitSignal(layout.drawn, timeout=TIMEOUT):
        layout.set_point((12.0, 14.0, 9.0))  # every plane moves
    assert landed[0] == "sagittal", landed
    assert set(landed) == {"axial", "coronal", "sagittal"}
    assert "interpolated across a 6.0 mm gap" in layout.views["axial"].texts["bottom_left"].text()  # z 9: in it
    layout.cancel()


def test_back_to_the_single_view_at_the_crosshair_and_k_marks_the_slice_there(qtbot, tilted):
    volume = tilted.shown.volume
    _mpr(qtbot, tilted, crosshair=volume.voxel_to_lps(9, 200, 300))
    qtbot.keyClick(tilted, Qt.Key.Key_K)
    assert tilted.shown.ref(9) in tilted.session.key_images
    tilted.set_layout("single")
    assert tilted.view.k == 9 and tilted.layouts.currentIndex() == 0


def test_a_plane_measurement_is_saved_and_restored_with_its_plane(tilted, qtbot):
    import json as json_

    from medview.core import planes
    from medview.core.session import Session, merge_study, study_to_plain

    mpr = _mpr(qtbot, tilted)
    ref = mpr.views["sagittal"].series.ref()
    tilted.session.add(ref, Annotation("length", ((1, 2), (30, 40))))
    study = tilted.session.studies[ref.series]
    plain = json_.loads(json_.dumps(study_to_plain(tilted.session, study)))
    again = Session()
    merge_study(again, plain)
    (restored,) = [r for r in again.annotations if r.plane != ACQUIRED]
    assert restored == ref and again.on(restored) == tilted.session.on(ref)
    assert planes.plane_of_ref(restored).shape == mpr.views["sagittal"].plane.shape


def test_the_wheel_stops_at_the_edge_of_the_volume(qtbot, tilted):
    mpr = _mpr(qtbot, tilted)
    for _ in range(400):
        mpr._scrolled("coronal", 1)
    qtbot.waitUntil(lambda: mpr.job is None or not mpr.job.running, timeout=TIMEOUT)
    from medview.core import planes

    assert planes.inside(tilted.shown.volume, mpr.point, margin_voxels=1.0)
    assert np.isfinite(mpr.views["coronal"].values).any()


def test_a_4d_series_is_reformatted_at_the_time_point_shown_and_its_work_filed_there(qtbot, shared_data):
    from medview.core.session import SeriesKey
    from medview.core.window_level import Window
    from medview.gui.mpr_layout import MprLayout
    from medview.io import load_volume

    volume = load_volume(shared_data / "dicom_cases" / "mr_philips_4d_oblique_scaling")
    layout = MprLayout()
    qtbot.addWidget(layout)
    layout.resize(900, 400)
    layout.show()
    point = volume.voxel_to_lps(4, 32, 32)
    with qtbot.waitSignal(layout.drawn, timeout=TIMEOUT):
        layout.set_volume(volume, SeriesKey("1.2.3"), Window(2000, 1000), point=point)
    with qtbot.waitSignal(layout.drawn, timeout=TIMEOUT):
        layout.set_time(2)
    axial = layout.views["axial"]
    row, column, _ = axial.plane.lps_to_pixel(point)
    assert axial.values[round(row), round(column)] == pytest.approx(1987.1453, abs=0.01)  # truth.json, t 2
    assert axial.series.ref().t == 2
    layout.cancel()


def test_mpr_of_a_single_image_is_refused_in_one_line(tmp_path):
    from pydicom.data import get_testdata_file

    done = _medview(get_testdata_file("CT_small.dcm"), "--layout", "mpr", "--screenshot", str(tmp_path / "x.png"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if "propagateSizeHints" not in line]
    assert lines == ["medview: MPR: this series has one slice, nothing to reformat"]


def test_under_a_slab_an_roi_measures_the_plane_itself_as_the_report_does(qtbot, tilted):
    from medview.core.reformat import reformat

    mpr = _mpr(qtbot, tilted)
    with qtbot.waitSignal(mpr.drawn, timeout=TIMEOUT):
        mpr.slab_mm.setValue(20.0)
    qtbot.waitUntil(lambda: "MIP 20 mm" in mpr.views["coronal"].texts["bottom_left"].text(), timeout=TIMEOUT)
    coronal = mpr.views["coronal"]
    roi = Annotation("rectangle", ((200, 10), (300, 20)))
    mean = mpr.layers["coronal"].values(roi)[0].value
    from medview.core.annotations import measure_annotation

    thin = measure_annotation(roi, reformat(tilted.shown.volume, coronal.plane), coronal.plane.spacing, "HU")
    assert mean == pytest.approx(thin[0].value)
    shown = measure_annotation(roi, coronal.values, coronal.plane.spacing, "HU")
    assert shown[0].value > mean  # the MIP on screen is brighter than the plane measured


def test_turned_in_two_views_the_planes_are_double_oblique_perpendicular_and_through_the_crosshair(qtbot, tilted):
    mpr = _mpr(qtbot, tilted)
    mpr._turned("axial", 20.0)
    mpr._turned("coronal", 15.0)
    qtbot.waitUntil(lambda: mpr.job is None or not mpr.job.running, timeout=TIMEOUT)
    normals = np.array([mpr.planes[name].normal for name in ("axial", "coronal", "sagittal")])
    assert normals @ normals.T == pytest.approx(np.eye(3), abs=1e-9)  # still three perpendicular planes
    frame = tilted.shown.volume
    acquired_axes = np.array([frame.row_cosine, frame.column_cosine, frame.normal])
    assert np.all(np.abs(acquired_axes @ mpr.planes["sagittal"].normal) > 0.05)  # off all three volume axes
    for name in ("axial", "coronal", "sagittal"):
        assert abs(mpr.planes[name].lps_to_pixel(mpr.point)[2]) < 1e-6
    qtbot.waitUntil(lambda: mpr.views["sagittal"].plane is not None
                    and mpr.views["sagittal"].plane.same_orientation(mpr.planes["sagittal"]), timeout=TIMEOUT)
    assert np.isfinite(mpr.views["sagittal"].values).mean() > 0.1


def test_clear_takes_the_measurements_off_the_mpr_views_too(qtbot, tilted):
    mpr = _mpr(qtbot, tilted)
    tilted.session.add(mpr.views["coronal"].series.ref(), Annotation("length", ((200, 10), (300, 10))))
    mpr.redraw_annotations()
    assert len(mpr.layers["coronal"].items) == 1
    tilted.clear_series()
    assert mpr.layers["coronal"].items == []


# -- one view class, rotation handles, presets -------------------------------------------------------------------
def test_the_single_view_is_a_plane_view_of_the_acquired_slice_with_its_own_letters_and_ref(qtbot, tilted):
    from medview.core import planes
    from medview.gui.plane_view import PlaneView

    view, volume = tilted.view, tilted.shown.volume
    view.set_slice(17)
    assert isinstance(view, PlaneView) and all(isinstance(v, PlaneView) for v in tilted.mpr.views.values())
    plane, truth = view.plane, planes.acquired_plane(volume, 17)
    assert np.allclose(plane.origin, truth.origin) and plane.same_orientation(truth)
    assert plane.spacing == truth.spacing and plane.shape == truth.shape
    # a pixel of the single view is the plane's LPS point: the same mapping as the volume's voxels
    assert plane.pixel_to_lps(100, 300) == pytest.approx(volume.voxel_to_lps(17, 100, 300), abs=1e-6)
    assert {edge: label.text() for edge, label in view.markers.items()} == plane.markers()
    assert view.here() == tilted.shown.ref(17)
    view.flip(True)
    assert view.markers["left"].text() == plane.markers(flip_horizontal=True)["left"] == "L"


def test_dragging_a_reference_lines_handle_turns_that_plane_by_the_angle_dragged(qtbot, tilted):
    from PySide6.QtCore import QPointF

    volume = tilted.shown.volume
    mpr = _mpr(qtbot, tilted, crosshair=volume.voxel_to_lps(12, 256, 256))
    qtbot.wait(100)  # the views laid out and painted: their items' scene positions are up to date
    axial = mpr.views["axial"]
    coronal_before, sagittal_before = mpr.planes["coronal"].normal, mpr.planes["sagittal"].normal
    row, column = axial.crosshair_pixel()
    centre = axial.image.mapToScene(QPointF(column + 0.5, row + 0.5))  # a pyqtgraph scene is its viewport's pixels
    handle = axial.handle_widget_points("coronal")[0]
    radius = np.hypot(handle.x() - centre.x(), handle.y() - centre.y())
    assert radius > 50  # the handle is out on its line, not on the crosshair
    qtbot.mouseMove(axial.graphics.viewport(), QPoint(round(handle.x()), round(handle.y())))
    qtbot.waitUntil(lambda: axial.graphics.viewport().cursor().shape() == Qt.CursorShape.OpenHandCursor,
                    timeout=5000)  # over a handle: an open hand
    start = np.arctan2(handle.y() - centre.y(), handle.x() - centre.x())
    path = [QPointF(round(centre.x() + radius * np.cos(start + a)), round(centre.y() + radius * np.sin(start + a)))
            for a in np.radians(np.arange(0, 31, 5))]  # 30° clockwise on screen, in 5° steps
    dragged = np.degrees(np.arctan2(path[-1].y() - centre.y(), path[-1].x() - centre.x())
                         - np.arctan2(path[0].y() - centre.y(), path[0].x() - centre.x())) % 360
    left_drag(qtbot, axial, path)
    qtbot.waitUntil(lambda: mpr.views["coronal"].plane.same_orientation(mpr.planes["coronal"]), timeout=TIMEOUT)
    after = mpr.planes["coronal"].normal
    turned = np.degrees(np.arccos(np.clip(after @ coronal_before, -1, 1)))
    assert turned == pytest.approx(dragged, abs=0.01)  # the plane turned by exactly the angle dragged
    axis = np.cross(coronal_before, after) / np.linalg.norm(np.cross(coronal_before, after))
    assert abs(axis @ mpr.planes["axial"].normal) == pytest.approx(1.0, abs=1e-9)  # about the axial normal
    assert np.allclose(mpr.planes["sagittal"].normal, sagittal_before)  # only the line dragged turns
    assert mpr.views["coronal"].plane.name.startswith("oblique")
    # the line now runs under the mouse: the point released on lies in the turned coronal plane
    end = axial.plane.pixel_to_lps(*axial._scene_to_pixel(axial.graphics.mapToScene(path[-1].toPoint())))
    assert abs(mpr.planes["coronal"].lps_to_pixel(end)[2]) < max(axial.plane.spacing) * 2
    # a point picked on the oblique plane is the same LPS point in every plane (within half a voxel)
    qtbot.waitUntil(lambda: mpr.pending is None and (mpr.job is None or not mpr.job.running), timeout=TIMEOUT)
    oblique = mpr.views["coronal"]
    target = (oblique.plane.shape[0] * 0.4, oblique.plane.shape[1] * 0.55)
    where = oblique.widget_point_of(*target)  # where the click lands (a whole screen pixel), as click_pixel does
    clicked = oblique.graphics.mapToScene(QPoint(round(where.x()), round(where.y())))
    picked = oblique.plane.pixel_to_lps(*oblique._scene_to_pixel(clicked))
    with qtbot.waitSignal(mpr.drawn, timeout=TIMEOUT):
        click_pixel(qtbot, oblique, *target)
    half_voxel = 0.5 * min(*volume.pixel_spacing, float(np.median(np.abs(volume.slice_steps))))
    assert np.linalg.norm(mpr.point - picked) < half_voxel
    for name in ("axial", "coronal", "sagittal"):
        view = mpr.views[name]
        row, column, distance = view.plane.lps_to_pixel(mpr.point)
        assert abs(distance) < 1e-6, name
        assert np.linalg.norm(view.plane.pixel_to_lps(row, column) - mpr.point) < half_voxel, name


def test_handles_in_two_views_make_a_double_oblique_plane(qtbot, tilted):
    mpr = _mpr(qtbot, tilted)
    sagittal = mpr.planes["sagittal"].normal
    mpr._line_turned("axial", "sagittal", 20.0)
    mpr._line_turned("coronal", "sagittal", 12.0)
    qtbot.waitUntil(lambda: mpr.views["sagittal"].plane.same_orientation(mpr.planes["sagittal"]), timeout=TIMEOUT)
    volume = tilted.shown.volume
    axes = np.array([volume.row_cosine, volume.column_cosine, volume.normal])
    assert np.all(np.abs(axes @ mpr.planes["sagittal"].normal) > 0.05)  # off every axis of the volume
    assert np.degrees(np.arccos(mpr.planes["sagittal"].normal @ sagittal)) > 20.0
    assert abs(mpr.planes["sagittal"].lps_to_pixel(mpr.point)[2]) < 1e-6
    assert np.isfinite(mpr.views["sagittal"].values).mean() > 0.1
    # while a measuring tool is on, a click measures: the handles step aside
    handles = mpr.views["axial"].reference_lines.handles["sagittal"]
    tilted.set_tool("length")
    assert not any(handle.isVisible() for handle in handles)
    tilted.set_tool(None)
    assert all(handle.isVisible() for handle in handles)


def test_keys_1_to_9_choose_the_modality_presets_in_every_plane_shared_or_per_plane(qtbot, tilted):
    mpr = _mpr(qtbot, tilted)
    presets = tilted.view.presets
    assert len(presets) >= 3 and all(view.presets == presets for view in mpr.views.values())
    qtbot.keyClick(mpr.views["coronal"], Qt.Key.Key_2)
    assert all(mpr.views[name].window == presets[1] for name in mpr.shown_views())  # shared: every plane
    mpr.link_window.setChecked(False)
    qtbot.keyClick(mpr.views["axial"], Qt.Key.Key_3)
    assert mpr.views["axial"].window == presets[2]
    assert mpr.views["coronal"].window == mpr.views["sagittal"].window == presets[1]  # unlocked: that plane only
    tilted.set_layout("single")
    assert tilted.view.window == presets[1]  # the shared window goes back with the reader; a plane's own does not


@pytest.mark.parametrize("inverted", [False, True])
def test_a_reformat_is_greyed_as_the_single_view_greys_and_black_outside_the_volume(inverted):
    from medview.core.window_level import Window, grey
    from medview.gui.plane_view import display_grey, screen_rgba

    values = np.random.default_rng(0).uniform(-3000, 3000, (60, 80)).astype(np.float32)
    values[::7, ::5] = np.nan
    inside = np.isfinite(values)
    for window in (Window(1500, -600), Window(40, 10), Window(0.0125, 0.5)):
        shown = display_grey(values, window, inverted)
        assert np.array_equal(shown[inside], grey(values[inside], window, inverted))
        assert np.all(shown[~inside] == 0)
        rgba = screen_rgba(values, window, inverted)  # what the screen is handed: that grey, opaque
        assert rgba.shape == (*values.shape, 4) and np.all(rgba[..., 3] == 255)
        assert all(np.array_equal(rgba[..., channel], shown) for channel in range(3))


def test_the_rotation_handles_stay_in_the_view_when_the_crosshair_is_near_an_edge(qtbot, tilted):
    volume = tilted.shown.volume
    mpr = _mpr(qtbot, tilted, crosshair=volume.voxel_to_lps(3, 20, 30))  # near a corner of the volume
    qtbot.wait(100)  # the views laid out and painted: their items' scene positions are up to date
    for name in mpr.shown_views():
        view = mpr.views[name]
        size = view.graphics.viewport().size()
        for other in view.others:
            for point in view.handle_widget_points(other):
                assert 0 <= point.x() <= size.width() and 0 <= point.y() <= size.height(), (name, other, point)


def test_a_left_drag_pans_the_single_view_and_moves_the_crosshair_in_mpr(qtbot, tilted):
    from PySide6.QtCore import QPointF

    view = tilted.view
    before = view.box.viewRect()
    left_drag(qtbot, view, [QPointF(300, 300), QPointF(340, 320), QPointF(380, 340)])
    after = view.box.viewRect()
    assert after.left() < before.left() - 10 and after.top() < before.top() - 5  # the image followed the mouse
    mpr = _mpr(qtbot, tilted)
    start = mpr.point.copy()
    with qtbot.waitSignal(mpr.drawn, timeout=TIMEOUT):
        left_drag(qtbot, mpr.views["coronal"], [QPointF(150, 300), QPointF(170, 330), QPointF(190, 360)])
    assert np.linalg.norm(mpr.point - start) > 5  # in MPR a left-drag moves the crosshair
