"""The slice view opens with the scanner's window, and a window from the values is the whole volume's."""

from __future__ import annotations

import pydicom
import pytest
from PySide6.QtCore import QSettings

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
