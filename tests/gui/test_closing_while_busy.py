"""Closing the viewer while it scans or loads: the workers still running end quietly; none of them calls into the
closed window (a late worker once reached a deleted progress bar: "Internal C++ object already deleted")."""

from __future__ import annotations

import gc

import pytest
from PySide6.QtCore import QSettings, QThreadPool
from PySide6.QtWidgets import QApplication

CT = "samples/ct_chest_lidc_0314"


@pytest.mark.parametrize("after_ms", [0, 400])
def test_closing_the_window_while_a_series_loads_leaves_no_worker_calling_into_it(qtbot, tmp_path, shared_data,
                                                                                  after_ms):
    from medview.gui.main_window import MainWindow

    # not given to qtbot: the test deletes it itself, as the app does when the user closes it
    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    window.show()
    qtbot.waitExposed(window)
    window.open_path(str(shared_data / CT))
    qtbot.wait(after_ms)  # 0: still scanning; 400: scanned, slices landing
    window.close()
    window.deleteLater()
    QApplication.sendPostedEvents(None, 0)  # the deferred delete happens now, with workers still running
    gc.collect()
    assert QThreadPool.globalInstance().waitForDone(60_000)  # every worker has ended ...
    qtbot.wait(300)  # ... and every signal it queued for the GUI thread has been delivered
