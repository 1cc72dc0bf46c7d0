"""The PACS dock: the nodes (kept in the settings, never a credential), a C-ECHO / ping test, a study search, and
the retrieve into the local cache, in a worker, with progress per series and Cancel. The first image that
arrives is shown at once, alone; its series replaces it as soon as it is complete while the rest arrives, and
the whole study replaces that at the end (same series and slice). A retrieve never takes the screen from a
folder the user opened meanwhile. A study already complete in the cache opens without the network, and
"Forget" removes it from the cache.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medview.errors import MedviewError
from medview.gui.workers import Job

NODES_KEY = "pacs/nodes"
MODALITIES = ("", "CT", "MR", "CR", "DX", "US", "PT", "NM", "XA", "MG", "SR", "OT")
NOT_IMAGES = ("SR", "KO", "PR", "SEG", "RTSTRUCT", "RTPLAN", "RTDOSE", "DOC", "REG", "FID")
HERE = 3  # the results' column that says what is in the cache, and the progress of a series arriving
METHODS = {"dimse": ("C-GET", "C-MOVE"), "web": ("WADO-RS",)}


# -- nodes in the settings --------------------------------------------------------------------------------------
def read_nodes(settings) -> list[dict]:
    """The configured nodes: [{"name", "kind": "dimse"|"web", host, port, aet, calling_aet, scp_port | url}]."""
    try:
        nodes = json.loads(str(settings.value(NODES_KEY, "[]") or "[]"))
    except ValueError:
        return []
    return [n for n in nodes if isinstance(n, dict) and n.get("name") and n.get("kind") in METHODS]


def write_nodes(settings, nodes: list[dict]) -> None:
    settings.setValue(NODES_KEY, json.dumps(nodes))


def checked_node(node: dict):
    """The node's `DimseNode` / `WebNode`, checked (a MedviewError says what is wrong)."""
    from medview.pacs.nodes import DimseNode, WebNode

    if node.get("kind") == "web":
        return WebNode.checked(node.get("url", ""))
    return DimseNode.checked(node.get("host", ""), node.get("port", ""), node.get("aet", ""),
                             node.get("calling_aet") or "MEDVIEW", node.get("scp_port") or 11113,
                             float(node.get("timeout") or 10))


def client_of(node: dict):
    """The client for a node (in a worker: a DICOMweb node reads the keyring)."""
    from medview.pacs.nodes import WebNode

    checked = checked_node(node)
    if isinstance(checked, WebNode):
        from medview.pacs.dicomweb import WebClient

        return WebClient(checked)
    from medview.pacs.dimse import DimseClient

    return DimseClient(checked)


