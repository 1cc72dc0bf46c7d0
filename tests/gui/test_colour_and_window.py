"""What the loader reads reaches the screen: colour drawn in colour (read as R, G, B, no window), the scanner's
window as the default, a window from the values taken from the whole volume."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medview.core.window_level import percentile_window
from medview.gui.app import SAMPLE
from tests.gui.helpers import drawn, open_and_wait, rgb_of, shown_window

TIMEOUT = 60_000


@pytest.fixture()
def window(qtbot, tmp_path):
    main = shown_window(qtbot, tmp_path, 900, 700)
    yield main
    main.cancel_loading()


def test_an_rgb_image_is_drawn_in_colour_and_read_as_r_g_b(qtbot, window, tmp_path):
    folder = tmp_path / "colour"
    folder.mkdir()
    shutil.copy(get_testdata_file("SC_rgb.dcm"), folder / "rgb.dcm")
    open_and_wait(qtbot, window, folder)
    view = window.view
    assert view.window is None and view.presets == []  # no window or level on R, G, B
    screen = rgb_of(drawn(view))
    red = (screen[..., 0] > 200) & (screen[..., 1] < 60) & (screen[..., 2] < 60)
    green = (screen[..., 1] > 200) & (screen[..., 0] < 60) & (screen[..., 2] < 60)
    assert red.sum() > 100 and green.sum() > 100, "the red and green bands must be drawn in colour"
    assert view.describe_pixel(5, 50).startswith("255, 0, 0 at slice 1/1") and "row 5, column 50" in \
        view.describe_pixel(5, 50)
    qtbot.waitUntil(lambda: not window.browser.items[0].icon(0).isNull(), timeout=TIMEOUT)
    icon = rgb_of(window.browser.items[0].icon(0).pixmap(64, 64).toImage())
    assert (np.abs(icon[..., 0].astype(int) - icon[..., 1].astype(int)) > 100).any(), "thumbnail in colour"


def test_the_scanners_window_is_the_default_and_the_first_preset(qtbot, window):
    open_and_wait(qtbot, window, str(SAMPLE), k=17)
    view = window.view
    assert view.window.name.startswith("scanner: ")
    assert view.window == window.shown.volume.windows[0] == view.presets[0]


def test_without_a_scanner_window_the_default_comes_from_the_whole_volume(qtbot, window, tmp_path):
    folder = tmp_path / "no_window"
    folder.mkdir()
    for path in sorted(SAMPLE.iterdir()):
        dataset = pydicom.dcmread(path)
        del dataset.WindowCenter, dataset.WindowWidth
        dataset.save_as(folder / path.name)
    open_and_wait(qtbot, window, str(folder), k=8)
    volume = window.shown.volume
    whole = percentile_window(volume.voxels, 1.0, 99.0)
    one_slice = percentile_window(volume.slice(8), 1.0, 99.0)
    assert abs(whole.width - one_slice.width) > 50, "the test needs a slice whose window differs"
    assert (window.view.window.width, window.view.window.level) == pytest.approx((whole.width, whole.level))
