"""What a tester does with the real window, in one place: open and wait, choose a series, click a pixel, draw
with a tool, read the drawn screen."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

#: ms a series may take to load in a test (two loaded cores in CI)
TIMEOUT = 120_000


def shown_window(qtbot, folder, width: int = 1300, height: int = 850):
    """A real main window with its own settings file in `folder`, shown and exposed, nothing open."""
    from PySide6.QtCore import QSettings

    from medview.gui.main_window import MainWindow

    window = MainWindow(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(width, height)
    window.show()
    qtbot.waitExposed(window)
    return window


def open_and_wait(qtbot, window, path, **kwargs) -> None:
    """Open a folder or file (open_path's keywords: k, series ...) and wait until its series has loaded."""
    with qtbot.waitSignal(window.series_loaded, timeout=TIMEOUT):
        window.open_path(str(path), **kwargs)
    qtbot.wait(50)


def choose_and_wait(qtbot, window, index: int) -> None:
    """Choose series `index` in the browser and wait until it has loaded."""
    with qtbot.waitSignal(window.series_loaded, timeout=TIMEOUT):
        window.browser.select(index)


def click_pixel(qtbot, view, row: float, column: float, centre: bool = True) -> None:
    """A left click on image pixel (row, column): on its centre, or on the point itself with centre=False."""
    point = view.widget_point_of(row, column, centre=centre)
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(round(point.x()), round(point.y())))


def left_drag(qtbot, view, points) -> None:
    """A real left-button drag through `points` (viewport pixels): press, moves with the button held, release
    (QTest's mouseMove carries no button, so pyqtgraph would see no drag)."""
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    viewport = view.graphics.viewport()
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton

    def send(kind, point, button, buttons) -> None:
        local = QPointF(point)
        event = QMouseEvent(kind, local, QPointF(viewport.mapToGlobal(local.toPoint())), button, buttons,
                            Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(viewport, event)

    send(QEvent.Type.MouseButtonPress, points[0], left, left)
    for point in points[1:]:
        send(QEvent.Type.MouseMove, point, none, left)
        qtbot.wait(5)
    send(QEvent.Type.MouseButtonRelease, points[-1], left, none)


def draw(qtbot, window, tool: str, *points: tuple[float, float]) -> None:
    """Choose a measuring tool and click its points, given as (row, column) of the image."""
    window.set_tool(tool)
    for row, column in points:
        click_pixel(qtbot, window.view, row, column, centre=False)


def rgb_of(image) -> np.ndarray:
    """A QImage (a grabbed view, an icon) as rows × columns × (R, G, B) bytes."""
    image = image.convertToFormat(image.Format.Format_RGB888)
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8)
    return buffer.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].reshape(
        image.height(), image.width(), 3).copy()


def grey_of(image) -> np.ndarray:
    """A QImage as rows × columns of 8-bit grey."""
    image = image.convertToFormat(image.Format.Format_Grayscale8)
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8)
    return buffer.reshape(image.height(), image.bytesPerLine())[:, : image.width()].copy()


def drawn(view):
    """What the view has drawn on screen, as a QImage."""
    return view.graphics.viewport().grab().toImage()
