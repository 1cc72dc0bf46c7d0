"""The slice viewer: one slice of a series at a time, right side up, right way round, at its true aspect.

Built on pyqtgraph's ImageItem in row-major order inside a ViewBox whose y axis points down, so that pixel
(row r, column c) is drawn at r down and c across, as DICOM stores it. The item is scaled to mm (column spacing
across, row spacing down), so unequal pixel spacings keep the true aspect; rotation and flips are a transform
of the item, and the orientation markers follow them. MONOCHROME1 and the user's invert swap the grey ramp,
never the values. Mouse: wheel scrolls slices, Ctrl+wheel zooms, left-drag pans, right-drag sets the window
(horizontal: width, vertical: level).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QTransform
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
    QVBoxLayout,
    QWidget,
)

from medview.core import orientation
from medview.core.colormap import heat_rgba
from medview.core.numbering import slice_text
from medview.core.volume import display_date
from medview.core.window_level import Window, default_window, presets_for
from medview.gui import colour

#: (colour, point size, bold) of the overlay texts
AI_STYLE = ("#ff9060", 10, True)
OVERLAY_STYLE = ("#f0f0a0", 9, False)
MARKER_STYLE = ("#ffd060", 12, True)


class OverlayText(QGraphicsSimpleTextItem):
    """Text drawn in the view's own paint pass and cached as a pixmap until it changes: cheaper on every
    scroll step than a QLabel over the view, which Qt composites again whenever the image repaints."""

    def __init__(self, style: tuple[str, int, bool]) -> None:
        super().__init__()
        colour, size, bold = style
        self.setBrush(QColor(colour))
        font = QFont()
        font.setPointSize(size)
        font.setBold(bold)
        self.setFont(font)
        self.setZValue(1000)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # a dark box behind the text: legible on white bone and on black air (a plain rect item drawn by Qt
        # itself: no Python in the paint pass of a scroll step)
        self.backdrop = QGraphicsRectItem(self)
        self.backdrop.setBrush(QColor(0, 0, 0, 150))
        self.backdrop.setPen(QPen(Qt.PenStyle.NoPen))
        self.backdrop.setFlag(QGraphicsItem.GraphicsItemFlag.ItemStacksBehindParent)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt name
        super().setText(text)
        self.backdrop.setRect(super().boundingRect().adjusted(-2, -1, 2, 1) if text else QRectF())

    def width(self) -> float:
        return self.boundingRect().width()

    def height(self) -> float:
        return self.boundingRect().height()

    def move(self, x: float, y: float) -> None:
        self.setPos(x, y)


class _SliceBox(pg.ViewBox):
    """A ViewBox where the wheel scrolls slices (Ctrl+wheel zooms) and right-drag sets the window."""

    def __init__(self, owner: SliceView) -> None:
        super().__init__(invertY=True, lockAspect=True, enableMenu=False)
        self.owner = owner

    def wheelEvent(self, event, axis=None):  # noqa: N802 - Qt name
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(event, axis)
            self.owner.zoom_changed()
            return
        delta = event.delta() if hasattr(event, "delta") else event.angleDelta().y()
        step = -1 if delta > 0 else 1
        self.owner.step(-step if self.owner.wheel_reversed else step)
        event.accept()

    def mouseDragEvent(self, event, axis=None):  # noqa: N802 - Qt name
        if event.button() == Qt.MouseButton.RightButton:
            event.accept()
            delta = event.screenPos() - event.lastScreenPos()
            self.owner.drag_window(delta.x(), delta.y())
            return
        super().mouseDragEvent(event, axis)


class SliceView(QWidget):
    """Shows slice k (and time point t) of a `ShownSeries` with its overlays."""

    slice_changed = Signal(int)
    status_changed = Signal(str)
    window_changed = Signal(object)
    pixel_clicked = Signal(int, int, int)  # k, row, column of a left click on the image
    point_clicked = Signal(int, float, float)  # k, column, row (sub-pixel) of a click while a measuring tool is on

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsView(self)
        self.graphics.setBackground("k")
        # the view paints its own black background: Qt need not paint the widgets behind it on every step
        self.graphics.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.box = _SliceBox(self)
        self.graphics.setCentralItem(self.box)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image)
        # saliency and click markers are children of the image item: on the same pixels at every zoom, pan,
        # flip and rotation
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setParentItem(self.image)  # under the marks (z 20) and measurements (z 30, 31), not over them
        self.heat.setZValue(10)
        self.heat_source = None  # the ImageRef the saliency belongs to: drawn only while that image is shown
        self.heat_values: np.ndarray | None = None
        self.heat_opacity = 0.5
        self.heat_threshold = 0.2
        self.heat_enabled = True
        self.marks = pg.ScatterPlotItem(symbol="+", size=22, pen=pg.mkPen("#00e5ff", width=2), brush=None)
        self.marks.setParentItem(self.image)
        self.marks.setZValue(20)
        self.session = None  # the window's Session: click marks are drawn from it, never kept here
        self._marks_drawn: list = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.corners = {name: self._label(OVERLAY_STYLE) for name in ("top_left", "top_right", "bottom_left",
                                                                       "bottom_right")}
        self.markers = {name: self._label(MARKER_STYLE) for name in ("left", "right", "top", "bottom")}
        self._labels_by_name = {**self.corners, **self.markers}
        self.scale_bar = QGraphicsLineItem()
        self.scale_bar.setPen(QPen(QColor("#f0f0a0"), 2))
        self.scale_bar.setZValue(1000)
        self.graphics.scene().addItem(self.scale_bar)
        self.scale_text = self._label(OVERLAY_STYLE)
        self.smooth = False
        self.ai_label = self._label(AI_STYLE)
        self.ai_label.setText("AI generated, research use only")
        self.ai_label.hide()
        self.series = None
        self.k = 0
        self.t = 0
        self.window: Window | None = None
        self._provisional: Window | None = None  # a default window taken before the whole volume had loaded
        self.presets: list[Window] = []
        self.invert = False
        self.rotation = 0
        self.flip_horizontal = False
        self.flip_vertical = False
        self.overlays_visible = True
        self.box.sigRangeChanged.connect(lambda *_: self._place_scale_bar())
        self.box.sigResized.connect(lambda *_: self._place_scale_bar())
        self.graphics.scene().sigMouseMoved.connect(self._mouse_moved)
        self.graphics.scene().sigMouseClicked.connect(self._mouse_clicked)
        self._last_cursor: tuple[int, int] | None = None
        self._shown_text: dict[str, str] = {}
        self.tool_active = False  # a measuring tool takes the clicks (see gui.annotation_layer)
        self.reversed_order = False  # display order: along the normal (False) or reversed (head first)
        self.wheel_reversed = False  # scroll direction (a preference): the wheel goes the other way
        self.reader_presets: dict = {}  # modality → the reader's own W/L presets (a preference)

    def _label(self, style: tuple[str, int, bool]) -> OverlayText:
        text = OverlayText(style)
        self.graphics.scene().addItem(text)  # in scene (= viewport) coordinates: fixed on screen
        return text

    # -- what is shown ------------------------------------------------------------------------------------
    def set_series(self, series, k: int | None = None, window: Window | None = None) -> None:
        """Show a series (loaded or loading), at slice k (default the middle) and a window (default by modality)."""
        self.series = series
        self.k = series.n_slices // 2 if k is None else int(np.clip(k, 0, series.n_slices - 1))
        self.t = 0
        self.rotation, self.flip_horizontal, self.flip_vertical = 0, False, False
        self.window = window
        self.presets = []
        self._provisional = None
        self._last_cursor = None
        self._static_key = None  # patient, series and letters are made again for the new series
        self._place_image()
        self.refresh()
        self.fit()

    def clear(self) -> None:
        """Nothing shown (a study was closed)."""
        self.series = None
        self.image.clear()
        self.show_saliency(None, None)
        self.draw_marks()
        for key, label in self._labels_by_name.items():
            self._set_text(key, label, "")

    def ensure_window(self) -> None:
        """The default window and presets once pixels exist: the scanner's, else from the values. A window
        taken from the first slices is replaced by the whole volume's once it has loaded (unless changed)."""
        if self.series is None:
            return
        values = self.series.sample_values()
        if values is None or colour.is_colour_series(self.series.photometric):  # no window on R, G, B
            return
        whole = self.series.loaded and self._provisional is not None and self.window == self._provisional
        if not self.presets or whole:
            self.presets = presets_for(self.series.modality, values, self.series.windows,
                                       self.reader_presets.get(self.series.modality.upper()))
        if self.window is None or whole:
            self.window = default_window(self.series.modality, values, self.series.windows)
            partial = not self.series.loaded and not self.series.windows and self.series.modality != "CT"
            self._provisional = self.window if partial else None
            self.window_changed.emit(self.window)

    def refresh(self) -> None:
        """Redraw the current slice and overlays (called on every scroll step: keep it cheap)."""
        series = self.series
        if series is None:
            return
        self.ensure_window()
        pixels = series.slice(self.k, self.t)
        if pixels is None:
            self.image.clear()
        else:
            # inverting by swapping the levels keeps pyqtgraph on its fast grey path (a lookup table costs
            # a pass over every pixel on every scroll step)
            self.image.setImage(pixels, autoLevels=False, levels=colour.levels(pixels, self.window, self.inverted))
        self._update_overlays(loaded=pixels is not None)
        self._draw_heat()
        self.draw_marks()
        if self._last_cursor is not None:  # the mouse rests on the image while the wheel scrolls
            self.status_changed.emit(self.describe_pixel(*self._last_cursor))
        self.slice_changed.emit(self.k)

    @property
    def inverted(self) -> bool:
        """White for low values: MONOCHROME1, or the user's invert (which undoes it on MONOCHROME1)."""
        return self.invert != (self.series is not None and self.series.photometric == "MONOCHROME1")

    # -- geometry of the display --------------------------------------------------------------------------
    def _place_image(self) -> None:
        """Scale pixels to mm (true aspect), then rotate and flip about the image centre.

        The rotation is applied first and the flips after it, on the screen's axes (as
        `orientation.screen_directions` assumes): "flip horizontally" swaps the screen's left and right
        edges whatever the rotation."""
        series = self.series
        row_mm, col_mm = series.pixel_spacing
        width, height = series.columns * col_mm, series.rows * row_mm
        transform = QTransform()  # QTransform composes so that the last call acts first on a point
        transform.translate(width / 2, height / 2)
        transform.scale(-1 if self.flip_horizontal else 1, -1 if self.flip_vertical else 1)
        transform.rotate(90 * self.rotation)
        transform.translate(-width / 2, -height / 2)
        transform.scale(col_mm, row_mm)
        self._last_cursor = None  # another pixel is under the mouse now
        self.image.setTransform(transform)

    def fit(self) -> None:
        """The whole image in view (from the geometry: works before the first pixel has landed)."""
        if self.series is not None:
            rect = self.image.transform().mapRect(QRectF(0, 0, self.series.columns, self.series.rows))
            self.box.setRange(rect, padding=0.02)
            self.zoom_changed()

    def one_to_one(self) -> None:
        """One image pixel per screen pixel (by the column spacing)."""
        if self.series is None:
            return
        col_mm = self.series.pixel_spacing[1]
        width_px, height_px = self.box.width(), self.box.height()
        center = self.box.viewRect().center()
        half_w, half_h = width_px * col_mm / 2, height_px * col_mm / 2
        self.box.setRange(xRange=(center.x() - half_w, center.x() + half_w),
                          yRange=(center.y() - half_h, center.y() + half_h), padding=0)
        self.zoom_changed()

    def zoom(self) -> float:
        """Screen pixels per image pixel (across)."""
        if self.series is None:
            return 1.0
        mm_across = self.box.viewRect().width()
        if mm_across <= 0:
            return 1.0
        return self.box.width() / (mm_across / self.series.pixel_spacing[1])

    def zoom_by(self, factor: float) -> None:
        self.box.scaleBy((1 / factor, 1 / factor))
        self.zoom_changed()

    def zoom_changed(self) -> None:
        self._update_overlays(loaded=True)
        self._place_scale_bar()

    def set_smooth(self, smooth: bool) -> None:
        """Smooth (bilinear) or nearest-neighbour display of enlarged pixels; the values are never changed."""
        self.smooth = bool(smooth)
        self.graphics.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
        self.graphics.viewport().update()

    def _place_scale_bar(self) -> None:
        """A bar of a round length in mm (1, 2, 5 × 10ⁿ), 60 to 150 screen pixels long, bottom right."""
        rect = self.box.viewRect()
        if self.series is None or rect.width() <= 0 or not self.overlays_visible:
            self.scale_bar.hide()
            self.scale_text.hide()
            return
        pixels_per_mm = self.box.width() / rect.width()  # the view's coordinates are mm
        length = next((mm for mm in (1, 2, 5, 10, 20, 50, 100, 200, 500) if mm * pixels_per_mm >= 60), 500)
        width, height = self.graphics.viewport().width(), self.graphics.viewport().height()
        right, y = width - 12, height - 64
        self.scale_bar.setLine(right - length * pixels_per_mm, y, right, y)
        self._set_text("scale", self.scale_text, f"{length} mm")
        self.scale_text.move(right - self.scale_text.width(), y - self.scale_text.height() - 2)
        self.scale_bar.show()
        self.scale_text.show()

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
        self.refresh()

    def set_invert(self, invert: bool) -> None:
        self.invert = invert
        self.refresh()

    # -- navigation and window ----------------------------------------------------------------------------
    def set_slice(self, k: int) -> None:
        if self.series is None:
            return
        k = int(np.clip(k, 0, self.series.n_slices - 1))
        if k != self.k:
            self.k = k
            self.refresh()

    def step(self, delta: int) -> None:
        """Move by `delta` slices as displayed: with the order reversed (head first) the wheel and the arrow
        keys go the other way through k; k and every number shown stay the image's own."""
        self.set_slice(self.k - delta if self.reversed_order else self.k + delta)

    def first_slice(self) -> int:
        """The slice Home shows: k 0 along the normal, the last k with the order reversed."""
        return (self.series.n_slices - 1) if self.reversed_order and self.series is not None else 0

    def set_time(self, t: int) -> None:
        if self.series is not None and 0 <= t < self.series.time_points and t != self.t:
            self.t = t
            self.refresh()

    def set_window(self, window: Window) -> None:
        self.window = window
        self.refresh()
        self.window_changed.emit(window)

    def apply_preset(self, index: int) -> None:
        self.ensure_window()
        if 0 <= index < len(self.presets):
            self.set_window(self.presets[index])

    def drag_window(self, dx: float, dy: float) -> None:
        """Right-drag: right widens the window, down raises the level, in steps of the window's own scale."""
        if self.window is None:
            return
        scale = self.window.width / 200.0  # a narrow window (W 0.0125) keeps its own scale, never jumps to 1
        width = self.window.width * max(0.5, 1 + dx / 100.0)
        self.set_window(Window(width, self.window.level + dy * scale, "custom"))

    def keyPressEvent(self, event):  # noqa: N802 - Qt name
        key = event.key()
        steps = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1, Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1}
        if key in steps:
            self.step(steps[key])
        elif key == Qt.Key.Key_PageUp:
            self.step(-max(1, (self.series.n_slices if self.series else 10) // 10))
        elif key == Qt.Key.Key_PageDown:
            self.step(max(1, (self.series.n_slices if self.series else 10) // 10))
        elif key == Qt.Key.Key_Home:
            self.set_slice(self.first_slice())
        elif key == Qt.Key.Key_End and self.series is not None:
            self.set_slice(self.series.n_slices - 1 - self.first_slice())
        elif Qt.Key.Key_1 <= key <= Qt.Key.Key_9:
            self.apply_preset(key - Qt.Key.Key_1)
        else:
            super().keyPressEvent(event)

    # -- where the mouse is -------------------------------------------------------------------------------
    def pixel_at(self, scene_pos) -> tuple[int, int] | None:
        """(row, column) of the image pixel under a scene position, or None outside the image."""
        if self.series is None:
            return None
        point = self.image.mapFromScene(scene_pos)
        c, r = math.floor(point.x()), math.floor(point.y())
        if 0 <= r < self.series.rows and 0 <= c < self.series.columns:
            return r, c
        return None

    def widget_point_of(self, row: float, column: float, centre: bool = True) -> QPointF:
        """Where pixel (row, column) is drawn (its centre, or the point itself with centre=False), in the
        viewport's pixels (for tests, tools)."""
        offset = 0.5 if centre else 0.0
        scene = self.image.mapToScene(QPointF(column + offset, row + offset))
        return QPointF(self.graphics.mapFromScene(scene))

    def _mouse_moved(self, scene_pos) -> None:
        where = self.pixel_at(scene_pos)
        self._last_cursor = where
        self.status_changed.emit(self.describe_pixel(*where) if where else "")

    def leaveEvent(self, event):  # noqa: N802 - Qt name
        self._last_cursor = None
        self.status_changed.emit("")
        super().leaveEvent(event)

    def describe_pixel(self, r: int, c: int) -> str:
        """'value HU at slice 18/24 · im 18, row r, column c; LPS (x, y, z) mm' for the status bar (no LPS
        for images without patient geometry: none is invented)."""
        series = self.series
        where = f"{slice_text(self.k, series.n_slices, series.spec.instance_number(self.k, self.t))}, " \
                f"row {r}, column {c}"
        pixels = series.slice(self.k, self.t)
        if pixels is None:
            return f"{where}: not loaded yet"
        value_text = colour.value_text(pixels[r, c])
        unit = f" {series.value_unit}" if series.value_unit else ""
        if not series.has_geometry:
            return f"{value_text}{unit} at {where}; no patient geometry"
        x, y, z = series.voxel_to_lps(self.k, r, c)
        return f"{value_text}{unit} at {where}; LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm"

    # -- overlays -------------------------------------------------------------------------------------------
    def set_overlays_visible(self, visible: bool) -> None:
        self.overlays_visible = visible
        for label in (*self.corners.values(), *self.markers.values()):
            label.setVisible(visible)
        self._place_scale_bar()

    def _update_overlays(self, loaded: bool, full: bool = False) -> None:
        """Corner texts and edge letters. On a scroll step only the slice and window texts are made again;
        the patient, series and letters change with the series or the view's transform (`full`)."""
        series = self.series
        if series is None:
            return
        k = self.k
        thickness = series.thickness(k)
        time_text = f"\nt {self.t + 1} / {series.time_points}" if series.time_points > 1 else ""
        position = (f"position {float(series.slice_positions_mm[k]):.1f} mm" if series.has_geometry
                    else "no patient geometry")
        texts = {
            "bottom_left": f"{slice_text(k, series.n_slices, series.spec.instance_number(k, self.t))}"
                           f"{'' if loaded else ' (loading)'}{time_text}\n{position}\n"
                           + (f"thickness {thickness:g} mm" if thickness == thickness else "thickness -"),
            "bottom_right": (f"{self.window}" if self.window else "") + f"\nzoom {self.zoom():.2f}×",
        }
        static_key = (id(series), self.rotation, self.flip_horizontal, self.flip_vertical)
        if full or static_key != getattr(self, "_static_key", None):
            self._static_key = static_key
            info = series.info
            number = info.series_number if info.series_number is not None else "-"
            texts["top_left"] = (f"{info.patient_name or '(no name)'}\n{info.patient_id}\n"
                                 f"{display_date(info.study_date)}")
            texts["top_right"] = (f"{info.modality} series {number}\n{info.series_description}"
                                  + (f" ({info.part})" if info.part else ""))
            texts.update({name: (text if series.has_geometry else "")
                          for name, text in self._markers(series).items()})
        labels = self._labels_by_name
        changed = [name for name, text in texts.items() if self._set_text(name, labels[name], text)]
        if changed:
            self._place_labels(changed)

    # -- AI overlays ----------------------------------------------------------------------------------------
    def here(self):
        """The ImageRef on screen (None before a series is shown)."""
        return None if self.series is None else self.series.ref(self.k, self.t)

    def show_saliency(self, source, values: np.ndarray | None) -> None:
        """Saliency made for image `source` (an ImageRef), on its pixel grid; drawn only on that image."""
        self.heat_source, self.heat_values = source, values
        self._draw_heat()

    def set_heat_style(self, opacity: float | None = None, threshold: float | None = None,
                       enabled: bool | None = None) -> None:
        if opacity is not None:
            self.heat_opacity = opacity
        if threshold is not None:
            self.heat_threshold = threshold
        if enabled is not None:
            self.heat_enabled = enabled
        self._draw_heat()

    def heat_on_screen(self) -> bool:
        return self.heat.isVisible() and self.heat.image is not None

    def _draw_heat(self) -> None:
        values = self.heat_values
        if not self.heat_enabled or values is None or self.heat_source != self.here():
            self.heat.hide()
            self.ai_label.hide()
            return
        self.heat.setImage(heat_rgba(values, self.heat_opacity, self.heat_threshold), autoLevels=False,
                           levels=(0, 255))
        self.heat.show()
        self.ai_label.show()
        self._place_labels()

    def draw_marks(self) -> None:
        """The pixels clicked for the AI on the image shown (from the session), at their centres."""
        marks = self.session.marks.get(self.here(), []) if self.session is not None else []
        points = [(c + 0.5, r + 0.5) for c, r in marks]
        if points != self._marks_drawn:  # setData is not free: only when the marks change
            self.marks.setData(pos=points)
            self._marks_drawn = points
        self.marks.setVisible(bool(points))  # an empty scatter item still costs a paint pass

    def _mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        where = self.pixel_at(event.scenePos())
        if where is None:
            return
        if self.tool_active:
            point = self.image.mapFromScene(event.scenePos())
            self.point_clicked.emit(self.k, point.x(), point.y())
        else:
            self.pixel_clicked.emit(self.k, *where)

    def _markers(self, series) -> dict[str, str]:
        """Edge letters for this series and view transform (cached: they change only with those)."""
        key = (id(series), self.rotation, self.flip_horizontal, self.flip_vertical)
        if getattr(self, "_markers_key", None) != key:
            self._markers_key = key
            self._markers_value = orientation.edge_markers(series.row_cosine, series.column_cosine, self.rotation,
                                                           self.flip_horizontal, self.flip_vertical)
        return self._markers_value

    def _set_text(self, key: str, label: OverlayText, text: str) -> bool:
        """Set a text only when it changed (a new text is laid out and cached again)."""
        if self._shown_text.get(key) == text:
            return False
        self._shown_text[key] = text
        label.setText(text)
        return True

    def resizeEvent(self, event):  # noqa: N802 - Qt name
        super().resizeEvent(event)
        self._place_labels()
        self._place_scale_bar()

    def _place_labels(self, names=None) -> None:
        """Put overlay texts at their corners and edges (only `names`, the ones whose text changed, when given)."""
        width, height = self.graphics.viewport().width(), self.graphics.viewport().height()
        margin = 6
        if names is None:
            self.ai_label.move((width - self.ai_label.width()) // 2, 30)
        for name, label in self.corners.items():
            if names is None or name in names:
                x = margin if "left" in name else width - label.width() - margin
                y = margin if "top" in name else height - label.height() - margin
                label.move(x, y)
        for name, label in self.markers.items():
            if names is not None and name not in names:
                continue
            if name in ("left", "right"):
                x = margin if name == "left" else width - label.width() - margin
                label.move(x, (height - label.height()) // 2)
            else:
                y = margin + 2 if name == "top" else height - label.height() - margin
                label.move((width - label.width()) // 2, y)
