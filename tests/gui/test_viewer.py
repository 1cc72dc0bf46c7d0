"""The viewer driven as a user would: open, pick a series, scroll, window, zoom; asserting on state and pixels."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from PySide6.QtCore import QPoint, Qt

from medview.core.window_level import Window, grey
from medview.gui.app import SAMPLE
from medview.io import load_volume
from tests.gui.helpers import TIMEOUT, drawn, grey_of, open_and_wait, shown_window


@pytest.fixture()
def window(qtbot, tmp_path):
    main = shown_window(qtbot, tmp_path, 1100, 800)
    yield main
    main.cancel_loading()


def viewport_pixels(main) -> np.ndarray:
    return grey_of(drawn(main.view))


def test_bundled_sample_opens_and_is_not_blank(qtbot, window):
    open_and_wait(qtbot, window, SAMPLE, k=17)
    assert window.view.k == 17 and window.shown.loaded
    pixels = viewport_pixels(window)
    assert pixels.std() > 20, "the brain must be drawn"
    assert "slice 18/24 · im 18" in window.view.corners["bottom_left"].text()


def test_window_level_change_changes_pixels(qtbot, window):
    open_and_wait(qtbot, window, SAMPLE, k=17)
    before = viewport_pixels(window)
    window.view.set_window(Window(300, 900))
    after = viewport_pixels(window)
    assert np.abs(after.astype(int) - before.astype(int)).mean() > 5
    voxel = load_volume(SAMPLE).voxels[17, 210, 175]
    point = window.view.widget_point_of(210, 175)

    def drawn() -> int:
        return int(viewport_pixels(window)[int(point.y()), int(point.x())])

    assert abs(drawn() - int(grey(voxel, Window(300, 900)))) <= 3  # the pixel is drawn through W 300 / L 900
    window.view.drag_window(40, 0)  # right-drag to the right widens the window: the drawn grey follows
    assert window.view.window.width > 300
    assert abs(drawn() - int(grey(voxel, window.view.window))) <= 3
    qtbot.keyClick(window.view, Qt.Key.Key_2)
    assert window.view.window == window.view.presets[1]
    assert abs(drawn() - int(grey(voxel, window.view.presets[1]))) <= 3


def test_tumour_in_the_patients_left_is_drawn_on_the_images_right_and_markers_say_so(qtbot, window):
    open_and_wait(qtbot, window, SAMPLE, k=17)
    view = window.view
    width = view.graphics.viewport().width()
    tumour = view.widget_point_of(210, 175)  # README: the mass at k 17, column 175, row 210
    normal = view.widget_point_of(150, 75)
    assert tumour.x() > width / 2 > normal.x()
    assert view.markers["right"].text() == "L" and view.markers["left"].text() == "R"
    assert view.markers["top"].text() == "A" and view.markers["bottom"].text() == "P"
    # the enhancing rim of the mass is brighter on screen than the brain across the midline
    pixels = viewport_pixels(window)
    x, y = int(tumour.x()), int(tumour.y())
    mirror = int(width - tumour.x())
    assert pixels[y - 30:y + 30, x - 30:x + 30].max() > pixels[y - 30:y + 30, mirror - 30:mirror + 30].max()


def test_flip_and_rotate_move_the_markers_with_the_image(qtbot, window):
    open_and_wait(qtbot, window, SAMPLE, k=17)
    view = window.view
    view.flip(horizontal=True)
    assert view.markers["right"].text() == "R"
    assert view.widget_point_of(210, 175).x() < view.graphics.viewport().width() / 2
    view.flip(horizontal=True)
    view.rotate(1)
    assert view.markers["top"].text() == "R" and view.markers["right"].text() == "A"


def test_sagittal_case_has_the_right_letters(qtbot, window, shared_data):
    open_and_wait(qtbot, window, shared_data / "dicom_cases" / "mr_siemens_sagittal")
    markers = {name: label.text() for name, label in window.view.markers.items()}
    assert markers == {"left": "A", "right": "P", "top": "S", "bottom": "I"}


def test_value_under_the_cursor_is_the_loaders_voxel(qtbot, window, shared_data):
    folder = shared_data / "samples" / "ct_chest"
    open_and_wait(qtbot, window, folder, k=14)
    expected = int(load_volume(folder).voxels[14, 305, 160])
    point = window.view.widget_point_of(305, 160)
    qtbot.mouseMove(window.view.graphics.viewport(), QPoint(int(point.x()), int(point.y())))
    where = "slice 15/30 · im 16, row 305, column 160"  # k 14 is instance 16 (k 0 is instance 30)
    qtbot.waitUntil(lambda: where in window.cursor_label.text(), timeout=5000)
    text = window.cursor_label.text()
    assert text.startswith(f"{expected} HU at {where}")
    assert "LPS (" in text


def test_unequal_pixel_spacing_is_drawn_at_its_true_aspect(qtbot, window, tmp_path):
    copy = tmp_path / "anisotropic"
    copy.mkdir()
    for path in sorted(SAMPLE.iterdir()):
        dataset = pydicom.dcmread(path)
        dataset.PixelSpacing = [0.6875, 1.375]  # rows 0.6875 mm apart, columns 1.375 mm apart
        dataset.save_as(copy / path.name)
    open_and_wait(qtbot, window, copy, k=17)
    view = window.view
    top_left, bottom_right = view.widget_point_of(0, 0), view.widget_point_of(319, 259)
    ratio = (bottom_right.x() - top_left.x()) / (bottom_right.y() - top_left.y())
    assert ratio == pytest.approx(259 * 1.375 / (319 * 0.6875), rel=0.01)


def test_scrolling_by_keys_wheel_and_slider(qtbot, window):
    open_and_wait(qtbot, window, SAMPLE, k=10)
    view = window.view
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.k == 11
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    assert view.k == 13
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert view.k == 0
    window.slider.setValue(20)
    assert view.k == 20 and "slice 21/24 · im 21" in view.corners["bottom_left"].text()
    zoom = view.zoom()
    view.zoom_by(2.0)
    assert view.zoom() == pytest.approx(2 * zoom, rel=0.05)


def test_slider_catches_up_with_a_fast_wheel(qtbot, window):
    open_and_wait(qtbot, window, SAMPLE, k=3)
    for _ in range(7):  # faster than the display: the slider is moved once, to where the view ended
        window.view.step(1)
    assert window.view.k == 10
    qtbot.waitUntil(lambda: window.slider.value() == 10, timeout=2000)
    window.slider.setValue(4)  # and the slider still drives the view
    assert window.view.k == 4


def test_first_slice_is_drawn_before_the_series_has_loaded(qtbot, window, shared_data):
    seen = {}
    window.series_shown.connect(lambda index: seen.setdefault("loaded_when_shown", window.shown.loaded))
    open_and_wait(qtbot, window, shared_data / "samples" / "ct_chest_lidc_0314", k=159)
    assert seen["loaded_when_shown"] is False
    assert window.view.k == 159


def test_bad_files_are_listed_in_the_skipped_dock_and_the_good_series_loads(qtbot, window, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(SAMPLE, folder)
    (folder / "notes.txt").write_text("not DICOM")
    open_and_wait(qtbot, window, folder)
    assert window.skipped.rowCount() == 1
    assert "not a DICOM file" in window.skipped.item(0, 1).text()
    assert window.skipped_dock.isVisibleTo(window)


def test_4d_series_gets_a_time_slider(qtbot, window, shared_data):
    open_and_wait(qtbot, window, shared_data / "dicom_cases" / "mr_philips_4d_oblique_scaling")
    assert window.time_slider.isVisibleTo(window) and window.time_slider.maximum() == 2
    before = window.view.series.slice(window.view.k, 0).copy()
    window.time_slider.setValue(2)
    assert window.view.t == 2
    assert not np.array_equal(window.view.series.slice(window.view.k, 2), before)


def test_tag_dock_shows_the_slices_header_and_searches_it(qtbot, window):
    open_and_wait(qtbot, window, SAMPLE, k=5)
    window.tags_dock.show()
    qtbot.waitUntil(lambda: window.tags.tree.topLevelItemCount() > 20, timeout=10_000)
    window.tags.search.setText("pixel spacing")
    assert window.tags.visible_rows() == ["Pixel Spacing"]


def test_monochrome1_is_shown_inverted_without_changing_values(qtbot, window):
    from pydicom.data import get_testdata_file

    open_and_wait(qtbot, window, get_testdata_file("RG1_UNCI.dcm"))
    view = window.view
    assert view.inverted
    low, high = view.image.levels
    assert low > high, "MONOCHROME1: low values drawn white"
    view.set_invert(True)
    assert not view.inverted and view.image.levels[0] < view.image.levels[1]
    assert np.array_equal(view.series.slice(0), load_volume(get_testdata_file("RG1_UNCI.dcm")).voxels[0])


def test_recent_folders_are_remembered(qtbot, window):
    open_and_wait(qtbot, window, SAMPLE)
    assert window.recent_folders()[0] == str(SAMPLE)


def test_cancel_stops_loading_and_the_window_carries_on(qtbot, window, shared_data):
    window.open_path(str(shared_data / "samples" / "ct_chest_lidc_0314"))
    qtbot.waitUntil(lambda: window.shown is not None, timeout=TIMEOUT)
    window.cancel_button.click()
    assert not window.cancel_button.isVisible()
    open_and_wait(qtbot, window, SAMPLE)
    assert window.shown.loaded


def test_a_folder_dropped_on_the_window_opens(qtbot, window):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(SAMPLE))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.series_loaded, timeout=TIMEOUT):
        window.dropEvent(event)
    assert window.folder == str(SAMPLE) and window.shown.n_slices == 24


def _screen_frame(view, r: int = 100, c: int = 100) -> np.ndarray:
    """2×2: screen displacement (x right, y down, in viewport pixels) per step of column (first) and row."""
    p00, p01, p10 = view.widget_point_of(r, c), view.widget_point_of(r, c + 1), view.widget_point_of(r + 1, c)
    return np.array([[p01.x() - p00.x(), p10.x() - p00.x()], [p01.y() - p00.y(), p10.y() - p00.y()]])


def test_every_rotation_and_flip_keeps_markers_on_the_drawn_anatomy(qtbot, window):
    """Any sequence of turns and flips: the letters on the screen's right and bottom edges name the patient
    directions the drawn image runs to there, and each action acts on the screen (a flip after a turn still
    swaps the screen's left and right)."""
    from medview.core.orientation import direction_letters

    open_and_wait(qtbot, window, SAMPLE, k=17)
    view = window.view
    series = view.series
    row_mm, col_mm = series.pixel_spacing
    expected = _screen_frame(view)
    actions = {"R": (view.rotate, np.array([[0, -1], [1, 0]])),  # clockwise on a y-down screen
               "H": (lambda: view.flip(True), np.diag([-1, 1])),
               "V": (lambda: view.flip(False), np.diag([1, -1]))}
    for name in "RHRVRRHVHRRRVHRV":
        act, on_screen = actions[name]
        act()
        expected = on_screen @ expected
        frame = _screen_frame(view)
        assert np.allclose(frame, expected, atol=0.05 * np.abs(expected).max()), f"after {name}"
        index_steps = np.linalg.solve(frame, np.eye(2))  # (column, row) steps per screen right / down
        right, down = (steps[0] * col_mm * series.row_cosine + steps[1] * row_mm * series.column_cosine
                       for steps in index_steps.T)
        assert view.markers["right"].text() == direction_letters(right / np.linalg.norm(right))
        assert view.markers["bottom"].text() == direction_letters(down / np.linalg.norm(down))


def test_a_flip_after_a_turn_moves_the_tumour_across_the_screen(qtbot, window):
    open_and_wait(qtbot, window, SAMPLE, k=17)
    view = window.view
    centre = view.graphics.viewport().width() / 2
    view.rotate(1)  # image right-posterior → screen bottom-left
    assert view.widget_point_of(210, 175).x() < centre
    view.flip(horizontal=True)
    assert view.widget_point_of(210, 175).x() > centre
    assert view.markers["right"].text() == "P" and view.markers["top"].text() == "R"


def test_slices_a_left_series_had_already_sent_are_not_drawn_in_the_next(qtbot, window, shared_data):
    """Echo 2 starts loading, the user picks echo 1 before its slices are handled: none of echo 2's slices,
    already queued, may land in echo 1."""
    import time

    from medview.gui.shown_series import ShownSeries
    from medview.io import load_volumes

    folder = shared_data / "dicom_cases" / "mr_siemens_multi_echo"
    truth = load_volumes(folder)
    open_and_wait(qtbot, window, folder, series=0)
    landed = []
    original = ShownSeries.land

    def recording_land(series, t, k, pixels):
        landed.append((series.index, k, pixels.copy()))
        original(series, t, k, pixels)

    ShownSeries.land = recording_land
    try:
        window.browser.select(1)  # echo 2 starts decoding in its worker ...
        time.sleep(0.5)           # ... and sends its slices while the GUI thread is busy
        with qtbot.waitSignal(window.series_loaded, timeout=TIMEOUT):
            window.browser.select(0)  # the user is back on echo 1 before those slices were handled
    finally:
        ShownSeries.land = original
    assert window.shown.index == 0
    for index, k, pixels in landed:
        assert index == 0 and np.array_equal(pixels, truth[0].voxels[k]), f"slice {k} of volume {index}"
    assert not np.array_equal(truth[0].voxels, truth[1].voxels)


def test_value_under_a_resting_cursor_follows_the_wheel(qtbot, window):
    open_and_wait(qtbot, window, SAMPLE, k=17)
    voxels = load_volume(SAMPLE).voxels
    point = window.view.widget_point_of(210, 175)
    qtbot.mouseMove(window.view.graphics.viewport(), QPoint(int(point.x()), int(point.y())))
    qtbot.waitUntil(lambda: "slice 18/24 · im 18, row 210, column 175" in window.cursor_label.text(), timeout=5000)
    assert window.cursor_label.text().startswith(f"{int(voxels[17, 210, 175])} at")
    qtbot.keyClick(window.view, Qt.Key.Key_Down)
    assert window.cursor_label.text().startswith(f"{int(voxels[18, 210, 175])} at slice 19/24 · im 19, row 210, "
                                                 "column 175")


def test_drawn_grey_is_the_window_mapping_of_the_voxel(qtbot, window):
    open_and_wait(qtbot, window, SAMPLE, k=17)
    view = window.view
    view.set_window(Window(600, 500))
    voxels = load_volume(SAMPLE).voxels[17]
    pixels = viewport_pixels(window)
    for r, c in ((210, 175), (150, 75), (160, 130), (100, 200)):
        point = view.widget_point_of(r, c)
        drawn = int(pixels[int(point.y()), int(point.x())])
        assert abs(drawn - int(grey(voxels[r, c], view.window))) <= 3, (r, c)
    view.set_invert(True)
    pixels = viewport_pixels(window)
    point = view.widget_point_of(210, 175)
    assert abs(int(pixels[int(point.y()), int(point.x())]) - int(grey(voxels[210, 175], view.window, True))) <= 3


def test_the_bundled_sample_is_the_shared_sample_byte_for_byte(shared_data):
    import hashlib

    sums = {}
    for line in (shared_data / "samples" / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        if name.startswith("./mr_brain_t1post_tcia_btp/"):
            sums[name.rsplit("/", 1)[1]] = digest
    files = sorted(SAMPLE.glob("*.dcm"))
    assert len(files) == len(sums) == 24
    for path in files:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sums[path.name], path.name
    citation = (SAMPLE.parent / "CITATION.md").read_text()
    assert "CC BY 3.0" in citation and "10.7937/K9/TCIA.2018.15quzvnb" in citation


def test_an_infinite_pixel_spacing_is_taken_as_none_and_the_slice_is_shown_at_1_mm(qtbot, tmp_path):
    from pydicom.data import get_testdata_file

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.PixelSpacing = ["inf", "inf"]
    folder = tmp_path / "study"
    folder.mkdir()
    dataset.save_as(folder / "ct.dcm")
    window = shown_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, folder)
    assert window.shown.pixel_spacing == (1.0, 1.0)
    assert any("no valid PixelSpacing" in warning for warning in window.shown.spec.warnings)
    assert window.view.plane.spacing == (1.0, 1.0) and window.view.markers["left"].text() == "R"
