"""The slice viewer: one slice of a series at a time, right side up, right way round, at its true aspect.

A `PlaneView` of the plane of acquired slice k (`core.planes.acquired_plane`: its position, row and column
directions, spacing), specialised only for a stack: the wheel and arrow keys step through the slices, and the
series' texts, AI overlays and click marks are drawn over it. The plane view draws the pixels at their mm
size (unequal pixel spacings keep the true aspect), turns and flips them, and takes the orientation letters
from the plane's own directions. MONOCHROME1 and the user's invert swap the grey ramp,
never the values. Mouse: wheel scrolls slices, Ctrl+wheel zooms, left-drag pans, right-drag sets the window
(horizontal: width, vertical: level).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsLineItem, QWidget

from medview.core import planes
from medview.core.colormap import heat_rgba
from medview.core.numbering import slice_text
from medview.core.volume import display_date
from medview.core.window_level import Window, default_window, presets_for
from medview.gui import colour
from medview.gui.overlay_text import AI_STYLE, OVERLAY_STYLE
from medview.gui.plane_view import PlaneView


class SliceView(PlaneView):
    """Shows slice k (and time point t) of a `ShownSeries` with its overlays: the plane of that slice."""

    pixel_clicked = Signal(int, int, int)  # k, row, column of a left click on the image (clicks to classify)

    CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("acquired", parent, margin=0, framed=False)
        self.marker_top = 2
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
        self.corners = self.texts
        self._labels_by_name = {**self.corners, **self.markers}
        self.scale_bar = QGraphicsLineItem()
        self.scale_bar.setPen(QPen(QColor("#f0f0a0"), 2))
        self.scale_bar.setZValue(1000)
        self.graphics.scene().addItem(self.scale_bar)
        self.scale_text = self._label(OVERLAY_STYLE)
        self.ai_label = self._label(AI_STYLE)
        self.ai_label.setText("AI generated, research use only")
        self.ai_label.hide()
        self.series = None
        self._provisional: Window | None = None  # a default window taken before the whole volume had loaded
        self.invert = False
        self.overlays_visible = True
        self.box.sigRangeChanged.connect(lambda *_: self._place_scale_bar())
        self.box.sigResized.connect(lambda *_: self._place_scale_bar())
        self._last_cursor: tuple[int, int] | None = None
        self._plane_of: tuple = (None, None)  # (series, k) → the plane of that slice (made once per step)
        self.reversed_order = False  # display order: along the normal (False) or reversed (head first)
        self.wheel_reversed = False  # scroll direction (a preference): the wheel goes the other way
        self.reader_presets: dict = {}  # modality → the reader's own W/L presets (a preference)

    @property
    def plane(self) -> planes.ImagePlane | None:
        """The plane of acquired slice k: where its pixels are in LPS mm (from the index's geometry, before any
        pixel is decoded)."""
        series = self.series
        if series is None:
            return None
        key = (series, self.k)
        if self._plane_of[0] != key:
            self._plane_of = (key, planes.acquired_plane(series, self.k))
        return self._plane_of[1]

    @plane.setter
    def plane(self, plane) -> None:
        raise AttributeError("the single view shows the plane of its slice k: set the slice")

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

    # -- geometry of the display (the plane view's, for the plane of slice k) ----------------------------------
    def _place_image(self) -> None:
        self._last_cursor = None  # another pixel is under the mouse now
        super()._place_image()

    def zoom_changed(self) -> None:
        self._update_overlays(loaded=True)
        self._place_scale_bar()

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

    def transform_changed(self) -> None:
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

    def choose_window(self, window: Window) -> None:
        """A right-drag or a preset key: the single view's own window."""
        self.set_window(window)

    def apply_preset(self, index: int) -> None:
        self.ensure_window()
        super().apply_preset(index)

    def wheel_turned(self, up: bool) -> None:
        step = -1 if up else 1
        self.step(-step if self.wheel_reversed else step)

    def left_dragged(self, event) -> bool:
        """A left-drag pans the single view (no crosshair here)."""
        return False

    def navigate(self, key) -> bool:
        """Arrows step a slice, PageUp/PageDown a tenth of the stack, Home and End go to its ends."""
        steps = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1, Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1}
        tenth = max(1, (self.series.n_slices if self.series else 10) // 10)
        if key in steps:
            self.step(steps[key])
        elif key == Qt.Key.Key_PageUp:
            self.step(-tenth)
        elif key == Qt.Key.Key_PageDown:
            self.step(tenth)
        elif key == Qt.Key.Key_Home:
            self.set_slice(self.first_slice())
        elif key == Qt.Key.Key_End and self.series is not None:
            self.set_slice(self.series.n_slices - 1 - self.first_slice())
        else:
            return False
        return True

    # -- where the mouse is -------------------------------------------------------------------------------
    def _moved(self, scene_pos) -> None:
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

    def _clicked(self, event) -> None:
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
        """Edge letters of the slice's plane for this view transform (cached: the slices of a series share
        their directions, so the letters change only with the series or the transform)."""
        key = (id(series), self.rotation, self.flip_horizontal, self.flip_vertical)
        if getattr(self, "_markers_key", None) != key:
            self._markers_key = key
            self._markers_value = self.edge_letters()
        return self._markers_value

    def resizeEvent(self, event):  # noqa: N802 - Qt name
        QWidget.resizeEvent(self, event)  # not the plane view's: the single view keeps its zoom and pan
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
