"""One numbering rule on screen: slice k + 1 of N with the InstanceNumber beside it; the display order changes
which slice comes first and the wheel's direction, never a number; no invented geometry."""

from __future__ import annotations

import shutil

from PySide6.QtCore import QPoint, Qt

from tests.gui.helpers import open_and_wait


def test_the_overlay_and_status_bar_read_slice_k_plus_1_with_the_instance_number(qtbot, window):
    view = window.view
    assert window.shown.spec.instance_number(17) == 18  # the sample's k 17 is instance 18
    assert view.corners["bottom_left"].text().startswith("slice 18/24 · im 18")
    status = view.describe_pixel(210, 175)
    assert "slice 18/24 · im 18, row 210, column 175" in status and "(k" not in status and "LPS (" in status


def test_reversed_display_order_changes_home_and_the_wheel_not_the_numbers(qtbot, window):
    view = window.view
    window.reverse_action.trigger()
    try:
        qtbot.keyClick(view, Qt.Key.Key_Home)
        assert view.k == 23 and view.corners["bottom_left"].text().startswith("slice 24/24 · im 24")
        qtbot.keyClick(view, Qt.Key.Key_Down)  # one slice on, as displayed
        assert view.k == 22 and view.corners["bottom_left"].text().startswith("slice 23/24 · im 23")
        centre = view.graphics.viewport().rect().center()
        qtbot.wait(10)
        from PySide6.QtCore import QPointF
        from PySide6.QtGui import QWheelEvent

        wheel = QWheelEvent(QPointF(centre), QPointF(view.graphics.viewport().mapToGlobal(centre)), QPoint(0, 0),
                            QPoint(0, -120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                            Qt.ScrollPhase.NoScrollPhase, False)
        from PySide6.QtWidgets import QApplication

        QApplication.sendEvent(view.graphics.viewport(), wheel)
        assert view.k == 21
    finally:
        window.reverse_action.trigger()
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert view.k == 0


def test_an_image_without_patient_geometry_shows_no_lps(qtbot, window, tmp_path):
    from pydicom.data import get_testdata_file

    folder = tmp_path / "no-geometry"
    folder.mkdir()
    shutil.copy(get_testdata_file("emri_small.dcm"), folder / "emri_small.dcm")
    open_and_wait(qtbot, window, folder)
    assert not window.shown.has_geometry
    status = window.view.describe_pixel(3, 4)
    assert "no patient geometry" in status and "LPS" not in status
    assert "no patient geometry" in window.view.corners["bottom_left"].text()
    assert "position" not in window.view.corners["bottom_left"].text()