class NodeDialog(QDialog):
    """Add or change a node: a DIMSE node (AE title, host, port) or a DICOMweb base URL."""

    def __init__(self, parent=None, node: dict | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("PACS node")
        node = dict(node or {"kind": "dimse", "calling_aet": "MEDVIEW", "scp_port": 11113})
        self.name = QLineEdit(node.get("name", ""), self)
        self.kind = QComboBox(self)
        self.kind.addItem("DIMSE (C-FIND, C-GET, C-MOVE, C-STORE)", "dimse")
        self.kind.addItem("DICOMweb (QIDO-RS, WADO-RS, STOW-RS)", "web")
        self.kind.setCurrentIndex(0 if node.get("kind") != "web" else 1)
        self.host = QLineEdit(node.get("host", ""), self)
        self.port = QLineEdit(str(node.get("port", "")), self)
        self.aet = QLineEdit(node.get("aet", ""), self)
        self.calling_aet = QLineEdit(node.get("calling_aet", "MEDVIEW"), self)
        self.scp_port = QLineEdit(str(node.get("scp_port", 11113)), self)
        self.url = QLineEdit(node.get("url", ""), self)
        self.url.setPlaceholderText("https://pacs.example.org/dicom-web")
        self.problem = QLabel("", self)
        self.problem.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow("Protocol", self.kind)
        form.addRow("Host", self.host)
        form.addRow("Port", self.port)
        form.addRow("PACS AE title", self.aet)
        form.addRow("medview's AE title", self.calling_aet)
        form.addRow("medview's storage port (C-MOVE)", self.scp_port)
        form.addRow("DICOMweb URL", self.url)
        form.addRow(QLabel("DICOMweb credentials come from MEDVIEW_DICOMWEB_TOKEN, MEDVIEW_DICOMWEB_USER / "
                           "MEDVIEW_DICOMWEB_PASSWORD or the keyring (service medview-dicomweb); medview never "
                           "stores them.", self))
        form.addRow(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    def _kind_changed(self) -> None:
        web = self.kind.currentData() == "web"
        for field in (self.host, self.port, self.aet, self.calling_aet, self.scp_port):
            field.setEnabled(not web)
        self.url.setEnabled(web)

    def node(self) -> dict:
        if self.kind.currentData() == "web":
            return {"name": self.name.text().strip(), "kind": "web", "url": self.url.text().strip()}
        return {"name": self.name.text().strip(), "kind": "dimse", "host": self.host.text().strip(),
                "port": self.port.text().strip(), "aet": self.aet.text().strip(),
                "calling_aet": self.calling_aet.text().strip() or "MEDVIEW",
                "scp_port": self.scp_port.text().strip() or "11113"}

    def _accept(self) -> None:
        node = self.node()
        try:
            if not node["name"]:
                raise MedviewError("give the node a name")
            checked_node(node)
        except MedviewError as error:
            self.problem.setText(f"<span style='color:#c03000'>{error}</span>")
            return
        self.accept()


# -- worker jobs (plain data in, plain data out) ---------------------------------------------------------------
def echo_job(node: dict, token):
    yield None
    with client_of(node) as client:
        return str(client.node), client.echo()


def find_job(node: dict, query, token):
    yield None
    with client_of(node) as client:
        return client.find(query)


def retrieve_job(node: dict, study_uid: str, series_uids, method: str, limit_bytes: int, opened, token):
    """Yields the retrieve's events (SeriesStarted, InstanceArrived, SeriesResult); returns its StudyResult."""
    from medview.pacs.cache import Cache
    from medview.pacs.retrieve import retrieve_study

    cache = Cache(limit_bytes=limit_bytes)
    cache.check_outside(opened)
    yield ("cache", cache.root)
    return (yield from retrieve_study(client_of(node), study_uid, cache, series_uids or None, token=token,
                                      method="move" if method == "C-MOVE" else "get"))


def cached_job(limit_bytes: int, token):
    from medview.pacs.cache import Cache

    yield None
    return Cache(limit_bytes=limit_bytes).studies()


def touch_job(study_uid: str, token):
    from medview.pacs.cache import Cache

    yield None
    Cache().touch(study_uid)


def forget_job(study_uid: str, token):
    from medview.pacs.cache import Cache

    yield None
    Cache().forget(study_uid)
    return study_uid


class PacsDock(QWidget):
    """Search a PACS and bring studies into the cache; open cached studies in the viewer."""

    searched = Signal(int)          # studies found
    echoed = Signal(str)            # the echo's line
    series_arrived = Signal(str, int, int, bool)   # series UID, received, expected, complete
    retrieved = Signal(object)      # the StudyResult
    failed = Signal(str)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.settings = window.settings
        self.jobs: dict[str, Job] = {}
        self.studies: dict[str, object] = {}
        self.opened_first: set[str] = set()
        self.retrieving: str | None = None

        self.node_box = QComboBox(self)
        self.add_button = QPushButton("Add…", self)
        self.edit_button = QPushButton("Edit…", self)
        self.remove_button = QPushButton("Remove", self)
        self.echo_button = QPushButton("Echo", self)
        self.patient_name = QLineEdit(self)
        self.patient_name.setPlaceholderText("Patient name (DOE^J*)")
        self.patient_id = QLineEdit(self)
        self.patient_id.setPlaceholderText("Patient ID")
        self.accession = QLineEdit(self)
        self.accession.setPlaceholderText("Accession number")
        self.modality = QComboBox(self)
        self.modality.addItems([m or "any modality" for m in MODALITIES])
        self.date_from = QLineEdit(self)
        self.date_from.setPlaceholderText("from YYYY-MM-DD")
        self.date_to = QLineEdit(self)
        self.date_to.setPlaceholderText("to YYYY-MM-DD")
        self.search_button = QPushButton("Search", self)
        self.results = QTreeWidget(self)
        self.results.setHeaderLabels(["Patient / series", "Modality", "Images", "Here", "Date", "ID"])
        for column, width in enumerate((190, 60, 50, 80, 70)):
            self.results.setColumnWidth(column, width)
        self.method = QComboBox(self)
        self.retrieve_button = QPushButton("Retrieve", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar(self)
        self.progress.setFormat("%v / %m")
        self.cached = QTreeWidget(self)
        self.cached.setHeaderLabels(["Cached study", "Date", "Series", "MB", "State"])
        self.open_button = QPushButton("Open", self)
        self.forget_button = QPushButton("Forget this study", self)
        self.limit = QDoubleSpinBox(self)
        self.limit.setRange(0.1, 10000)
        self.limit.setDecimals(1)
        self.limit.setSuffix(" GB")
        self.limit.setValue(float(self.settings.value("pacs/cache_gb", 20.0)))
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        nodes_row = QHBoxLayout()
        for widget in (self.node_box, self.add_button, self.edit_button, self.remove_button, self.echo_button):
            nodes_row.addWidget(widget, 1 if widget is self.node_box else 0)
        layout.addLayout(nodes_row)
        grid = QGridLayout()
        grid.addWidget(self.patient_name, 0, 0)
        grid.addWidget(self.patient_id, 0, 1)
        grid.addWidget(self.accession, 1, 0)
        grid.addWidget(self.modality, 1, 1)
        grid.addWidget(self.date_from, 2, 0)
        grid.addWidget(self.date_to, 2, 1)
        layout.addLayout(grid)
        layout.addWidget(self.search_button)
        layout.addWidget(self.results, 2)
        retrieve_row = QHBoxLayout()
        retrieve_row.addWidget(self.method)
        retrieve_row.addWidget(self.retrieve_button)
        retrieve_row.addWidget(self.cancel_button)
        layout.addLayout(retrieve_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.cached, 1)
        cache_row = QHBoxLayout()
        cache_row.addWidget(self.open_button)
        cache_row.addWidget(self.forget_button)
        cache_row.addStretch(1)
        cache_row.addWidget(QLabel("cache limit", self))
        cache_row.addWidget(self.limit)
        layout.addLayout(cache_row)
        layout.addWidget(self.status)

        self.add_button.clicked.connect(lambda: self.edit_node(new=True))
        self.edit_button.clicked.connect(lambda: self.edit_node(new=False))
        self.remove_button.clicked.connect(self.remove_node)
        self.echo_button.clicked.connect(self.echo)
        self.node_box.currentIndexChanged.connect(self._node_changed)
        self.search_button.clicked.connect(self.search)
        for field in (self.patient_name, self.patient_id, self.accession, self.date_from, self.date_to):
            field.returnPressed.connect(self.search)
        self.retrieve_button.clicked.connect(self.retrieve)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self.open_cached)
        self.cached.itemDoubleClicked.connect(lambda *_: self.open_cached())
        self.forget_button.clicked.connect(self.forget)
        self.limit.valueChanged.connect(lambda value: self.settings.setValue("pacs/cache_gb", float(value)))
        self.results.itemDoubleClicked.connect(lambda *_: self.retrieve())
        self.fill_nodes()
        self.cache_list: list = []  # read when the dock is first shown (no worker for a window that never shows it)

    # -- nodes ------------------------------------------------------------------------------------------------
    def fill_nodes(self, chosen: str | None = None) -> None:
        self.node_box.blockSignals(True)
        self.node_box.clear()
        for node in read_nodes(self.settings):
            self.node_box.addItem(node["name"], node)
        if chosen is not None:
            self.node_box.setCurrentIndex(max(0, self.node_box.findText(chosen)))
        self.node_box.blockSignals(False)
        self._node_changed()

    def node(self) -> dict | None:
        return self.node_box.currentData()

    def _node_changed(self) -> None:
        node = self.node()
        self.method.clear()
        self.method.addItems(list(METHODS[node["kind"]]) if node else [])
        for button in (self.edit_button, self.remove_button, self.echo_button, self.search_button):
            button.setEnabled(node is not None)

    def add_node(self, node: dict) -> None:
        """Add (or replace, by name) a node in the settings and choose it."""
        nodes = [n for n in read_nodes(self.settings) if n["name"] != node["name"]] + [node]
        write_nodes(self.settings, nodes)
        self.fill_nodes(node["name"])

    def edit_node(self, new: bool) -> None:
        old = None if new else self.node()
        dialog = NodeDialog(self, old)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        if old is not None and old["name"] != dialog.node()["name"]:
            write_nodes(self.settings, [n for n in read_nodes(self.settings) if n["name"] != old["name"]])
        self.add_node(dialog.node())

    def remove_node(self) -> None:
        node = self.node()
        if node is not None:
            write_nodes(self.settings, [n for n in read_nodes(self.settings) if n["name"] != node["name"]])
            self.fill_nodes()

    # -- jobs ----------------------------------------------------------------------------------------------------
    def _run(self, name: str, function, *args, **callbacks) -> Job:
        if name in self.jobs:
            self.jobs.pop(name).cancel()
        ended = callbacks.pop("on_finished", None)

        def finished() -> None:
            if self.jobs.get(name) is job:
                self.jobs.pop(name)
            if ended:
                ended()

        job = Job(function, *args, owner=self, on_error=self._failed, on_finished=finished, **callbacks)
        self.jobs[name] = job.start()
        return job

    def _say(self, text: str) -> None:
        self.status.setText(text)

    def _failed(self, error: BaseException) -> None:
        message = str(error) if isinstance(error, MedviewError) else f"{type(error).__name__}: {error}"
        self._say(f"<span style='color:#c03000'>{message}</span>")
        self._retrieve_ended()
        self.failed.emit(message)

    def echo(self) -> None:
        node = self.node()
        if node is None:
            return
        self._say(f"Echo {node['name']}…")
        self._run("echo", echo_job, node, on_done=self._echoed)

    def _echoed(self, result) -> None:
        where, milliseconds = result
        line = f"{where} answered in {milliseconds:.0f} ms"
        self._say(line)
        self.echoed.emit(line)

    # -- search ---------------------------------------------------------------------------------------------
    def query(self):
        from medview.pacs.query import StudyQuery, dicom_date

        return StudyQuery(patient_id=self.patient_id.text().strip(), patient_name=self.patient_name.text().strip(),
                          modality=MODALITIES[self.modality.currentIndex()],
                          date_from=dicom_date(self.date_from.text(), "from"),
                          date_to=dicom_date(self.date_to.text(), "to"), accession=self.accession.text().strip())

    def search(self) -> None:
        node = self.node()
        if node is None:
            return
        try:
            query = self.query()
        except MedviewError as error:
            self._failed(error)
            return
        self._say(f"Searching {node['name']}…")
        self._run("find", find_job, node, query, on_done=self._found)

    def _found(self, studies) -> None:
        cached = {s.study_uid: s for s in self.cache_list}
        self.results.clear()
        self.studies = {s.study_uid: s for s in studies}
        for study in studies:
            here = cached.get(study.study_uid)
            item = QTreeWidgetItem([study.patient_name or "(no name)", "/".join(study.modalities),
                                    str(sum(s.n_instances or 0 for s in study.series)),
                                    "in cache" if here and here.complete else ("partial" if here else ""),
                                    study.date, study.patient_id])
            item.setData(0, Qt.ItemDataRole.UserRole, (study.study_uid, None))
            item.setToolTip(0, f"{study.description}\naccession {study.accession or '-'}\n{study.study_uid}")
            for series in study.series:
                child = QTreeWidgetItem([f"{series.number if series.number is not None else '-'} "
                                         f"{series.description}", series.modality,
                                         str(series.n_instances if series.n_instances is not None else "?"), "",
                                         "", ""])
                child.setData(0, Qt.ItemDataRole.UserRole, (study.study_uid, series.series_uid))
                item.addChild(child)
            self.results.addTopLevelItem(item)
            item.setExpanded(True)
        if studies:
            self.results.setCurrentItem(self.results.topLevelItem(0))
        self._say(f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} found")
        self.searched.emit(len(studies))

    # -- retrieve -------------------------------------------------------------------------------------------
    def _chosen(self) -> tuple[str, list[str]] | None:
        item = self.results.currentItem()
        if item is None:
            return None
        study_uid, series_uid = item.data(0, Qt.ItemDataRole.UserRole)
        return study_uid, [series_uid] if series_uid else []

    def _series_item(self, series_uid: str) -> QTreeWidgetItem | None:
        for index in range(self.results.topLevelItemCount()):
            top = self.results.topLevelItem(index)
            for child in range(top.childCount()):
                item = top.child(child)
                if item.data(0, Qt.ItemDataRole.UserRole)[1] == series_uid:
                    return item
        return None

    def limit_bytes(self) -> int:
        return int(self.limit.value() * 1024**3)

    def retrieve(self) -> None:
        """Retrieve the chosen study (or series): from the cache when it is complete there, else from the node."""
        chosen, node = self._chosen(), self.node()
        if chosen is None or node is None or self.retrieving:
            return
        study_uid, series_uids = chosen
        here = next((s for s in self.cache_list if s.study_uid == study_uid), None)
        if here is not None and here.complete and not series_uids:
            self.open_study(here.folder, study_uid)
            self._say("opened from the cache (no network used)")
            return
        self.retrieving = study_uid
        self.opened_first.discard(study_uid)
        self.folder_at_start, self.ours, self.series_modality = self.window.folder, None, ""
        self.progress.setRange(0, 0)
        self.retrieve_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._say(f"Retrieving from {node['name']} by {self.method.currentText()}…")
        self.retrieve_job = self._run("retrieve", retrieve_job, node, study_uid, series_uids,
                                      self.method.currentText(), self.limit_bytes(), self.window.folder,
                                      on_yield=self._retrieve_event, on_done=self._retrieved,
                                      on_finished=self._retrieve_ended)

    def cancel(self) -> None:
        """Cancel the retrieve: the transfer stops at the next instance and says what arrived (a partial series)."""
        job = self.jobs.get("retrieve")
        if job is not None:
            job.token.cancel()  # not the worker's quit: the retrieve ends itself and reports what it has
            self._say("Cancelling…")

    def _retrieve_event(self, event) -> None:
        from medview.pacs.retrieve import InstanceArrived, SeriesResult, SeriesStarted

        if isinstance(event, tuple):
            self.cache_root = event[1]
        elif isinstance(event, SeriesStarted):
            self.series_modality = event.series.modality
            self.progress.setRange(0, max(1, event.expected))
            self.progress.setValue(event.already)
            self._mark(event.series.series_uid, f"{event.already}/{event.expected}")
            self._say(f"series {event.index + 1} of {event.n_series}: {event.series.description or ''}")
        elif isinstance(event, InstanceArrived):
            self.progress.setValue(event.done)
            self._mark(event.series_uid, f"{event.done}/{event.expected}")
            if self.ours is None and self.series_modality not in NOT_IMAGES and self._ours_on_screen():
                # the first image that arrives is shown at once, alone, while its series arrives
                self._show(str(event.arrived.path))
        elif isinstance(event, SeriesResult):
            self._mark(event.series_uid, "complete" if event.complete else f"partial {event.received}/{event.expected}")
            self.series_arrived.emit(event.series_uid, event.received, event.expected, event.complete)
            if event.complete and event.study_uid not in self.opened_first and self._ours_on_screen():
                # the first series opens whole now, the rest goes on arriving
                self.opened_first.add(event.study_uid)
                self._show(str(Path(event.folder) / event.series_uid))

    def _ours_on_screen(self) -> bool:
        """The viewer shows what it showed when the retrieve began, or what the retrieve opened: the user has
        not opened something else meanwhile (which a retrieve never takes away)."""
        return self.window.folder in (self.folder_at_start, self.ours)

    def _show(self, path: str) -> None:
        self.ours = path
        self.window.open_path(path)

    def _mark(self, series_uid: str, text: str) -> None:
        item = self._series_item(series_uid)
        if item is not None:
            item.setText(HERE, text)

    def _retrieved(self, result) -> None:
        lines = [s.summary() for s in result.series]
        state = "complete" if result.complete else "PARTIAL"
        self._say(f"{state}: " + "<br>".join(lines))
        self._retrieve_ended()
        self.retrieved.emit(result)
        if self.ours is not None and self.window.folder == self.ours and Path(self.ours).is_dir():
            # the viewer still shows the first series alone: show the whole study, at the same place
            shown = self.window.shown
            self.open_study(result.folder, result.study.study_uid,
                            series=shown.info.series_instance_uid if shown is not None else None,
                            k=self.window.view.k if shown is not None else None)
        elif self.ours is not None and self.window.folder == self.ours:
            # only the first image was shown (no series complete): show what arrived
            self.open_study(result.folder, result.study.study_uid)
        self.refresh_cache()

    def _retrieve_ended(self) -> None:
        self.retrieving = None
        self.progress.setRange(0, 1)
        self.retrieve_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    # -- the cache --------------------------------------------------------------------------------------------
    def refresh_cache(self) -> None:
        self._run("cached", cached_job, self.limit_bytes(), on_done=self._show_cache)

    def _show_cache(self, studies) -> None:
        self.cache_list = studies
        self.cached.clear()
        for study in sorted(studies, key=lambda s: s.last_used, reverse=True):
            partial = [s for s in study.series if not s.complete]
            state = "complete" if study.complete else f"partial ({len(partial)} series)"
            item = QTreeWidgetItem([f"{study.patient_name or '(no name)'} {study.patient_id}", study.date,
                                    str(len(study.series)), f"{study.size / 1024**2:.0f}", state])
            item.setData(0, Qt.ItemDataRole.UserRole, study.study_uid)
            item.setToolTip(4, "\n".join(f"{s.description}: {s.present}/{s.expected} {s.reason}" for s in partial))
            self.cached.addTopLevelItem(item)

    def _cached_choice(self):
        item = self.cached.currentItem()
        if item is None:
            return None
        uid = item.data(0, Qt.ItemDataRole.UserRole)
        return next((s for s in self.cache_list if s.study_uid == uid), None)

    def open_cached(self) -> None:
        study = self._cached_choice()
        if study is not None:
            self.open_study(study.folder, study.study_uid)

    def open_study(self, folder, study_uid: str, series=None, k=None) -> None:
        """Open a cached study in the viewer (no network); it becomes the last the size limit would forget."""
        self._run("touch", touch_job, study_uid)
        self.window.open_path(str(folder), series, k)

    def forget(self) -> None:
        study = self._cached_choice()
        if study is None:
            return
        if self.window.folder and Path(self.window.folder).is_relative_to(study.folder):
            self.window.close_study()
        self._run("forget", forget_job, study.study_uid, on_done=lambda _uid: self.refresh_cache())


def add_pacs_dock(window):
    """The PACS dock on the right of the main window, hidden until View → PACS."""
    from PySide6.QtWidgets import QDockWidget

    dock = QDockWidget("PACS", window)
    dock.setObjectName("PACS")
    window.pacs = PacsDock(window)
    dock.setWidget(window.pacs)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()
    dock.visibilityChanged.connect(lambda visible: visible and window.pacs.refresh_cache())
    for action in window.menuBar().actions():
        if action.text().replace("&", "") == "View" and action.menu() is not None:
            toggle = dock.toggleViewAction()
            toggle.setShortcut("Ctrl+Shift+P")
            action.menu().addAction(toggle)
    return dock
