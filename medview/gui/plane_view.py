"""One view of a plane (`core.planes.ImagePlane`): an acquired slice or a reformat, with its crosshair.

The image is a pyqtgraph ImageItem (row-major) scaled to mm, so anisotropic pixels — a coronal reformat of
5 mm slices — keep their true aspect. Reference lines are the intersections of the other views' planes with
this one, drawn through the crosshair in their planes' colours. Orientation letters come from this plane's own
directions. Mouse: left click or drag moves the crosshair (and the other planes with it); Shift+drag turns
the other planes about this view's normal (an oblique reformat); the wheel steps this plane along its normal;
Ctrl+wheel zooms; right-drag sets the window; with a measuring tool on, clicks measure in this plane's mm.

The view never computes a reformat: it draws the image its layout hands it (made in a worker), and knows
which plane that image is of, so the crosshair is always drawn where the point is on the image shown.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen, QTransform
from PySide6.QtWidgets import QGraphicsLineItem, QVBoxLayout, QWidget

from medview.core import orientation, window_level
from medview.core.planes import ImagePlane
from medview.core.session import ImageRef
from medview.core.window_level import Window
from medview.gui.slice_view import MARKER_STYLE, OVERLAY_STYLE, OverlayText

#: each plane's colour: its frame, its name and its reference line in the other views
PLANE_COLOURS = {"axial": "#ff5a5a", "coronal": "#5adc5a", "sagittal": "#5a9cff", "acquired": "#e0e0e0"}


def plane_colour(name: str) -> str:
    return next((c for key, c in PLANE_COLOURS.items() if key in name), "#e0e0e0")


def display_grey(values: np.ndarray, window: Window | None, inverted: bool) -> np.ndarray:
    """8-bit grey of a reformat through the window (`core.window_level.grey`), black outside the volume
    (NaN) whatever the invert. Made in the reformat worker, so the view only hands bytes to the screen."""
    outside = np.isnan(values)
    window = window or Window(1, 0)
    grey = window_level.grey(np.where(outside, np.float32(window.low), values), window, inverted)
    grey[outside] = 0
    return grey


def position_words(plane: ImagePlane) -> str:
    """Where the plane is, as a scanner console says it: 'I 542.8 mm', 'R 1.4 mm' (the distance from the patient
    origin along the normal, named by the side it lies on)."""
    position = plane.position_mm
    side = orientation.direction_letters(plane.normal if position >= 0 else -plane.normal)
    return f"{side} {abs(position):.1f} mm"


class _PlaneBox(pg.ViewBox):
    """Wheel steps the plane (Ctrl+wheel zooms); left-drag moves the crosshair (Shift: turns the other planes);
    right-drag sets the window; middle-drag pans."""

    def __init__(self, owner: PlaneView) -> None:
        super().__init__(invertY=True, lockAspect=True, enableMenu=False)
        self.owner = owner

    def wheelEvent(self, event, axis=None):  # noqa: N802 - Qt name
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(event, axis)
            return
        delta = event.delta() if hasattr(event, "delta") else event.angleDelta().y()
        self.owner.scrolled.emit(self.owner.name, 1 if delta > 0 else -1)
        event.accept()

    def mouseDragEvent(self, event, axis=None):  # noqa: N802 - Qt name
        button = event.button()
        if button == Qt.MouseButton.RightButton:
            event.accept()
            delta = event.screenPos() - event.lastScreenPos()
            self.owner.window_dragged.emit(self.owner.name, delta.x(), delta.y())
            return
        if button == Qt.MouseButton.LeftButton and not self.owner.tool_active:
            event.accept()
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.owner.turn_drag(event.lastScenePos(), event.scenePos())
            else:
                self.owner.pick(event.scenePos())
            return
        if button == Qt.MouseButton.MiddleButton:
            event.accept()
            delta = self.mapToView(event.pos()) - self.mapToView(event.lastPos())
            self.translateBy(x=-delta.x(), y=-delta.y())
            return
        super().mouseDragEvent(event, axis)


class PlaneImage:
    """What `AnnotationLayer` needs of the image on a view, for a plane: its session ref, its pixels (the
    reformat shown), its spacing in mm and the units of its values."""

    def __init__(self, view: PlaneView) -> None:
        self.view = view

    def ref(self, _k: int = 0, t: int | None = None):
        """The acquired slice's own ref on the acquired view (its work is the single view's), else the plane's;
        at the view's time point unless another is named."""
        plane, key = self.view.plane, self.view.series_key
        t = self.view.t if t is None else t
        if plane is None or key is None:
            return None
        if self.view.acquired_k is not None:
            return ImageRef(key, t, int(self.view.acquired_k))
        return plane.ref(key, t)

    def slice(self, _k: int = 0, _t: int = 0):
        """The values ROIs are measured on: the plane itself, never a slab's MIP (as the report measures)."""
        return self.view.thin_values()

    @property
    def pixel_spacing(self) -> tuple[float, float]:
        return self.view.plane.spacing if self.view.plane is not None else (1.0, 1.0)

    @property
    def value_unit(self) -> str:
        return self.view.value_unit


