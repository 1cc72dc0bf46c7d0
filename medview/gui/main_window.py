"""The main window: series browser, slice viewer, docks, menus, and the loading that never blocks it.

Opening a folder scans it in a worker (progress bar and Cancel in the status bar); the catalog fills the series
browser and thumbnails follow. Choosing a volume decodes it in a worker that hands each slice over as it lands:
the slice on screen appears first, the rest fill in while the window stays responsive. A slice that lands is
drawn only if it is the one on screen; results of a series the user left are dropped.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from medview.core.numbering import count, slice_text
from medview.core.session import SeriesKey, Session
from medview.core.window_level import Window
from medview.errors import MedviewError
from medview.gui.annotation_layer import AnnotationLayer
from medview.gui.docks import SeriesWarnings, SkippedFiles, TagDock, read_tags
from medview.gui.inference_panel import InferencePanel
from medview.gui.mpr_layout import MprLayout
from medview.gui.preferences import attach as attach_preferences
from medview.gui.series_browser import SeriesBrowser, thumbnail_pixels
from medview.gui.shown_series import ShownSeries
from medview.gui.slice_view import SliceView
from medview.gui.workers import Job
from medview.io import iter_assemble, open_folder
from medview.io.assemble import slice_values
from medview.io.index import Catalog
from medview.io.session_store import read_study, restore_study, save_study

RECENT_LIMIT = 8


class _ProgressRelay(QObject):
    """Carries (done, total) from the I/O layer's callback in a worker thread to the GUI thread."""

    progress = Signal(int, int)


