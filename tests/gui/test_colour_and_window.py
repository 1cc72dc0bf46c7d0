"""What the loader reads reaches the screen: colour drawn in colour (read as R, G, B, no window), the scanner's
window as the default, a window from the values taken from the whole volume."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage

from medview.core.window_level import percentile_window
from medview.gui.app import SAMPLE
from medview.gui.main_window import MainWindow

TIMEOUT = 60_000


@pytest.fixture()
def window(qtbot, tmp_path):
    main = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(main)
    main.resize(900, 700)
    main.show()
    qtbot.waitExposed(main)
    yield main
    main.cancel_loading()


def _rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8)
    return buffer.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].reshape(
        image.height(), image.width(), 3).copy()


def test_an_rgb_image_is_drawn_in_colour_and_read_as_r_g_b(qtbot, window, tmp_path):
    folder = tmp_path / "colour"
    folder.mkdir()
    shutil.copy(get_testdata_file("SC_rgb.dcm"), folder / "rgb.dcm")
    with qtbot.waitSignal(window.series_loaded, timeout=TIMEOUT):
        window.open_path(str(folder))
    qtbot.wait(50)
    view = window.view
    assert view.window is None and view.presets == []  # no window or level on R, G, B
    screen = _rgb(view.graphics.viewport().grab().toImage())
    red = (screen[..., 0] > 200) & (screen[..., 1] < 60) & (screen[..., 2] < 60)
    green = (screen[..., 1] > 200) & (screen[..., 0] < 60) & (screen[..., 2] < 60)
    assert red.sum() > 100 and green.sum() > 100, "the red and green bands must be drawn in colour"
    assert view.describe_pixel(5, 50).startswith("255, 0, 0 at slice 1/1") and "row 5, column 50" in \
        view.describe_pixel(5, 50)
    qtbot.waitUntil(lambda: not window.browser.items[0].icon(0).isNull(), timeout=TIMEOUT)
    icon = _rgb(window.browser.items[0].icon(0).pixmap(64, 64).toImage())
    assert (np.abs(icon[..., 0].astype(int) - icon[..., 1].astype(int)) > 100).any(), "thumbnail in colour"


def test_the_scanners_window_is_the_default_and_the_first_preset(qtbot, window):
    with qtbot.waitSignal(window.series_loaded, timeout=TIMEOUT):
        window.open_path(str(SAMPLE), k=17)
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
    with qtbot.waitSignal(window.series_loaded, timeout=TIMEOUT):
        window.open_path(str(folder), k=8)
    volume = window.shown.volume
    whole = percentile_window(volume.voxels, 1.0, 99.0)
    one_slice = percentile_window(volume.slice(8), 1.0, 99.0)
    assert abs(whole.width - one_slice.width) > 50, "the test needs a slice whose window differs"
    assert (window.view.window.width, window.view.window.level) == pytest.approx((whole.width, whole.level))
