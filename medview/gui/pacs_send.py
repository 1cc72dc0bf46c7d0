"""Send the report back to the PACS, from the report dialog: the report's DICOM SR and key images (Secondary
Capture) are made as for an export, into the user's outbox (never the folder the images came from), then sent
to the chosen node by C-STORE or STOW-RS; the PACS's answer is shown per instance (success, warning, failure).
What the PACS accepted leaves the outbox; what it refused stays there, named, so that nothing is lost.
"""

from __future__ import annotations

import datetime as _dt
from html import escape
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medview.errors import MedviewError
from medview.gui.pacs_dock import client_of, read_nodes
from medview.gui.workers import Job


def outbox_folder() -> Path:
    from medview.io.session_store import data_folder

    return data_folder() / "outbox" / _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")


def send_job(reading, sources, node: dict, folder: Path, source_folder, token):
    """Export the DICOM part of the report into `folder`, then send it; returns the StoreResults."""
    from medview.report.export import Targets, export_report

    yield "exporting"
    files = export_report(reading, sources, Targets(dicom_folder=folder), source_folder=source_folder)
    yield "sending"
    with client_of(node) as client:
        results = client.send([str(path) for path in files])
    empty_the_outbox(folder, results)
    return results


def empty_the_outbox(folder: Path, results) -> None:
    """Remove what the PACS accepted (success or warning); the folder goes when nothing is left in it."""
    for result in results:
        if result.outcome != "failure":
            Path(result.path).unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:  # something is left: a refused instance, kept to be sent again
        pass


class SendToPacs(QWidget):
    """A node, a Send button, and the PACS's answer per instance."""

    sent = Signal(list)  # the StoreResults
    failed = Signal(str)

    def __init__(self, dialog) -> None:
        super().__init__(dialog)
        self.dialog = dialog
        self.job: Job | None = None
        self.node_box = QComboBox(self)
        for node in read_nodes(dialog.window.settings):
            self.node_box.addItem(node["name"], node)
        self.send_button = QPushButton("Send SR + key images to PACS", self)
        self.send_button.setEnabled(self.node_box.count() > 0)
        self.status = QLabel("" if self.node_box.count() else "No PACS node: add one in the PACS dock.", self)
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["Instance", "Result", "PACS answer"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setMaximumHeight(120)
        self.table.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("PACS", self))
        row.addWidget(self.node_box, 1)
        row.addWidget(self.send_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row)
        column.addWidget(self.status)
        column.addWidget(self.table)
        self.send_button.clicked.connect(self.send)

    def send(self) -> None:
        from medview.gui.report_dialog import gather_reading

        node = self.node_box.currentData()
        if node is None:
            return
        dialog = self.dialog
        try:
            reading, sources = gather_reading(dialog.window, dialog.anonymise.isChecked(),
                                              dialog.impression.toPlainText())
        except MedviewError as error:
            self._failed(error)
            return
        reading.reader = dialog.reader.text().strip()
        self.send_button.setEnabled(False)
        self.status.setText(f"Sending to {node['name']}…")
        self.job = Job(send_job, reading, sources, node, outbox_folder(), dialog.window.folder, owner=self,
                       on_done=self._sent, on_error=self._failed,
                       on_finished=lambda: self.send_button.setEnabled(True)).start()

    def _sent(self, results) -> None:
        self.table.setRowCount(len(results))
        colours = {"success": "#207020", "warning": "#a06000", "failure": "#c03000"}
        for row, result in enumerate(results):
            self.table.setItem(row, 0, QTableWidgetItem(Path(result.path).name))
            outcome = QTableWidgetItem(result.outcome)
            outcome.setForeground(QColor(colours[result.outcome]))
            self.table.setItem(row, 1, outcome)
            self.table.setItem(row, 2, QTableWidgetItem(result.message))
        self.table.resizeColumnsToContents()
        self.table.show()
        counts = {k: sum(r.outcome == k for r in results) for k in ("success", "warning", "failure")}
        said = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "nothing sent"
        if counts["failure"]:
            said += f"; what was refused is kept in {Path(results[0].path).parent}"
        self.status.setText(escape(said))
        self.sent.emit(list(results))

    def _failed(self, error: BaseException) -> None:
        message = str(error) if isinstance(error, MedviewError) else f"{type(error).__name__}: {error}"
        self.status.setText(f"<span style='color:#c03000'>{escape(message)}</span>")
        self.send_button.setEnabled(True)
        self.failed.emit(message)


def add_send_row(dialog) -> SendToPacs:
    dialog.send_to_pacs = SendToPacs(dialog)
    dialog.layout().addWidget(dialog.send_to_pacs)
    return dialog.send_to_pacs
