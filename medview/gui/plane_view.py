"""The image view: one plane (`core.planes.ImagePlane`) on screen — an acquired slice or a reformat.

Every view of the viewer is a `PlaneView`: it draws a plane's pixels as a pyqtgraph ImageItem (row-major, y
down, so pixel (row r, column c) is drawn at r down and c across) scaled to the plane's spacing in mm, so
anisotropic pixels — a coronal reformat of 5 mm slices, an acquired slice of unequal pixel spacing — keep their
true aspect; rotation and flips are a transform of the item. Orientation letters come from the plane's own
directions, and what is drawn on it is filed under the plane's `ImageRef`. Common to every plane: Ctrl+wheel
zooms, right-drag sets the window, keys 1–9 choose the modality's W/L presets, middle-drag pans.

The single view (`slice_view.SliceView`) is a plane view of acquired slice k that steps through the stack. In
the MPR layout a plane view also draws the crosshair: the reference lines are the other views' planes cut
with this one, each with two handles at its ends. Left click or drag moves the crosshair; dragging a handle
turns that line's plane about this view's normal (an oblique reformat; turned in two views, double-oblique);
Shift+drag turns both other planes together; the wheel steps this plane along its normal.

The view never computes a reformat: it draws the image its layout hands it (made in a worker), and knows which
plane that image is of, so the crosshair is always drawn where the point is on the image shown.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QTransform
from PySide6.QtWidgets import QVBoxLayout, QWidget

from medview.core import orientation, window_level
from medview.core.planes import ImagePlane
from medview.core.session import ImageRef
from medview.core.window_level import Window
from medview.gui.overlay_text import MARKER_STYLE, OVERLAY_STYLE, OverlayText
from medview.gui.reference_lines import ReferenceLines, plane_colour


def display_grey(values: np.ndarray, window: Window | None, inverted: bool) -> np.ndarray:
    """8-bit grey of a reformat through the window (`core.window_level.grey`), black outside the volume
    (NaN) whatever the invert. Made in the reformat worker, so the view only hands bytes to the screen."""
    window = window or Window(1, 0)
    if inverted:
        outside = np.isnan(values)
        grey = window_level.grey(np.where(outside, np.float32(window.low), values), window, inverted)
        grey[outside] = 0
        return grey
    # `window_level.grey`'s own arithmetic (so a pixel is the grey the single view draws), in place, with
    # fmax turning NaN (outside) into black on the way: a third of the passes (0.85 → 0.3 ms on 275 × 512)
    scaled = np.subtract(values, np.float32(window.low), dtype=np.float32)
    scaled *= np.float32(255.0 / window.width)
    np.fmax(scaled, np.float32(0), out=scaled)
    np.minimum(scaled, np.float32(255), out=scaled)
    return scaled.astype(np.uint8)


def screen_rgba(values: np.ndarray, window: Window | None, inverted: bool) -> np.ndarray:
    """What a reformat view hands the screen: its grey (`display_grey`) as opaque RGBA bytes (rows, columns, 4),
    the format Qt draws fastest here (three LIDC views repainted in 2.6 ms, against 5.5 ms from 8-bit grey
    through a colour table). Made in the reformat worker."""
    grey = display_grey(values, window, inverted)
    return np.take(_OPAQUE_GREYS, grey).view(np.uint8).reshape(*grey.shape, 4)


#: grey g → the 32-bit little-endian word whose bytes are R, G, B, A = g, g, g, 255
_OPAQUE_GREYS = np.arange(256, dtype="<u4") * np.uint32(0x010101) | np.uint32(0xFF000000)


def position_words(plane: ImagePlane) -> str:
    """Where the plane is, as a scanner console says it: 'I 542.8 mm', 'R 1.4 mm' (the distance from the patient
    origin along the normal, named by the side it lies on)."""
    position = plane.position_mm
    side = orientation.direction_letters(plane.normal if position >= 0 else -plane.normal)
    return f"{side} {abs(position):.1f} mm"


class _PlaneBox(pg.ViewBox):
    """Ctrl+wheel zooms, the wheel is the view's (`wheel_turned`); right-drag sets the window; a left-drag is
    the view's when it takes it (`left_dragged`), else it pans, as a middle-drag does."""

    def __init__(self, owner: PlaneView) -> None:
        super().__init__(invertY=True, lockAspect=True, enableMenu=False)
        self.owner = owner

    def wheelEvent(self, event, axis=None):  # noqa: N802 - Qt name
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(event, axis)
            self.owner.zoom_changed()
            return
        delta = event.delta() if hasattr(event, "delta") else event.angleDelta().y()
        self.owner.wheel_turned(delta > 0)
        event.accept()

    def mouseDragEvent(self, event, axis=None):  # noqa: N802 - Qt name
        button = event.button()
        if button == Qt.MouseButton.RightButton:
            event.accept()
            delta = event.screenPos() - event.lastScreenPos()
            self.owner.drag_window(delta.x(), delta.y())
            return
        if button == Qt.MouseButton.LeftButton and self.owner.left_dragged(event):
            event.accept()
            return
        super().mouseDragEvent(event, axis)


