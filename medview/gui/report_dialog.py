"""The report dialog: what the session found on the series on screen (AI findings, measurements, key images),
a free-text impression, and export to PDF, HTML and DICOM (SR + Secondary Capture), anonymised on request.

The Reading is gathered from the window's state on the GUI thread (plain data, no pixels decoded); drawing the
key images and writing the files run in a worker, so the viewer never waits on disk.
"""

from __future__ import annotations

import datetime as _dt
from html import escape
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
)

from medview.core.annotations import measure_annotation
from medview.core.reading import KeyImage, Measurement, Reading
from medview.core.session import ACQUIRED
from medview.core.window_level import Window
from medview.errors import MedviewError
from medview.gui.workers import Job
from medview.report.export import source_of
from medview.report.html import report_html


def export_job(reading: Reading, sources, targets, source_folder, token):
    from medview.report.export import export_report

    yield "exporting"
    notes: list[str] = []
    return export_report(reading, sources, targets, source_folder=source_folder, notes=notes), notes


def gather_reading(window, anonymised: bool = False, impression: str = "") -> tuple[Reading, dict]:
    """The Reading of the series on screen from the session: the answers the reader kept, the measurements
    and key images, each at the time point it was made on; and the source image of every slice it refers to."""
    series, view, session = window.shown, window.view, window.session
    if series is None or series.volume is None:
        raise MedviewError("the series is still loading: the report needs every slice")
    volume = series.volume
    reading = Reading.of(volume, anonymised=anonymised, impression=impression)
    kept = session.kept_answers(series.key)
    reading.findings = sorted((_with_fit(answer.finding, window, volume.info) for answer in kept),
                              key=lambda f: (f.t, f.k))
    refs = session.refs_of(series.key)
    for ref in refs:
        if ref.plane != ACQUIRED:
            reading.measurements.extend(_plane_measurements(volume, ref, session.on(ref)))
            continue
        for annotation in session.on(ref):
            values = measure_annotation(annotation, volume.slice(ref.k, ref.t), volume.pixel_spacing,
                                        volume.value_unit)
            reading.measurements.append(Measurement(ref.k, annotation, values, t=ref.t))
    # key images are acquired slices (K marks the single view's slice)
    keys = sorted((ref for ref in session.key_images if ref.series == series.key and ref.plane == ACQUIRED),
                  key=lambda r: (r.t, r.index)) or [view.here()]
    window_ = view.window or Window(255, 127.5, "colour: as stored")  # colour images have no window
    for ref in keys:
        on_image = [answer for answer in kept if answer.ref == ref]
        shown = next((a for a in reversed(on_image) if a.saliency is not None), None)
        reading.key_images.append(KeyImage(
            k=ref.k, t=ref.t, pixels=volume.slice(ref.k, ref.t), window=(window_.width, window_.level),
            annotations=tuple(session.on(ref)), marks=tuple(a.finding.point for a in on_image if a.finding.point),
            saliency=shown.saliency if shown else None, saliency_of=shown.describe() if shown else ""))
    times = {(item.k, item.t) for item in (*reading.findings, *reading.measurements, *reading.key_images)}
    sources = {k: source_of(series.spec, k, t) for k, t in sorted(times)}
    return reading, sources


def _plane_measurements(volume, ref, annotations) -> list[Measurement]:
    """Measurements drawn on a reformat: measured on the plane made again from its ref (in its mm, its values),
    with the plane in words, the points in patient space, and the acquired slice nearest to each."""
    from medview.core import planes
    from medview.core.reformat import reformat

    plane = planes.plane_of_ref(ref)
    pixels = reformat(volume, plane, ref.t) if any(a.kind in ("ellipse", "rectangle") for a in annotations) else None
    found = []
    for annotation in annotations:
        values = measure_annotation(annotation, pixels, plane.spacing, volume.value_unit)
        points = planes.annotation_lps(plane, annotation.kind, annotation.points)
        centre = np.mean(np.array(points), axis=0)
        k = int(np.clip(round(float(volume.lps_to_voxel(centre)[0])), 0, volume.n_slices - 1))
        found.append(Measurement(k, annotation, values, t=ref.t, plane=plane.describe(), points_lps=points))
    return found


def _with_fit(finding, window, info):
    """The finding with whether its model fits the series (as the panel says it)."""
    from dataclasses import replace

    from medview.ai.fit import check_fit

    card = next((c for c in getattr(window.inference, "cards", []) if c.weights_sha256 == finding.model_sha256),
                None)
    misfits = check_fit(card, info).reasons if card is not None else ()
    return replace(finding, fits=not misfits, does_not_fit=tuple(misfits))


