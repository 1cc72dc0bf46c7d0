"""Multi-planar reformatting: axial, coronal and sagittal views of the loaded volume, linked by one crosshair.

The crosshair is a point in patient space (LPS mm). Each view shows a plane through it (`core.planes`): a click
or drag in one view moves the point within that plane, and the other planes follow; the wheel steps one plane
along its normal (an acquired plane from slice to slice); Shift+drag turns the other two planes about the
view's normal (oblique and, turned twice, double-oblique reformats). The window is shared by default and can be
unlocked per view. A slab (MIP, MinIP, average, in mm) applies to every reformat.

Reformats are computed in a worker (`core.reformat`, no copy of the volume), the plane under the mouse first;
a request made while one runs replaces what is still waiting (the latest crosshair wins), so a drag never
queues up work. A view always draws the crosshair where the point is on the image it shows.
Layouts: 1×3 (the three planes) and 2×2 (with the acquired slice nearest the crosshair, as acquired).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from medview.core import planes
from medview.core.reformat import Slab, SlabMode, gaps_crossed, reformat, sample_points
from medview.core.session import ImageRef
from medview.core.window_level import Window
from medview.gui.annotation_layer import AnnotationLayer
from medview.gui.plane_view import PlaneView, display_grey
from medview.gui.workers import Job

GRIDS = {"1x3": ((0, 0), (0, 1), (0, 2), None), "2x2": ((0, 0), (0, 1), (1, 0), (1, 1))}
VIEWS = (*planes.ANATOMICAL, "acquired")


def reformat_job(volume, jobs: list, t: int, slab: Slab, point, token):
    """Worker: each (name, plane, slab or not, (window, inverted)) of `jobs` in order, yielding lists of
    (name, plane, values, 8-bit display, its (window, inverted), gap notes): the plane under the mouse at once,
    the others together (one hand-over to the GUI thread fewer); then the value at the crosshair."""
    value = float(sample_points(volume, point, t)) if point is not None else float("nan")  # first: ends sooner
    made = []
    for index, (name, plane, use_slab, shade) in enumerate(jobs):
        if token.cancelled:
            return None
        chosen = slab if use_slab else None
        values = reformat(volume, plane, t, chosen)
        display = display_grey(values, *shade)
        notes = [str(gap) for gap in gaps_crossed(volume, plane, chosen)]
        made.append((name, plane, values, display, shade, notes))
        if index == 0 or index == len(jobs) - 1:
            yield made
            made = []
    return ("value", point, value)


class MprLayout(QWidget):
    """Three (or four) linked plane views of one volume, with their crosshair, slab and window controls."""

    status_changed = Signal(str)
    drawn = Signal()  # every view shows the planes of the latest request

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.views = {name: PlaneView(name, self) for name in VIEWS}
        self.layers: dict[str, AnnotationLayer] = {}
        self.session = None
        self.volume = None
        self.series_key = None
        self.t = 0
        self.point: np.ndarray | None = None
        self.planes: dict[str, planes.ImagePlane] = {}
        self.steps: dict[str, float] = {}
        self.grid_name = "1x3"
        self.window: Window | None = None
        self.windows: dict[str, Window] = {}
        self.inverted = False
        self.slab = Slab(0.0, SlabMode.MIP)
        self.job: Job | None = None
        self.pending: tuple | None = None
        self.hovered: str | None = None
        self.value_text = ""
        self.crosshair_text = ""
        self.mouse_text = ""

        controls = QHBoxLayout()
        controls.setContentsMargins(4, 2, 4, 2)
        controls.addWidget(QLabel("Planes aligned to"))
        self.frame_choice = QComboBox(self)
        self.frame_choice.addItems(["the acquisition", "the patient (L, P, S)"])
        self.frame_choice.setToolTip("Acquisition: the acquired slices in the plane nearest to them and the other "
                                     "two perpendicular to the slices. Patient: true axial, coronal, sagittal.")
        self.frame_choice.currentIndexChanged.connect(lambda _i: self.reset_planes())
        controls.addWidget(self.frame_choice)
        controls.addWidget(QLabel("Slab"))
        self.slab_mm = QDoubleSpinBox(self)
        self.slab_mm.setRange(0.0, 200.0)
        self.slab_mm.setSingleStep(1.0)
        self.slab_mm.setDecimals(1)
        self.slab_mm.setSuffix(" mm")
        self.slab_mm.setToolTip("Slab thickness in mm (0: the plane itself), e.g. a 10 mm MIP for lung nodules")
        controls.addWidget(self.slab_mm)
        self.slab_mode = QComboBox(self)
        self.slab_mode.addItems([mode.value for mode in SlabMode])
        controls.addWidget(self.slab_mode)
        self.slab_mm.valueChanged.connect(self._slab_changed)
        self.slab_mode.currentIndexChanged.connect(self._slab_changed)
        self.link_window = QCheckBox("Same window in every view", self)
        self.link_window.setChecked(True)
        self.link_window.toggled.connect(self._link_toggled)
        controls.addWidget(self.link_window)
        reset = QPushButton("Reset", self)
        reset.setToolTip("Crosshair to the centre, planes straight again")
        reset.clicked.connect(lambda: self.reset_planes(centre=True))
        controls.addWidget(reset)
        hint = QLabel("click/drag: crosshair · Shift+drag: turn the other planes · wheel: step · right-drag: window",
                      self)
        hint.setStyleSheet("color: gray")
        hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # cut, never widening the window
        hint.setToolTip(hint.text())
        controls.addWidget(hint, 1)
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(controls)
        column.addLayout(self.grid, 1)
        for name, view in self.views.items():
            view.picked.connect(self._picked)
            view.turned.connect(self._turned)
            view.scrolled.connect(self._scrolled)
            view.window_dragged.connect(self._window_dragged)
            view.hovered.connect(self._hover_text)
            view.installEventFilter(self)
            view.graphics.viewport().installEventFilter(self)
            view.graphics.viewport().setProperty("plane_view", name)
        self.set_grid("1x3")

    # -- layout -----------------------------------------------------------------------------------------------
    def set_grid(self, grid: str) -> None:
        """'1x3': axial, coronal, sagittal side by side; '2x2': with the acquired slice nearest the crosshair."""
        if grid not in GRIDS:
            raise ValueError(f"no such grid {grid!r}")
        self.grid_name = grid
        for name, view in self.views.items():
            self.grid.removeWidget(view)
            place = GRIDS[grid][VIEWS.index(name)]
            view.setVisible(place is not None)
            if place is not None:
                self.grid.addWidget(view, *place)
        if self.volume is not None:
            self.request()

    def shown_views(self) -> list[str]:
        return [name for name in VIEWS if GRIDS[self.grid_name][VIEWS.index(name)] is not None]

    def attach_session(self, session) -> None:
        """Measurements on any plane: one annotation layer per view, filed under that view's plane."""
        self.session = session
        for name, view in self.views.items():
            view.series_key = self.series_key
            layer = AnnotationLayer(view, session)
            self.layers[name] = layer

    def set_tool(self, tool: str | None) -> None:
        for layer in self.layers.values():
            layer.set_tool(tool)

    def redraw_annotations(self) -> None:
        for layer in self.layers.values():
            layer.redraw(force=True)

    # -- the volume -------------------------------------------------------------------------------------------
    def set_volume(self, volume, series_key, window: Window | None, point=None, inverted: bool = False) -> None:
        """Show a loaded volume: crosshair at `point` (LPS mm) or at the volume's centre."""
        if volume.is_colour:
            raise ValueError("MPR: reformatting needs a grey volume (this series is colour)")
        if not volume.has_geometry:
            raise ValueError("MPR: this series has no patient geometry, so it cannot be reformatted")
        if volume.n_slices < 2:
            raise ValueError("MPR: this series has one slice, nothing to reformat")
        self.cancel()
        self.volume, self.series_key = volume, series_key
        self.t = 0
        for view in self.views.values():
            view.series_key = series_key
            view.t = 0
            view.value_unit = volume.value_unit
            view.clear()
        self.window = window
        self.windows = {}
        self.inverted = inverted
        self.reset_planes(point=point, centre=point is None)

    def clear(self) -> None:
        self.cancel()
        self.volume = None
        self.planes = {}
        for view in self.views.values():
            view.wanted = None
            view.clear()

    def frame(self) -> planes.Frame:
        volume = self.volume
        return planes.patient_frame(volume) if self.frame_choice.currentIndex() == 1 else \
            planes.acquisition_frame(volume)

    def reset_planes(self, point=None, centre: bool = False) -> None:
        """The three planes straight again (in the chosen frame), through `point`, the crosshair, or the centre."""
        if self.volume is None:
            return
        if point is not None:
            self.point = np.asarray(point, dtype=np.float64)
        elif centre or self.point is None:
            self.point = planes.volume_centre(self.volume)
        frame = self.frame()
        self.planes = planes.anatomical_planes(self.volume, self.point, frame)
        self.steps = dict(zip(planes.ANATOMICAL, frame.steps[::-1], strict=True))  # axial steps along S ...
        self.steps["acquired"] = 0.0
        self.planes["acquired"] = self._acquired_plane()
        for view in self.views.values():
            view.plane = view.wanted = None  # made again and fitted again
        self.request()

    def _acquired_plane(self) -> planes.ImagePlane:
        k = int(np.clip(round(float(self.volume.lps_to_voxel(self.point)[0])), 0, self.volume.n_slices - 1))
        self.views["acquired"].acquired_k = k
        return planes.acquired_plane(self.volume, k)

    # -- crosshair --------------------------------------------------------------------------------------------
    def set_point(self, point, source: str | None = None) -> None:
        """Move the crosshair; every plane passes through it again (the source view's plane holds it already)."""
        self.point = np.asarray(point, dtype=np.float64)
        for name, plane in self.planes.items():
            if name != "acquired":
                self.planes[name] = planes.moved_to(self.volume, plane, self.point)
        self.planes["acquired"] = self._acquired_plane()
        self.request(first=source)

    def _picked(self, name: str, point) -> None:
        self.hovered = name
        self.set_point(point, name)

    def _turned(self, name: str, degrees: float) -> None:
        """Shift+drag in one view turns the other two anatomical planes about its normal, through the crosshair."""
        if name == "acquired" or self.volume is None:
            return
        axis = self.planes[name].normal
        for other in planes.ANATOMICAL:
            if other != name:
                self.planes[other] = planes.rotated(self.planes[other], self.volume, axis, degrees, self.point)
        self.request(first=name)

    def _scrolled(self, name: str, steps: int) -> None:
        """The wheel moves one plane along its normal (the crosshair with it); the acquired view and a plane
        parallel to the slices go from acquired slice to acquired slice, even when unevenly spaced."""
        if self.volume is None or self.point is None:
            return
        plane = self.planes[name]
        normal = plane.normal
        slice_normal = self.volume.normal
        if name == "acquired" or abs(float(normal @ slice_normal)) > 1 - 1e-6:
            projections = self.volume.positions @ slice_normal
            here = float(self.point @ slice_normal)
            direction = steps * (1 if normal @ slice_normal > 0 else -1)
            if name == "acquired":
                direction = steps
            target = projections[projections > here + 1e-3] if direction > 0 else projections[projections < here - 1e-3]
            if len(target) == 0:
                return
            step_to = float(target.min() if direction > 0 else target.max())
            self.point = self.point + (step_to - here) * slice_normal
        else:
            moved = self.point + steps * self.steps.get(name, 1.0) * normal
            if not planes.inside(self.volume, moved, margin_voxels=1.0):
                return  # the edge of the volume: the plane stays on its last image
            self.point = moved
        self.set_point(self.point, name)

    # -- window -----------------------------------------------------------------------------------------------
    def set_window(self, window: Window, inverted: bool | None = None) -> None:
        """The shared window (every view, unless unlocked and changed in one)."""
        self.window = window
        if inverted is not None:
            self.inverted = inverted
        if self.link_window.isChecked():
            self.windows = {}
        for name, view in self.views.items():
            view.set_window(self.windows.get(name, window), self.inverted)

    def _window_dragged(self, name: str, dx: float, dy: float) -> None:
        current = self.windows.get(name, self.window)
        if current is None:
            return
        scale = current.width / 200.0
        window = Window(current.width * max(0.5, 1 + dx / 100.0), current.level + dy * scale, "custom")
        if self.link_window.isChecked():
            self.set_window(window)
        else:
            self.windows[name] = window
            self.views[name].set_window(window, self.inverted)

    def _link_toggled(self, linked: bool) -> None:
        if linked and self.window is not None:
            self.set_window(self.window)

    def _slab_changed(self, *_args) -> None:
        self.slab = Slab(float(self.slab_mm.value()), SlabMode(self.slab_mode.currentText()))
        self.request(force=True)  # the same planes, made again with the new slab

    # -- reformatting in a worker -----------------------------------------------------------------------------
    def eventFilter(self, watched, event):  # noqa: N802 - Qt name
        if event.type() == event.Type.Enter:
            name = watched.name if isinstance(watched, PlaneView) else watched.property("plane_view")
            if name:
                self.hovered = name
        return super().eventFilter(watched, event)

    def request(self, first: str | None = None, force: bool = False) -> None:
        """Reformat what changed, the view under the mouse (or the one acted on) first; the crosshair's lines are
        drawn at once on the images already shown."""
        if self.volume is None:
            return
        shown = self.shown_views()
        for name in shown:
            self.views[name].set_crosshair(self.point, {other: self.planes[other] for other in planes.ANATOMICAL
                                                         if other != name and other in shown})
        first = first or self.hovered
        order = sorted(shown, key=lambda n: (n != first, VIEWS.index(n)))
        jobs = []
        for name in order:
            plane = self.planes[name]
            view = self.views[name]
            if not force and view.wanted is not None and _same_image(view.wanted, plane):
                continue
            view.wanted = plane
            jobs.append((name, plane, name != "acquired", (self.windows.get(name, self.window), self.inverted)))
        self._status()
        if not jobs:
            self.drawn.emit()
            return
        self.pending = (jobs, self.point.copy())
        if self.job is None or not self.job.running:
            self._start_pending()

    def _start_pending(self) -> None:
        if self.pending is None:
            return
        jobs, point = self.pending
        self.pending = None
        self.job = Job(reformat_job, self.volume, jobs, self.t, self.slab, point,
                       owner=self, on_yield=self._landed, on_done=self._done, on_error=self._failed,
                       on_finished=self._finished)
        self.job.start()

    def _landed(self, items) -> None:
        for item in items:
            self._show(*item)
        if self.pending is None and self._all_shown():
            self.drawn.emit()  # every view shows the latest planes (the crosshair's value follows)

    def _all_shown(self) -> bool:
        return all(self.views[n].plane is not None and _same_image(self.views[n].plane, self.planes[n])
                   for n in self.shown_views())

    def _show(self, name, plane, values, display, shade, notes) -> None:
        view = self.views[name]
        if self.volume is None:
            return
        view.notes = "\n".join(([str(self.slab)] if self.slab.thickness_mm > 0 and name != "acquired" else [])
                               + (["acquired " + _slice_words(view, self.volume)] if name == "acquired" else [])
                               + notes)
        view.window, view.inverted = self.windows.get(name, self.window), self.inverted
        view.slab_volume = self.volume if self.slab.thickness_mm > 0 and name != "acquired" else None
        view.show_image(plane, values, display, shade)  # greyed again here only if the window changed since

    def _done(self, result) -> None:
        if result is None:
            return
        _kind, point, value = result
        if self.point is not None and point is not None and np.allclose(point, self.point):
            unit = f" {self.volume.value_unit}" if self.volume is not None and self.volume.value_unit else ""
            self.value_text = "outside the volume" if not np.isfinite(value) else f"{value:.1f}{unit}"
            self._status()

    def _finished(self) -> None:
        if self.pending is not None:
            self._start_pending()

    def _failed(self, error: BaseException) -> None:
        self.status_changed.emit(f"reformat failed: {error}")

    def cancel(self) -> None:
        self.pending = None
        if self.job is not None:
            self.job.cancel()
        self.job = None

    def _status(self) -> None:
        if self.point is None:
            return
        x, y, z = self.point
        value = f" · {self.value_text}" if self.value_text else ""
        self.crosshair_text = f"crosshair LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm{value}"
        self.status_changed.emit(" | ".join(t for t in (self.crosshair_text, self.mouse_text) if t))
        self.value_text = ""

    def _hover_text(self, text: str) -> None:
        self.mouse_text = text
        self.status_changed.emit(" | ".join(t for t in (self.crosshair_text, self.mouse_text) if t))

    def set_time(self, t: int) -> None:
        """Another time point of a 4D volume: every plane made again at it (its work is filed under it)."""
        if self.volume is None or not 0 <= t < self.volume.time_points or t == self.t:
            return
        self.t = t
        for view in self.views.values():
            view.t = t
        self.request(force=True)

    def refs_shown(self) -> dict[str, ImageRef]:
        return {name: self.views[name].series.ref() for name in self.shown_views()}


def _same_image(a: planes.ImagePlane, b: planes.ImagePlane) -> bool:
    return a.same_orientation(b) and a.shape == b.shape and np.allclose(a.origin, b.origin, atol=1e-6)


def _slice_words(view, volume) -> str:
    from medview.core.numbering import slice_text

    k = getattr(view, "acquired_k", 0)
    return slice_text(k, volume.n_slices)