class PlaneView(QWidget):
    """Shows the image of one plane, its crosshair and reference lines, letters and texts."""

    picked = Signal(str, object)  # this view's name, the LPS point picked (a click or a drag)
    hovered = Signal(str)  # what is under the mouse: its LPS position and value ("" off the image)
    turned = Signal(str, float)  # this view's name, degrees to turn the other planes about its normal
    scrolled = Signal(str, int)  # this view's name, steps along its normal (+1: towards the normal)
    window_dragged = Signal(str, float, float)
    point_clicked = Signal(int, float, float)  # (0, column, row) of a click while a measuring tool is on
    slice_changed = Signal(int)  # the plane shown changed (annotations are drawn again)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.graphics = pg.GraphicsView(self)
        self.graphics.setBackground("k")
        self.graphics.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.box = _PlaneBox(self)
        self.graphics.setCentralItem(self.box)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.graphics)
        self.setStyleSheet(f"PlaneView {{ border: 2px solid {plane_colour(name)}; }}")
        self.lines: dict[str, QGraphicsLineItem] = {}
        self.plane: ImagePlane | None = None  # the plane of the image shown
        self.values: np.ndarray | None = None  # its values (NaN outside the volume)
        self.point: np.ndarray | None = None  # the crosshair (LPS)
        self.others: dict[str, ImagePlane] = {}  # the other views' planes: the reference lines
        self.window: Window | None = None
        self.inverted = False
        self.value_unit = ""
        self.series_key = None
        self.series = PlaneImage(self)  # for AnnotationLayer
        self.k, self.t = 0, 0
        self.acquired_k: int | None = None  # the acquired view: slice k shown as acquired
        self.wanted: ImagePlane | None = None  # the plane asked of the worker for this view (set by the layout)
        self.slab_volume = None  # while a slab is shown: the volume, to measure on the plane itself
        self._thin: tuple = (None, None)
        self.tool_active = False
        self.notes = ""  # slab, gap: said in the view
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.texts = {name_: self._label(OVERLAY_STYLE) for name_ in ("top_left", "bottom_left")}
        self.texts["top_left"].setBrush(QColor(plane_colour(name)))
        self.markers = {edge: self._label(MARKER_STYLE) for edge in ("left", "right", "top", "bottom")}
        self.graphics.scene().sigMouseClicked.connect(self._clicked)
        self.graphics.scene().sigMouseMoved.connect(self._moved)
        self._fitted_for = None

    def _label(self, style) -> OverlayText:
        text = OverlayText(style)
        self.graphics.scene().addItem(text)
        return text

    # -- what is shown ----------------------------------------------------------------------------------------
    def show_image(self, plane: ImagePlane, values: np.ndarray, display: np.ndarray | None = None,
                   shade: tuple | None = None) -> None:
        """The image of `plane`: its values (NaN outside the volume) and, when the worker made it, their 8-bit
        grey `display` for the window and invert in `shade` (made again here if the window changed since)."""
        moved = self.plane is None or not self.plane.same_orientation(plane) or self.plane.shape != plane.shape
        self.plane, self.values = plane, values
        if display is None or shade != (self.window, self.inverted):
            display = display_grey(values, self.window, self.inverted)
        self.image.setImage(display, autoLevels=False, levels=(0, 255))
        if moved:
            row_mm, col_mm = plane.spacing
            self.image.setTransform(QTransform.fromScale(col_mm, row_mm))
            self.fit()
        self._draw_crosshair()
        self._draw_texts()
        self.slice_changed.emit(0)

    def thin_values(self) -> np.ndarray | None:
        """The plane's own values: those shown, or, under a slab, the plane sampled again (once per plane)."""
        if self.slab_volume is None or self.plane is None:
            return self.values
        if self._thin[0] is not self.plane:
            from medview.core.reformat import reformat

            self._thin = (self.plane, reformat(self.slab_volume, self.plane, self.t))
        return self._thin[1]

    def set_window(self, window: Window, inverted: bool = False) -> None:
        if (window, inverted) == (self.window, self.inverted):
            return
        self.window, self.inverted = window, inverted
        if self.values is not None:
            self.image.setImage(display_grey(self.values, window, inverted), autoLevels=False, levels=(0, 255))
        self._draw_texts()

    def set_crosshair(self, point, others: dict[str, ImagePlane]) -> None:
        self.point = None if point is None else np.asarray(point, dtype=np.float64)
        self.others = others
        self._draw_crosshair()

    def fit(self) -> None:
        if self.plane is not None:
            height, width = self.plane.size_mm
            self.box.setRange(QRectF(0, 0, width, height), padding=0.02)

    def clear(self) -> None:
        self.plane, self.values, self.point = None, None, None
        self.image.clear()
        for line in self.lines.values():
            line.hide()
        for label in (*self.texts.values(), *self.markers.values()):
            label.setText("")

    # -- crosshair --------------------------------------------------------------------------------------------
    def crosshair_pixel(self) -> tuple[float, float] | None:
        """(row, column) of the crosshair on the image shown."""
        if self.plane is None or self.point is None:
            return None
        row, column, _ = self.plane.lps_to_pixel(self.point)
        return row, column

    def _draw_crosshair(self) -> None:
        where = self.crosshair_pixel()
        for name, other in self.others.items():
            line = self.lines.get(name)
            if line is None:
                line = self.lines[name] = QGraphicsLineItem(self.image)
                pen = QPen(QColor(plane_colour(name)), 1.5)
                pen.setCosmetic(True)
                line.setPen(pen)
                line.setZValue(40)
            direction = None if where is None else self.plane.line_with(other)
            if direction is None:
                line.hide()
                continue
            row, column = where
            d_row, d_column = direction
            reach = 4 * (self.plane.shape[0] + self.plane.shape[1]) / max(math.hypot(d_row, d_column), 1e-9)
            centre = QPointF(column + 0.5, row + 0.5)  # pixel (r, c) covers [c, c + 1): its centre at + 0.5
            line.setLine(centre.x() - reach * d_column, centre.y() - reach * d_row,
                         centre.x() + reach * d_column, centre.y() + reach * d_row)
            line.show()
        for name in set(self.lines) - set(self.others):
            self.lines[name].hide()

    def _scene_to_pixel(self, scene_pos) -> tuple[float, float]:
        """(row, column) as pixel indices (centre = whole number) of a scene position."""
        point = self.image.mapFromScene(scene_pos)
        return point.y() - 0.5, point.x() - 0.5

    def pick(self, scene_pos) -> None:
        """The crosshair to the point under the mouse (inside the plane's grid)."""
        if self.plane is None:
            return
        row, column = self._scene_to_pixel(scene_pos)
        rows, columns = self.plane.shape
        row, column = float(np.clip(row, 0, rows - 1)), float(np.clip(column, 0, columns - 1))
        self.picked.emit(self.name, self.plane.pixel_to_lps(row, column))

    def turn_drag(self, last_scene, scene) -> None:
        """Shift+drag: the angle swept about the crosshair turns the other planes about this view's normal."""
        where = self.crosshair_pixel()
        if where is None:
            return
        centre = self.image.mapToScene(QPointF(where[1] + 0.5, where[0] + 0.5))
        a = math.atan2(last_scene.y() - centre.y(), last_scene.x() - centre.x())
        b = math.atan2(scene.y() - centre.y(), scene.x() - centre.x())
        sweep = math.degrees(math.atan2(math.sin(b - a), math.cos(b - a)))
        if abs(sweep) > 0.05:
            self.turned.emit(self.name, sweep)

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double() or self.plane is None:
            return
        if self.tool_active:
            point = self.image.mapFromScene(event.scenePos())
            rows, columns = self.plane.shape
            if 0 <= point.x() <= columns and 0 <= point.y() <= rows:
                self.point_clicked.emit(0, point.x(), point.y())
            return
        self.pick(event.scenePos())

    def _moved(self, scene_pos) -> None:
        self.hovered.emit(self.describe_at(scene_pos))

    def describe_at(self, scene_pos) -> str:
        """'under the mouse LPS (x, y, z) mm · value HU' (the reformat's value at that pixel), "" off the image."""
        if self.plane is None or self.values is None:
            return ""
        row, column = self._scene_to_pixel(scene_pos)
        r, c = round(row), round(column)
        rows, columns = self.values.shape
        if not (0 <= r < rows and 0 <= c < columns):
            return ""
        x, y, z = self.plane.pixel_to_lps(r, c)
        value = self.values[r, c]
        unit = f" {self.value_unit}" if self.value_unit else ""
        shown = "outside the volume" if not np.isfinite(value) else f"{value:.1f}{unit}"
        return f"mouse on {self.name}: LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm · {shown}"

    def widget_point_of(self, row: float, column: float) -> QPointF:
        """Where pixel (row, column) of the plane is drawn (its centre), in the viewport's pixels (for tests)."""
        scene = self.image.mapToScene(QPointF(column + 0.5, row + 0.5))
        return QPointF(self.graphics.mapFromScene(scene))

    # -- texts ------------------------------------------------------------------------------------------------
    def _draw_texts(self) -> None:
        plane = self.plane
        if plane is None:
            return
        title = f"{plane.name}  {position_words(plane)}"
        self.texts["top_left"].setText(title)
        bottom = [self.notes] if self.notes else []
        if self.window is not None:
            bottom.append(str(self.window))
        self.texts["bottom_left"].setText("\n".join(bottom))
        for edge, letters in plane.markers().items():
            self.markers[edge].setText(letters)
        self._place()

    def _place(self) -> None:
        width, height = self.graphics.viewport().width(), self.graphics.viewport().height()
        margin = 5
        self.texts["top_left"].move(margin, margin)
        bottom = self.texts["bottom_left"]
        bottom.move(margin, height - bottom.height() - margin)
        for edge, label in self.markers.items():
            if edge in ("left", "right"):
                x = margin if edge == "left" else width - label.width() - margin
                label.move(x, (height - label.height()) / 2)
            else:
                y = margin + 16 if edge == "top" else height - label.height() - margin
                label.move((width - label.width()) / 2, y)

    def keyPressEvent(self, event):  # noqa: N802 - Qt name
        """Arrows and PageUp/PageDown step this plane along its normal, as the wheel does."""
        steps = {Qt.Key.Key_Up: 1, Qt.Key.Key_Right: 1, Qt.Key.Key_Down: -1, Qt.Key.Key_Left: -1,
                 Qt.Key.Key_PageUp: 5, Qt.Key.Key_PageDown: -5}.get(event.key())
        if steps is None:
            super().keyPressEvent(event)
            return
        self.scrolled.emit(self.name, steps)

    def resizeEvent(self, event):  # noqa: N802 - Qt name
        super().resizeEvent(event)
        self._place()
        self.fit()