def scan_job(path: str, ticket: int, relay: _ProgressRelay, token):
    """Worker: scan and index, then thumbnails of every volume's middle slice.

    Everything yielded carries the scan's ticket: what a cancelled scan had already sent is recognised as
    stale on arrival and dropped, never drawn into the next folder's browser."""
    catalog = open_folder(path, progress=relay.progress.emit, cancel=token)
    yield (ticket, "catalog", catalog)
    for study in dict.fromkeys(spec.info.study_instance_uid for spec in catalog.volumes):
        try:
            saved = read_study(study)
        except MedviewError as error:
            yield (ticket, "problem", str(error))
            continue
        if saved is not None:
            yield (ticket, "session", saved)
    for index, spec in enumerate(catalog.volumes):
        if token.cancelled:
            return
        try:
            values = slice_values(spec, spec.n_slices // 2)
        except MedviewError:
            continue
        yield (ticket, "thumbnail", index, thumbnail_pixels(values, spec.images[0][0].photometric))


def load_job(series: ShownSeries, first: int, token):
    """Worker: decode a volume, handing over (series, t, k, pixels) as each slice lands; returns
    (series, volume). The series travels with every slice so that the window can tell a slice of the series
    on screen from one a cancelled load had already sent."""
    slices = iter_assemble(series.spec, cancel=token, first=first)
    while True:
        try:
            t, k, pixels = next(slices)
        except StopIteration as finished:
            return series, finished.value
        yield series, t, k, pixels


def save_job(session: Session, studies: list[str], token):
    """Worker: write each study's session (a snapshot: the GUI goes on editing its own)."""
    yield None
    return [save_study(session, study) for study in studies]


def tags_job(source, path: str, frame: int, token):
    yield None
    return source, read_tags(path, frame)


class MainWindow(QMainWindow):
    series_shown = Signal(int)        # a volume's index, once its first slice is drawn
    series_loaded = Signal(int)       # once every slice has landed
    catalog_ready = Signal(object)
    session_restored = Signal(int)    # images of a saved session put back
    failed = Signal(str)

    def __init__(self, settings: QSettings | None = None, with_inference: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("medview — research use only")
        self.settings = settings or QSettings("medview", "medview")
        self.catalog: Catalog | None = None
        self.folder: str | None = None
        self.shown: ShownSeries | None = None
        self.jobs: dict[str, Job] = {}
        self.wanted_slice: int | None = None
        self.wanted_window: Window | None = None
        self.wanted_series: str | int | None = None
        self.scan_ticket = 0

        self.view = SliceView(self)
        self.slider = QSlider(Qt.Orientation.Vertical, self)
        self.slider.setInvertedAppearance(True)
        self.time_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.time_label = QLabel("", self)
        self.time_slider.hide()
        self.time_label.hide()
        centre = QWidget(self)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.view, 1)
        row.addWidget(self.slider)
        column = QVBoxLayout(centre)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row, 1)
        time_row = QHBoxLayout()
        time_row.addWidget(self.time_label)
        time_row.addWidget(self.time_slider, 1)
        column.addLayout(time_row)
        # the layouts: the single slice view, or the linked planes of multi-planar reformatting
        self.layouts = QStackedWidget(self)
        self.layouts.addWidget(centre)
        self.mpr = MprLayout(self)
        self.layouts.addWidget(self.mpr)
        self.layout_name = "single"
        self.wanted_crosshair = None
        self.setCentralWidget(self.layouts)

        self.browser = SeriesBrowser(self)
        self.skipped = SkippedFiles(self)
        self.tags = TagDock(self)
        self.browser_dock = self._dock("Series", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.skipped_dock = self._dock("Skipped files", self.skipped, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tags_dock = self._dock("DICOM tags", self.tags, Qt.DockWidgetArea.RightDockWidgetArea)
        self.warnings = SeriesWarnings(self)
        self.warnings_dock = self._dock("Warnings", self.warnings, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.skipped_dock.hide()
        self.tags_dock.hide()
        self.warnings_dock.hide()
        self.session = Session()  # what the reader and the AI add, by the image it was made on
        self.view.session = self.session
        self.layer = AnnotationLayer(self.view, self.session)
        self.mpr.attach_session(self.session)
        for mpr_layer in self.mpr.layers.values():
            mpr_layer.changed.connect(self.save_soon)
        self.layer.changed.connect(self.mpr.redraw_annotations)
        self.layer.changed.connect(self._annotations_changed)
        self.layer.changed.connect(self.save_soon)
        self.save_timer = QTimer(self)
        self.save_timer.setSingleShot(True)
        self.save_timer.setInterval(1000)
        self.save_timer.timeout.connect(self.save_session)
        self.inference = InferencePanel(self) if with_inference else None
        self.inference_dock = (self._dock("AI", self.inference, Qt.DockWidgetArea.RightDockWidgetArea)
                               if with_inference else None)

        self.progress = QProgressBar(self)
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_loading)
        self.cursor_label = QLabel("", self)
        self.statusBar().addWidget(self.cursor_label, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)

        self.relay = _ProgressRelay()
        self.relay.progress.connect(self._scan_progress)
        self.browser.volume_chosen.connect(self.show_volume)
        self.view.slice_changed.connect(self._slice_changed)
        self.view.status_changed.connect(self.cursor_label.setText)
        self.mpr.status_changed.connect(self.cursor_label.setText)
        self.series_loaded.connect(lambda _index: self._show_mpr())
        self.view.window_changed.connect(lambda window: self.layout_name != "single" and self.mpr.set_window(window))
        self.slider.valueChanged.connect(self.view.set_slice)
        self.time_slider.valueChanged.connect(self._time_changed)
        self.cine = QTimer(self)
        self.cine_rate = 10.0  # slices per second
        self.cine.setInterval(100)
        self.cine.timeout.connect(self._cine_step)
        # the slice slider follows the view at display rate, not on every wheel step: repainting it (and the
        # panel behind it) cost as much as a third of a scroll step, and nobody reads it faster than 60 Hz
        self.slider_timer = QTimer(self)
        self.slider_timer.setSingleShot(True)
        self.slider_timer.setInterval(16)
        self.slider_timer.timeout.connect(self._sync_slider)
        self.tag_timer = QTimer(self)
        self.tag_timer.setSingleShot(True)
        self.tag_timer.setInterval(150)
        self.tag_timer.timeout.connect(self._load_tags)
        self.tags_dock.visibilityChanged.connect(lambda visible: visible and self.tag_timer.start())
        self._build_menus()
        if self.inference is not None:
            self.inference.click_mode.toggled.connect(lambda on: on and self.set_tool(None))
            self.inference.click_mode.toggled.connect(lambda on: setattr(self.layer, "selectable", not on))
            self.inference.kept_changed.connect(self.save_soon)
        from medview.gui.pacs_dock import add_pacs_dock

        self.pacs_dock = add_pacs_dock(self)
        self.setAcceptDrops(True)
        self.resize(1280, 860)
        self._restore_layout()
        attach_preferences(self)  # File → Preferences…, Help → About; the kept preferences put to work

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # -- menus ---------------------------------------------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut: str | None = None, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Open Folder…", self.ask_folder, "Ctrl+O")
        self.recent_menu = file.addMenu("Open &Recent")
        self._fill_recent()
        self._action(file, "&Close study", self.close_study, "Ctrl+W")
        file.addSeparator()
        self._action(file, "&Quit", self.close, "Ctrl+Q")
        view = bar.addMenu("&View")
        self._action(view, "&Fit", self.view.fit, "F")
        self._action(view, "&1:1", self.view.one_to_one, "Ctrl+1")
        self._action(view, "Zoom &in", lambda: self.view.zoom_by(1.25), "Ctrl+=")
        self._action(view, "Zoom &out", lambda: self.view.zoom_by(0.8), "Ctrl+-")
        self.invert_action = self._action(view, "&Invert", lambda on: self.view.set_invert(on), "I", True)
        self._action(view, "&Rotate 90° clockwise", lambda: self.view.rotate(1), "R")
        self._action(view, "Flip &horizontally", lambda: self.view.flip(True), "H")
        self._action(view, "Flip &vertically", lambda: self.view.flip(False), "V")
        self.overlay_action = self._action(view, "&Overlays", lambda on: self.view.set_overlays_visible(on),
                                           "O", True)
        self.overlay_action.setChecked(True)
        self.cine_action = self._action(view, "&Cine", self._toggle_cine, "C", True)
        self._action(view, "Cine &faster", lambda: self.set_cine_rate(self.cine_rate * 1.5), "]")
        self._action(view, "Cine &slower", lambda: self.set_cine_rate(self.cine_rate / 1.5), "[")
        self.smooth_action = self._action(view, "&Smooth display (off: nearest neighbour)",
                                          lambda on: self.view.set_smooth(on), "S", True)
        self.reverse_action = self._action(view, "&Reverse slice order (head first for axial stacks)",
                                           self.set_reversed_order, None, True)
        self.reverse_action.setChecked(self.settings.value("display/reversed", False, type=bool))
        self.set_reversed_order(self.reverse_action.isChecked())
        layouts = view.addMenu("La&yout")
        self.layout_actions = {}
        layout_group = QActionGroup(self)
        for name, text, key in (("single", "&Single view", None), ("1x3", "&MPR: axial, coronal, sagittal (1×3)", "M"),
                                ("2x2", "MPR 2×2 (with the &acquired slice)", None)):
            action = self._action(layouts, text, lambda _on=False, n=name: self.set_layout(n), key, True)
            layout_group.addAction(action)
            self.layout_actions[name] = action
        self.layout_actions["single"].setChecked(True)
        view.addSeparator()
        for dock in (self.browser_dock, self.inference_dock, self.tags_dock, self.skipped_dock, self.warnings_dock):
            if dock is None:
                continue
            view.addAction(dock.toggleViewAction())
        self._build_measure_menu(bar)
        self.window_menu = bar.addMenu("&Window")
        self.window_menu.aboutToShow.connect(self._fill_window_menu)

    def _build_measure_menu(self, bar) -> None:
        measure = bar.addMenu("&Measure")
        self.tool_group = QActionGroup(self)
        self.tool_actions: dict[str | None, QAction] = {}
        for tool, text, key in ((None, "&Navigate", "Esc"), ("length", "&Length", "L"), ("angle", "&Angle", "A"),
                                ("ellipse", "&Ellipse ROI", "E"), ("rectangle", "Rectangle RO&I", "B"),
                                ("arrow", "A&rrow", "W"), ("text", "&Text", "T"),
                                ("bidimensional", "&Bidimensional (long and short axis)", "D")):
            action = self._action(measure, text, lambda _on=False, t=tool: self.set_tool(t), key, True)
            self.tool_group.addAction(action)
            self.tool_actions[tool] = action
        self.tool_actions[None].setChecked(True)
        measure.addSeparator()
        self._action(measure, "&Delete selected", self.delete_selected, "Del")
        self._action(measure, "&Undo", self.layer.undo, "Ctrl+Z")
        self._action(measure, "&Redo", self.layer.redo, "Ctrl+Shift+Z")
        self._action(measure, "Mark &key image", self.toggle_key_image, "K")
        self._action(measure, "&Clear this series' measurements, answers and key images", self.clear_series)
        self._action(measure, "Clear click &marks", self.clear_marks)
        measure.addSeparator()
        self._action(measure, "&Report…", self.open_report, "Ctrl+R")

    def set_reversed_order(self, reversed_order: bool) -> None:
        """The display-order preference: which slice Home shows and which way the wheel and the slider go.
        Never a number: slice k + 1 and its InstanceNumber stay with the image."""
        self.view.reversed_order = bool(reversed_order)
        self.slider.setInvertedAppearance(not reversed_order)
        self.settings.setValue("display/reversed", bool(reversed_order))

    def set_tool(self, tool: str | None) -> None:
        """A measuring tool takes the clicks on the image (click-to-classify is switched off meanwhile)."""
        self.layer.set_tool(tool)
        self.mpr.set_tool(tool)
        self.tool_actions[tool].setChecked(True)
        if tool is not None and self.inference is not None:
            self.inference.click_mode.setChecked(False)
        hint = {None: "", "angle": "click arm, vertex, arm", "text": "click where the text goes",
                "bidimensional": "click the long axis' ends, then across it (made perpendicular)"}.get(
            tool, "click the two ends" if tool in ("length", "arrow") else "click two opposite corners")
        if hint:
            self.statusBar().showMessage(f"{self.tool_actions[tool].text().replace('&', '')}: {hint}", 5000)

    def set_layout(self, name: str, crosshair=None) -> None:
        """'single' (the slice view), '1x3' or 'mpr' (axial, coronal, sagittal) or '2x2' (and the acquired
        slice). The reformats need every slice: until the volume has loaded the MPR views wait for it."""
        name = "1x3" if name == "mpr" else name
        if name not in ("single", "1x3", "2x2"):
            raise ValueError(f"no such layout {name!r}")
        self.layout_name = name
        self.layout_actions[name].setChecked(True)
        if crosshair is not None:
            self.wanted_crosshair = crosshair
        if name == "single":
            k = self._crosshair_slice()
            self.mpr.cancel()
            self.layouts.setCurrentIndex(0)
            if k is not None:
                self.view.set_slice(k)  # back where the crosshair was
            self.layer.redraw(force=True)
            return
        self.mpr.set_grid(name)
        self.layouts.setCurrentIndex(1)
        self._show_mpr()

    def _show_mpr(self) -> None:
        """The loaded volume in the MPR views (when that layout is on), at the wanted crosshair or the centre."""
        if self.layout_name == "single":
            return
        series = self.shown
        if series is None or series.volume is None:
            self.mpr.clear()
            self.statusBar().showMessage("MPR: waiting for every slice to load", 3000)
            return
        if self.mpr.volume is series.volume and self.wanted_crosshair is None:
            if self.view.window is not None:
                self.mpr.set_window(self.view.window, self.view.inverted)  # changed in the single view meanwhile
            return
        point, self.wanted_crosshair = self.wanted_crosshair, None
        try:
            self.mpr.set_volume(series.volume, series.key, self.view.window, point, self.view.inverted)
            self.mpr.set_time(self.view.t)
        except ValueError as error:
            self._error(MedviewError(str(error)))

    def delete_selected(self) -> None:
        """Delete the selected annotation of the single view, or of the MPR views when they are shown."""
        if self.layout_name == "single":
            self.layer.delete_selected()
            return
        for layer in self.mpr.layers.values():
            layer.delete_selected()

    def _crosshair_slice(self) -> int | None:
        """The acquired slice nearest the MPR crosshair (what K marks and the single view shows after MPR)."""
        volume, point = self.mpr.volume, self.mpr.point
        if volume is None or point is None or self.shown is None or volume is not self.shown.volume:
            return None
        return int(min(max(round(float(volume.lps_to_voxel(point)[0])), 0), volume.n_slices - 1))

    def toggle_key_image(self) -> None:
        if self.shown is None:
            return
        if self.layout_name != "single" and self._crosshair_slice() is not None:
            self.view.set_slice(self._crosshair_slice())  # key images are acquired slices: the one at the crosshair
        marked = self.layer.toggle_key_image()
        where = slice_text(self.view.k, self.shown.n_slices, self.shown.spec.instance_number(self.view.k))
        self.statusBar().showMessage(f"{where} {'marked as' if marked else 'is no longer'} a key image", 4000)

    # -- the session on disk ---------------------------------------------------------------------------------
    def save_soon(self) -> None:
        self.save_timer.start()

    def _studies(self) -> list[str]:
        return list(dict.fromkeys(spec.info.study_instance_uid for spec in self.catalog.volumes)) \
            if self.catalog is not None else []

    def save_session(self, wait: bool = False) -> None:
        """Save the open folder's studies in the user's data folder, in a worker (or now, on closing)."""
        self.save_timer.stop()
        studies = self._studies()
        if not studies:
            return
        snapshot = self.session.snapshot()
        if wait:
            try:
                for study in studies:
                    save_study(snapshot, study)
            except MedviewError as error:
                self._error(error)
            return
        self.save_job = Job(save_job, snapshot, studies, owner=self, on_error=self._error).start()

    def close_study(self) -> None:
        """Save the open folder's studies, then put them away: the window is empty until the next folder."""
        self.cancel_loading()
        if self.inference is not None:
            self.inference.forget()
        self.save_session()
        for study in self._studies():
            self.session.forget_study(study)
        self.catalog, self.shown, self.folder = None, None, None
        self.browser.clear()
        self.view.clear()
        self.mpr.clear()
        self.layer.redraw(force=True)
        if self.inference is not None:
            self.inference.show_here()
            self.inference.draw_series_run()
        self.statusBar().showMessage("study closed; its session is saved", 5000)

    def clear_marks(self) -> None:
        """The crosses of the clicks to classify go; the answers stay."""
        self.session.clear_marks()
        self.view.draw_marks()

    def clear_series(self) -> None:
        """"Clear": what was added to the series shown goes (Ctrl+Z brings the reader's edits back)."""
        if self.shown is None:
            return
        self.session.clear(self.shown.key)
        self.layer.redraw(force=True)
        self.mpr.redraw_annotations()
        self.view.draw_marks()
        if self.inference is not None:
            self.inference.show_here()
            self.inference.draw_series_run()
        self.save_soon()

    def _annotations_changed(self) -> None:
        values = [", ".join(str(v) for v in self.layer.values(a)) for a in self.layer.on_slice()]
        if values and values[-1]:
            self.statusBar().showMessage(values[-1], 8000)

    def open_report(self):
        """The report dialog for the series on screen."""
        from medview.gui.report_dialog import ReportDialog

        if self.shown is None:
            return None
        self.report_dialog = ReportDialog(self)
        self.report_dialog.show()
        return self.report_dialog

    def _fill_window_menu(self) -> None:
        self.window_menu.clear()
        self.view.ensure_window()
        for index, preset in enumerate(self.view.presets[:9]):
            action = self.window_menu.addAction(f"{index + 1}  {preset.name}  ({preset})")
            action.triggered.connect(lambda _=False, i=index: self.view.apply_preset(i))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.recent_folders():
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self.open_path(f))

    def recent_folders(self) -> list[str]:
        value = self.settings.value("recent_folders", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember(self, folder: str) -> None:
        folders = [folder] + [f for f in self.recent_folders() if f != folder]
        self.settings.setValue("recent_folders", folders[:RECENT_LIMIT])
        self._fill_recent()

    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event):  # noqa: N802 - Qt name
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.cancel_loading()
        self.save_session(wait=True)
        super().closeEvent(event)

    # -- opening -------------------------------------------------------------------------------------------
    def ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a DICOM folder", self.folder or str(Path.home()))
        if folder:
            self.open_path(folder)

    def dragEnterEvent(self, event):  # noqa: N802 - Qt name
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802 - Qt name
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.open_path(paths[0])
            event.acceptProposedAction()

    def open_path(self, path: str, series: str | int | None = None, k: int | None = None,
                  window: Window | None = None) -> None:
        """Scan a folder in a worker; then show `series` (default the first volume) at slice k."""
        self.cancel_loading()
        if self.save_timer.isActive():
            self.save_session()
        self.folder = str(path)
        self.wanted_series, self.wanted_slice, self.wanted_window = series, k, window
        self.statusBar().showMessage(f"Scanning {path}…")
        self.scan_ticket += 1
        self._start("scan", scan_job, str(path), self.scan_ticket, self.relay, on_yield=self._scan_yielded,
                    total=0)

    def _start(self, name: str, function, *args, total: int, **callbacks) -> None:
        """Run a job under a name (one per name: the previous one is cancelled) with the progress bar."""
        if name in self.jobs:
            self.jobs.pop(name).cancel()
        self._busy(True, total)
        job = Job(function, *args, owner=self, on_error=self._error,
                  on_finished=lambda: self._job_finished(name, job), **callbacks)
        self.jobs[name] = job.start()

    def _job_finished(self, name: str, job: Job) -> None:
        """A job ended: hide the progress bar, unless it was replaced by a job that is still running."""
        if self.jobs.get(name) is job:
            del self.jobs[name]
        if not any(n in self.jobs for n in ("scan", "load")):
            self._busy(False)

    def _scan_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(done)

    def _scan_yielded(self, item) -> None:
        ticket, kind, *rest = item
        if ticket != self.scan_ticket:
            return  # from a scan the user replaced
        if kind == "catalog":
            self._show_catalog(*rest)
        elif kind == "thumbnail":
            self.browser.set_thumbnail(*rest)
        elif kind == "session":
            self._restore_session(*rest)
        elif kind == "problem":
            self._error(MedviewError(rest[0]))

    def _restore_session(self, saved: dict) -> None:
        """A study's saved session, put back unless this session already holds work on it."""
        if self.session.holds_study(saved.get("study_instance_uid", "")):
            return
        try:
            restored = restore_study(self.session, saved)
        except MedviewError as error:
            self._error(error)
            return
        self.layer.redraw(force=True)
        self.mpr.redraw_annotations()
        self.view.draw_marks()
        if self.inference is not None:
            self.inference.show_here()
        self.statusBar().showMessage(f"{restored} image{'s' if restored != 1 else ''} of the saved session "
                                     "restored", 5000)
        self.session_restored.emit(restored)

    def _show_catalog(self, catalog: Catalog) -> None:
        """A folder's volumes in the browser. The session keeps what was drawn: it is filed by image, so
        the same study opened again shows it again, and another folder's images have none of it."""
        self.catalog = catalog
        self.shown = None
        for spec in catalog.volumes:
            self.session.studies[SeriesKey(spec.info.series_instance_uid, spec.info.part)] = \
                spec.info.study_instance_uid
        self.layer.redraw(force=True)
        self.browser.show_catalog(catalog)
        self.skipped.show_skipped(catalog.skipped)
        self.skipped_dock.setVisible(bool(catalog.skipped))
        self.skipped_dock.setWindowTitle(f"Skipped files ({len(catalog.skipped)})")
        self._remember(self.folder)
        self.catalog_ready.emit(catalog)
        if not catalog.volumes:
            self._error(MedviewError(f"no image could be loaded from {self.folder} "
                                     f"({len(catalog.skipped)} files skipped)"))
            return
        try:
            spec = catalog.find(self.wanted_series)
        except MedviewError as error:
            self._error(error)
            return
        index = catalog.volumes.index(spec)
        self.statusBar().showMessage(f"{count(catalog.n_files, 'file')}, {count(len(catalog.volumes), 'volume')}",
                                     5000)
        self.browser.select(index)  # → show_volume

    def show_volume(self, index: int) -> None:
        """Show a volume of the catalog; decode it in a worker, its slices drawn as they land."""
        if self.catalog is None or not 0 <= index < len(self.catalog.volumes):
            return
        current = self.shown
        if current is not None and current.spec is self.catalog.volumes[index]:
            if not current.loaded and "load" not in self.jobs:  # cancelled halfway: load the rest
                self._start("load", load_job, current, self.view.k, on_yield=self._slice_landed,
                            on_done=self._volume_loaded, total=current.n_slices * current.time_points)
            return
        self.cine.stop()
        self.cine_action.setChecked(False)
        self.mpr.clear()
        series = ShownSeries(self.catalog.volumes[index], index)
        self.shown = series
        k = self.wanted_slice if self.wanted_slice is not None else series.n_slices // 2
        self.wanted_slice = None
        self.slider.blockSignals(True)
        self.slider.setRange(0, series.n_slices - 1)
        self.slider.setValue(min(max(k, 0), series.n_slices - 1))
        self.slider.blockSignals(False)
        four_d = series.time_points > 1
        self.time_slider.setVisible(four_d)
        self.time_label.setVisible(four_d)
        self.time_slider.setRange(0, series.time_points - 1)
        self.time_slider.setValue(0)
        self.view.set_series(series, k, self.wanted_window)
        self.wanted_window = None
        self._show_warnings(series.spec.warnings)
        self.layer.redraw(force=True)
        if self.inference is not None:
            self.inference.order_models()  # the models read at start, ordered for this series: no disk here
            self.inference.forget()  # jobs of the series left are cancelled; this series' results drawn
        self._start("load", load_job, series, self.view.k, on_yield=self._slice_landed,
                    on_done=self._volume_loaded, total=series.n_slices * series.time_points)

    def _slice_landed(self, item) -> None:
        series, t, k, pixels = item
        if series is not self.shown or series.loaded:
            return  # a slice of a series the user left (sent before its load was cancelled)
        series.land(t, k, pixels)
        self.progress.setValue(series.n_landed)
        if (t, k) == (self.view.t, self.view.k) and self.view.series is series:
            first = series.sample_values() is not None and self.view.window is None
            self.view.refresh()
            self.layer.redraw(force=True)  # ROI values need the pixels that just landed
            if first or self.progress.value() == 1:
                self.series_shown.emit(series.index)

    def _volume_loaded(self, result) -> None:
        series, volume = result
        if series is not self.shown:
            return  # the user moved on: this volume is not the one on screen
        series.complete(volume)
        self.view.refresh()
        self.layer.redraw(force=True)
        self._show_warnings(volume.warnings)
        if volume.warnings:
            self.statusBar().showMessage("; ".join(volume.warnings) + " (View > Warnings)", 10000)
        self.series_loaded.emit(series.index)

    def _show_warnings(self, warnings) -> None:
        self.warnings.show_warnings(warnings)
        self.warnings_dock.setWindowTitle(f"Warnings ({len(warnings)})" if warnings else "Warnings")

    def cancel_loading(self) -> None:
        for job in self.jobs.values():
            job.cancel()
        self.jobs.clear()
        self._busy(False)

    def _busy(self, busy: bool, total: int = 0) -> None:
        if busy:
            self.progress.setMaximum(max(1, total))
            self.progress.setValue(0)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)

    def _error(self, error: BaseException) -> None:
        message = str(error) if isinstance(error, MedviewError) else f"{type(error).__name__}: {error}"
        self.statusBar().showMessage(message, 15000)
        self.failed.emit(message)

    # -- slices, time, cine, tags --------------------------------------------------------------------------
    def _slice_changed(self, k: int) -> None:
        if self.slider.value() != k and not self.slider_timer.isActive():
            self.slider_timer.start()
        if self.tags_dock.isVisible():
            self.tag_timer.start()

    def _sync_slider(self) -> None:
        """Put the slider at the slice shown now (read when the timer fires: the latest step wins)."""
        if self.slider.value() != self.view.k:
            self.slider.blockSignals(True)
            self.slider.setValue(self.view.k)
            self.slider.blockSignals(False)

    def _time_changed(self, t: int) -> None:
        self.view.set_time(t)
        self.mpr.set_time(t)
        if self.shown is not None and self.shown.spec.time_labels:
            self.time_label.setText(self.shown.spec.time_labels[t])

    def _toggle_cine(self, on: bool) -> None:
        if on:
            self.cine.start()
        else:
            self.cine.stop()

    def set_cine_rate(self, rate: float) -> None:
        """Cine speed in slices per second (1 to 60)."""
        self.cine_rate = float(min(60.0, max(1.0, rate)))
        self.cine.setInterval(round(1000 / self.cine_rate))
        self.statusBar().showMessage(f"cine {self.cine_rate:.1f} slices per second", 3000)

    def _cine_step(self) -> None:
        if self.shown is not None:
            self.view.set_slice((self.view.k + 1) % self.shown.n_slices)

    def _load_tags(self) -> None:
        series = self.shown
        if series is None:
            return
        header = series.header_of(self.view.k, self.view.t)
        source = self.view.here()
        if "tags" in self.jobs:
            self.jobs.pop("tags").cancel()
        self.jobs["tags"] = Job(tags_job, source, header.path, header.frame, owner=self, on_done=self._tags_read,
                                on_error=self._error).start()

    def _tags_read(self, result) -> None:
        source, rows = result
        if self.shown is not None and source == self.view.here():
            self.tags.show_tags(source, rows)