class ReportDialog(QDialog):
    exported = Signal(list)  # the files written
    failed = Signal(str)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.setWindowTitle("Report — AI generated content is for research use only")
        self.resize(760, 820)
        self.job: Job | None = None
        self.preview = QTextBrowser(self)
        self.impression = QPlainTextEdit(self)
        self.impression.setPlaceholderText("Impression (free text)")
        self.impression.setMaximumHeight(110)
        self.anonymise = QCheckBox("Anonymise (remove the patient's identity from every output)", self)
        self.reader = QLineEdit(str(window.settings.value("report/reader", "") or ""), self)
        self.reader.setPlaceholderText("Reader's name (kept as a preference)")
        stem = self._default_stem()
        self.pdf_path = QLineEdit(str(stem.with_suffix(".pdf")), self)
        self.html_box = QCheckBox("HTML", self)
        self.html_box.setChecked(True)
        self.html_path = QLineEdit(str(stem.with_suffix(".html")), self)
        self.dicom_box = QCheckBox("DICOM SR + key images", self)
        self.dicom_box.setChecked(True)
        self.dicom_path = QLineEdit(str(stem.parent / (stem.name + "-dicom")), self)
        browse = QPushButton("Browse…", self)
        self.export_button = QPushButton("Export", self)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.progress.hide()
        self.status = QLabel("", self)
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.impression)
        layout.addWidget(self.anonymise)
        layout.addWidget(self.reader)
        grid = QGridLayout()
        grid.addWidget(QLabel("PDF", self), 0, 0)
        grid.addWidget(self.pdf_path, 0, 1)
        grid.addWidget(browse, 0, 2)
        grid.addWidget(self.html_box, 1, 0)
        grid.addWidget(self.html_path, 1, 1, 1, 2)
        grid.addWidget(self.dicom_box, 2, 0)
        grid.addWidget(self.dicom_path, 2, 1, 1, 2)
        layout.addLayout(grid)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.export_button)
        layout.addLayout(row)
        layout.addWidget(self.status)
        from medview.gui.pacs_send import add_send_row

        add_send_row(self)

        browse.clicked.connect(self._browse)
        self.export_button.clicked.connect(self.export)
        self.anonymise.toggled.connect(lambda _on: self.refresh())
        self.typing = QTimer(self)  # the preview follows the impression as it is typed
        self.typing.setSingleShot(True)
        self.typing.setInterval(250)
        self.typing.timeout.connect(self.refresh)
        self.impression.textChanged.connect(self.typing.start)
        self.refresh()

    def _default_stem(self) -> Path:
        series = self.window.shown
        name = f"medview-report-{_dt.datetime.now():%Y%m%d-%H%M%S}"
        if series is not None and series.info.series_number is not None:
            name += f"-series{series.info.series_number}"
        folder = str(self.window.settings.value("report/folder", "") or "")  # a preference
        return (Path(folder).expanduser() if folder else Path.home() / "medview-reports") / name

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save report", self.pdf_path.text(), "PDF (*.pdf)")
        if path:
            stem = Path(path).with_suffix("")
            self.pdf_path.setText(str(stem.with_suffix(".pdf")))
            self.html_path.setText(str(stem.with_suffix(".html")))
            self.dicom_path.setText(str(stem.parent / (stem.name + "-dicom")))

    def refresh(self) -> None:
        """The report as it will read (without the key images), in the dialog."""
        try:
            reading, _ = gather_reading(self.window, self.anonymise.isChecked(), self.impression.toPlainText())
        except MedviewError as error:
            self.preview.setHtml(f"<p>{error}</p>")
            self.export_button.setEnabled(False)
            return
        reading.reader = self.reader.text()
        self.export_button.setEnabled(True)
        self.preview.setHtml(report_html(reading, []))

    def export(self) -> None:
        from medview.report.export import Targets

        try:
            reading, sources = gather_reading(self.window, self.anonymise.isChecked(), self.impression.toPlainText())
        except MedviewError as error:
            self._failed(error)
            return
        reading.reader = self.reader.text().strip()
        self.window.settings.setValue("report/reader", reading.reader)
        targets = Targets(pdf=Path(self.pdf_path.text()) if self.pdf_path.text().strip() else None,
                          html=Path(self.html_path.text()) if self.html_box.isChecked() else None,
                          dicom_folder=Path(self.dicom_path.text()) if self.dicom_box.isChecked() else None)
        self.export_button.setEnabled(False)
        self.progress.show()
        self.status.setText("Exporting…")
        self.job = Job(export_job, reading, sources, targets, self.window.folder, owner=self, on_done=self._done,
                       on_error=self._failed, on_finished=self._finished).start()

    def _done(self, result) -> None:
        paths, notes = result
        warnings = "".join(f"<br><span style='color:#c03000'>Warning: {escape(note)}</span>" for note in notes)
        self.status.setText("Written:<br>" + "<br>".join(escape(str(p)) for p in paths) + warnings)
        self.exported.emit([Path(p) for p in paths])

    def _failed(self, error: BaseException) -> None:
        self.status.setText(f"<span style='color:#c03000'>{error}</span>")
        self.failed.emit(str(error))

    def _finished(self) -> None:
        self.progress.hide()
        self.export_button.setEnabled(True)