class PlaneView(QWidget):
    """Shows the image of one plane with its orientation letters, texts and (in MPR) crosshair."""

    status_changed = Signal(str)
    window_changed = Signal(object)
    point_clicked = Signal(int, float, float)  # k (0 on a reformat), column, row of a click with a measuring tool
    slice_changed = Signal(int)  # the image shown changed (annotations are drawn again)
    # the crosshair (MPR)
    picked = Signal(str, object)  # this view's name, the LPS point picked (a click or a drag)
    hovered = Signal(str)  # what is under the mouse: its LPS position and value ("" off the image)
    turned = Signal(str, float)  # this view's name, degrees to turn both other planes about its normal
    line_turned = Signal(str, str, float)  # this view's name, the plane whose line was turned, degrees
    scrolled = Signal(str, int)  # this view's name, steps along its normal (+1: towards the normal)
    window_chosen = Signal(str, object)  # this view's name, the window chosen in it (a drag or a preset)

    #: black on white for low values (the single view works it out from the series: MONOCHROME1)
    inverted = False
    #: the corners that hold texts (the plane's name and position, top left; slab, gaps and window, bottom left)
    CORNERS = ("top_left", "bottom_left")

    def __init__(self, name: str = "acquired", parent: QWidget | None = None, margin: int = 2,
                 framed: bool = True) -> None:
        super().__init__(parent)
        self.name = name
        self.graphics = pg.GraphicsView(self)
        self.graphics.setBackground("k")
        # the view paints its own black background: Qt need not paint the widgets behind it on every step
        self.graphics.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.box = _PlaneBox(self)
        self.graphics.setCentralItem(self.box)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(margin, margin, margin, margin)
        layout.addWidget(self.graphics)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._plane: ImagePlane | None = None
        self.k, self.t = 0, 0
        self.window: Window | None = None
        self.presets: list[Window] = []  # the modality's W/L presets: keys 1-9
        self.rotation = 0
        self.flip_horizontal = False
        self.flip_vertical = False
        self.smooth = False
        self._tool_active = False  # a measuring tool takes the clicks (see gui.annotation_layer)
        self.texts = {corner: self._label(OVERLAY_STYLE) for corner in self.CORNERS}
        self.markers = {edge: self._label(MARKER_STYLE) for edge in ("left", "right", "top", "bottom")}
        self.marker_top = 16  # screen pixels between the top letters and the top texts
        self._shown_text: dict[str, str] = {}
        # the image shown: its values (NaN outside the volume) and what its annotations need (`PlaneImage`)
        self.values: np.ndarray | None = None
        self.series = PlaneImage(self)
        self.series_key = None
        self.value_unit = ""
        self.acquired_k: int | None = None  # in MPR's acquired view: acquired slice k, filed as such
        self.wanted: ImagePlane | None = None  # the plane asked of the worker for this view (set by the layout)
        self.slab_volume = None  # while a slab is shown: the volume, to measure on the plane itself
        self._thin: tuple = (None, None)
        self.notes = ""  # slab, gap: said in the view
        # the crosshair (MPR): the point, the other views' planes, their lines and handles
        self.point: np.ndarray | None = None
        self.others: dict[str, ImagePlane] = {}
        self.reference_lines = ReferenceLines(self.image, self.box)
        self._grabbed: str | None = None  # the line whose handle a left-drag holds
        self._over_handle = False
        if framed:  # MPR: each view framed and titled in its plane's colour
            self.setStyleSheet(f"PlaneView {{ border: 2px solid {plane_colour(name)}; }}")
            self.texts["top_left"].setBrush(QColor(plane_colour(name)))
        self.graphics.scene().sigMouseClicked.connect(self._clicked)
        self.graphics.scene().sigMouseMoved.connect(self._moved)
        # the handles keep their distance on screen: placed again when the view is zoomed, panned or resized
        self.box.sigRangeChanged.connect(lambda *_: self.others and self._draw_crosshair())
        self.box.sigResized.connect(lambda *_: self.others and self._draw_crosshair())

    def _label(self, style) -> OverlayText:
        text = OverlayText(style)
        self.graphics.scene().addItem(text)  # in scene (= viewport) coordinates: fixed on screen
        return text

    def _set_text(self, key: str, label: OverlayText, text: str) -> bool:
        """Set a text only when it changed (a new text is laid out and cached again)."""
        if self._shown_text.get(key) == text:
            return False
        self._shown_text[key] = text
        label.setText(text)
        return True

    # -- the plane shown ----------------------------------------------------------------------------------
    @property
    def plane(self) -> ImagePlane | None:
        """The plane of the image shown (its grid in LPS mm)."""
        return self._plane

    @plane.setter
    def plane(self, plane: ImagePlane | None) -> None:
        self._plane = plane

    @property
    def tool_active(self) -> bool:
        """A measuring tool takes the clicks: the rotation handles step aside (a click measures, never turns)."""
        return self._tool_active

    @tool_active.setter
    def tool_active(self, active: bool) -> None:
        self._tool_active = bool(active)
        if self.others:
            self._draw_crosshair()

    def here(self) -> ImageRef | None:
        """The ImageRef of the image on screen: what is drawn on it is filed under it."""
        return self.series.ref(self.k, self.t) if getattr(self, "series", None) is not None else None

    # -- geometry of the display --------------------------------------------------------------------------
    def _place_image(self) -> None:
        """Scale pixels to mm (true aspect), then rotate and flip about the image centre.

        The rotation is applied first and the flips after it, on the screen's axes (as
        `orientation.screen_directions` assumes): "flip horizontally" swaps the screen's left and right
        edges whatever the rotation."""
        plane = self.plane
        if plane is None:
            return
        row_mm, col_mm = plane.spacing
        rows, columns = plane.shape
        width, height = columns * col_mm, rows * row_mm
        transform = QTransform()  # QTransform composes so that the last call acts first on a point
        transform.translate(width / 2, height / 2)
        transform.scale(-1 if self.flip_horizontal else 1, -1 if self.flip_vertical else 1)
        transform.rotate(90 * self.rotation)
        transform.translate(-width / 2, -height / 2)
        transform.scale(col_mm, row_mm)
        self.image.setTransform(transform)

    def fit(self) -> None:
        """The whole image in view (from the geometry: works before the first pixel has landed)."""
        if self.plane is not None:
            rows, columns = self.plane.shape
            self.box.setRange(self.image.transform().mapRect(QRectF(0, 0, columns, rows)), padding=0.02)
            self.zoom_changed()

    def one_to_one(self) -> None:
        """One image pixel per screen pixel (by the column spacing)."""
        if self.plane is None:
            return
        col_mm = self.plane.spacing[1]
        width_px, height_px = self.box.width(), self.box.height()
        center = self.box.viewRect().center()
        half_w, half_h = width_px * col_mm / 2, height_px * col_mm / 2
        self.box.setRange(xRange=(center.x() - half_w, center.x() + half_w),
                          yRange=(center.y() - half_h, center.y() + half_h), padding=0)
        self.zoom_changed()

    def zoom(self) -> float:
        """Screen pixels per image pixel (across)."""
        if self.plane is None:
            return 1.0
        mm_across = self.box.viewRect().width()
        if mm_across <= 0:
            return 1.0
        return self.box.width() / (mm_across / self.plane.spacing[1])

    def zoom_by(self, factor: float) -> None:
        self.box.scaleBy((1 / factor, 1 / factor))
        self.zoom_changed()

    def zoom_changed(self) -> None:
        """The view's range changed (a subclass redraws what depends on the zoom)."""

    def set_smooth(self, smooth: bool) -> None:
        """Smooth (bilinear) or nearest-neighbour display of enlarged pixels; the values are never changed."""
        self.smooth = bool(smooth)
        self.graphics.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
        self.graphics.viewport().update()

    def rotate(self, quarter_turns: int = 1) -> None:
        """Turn the image on screen clockwise by quarter turns, also when it is flipped."""
        # the view is flip ∘ rotation; turning it on screen gives turn ∘ flip ∘ rotation, and a single flip
        # reverses the sense of a turn passed through it (turn ∘ flip = flip ∘ turn⁻¹)
        mirrored = self.flip_horizontal != self.flip_vertical
        self.rotation = (self.rotation + (-quarter_turns if mirrored else quarter_turns)) % 4
        self._place_image()
        self.fit()

    def flip(self, horizontal: bool = True) -> None:
        if horizontal:
            self.flip_horizontal = not self.flip_horizontal
        else:
            self.flip_vertical = not self.flip_vertical
        self._place_image()
        self.transform_changed()

    def transform_changed(self) -> None:
        """Rotated or flipped: the letters follow."""
        self._draw_markers()

    # -- where the mouse is -------------------------------------------------------------------------------
    def pixel_at(self, scene_pos) -> tuple[int, int] | None:
        """(row, column) of the image pixel under a scene position, or None outside the image."""
        if self.plane is None:
            return None
        point = self.image.mapFromScene(scene_pos)
        c, r = math.floor(point.x()), math.floor(point.y())
        rows, columns = self.plane.shape
        return (r, c) if 0 <= r < rows and 0 <= c < columns else None

    def widget_point_of(self, row: float, column: float, centre: bool = True) -> QPointF:
        """Where pixel (row, column) is drawn (its centre, or the point itself with centre=False), in the
        viewport's pixels (for tests, tools)."""
        offset = 0.5 if centre else 0.0
        scene = self.image.mapToScene(QPointF(column + offset, row + offset))
        return QPointF(self.graphics.mapFromScene(scene))

    def _scene_to_pixel(self, scene_pos) -> tuple[float, float]:
        """(row, column) as pixel indices (centre = whole number) of a scene position."""
        point = self.image.mapFromScene(scene_pos)
        return point.y() - 0.5, point.x() - 0.5

    # -- keys (what the wheel, a left-drag and the arrows do: `wheel_turned`, `left_dragged`, `navigate`) ----
    def keyPressEvent(self, event):  # noqa: N802 - Qt name
        key = event.key()
        if Qt.Key.Key_1 <= key <= Qt.Key.Key_9:
            self.apply_preset(key - Qt.Key.Key_1)
        elif not self.navigate(key):
            super().keyPressEvent(event)

    # -- window -------------------------------------------------------------------------------------------
    def apply_preset(self, index: int) -> None:
        """Preset `index` (key index + 1) of the modality's presets."""
        if 0 <= index < len(self.presets):
            self.choose_window(self.presets[index])

    def drag_window(self, dx: float, dy: float) -> None:
        """Right-drag: right widens the window, down raises the level, in steps of the window's own scale."""
        if self.window is None:
            return
        scale = self.window.width / 200.0  # a narrow window (W 0.0125) keeps its own scale, never jumps to 1
        width = self.window.width * max(0.5, 1 + dx / 100.0)
        self.choose_window(Window(width, self.window.level + dy * scale, "custom"))

    def choose_window(self, window: Window) -> None:
        """The reader chose a window in this view: in MPR the layout decides where it applies (every view while
        the window is shared, this one when unlocked)."""
        self.window_chosen.emit(self.name, window)

    # -- orientation letters --------------------------------------------------------------------------------
    def edge_letters(self) -> dict[str, str]:
        """{'left', 'right', 'top', 'bottom'} → the patient direction each edge faces, from the plane's own
        directions and the view's rotation and flips."""
        if self.plane is None:
            return dict.fromkeys(self.markers, "")
        return self.plane.markers(self.rotation, self.flip_horizontal, self.flip_vertical)

    def _draw_markers(self) -> None:
        changed = [edge for edge, letters in self.edge_letters().items()
                   if self._set_text(edge, self.markers[edge], letters)]
        if changed:
            self._place_markers(changed)

    def _place_markers(self, edges=None) -> None:
        width, height = self.graphics.viewport().width(), self.graphics.viewport().height()
        margin = 6
        for edge, label in self.markers.items():
            if edges is not None and edge not in edges:
                continue
            if edge in ("left", "right"):
                x = margin if edge == "left" else width - label.width() - margin
                label.move(x, (height - label.height()) // 2)
            else:
                y = margin + self.marker_top if edge == "top" else height - label.height() - margin
                label.move((width - label.width()) // 2, y)

    # -- crosshair (MPR) ------------------------------------------------------------------------------------
    def set_crosshair(self, point, others: dict[str, ImagePlane]) -> None:
        """The crosshair at `point` (LPS mm) with a reference line for each of the `others` planes."""
        self.point = None if point is None else np.asarray(point, dtype=np.float64)
        self.others = others
        self._draw_crosshair()

    def crosshair_pixel(self) -> tuple[float, float] | None:
        """(row, column) of the crosshair on the image shown."""
        if self.plane is None or self.point is None:
            return None
        row, column, _ = self.plane.lps_to_pixel(self.point)
        return row, column

    def _draw_crosshair(self) -> None:
        self.reference_lines.draw(self.plane, self.crosshair_pixel(), self.others, handles=not self.tool_active)

    def handle_at(self, scene_pos) -> str | None:
        """The plane whose reference line's handle is under a scene position, if any."""
        return self.reference_lines.handle_at(scene_pos)

    def handle_widget_points(self, name: str) -> list[QPointF]:
        """Where the two handles of `name`'s line are, in the viewport's pixels (for tests, tools)."""
        return [QPointF(self.graphics.mapFromScene(p)) for p in self.reference_lines.handle_scene_points(name)]

    def sweep(self, last_scene, scene) -> float:
        """Degrees swept about the crosshair from one scene position to the next (clockwise on screen > 0)."""
        where = self.crosshair_pixel()
        if where is None:
            return 0.0
        centre = self.image.mapToScene(QPointF(where[1] + 0.5, where[0] + 0.5))
        a = math.atan2(last_scene.y() - centre.y(), last_scene.x() - centre.x())
        b = math.atan2(scene.y() - centre.y(), scene.x() - centre.x())
        degrees = math.degrees(math.atan2(math.sin(b - a), math.cos(b - a)))
        return -degrees if self.flip_horizontal != self.flip_vertical else degrees  # a mirror turns the other way

    def wheel_turned(self, up: bool) -> None:
        self.scrolled.emit(self.name, 1 if up else -1)

    def left_dragged(self, event) -> bool:
        """Drag a handle: its line's plane turns; Shift+drag: both other planes turn; else the crosshair moves
        with the mouse. With a measuring tool on, a drag pans."""
        if self.tool_active or self.plane is None:
            return False
        if event.isStart():
            self._grabbed = self.handle_at(event.buttonDownScenePos())
        if self._grabbed is not None:
            degrees = self.sweep(event.lastScenePos(), event.scenePos())
            if abs(degrees) > 1e-6:
                self.line_turned.emit(self.name, self._grabbed, degrees)
        elif event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            degrees = self.sweep(event.lastScenePos(), event.scenePos())
            if abs(degrees) > 0.05:
                self.turned.emit(self.name, degrees)
        else:
            self.pick(event.scenePos())
        if event.isFinish():
            self._grabbed = None
        return True

    def navigate(self, key) -> bool:
        """Arrows and PageUp/PageDown step this plane along its normal, as the wheel does."""
        steps = {Qt.Key.Key_Up: 1, Qt.Key.Key_Right: 1, Qt.Key.Key_Down: -1, Qt.Key.Key_Left: -1,
                 Qt.Key.Key_PageUp: 5, Qt.Key.Key_PageDown: -5}.get(key)
        if steps is None:
            return False
        self.scrolled.emit(self.name, steps)
        return True

    def pick(self, scene_pos) -> None:
        """The crosshair to the point under the mouse (inside the plane's grid)."""
        if self.plane is None:
            return
        row, column = self._scene_to_pixel(scene_pos)
        rows, columns = self.plane.shape
        row, column = float(np.clip(row, 0, rows - 1)), float(np.clip(column, 0, columns - 1))
        self.picked.emit(self.name, self.plane.pixel_to_lps(row, column))

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double() or self.plane is None:
            return
        if self.tool_active:
            point = self.image.mapFromScene(event.scenePos())
            rows, columns = self.plane.shape
            if 0 <= point.x() <= columns and 0 <= point.y() <= rows:
                self.point_clicked.emit(0, point.x(), point.y())
            return
        if self.handle_at(event.scenePos()) is None:  # a click on a handle does not move the crosshair
            self.pick(event.scenePos())

    def _moved(self, scene_pos) -> None:
        over = self.handle_at(scene_pos) is not None  # an open hand over a handle: it can be taken and turned
        if over != self._over_handle:
            self._over_handle = over
            if over:
                self.graphics.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.graphics.viewport().unsetCursor()
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

    # -- the image of a plane (MPR: made in the layout's worker) ------------------------------------------------
    def show_image(self, plane: ImagePlane, values: np.ndarray, display: np.ndarray | None = None,
                   shade: tuple | None = None) -> None:
        """The image of `plane`: its values (NaN outside the volume) and, when the worker made it, their
        `screen_rgba` for the window and invert in `shade` (made again here if the window changed since)."""
        moved = self.plane is None or not self.plane.same_orientation(plane) or self.plane.shape != plane.shape
        self.plane, self.values = plane, values
        if display is None or shade != (self.window, self.inverted):
            display = screen_rgba(values, self.window, self.inverted)
        self.image.setImage(display, autoLevels=False, levels=None)
        if moved:
            self._place_image()
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
            self.image.setImage(screen_rgba(self.values, window, inverted), autoLevels=False, levels=None)
        self._draw_texts()

    def clear(self) -> None:
        self.plane, self.values, self.point = None, None, None
        self.image.clear()
        self.reference_lines.hide()
        for key, label in (*self.texts.items(), *self.markers.items()):
            self._set_text(key, label, "")

    # -- texts --------------------------------------------------------------------------------------------------
    def _draw_texts(self) -> None:
        plane = self.plane
        if plane is None:
            return
        self._set_text("top_left", self.texts["top_left"], f"{plane.name}  {position_words(plane)}")
        bottom = [self.notes] if self.notes else []
        if self.window is not None:
            bottom.append(str(self.window))
        self._set_text("bottom_left", self.texts["bottom_left"], "\n".join(bottom))
        self._draw_markers()
        self._place_texts()

    def _place_texts(self) -> None:
        height = self.graphics.viewport().height()
        margin = 5
        self.texts["top_left"].move(margin, margin)
        bottom = self.texts["bottom_left"]
        bottom.move(margin, height - bottom.height() - margin)
        self._place_markers()

    def resizeEvent(self, event):  # noqa: N802 - Qt name
        super().resizeEvent(event)
        self._place_texts()
        self.fit()


class PlaneImage:
    """What `AnnotationLayer` needs of the image on a view, for a plane: its session ref, its pixels (the
    plane's own values), its spacing in mm and the units of its values."""

    def __init__(self, view: PlaneView) -> None:
        self.view = view

    def ref(self, _k: int = 0, t: int | None = None):
        """The acquired slice's own ref on MPR's acquired view (its work is the single view's), else the
        plane's; at the view's time point unless another is named."""
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
