"""The inference dock: pick a model, read its card, classify a slice, a clicked point or the whole series.

Every inference runs in the app's one worker abstraction; torch is imported and the model loaded in the worker
on first use, never at start-up. Each job carries the `ImageRef` (or, for a series run, the series) it was made
for; its result is stored in the window's `Session` under that ref and drawn only while that image is on
screen. The panel keeps no answers of its own: it draws the answers of the image shown, each with "Keep in
report". Every call into `medview.ai` is in the small job functions at the top of this module. Errors appear
in the panel and the viewer carries on.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSlider,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from medview.ai.detect import false_flag_words
from medview.ai.fit import Fit, check_fit
from medview.ai.manifest import DISCLAIMER, ModelCard
from medview.core.numbering import slice_text
from medview.core.session import SeriesRun, SliceFinding
from medview.gui.workers import Job


def classify_job(card: ModelCard, pixels: np.ndarray, spacing, point, modality: str, key: tuple, token):
    """Worker: load the model on first use (torch is imported here) and answer; returns (key, prediction),
    the key being what the job was made for (its ImageRef first). A point: the click's answer (none outside
    the body). No point: the slice answer, a detector's find-then-type (or a slice model's type)."""
    from medview.ai.torch_import import import_torch

    yield "loading model"
    import_torch()  # its libraries mapped without holding the GIL: the window keeps moving
    from medview.ai.infer import classifier_for

    classifier = classifier_for(card)
    if point is None and card.is_detector:
        return key, classifier.find(pixels, spacing, modality or None, saliency="gradcam")
    return key, classifier.classify(pixels, spacing, point, saliency="gradcam", modality=modality or None)


def nodule_job(card: ModelCard, slab: dict, z_mm: np.ndarray, normal: np.ndarray, spacing, k: int, point,
               modality: str, key: tuple, token):
    """Worker: a nodule model's click. `slab` holds the slices the card's slab needs ({j: pixels}), gathered
    on the GUI thread from what has landed; the input is made by the one mapping, as in training."""
    from medview.ai.torch_import import import_torch

    yield "loading model"
    import_torch()
    from medview.ai.infer import classifier_for
    from medview.core.geometry import nearest_plane

    return key, classifier_for(card).classify_nodule(slab.__getitem__, z_mm, spacing, k, point, modality or None,
                                                     saliency="gradcam", plane=nearest_plane(normal).name)


def slab_slices(card: ModelCard, series, k: int, t: int) -> tuple[dict | None, np.ndarray]:
    """The slices a nodule model's click on k may read ({j: pixels}, None while one has not landed: its widest
    section near k and the slab around it) and every slice's position along the normal."""
    from medview.ai.nodule_input import NoduleGeometry, slices_read

    z_mm = np.asarray(series.spec.positions, dtype=np.float64) @ np.asarray(series.spec.normal, dtype=np.float64)
    needed = slices_read(z_mm, k, NoduleGeometry.from_card(card.input).slab_mm)
    slab = {int(j): series.slice(int(j), t) for j in needed}
    return (None if any(v is None for v in slab.values()) else slab), z_mm


def series_job(card: ModelCard, series, t: int, token):
    """Worker: the detector over every slice at time point t, as `medview classify --all-slices`; yields one
    `SliceFinding` per slice."""
    from medview.ai.torch_import import import_torch

    import_torch()
    from medview.ai.detect import iter_series
    from medview.ai.infer import classifier_for

    yield from iter_series(classifier_for(card), series, t, cancelled=lambda: token.cancelled)
    return None if token.cancelled else series.key


def card_html(card: ModelCard, fit: Fit | None) -> str:
    raw = card.raw
    test = raw.get("metrics", {}).get("test", {})
    lines = [f"<b>{card.name}</b> {card.version} — {card.task} model"
             + (f", {card.patch_mm:g} mm patches" if card.patch_mm else ""),
             f"For {card.modality} {card.body_part}. Labels: {', '.join(card.labels)}.",
             f"<i>{card.intended_use}</i>"]
    if card.task == "nodule":
        lines += nodule_card_lines(card)
        test = {}
    if test:
        lines.append(f"Test patches ({test.get('n', '?')} of patients unseen in training): accuracy "
                     f"{test.get('accuracy')}, macro AUC {test.get('macro_auc')}, ECE {test.get('ece')}.")
    lines.append(f"Calibration: temperature {card.temperature:g} (fitted on validation).")
    if card.patch_threshold is not None and card.task != "nodule":
        lines.append(f"A click is flagged at P(tumour) ≥ {card.patch_threshold:.3f} "
                     f"({card.operating_point.get('chosen_on', 'validation')}).")
    if card.slice_threshold is not None:
        lines.append(f"A slice is flagged at P(tumour) ≥ {card.slice_threshold:.3f}: it "
                     f"{false_flag_words(card.slice_false_flag_rate)} (estimated on the tumour-free parts of tumour "
                     "slices).")
        slices = raw.get("metrics", {}).get("slices", {}).get("test", {})
        if slices:
            lines.append(f"Test slices: tumour found inside it on {slices.get('sensitivity_found_inside_tumour')} "
                         f"of tumour slices; type right at the tumour "
                         f"{slices.get('type_at_tumour', {}).get('accuracy')}.")
    for limit in raw.get("limitations", []):
        lines.append(f"Limit: {limit}")
    lines.append(f"weights sha256 {card.short_sha}… · {DISCLAIMER}")
    if fit is not None and (fit.reasons or fit.not_stated):
        colour = "#c03000" if fit.reasons else "#806000"
        lines.insert(0, f"<span style='color:{colour}'><b>{fit.summary()}</b></span>")
    return "<br>".join(lines)


def nodule_card_lines(card: ModelCard) -> list[str]:
    """What a nodule model's card says a reader needs: labels used, input, test figures beside the size
    baseline, the operating point, what it assumes."""
    raw = card.raw
    test = raw.get("metrics", {}).get("test", {})
    spec = card.input
    lines = [f"Labels: {raw.get('label_definition', {}).get('meaning', 'the dataset label')}.",
             f"Input: a {spec.get('slab_mm', 0):g} mm axial slab around the click, HU window "
             f"{spec.get('window_hu')}, {spec.get('mm_per_pixel')} mm grid, field of view "
             f"{2 * spec.get('field_of_view_radius_mm', 0):g} mm across.",
             f"<b>Assumes {raw.get('assumes', 'a nodule under the cursor')}.</b>"]
    if test:
        base = test.get("size_baseline", {})
        diff = test.get("model_minus_size_baseline", {})
        lines.append(f"Test ({test.get('n')} nodules of {test.get('patients')} unseen patients, centred clicks): "
                     f"AUC {test.get('auc')}, balanced accuracy {test.get('balanced_accuracy')}; size-only "
                     f"baseline AUC {base.get('auc')}, balanced accuracy {base.get('balanced_accuracy')}; AUC "
                     f"difference {diff.get('auc_difference')} (95 % CI {diff.get('ci95')}).")
        displaced = test.get("displaced_clicks", {})
        if displaced:
            lines.append(f"Displaced clicks: AUC {displaced.get('auc')}, balanced accuracy "
                         f"{displaced.get('balanced_accuracy')}. ECE {test.get('ece_before_calibration')} → "
                         f"{test.get('ece_after_calibration')} after temperature scaling.")
    if card.patch_threshold is not None:
        lines.append(f"Called malignant at P(malignant) ≥ {card.patch_threshold:.3f} "
                     f"({(card.operating_point or {}).get('chosen_on', 'validation')}).")
    return lines


class InferencePanel(QWidget):
    result_drawn = Signal(object)     # a Prediction drawn on the image it belongs to
    failed = Signal(str)              # a run that could not start or ended in an error
    series_finished = Signal(object)  # {k: P(tumour)} of a series run
    kept_changed = Signal()           # an answer was kept in the report or discarded

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.view = window.view
        self.session = window.session
        self.cards: list[ModelCard] = []
        self.model_problems: list = []  # model folders refused at the last read, with why
        self.jobs: dict[str, Job] = {}
        self.series_job: Job | None = None
        self.series_run_key = None  # the series the running series job belongs to
        self.shown_answer = None
        self.model_box = QComboBox(self)
        self.card_view = QTextBrowser(self)
        self.card_view.setMaximumHeight(190)
        self.unfit = QCheckBox("Run anyway: I know this model is not for this series", self)
        self.unfit.hide()
        self.slice_button = QPushButton("Classify slice", self)
        self.series_button = QPushButton("Classify series", self)
        self.click_mode = QPushButton("Click to classify", self)
        self.click_mode.setCheckable(True)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.answer = QLabel("", self)
        self.answer.setWordWrap(True)
        self.answer.setStyleSheet("font-size: 14px; font-weight: bold;")
        self.answers = QListWidget(self)  # the answers on the image shown, each with "Keep in report"
        self.answers_title = QLabel("Keep in report (tick):", self)
        self.answers.setMaximumHeight(80)
        self.answers.setWordWrap(True)
        self.answers.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.answers.setToolTip("Ticked answers go into the report (Keep in report)")
        self.bars_layout = QGridLayout()
        self.bars: dict[str, QProgressBar] = {}
        self.disclaimer = QLabel(f"<b>{DISCLAIMER}</b>", self)
        self.disclaimer.setStyleSheet("color: #c05000;")
        self.progress = QProgressBar(self)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.hide()
        self.heat_toggle = QCheckBox("Saliency (Grad-CAM)", self)
        self.heat_toggle.setChecked(True)
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.threshold = QSlider(Qt.Orientation.Horizontal, self)
        self.threshold.setRange(0, 100)
        self.threshold.setValue(20)
        self.plot = pg.PlotWidget(self)
        self.plot.setLabel("bottom", "slice (k + 1)")
        self.plot.setLabel("left", "highest P(tumour)")
        self.plot.setYRange(0, 1)
        self.plot.setMaximumHeight(160)
        self.curve = self.plot.plot([], [], pen="c", symbol="o", symbolSize=5)
        self.threshold_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("r", style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.threshold_line)
        self.flagged = QListWidget(self)
        self.flagged.setMaximumHeight(90)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Model", self))
        layout.addWidget(self.model_box)
        layout.addWidget(self.card_view)
        layout.addWidget(self.unfit)
        buttons = QHBoxLayout()
        for button in (self.slice_button, self.click_mode, self.series_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        layout.addWidget(self.answer)
        layout.addLayout(self.bars_layout)
        layout.addWidget(self.answers_title)
        layout.addWidget(self.answers)
        layout.addWidget(self.status)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        layout.addLayout(progress_row)
        heat_row = QGridLayout()
        heat_row.addWidget(self.heat_toggle, 0, 0, 1, 2)
        heat_row.addWidget(QLabel("opacity", self), 1, 0)
        heat_row.addWidget(self.opacity, 1, 1)
        heat_row.addWidget(QLabel("threshold", self), 2, 0)
        heat_row.addWidget(self.threshold, 2, 1)
        layout.addLayout(heat_row)
        layout.addWidget(self.plot)
        self.flagged_title = QLabel("Flagged slices: type and place", self)
        layout.addWidget(self.flagged_title)
        layout.addWidget(self.flagged)
        layout.addWidget(self.disclaimer)
        layout.addStretch(1)

        self.model_box.currentIndexChanged.connect(self._model_changed)
        self.slice_button.clicked.connect(self.classify_slice)
        self.series_button.clicked.connect(self.classify_series)
        self.cancel_button.clicked.connect(self.cancel_series)
        self.view.pixel_clicked.connect(self._clicked)
        self.view.slice_changed.connect(lambda _k: self.show_here())
        self.heat_toggle.toggled.connect(lambda on: self.view.set_heat_style(enabled=on))
        self.opacity.valueChanged.connect(lambda v: self.view.set_heat_style(opacity=v / 100))
        self.threshold.valueChanged.connect(lambda v: self.view.set_heat_style(threshold=v / 100))
        self.plot.scene().sigMouseClicked.connect(self._plot_clicked)
        self.flagged.itemClicked.connect(lambda item: self.view.set_slice(int(item.data(Qt.ItemDataRole.UserRole))))
        self.answers.itemChanged.connect(self._keep_changed)
        self.answers.currentRowChanged.connect(self._answer_chosen)
        self.reload_models()

    def forget(self) -> None:
        """Another folder or series: jobs made for what is no longer on screen are cancelled, and the panel
        draws what the session holds for the image now shown (the old answers stay filed under their images)."""
        for job in self.jobs.values():
            job.cancel()
        self.jobs.clear()
        self.cancel_series(quiet=True)
        self.show_here()
        self.draw_series_run()

    # -- models --------------------------------------------------------------------------------------------
    def reload_models(self) -> None:
        """Read the models folders (cards checked, weights hashed: disk work, done at start and when the
        models-folder preference changes, never per series), then list them for the series shown."""
        from medview.ai.registry import scan_models

        chosen = self.card()
        cards, self.model_problems = scan_models(getattr(self.window, "model_roots", None))
        self.cards = list(cards)
        self.order_models(chosen)

    def order_models(self, chosen: ModelCard | None = None) -> None:
        """List the models read, those that fit the shown series first; broken folders as errors. The model
        the user chose stays chosen while it fits the series shown. No disk: called for every series shown."""
        chosen = chosen if chosen is not None else self.card()
        problems = self.model_problems
        series = self.window.shown
        modality = series.info.modality if series else ""
        body_part = series.info.body_part if series else ""
        self.cards = sorted(self.cards, key=lambda c: (not c.fits(modality, body_part), not c.is_detector, c.name))
        self.model_box.blockSignals(True)
        self.model_box.clear()
        for card in self.cards:
            suffix = "" if card.fits(modality, body_part) else f"  (for {card.modality} {card.body_part})"
            self.model_box.addItem(f"{card.name} {card.version} · {card.task}{suffix}")
        # the chosen model stays chosen while it fits the series shown; a series it is not for (a chest CT after a
        # brain MRI) gets the first model that fits it
        if chosen is not None and (chosen.fits(modality, body_part) or not any(
                card.fits(modality, body_part) for card in self.cards)):
            same = [i for i, card in enumerate(self.cards) if card.weights_sha256 == chosen.weights_sha256]
            if same:
                self.model_box.setCurrentIndex(same[0])
        self.model_box.blockSignals(False)
        if problems:
            self.status.setText("Refused: " + "; ".join(f"{p.folder.name}: {p.reason}" for p in problems))
        self._model_changed(self.model_box.currentIndex())

    def card(self) -> ModelCard | None:
        index = self.model_box.currentIndex()
        return self.cards[index] if 0 <= index < len(self.cards) else None

    def card_for(self, task: str) -> ModelCard | None:
        """The chosen model if it does this task, else the first fitting one that does. A slice answer is the
        detector's (find, then type) unless a slice model is chosen. A click ("patch") goes to the chosen model
        if it answers clicks and fits the series, else to the first click model (the brain detector, the lung
        nodule model) that fits: on a chest CT, the nodule model."""
        chosen = self.card()
        if task == "patch":
            from medview.ai.registry import CLICK_TASKS

            series = self.window.shown
            fitting = [c for c in ([chosen] if chosen is not None else []) + self.cards
                       if c.task in CLICK_TASKS and (series is None or self._fits(c))]
            if fitting:
                return fitting[0]
        if chosen is not None and (chosen.task == task or (task == "slice" and chosen.is_detector)):
            return chosen
        if task == "slice":
            task = "patch"
        series = self.window.shown
        for card in self.cards:
            if card.task == task and (series is None or card.fits(series.info.modality, series.info.body_part)):
                return card
        return None

    def _fit(self, card: ModelCard) -> Fit | None:
        """How the shown series fits the card (modality, body part, sequence); None without a series."""
        series = self.window.shown
        return None if series is None else check_fit(card, series.info, series.photometric)

    def _fits(self, card: ModelCard) -> bool:
        fit = self._fit(card)
        return fit is None or not fit.refused

    def _model_changed(self, _index: int) -> None:
        card = self.card()
        if card is None:
            self.card_view.setHtml("No model available: put model folders in resources/models or the user's "
                                   "model folder.")
            return
        fit = self._fit(card)
        self.card_view.setHtml(card_html(card, fit))
        self.unfit.setVisible(fit is not None and fit.refused)
        self.unfit.setChecked(False)
        if card.slice_threshold is not None:
            self.threshold_line.setValue(card.slice_threshold)
        finds = card.task != "nodule"  # a nodule model cannot tell nodule from no nodule: clicks only
        why = ("" if finds else f"{card.name} classifies the nodule under a click; it does not find nodules, so it "
                                "has no slice or series answer")
        for button in (self.slice_button, self.series_button):
            button.setEnabled(finds)
            button.setToolTip(why)
        for widget in (self.plot, self.flagged, self.flagged_title):  # the series run's plot and list
            widget.setVisible(finds)

    def _may_run(self, card: ModelCard | None) -> bool:
        if card is None:
            problem = "No fitting model for this."
        elif not self._fits(card) and not self.unfit.isChecked():
            problem = f"{card.name}: {self._fit(card).summary()}. Tick 'Run anyway' to use it."
        elif self.window.shown is None or self.window.shown.slice(self.view.k, self.view.t) is None:
            problem = "The slice is not loaded yet."
        else:
            return True
        self.status.setText(problem)
        self.failed.emit(problem)
        return False

    # -- one slice, one point ------------------------------------------------------------------------------
    def classify_slice(self) -> None:
        self._classify(self.card_for("slice"), None)

    def classify_point(self, column: float, row: float) -> None:
        ref = self.view.here()
        if ref is not None:
            self.session.add_mark(ref, int(column), int(row))
            self.view.draw_marks()
        self._classify(self.card_for("patch"), (float(column), float(row)))

    def _clicked(self, k: int, row: int, column: int) -> None:
        if self.click_mode.isChecked():
            self.classify_point(column, row)

    def _classify(self, card: ModelCard | None, point) -> None:
        if not self._may_run(card):
            return
        series, ref = self.window.shown, self.view.here()
        known = self.session.find_answer(ref, point, card.weights_sha256)
        if known is not None:
            self.show_here(known)
            return
        key = (ref, point, card.weights_sha256)
        name = f"classify {key}"
        if card.task == "nodule":
            if point is None:
                self.status.setText(f"{card.name} classifies the nodule under a click: it does not find nodules.")
                return
            slab, z_mm = slab_slices(card, series, ref.k, ref.t)
            if slab is None:
                problem = "The slices around this one are not loaded yet."
                self.status.setText(problem)
                self.failed.emit(problem)
                return
            arguments = (nodule_job, card, slab, z_mm, np.asarray(series.spec.normal, dtype=np.float64),
                         series.pixel_spacing, ref.k, point, series.info.modality, key)
        else:
            arguments = (classify_job, card, series.slice(ref.k, ref.t), series.pixel_spacing, point,
                         series.info.modality, key)
        self.status.setText(f"Classifying with {card.name}…")
        self.jobs[name] = Job(*arguments, owner=self, on_yield=lambda message: self.status.setText(f"{message}…"),
                              on_done=self._classified, on_error=self._failed,
                              on_finished=lambda: self.jobs.pop(name, None)).start()

    def _classified(self, result) -> None:
        """File the answer under the image it was made for; draw it only if that image is on screen. A nodule
        click read on another slice (its widest section) belongs to that slice, saliency and all: the view goes
        there if the clicked slice is still on screen."""
        (clicked, _point, _sha), prediction = result
        read = prediction.read_slice
        ref = replace(clicked, index=read) if read is not None and read != clicked.k else clicked
        finding = replace(prediction.as_finding(ref.k), t=ref.t)
        answer = self.session.add_answer(ref, finding, prediction.saliency)
        if ref != clicked and clicked == self.view.here():
            self.view.set_slice(ref.k)
        if ref != self.view.here():
            where = slice_text(ref.k, self.window.shown.n_slices) if self.window.shown else f"slice {ref.k + 1}"
            self.status.setText(f"Result for {where} kept; it shows when you go back to that slice.")
            return
        self.show_here(answer)
        if ref != clicked and self.window.shown is not None:
            where = slice_text(ref.k, self.window.shown.n_slices)
            from medview.ai.nodule_input import SECTION_REACH_MM

            self.status.setText(f"{self.status.text()}<br>Read on {where}, the nodule's widest section within "
                                f"{SECTION_REACH_MM:g} mm of the slice clicked; the answer is filed there.")
        self.result_drawn.emit(prediction)

    def show_here(self, answer=None) -> None:
        """Draw the answers of the image on screen (label, bars, saliency, the keep list) or none at all."""
        ref = self.view.here()
        answers = self.session.answers_on(ref)
        if not answers and self.shown_answer is None and self.answers.count() == 0:
            return  # nothing was drawn, nothing to draw: a scroll step stays cheap
        if answer is None or answer not in answers:
            answer = answers[-1] if answers else None
        self.shown_answer = answer
        self.answers.blockSignals(True)
        self.answers.clear()
        for item_answer in answers:
            item = QListWidgetItem(item_answer.describe(), self.answers)
            item.setToolTip("Tick: keep this answer in the report")
            if item_answer.keepable:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if item_answer.kept else Qt.CheckState.Unchecked)
            else:
                item.setText(f"{item_answer.describe()} (nothing to keep)")
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsUserCheckable)
            item.setData(Qt.ItemDataRole.UserRole, item_answer.id)
        if answer is not None:
            self.answers.setCurrentRow(answers.index(answer))
        self.answers.blockSignals(False)
        self.answers.setVisible(bool(answers))
        self.answers_title.setVisible(bool(answers))
        if answer is None:
            self.answer.setText("")
            for bar in self.bars.values():
                bar.hide()
            self.view.show_saliency(None, None)
            return
        self.view.show_saliency(ref, answer.saliency)
        self._show_answer(answer.finding)

    def keep(self, answer, kept: bool = True) -> bool:
        """Keep an answer in the report (as ticking it in the list does)."""
        done = self.session.keep(answer, kept)
        self.show_here(answer)
        self.kept_changed.emit()
        return done

    def _answer_by_id(self, answer_id):
        return next((a for a in self.session.answers_on(self.view.here()) if a.id == answer_id), None)

    def _keep_changed(self, item) -> None:
        answer = self._answer_by_id(item.data(Qt.ItemDataRole.UserRole))
        if answer is not None and answer.keepable:
            self.session.keep(answer, item.checkState() == Qt.CheckState.Checked)
            self.kept_changed.emit()

    def _answer_chosen(self, row: int) -> None:
        item = self.answers.item(row)
        answer = self._answer_by_id(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None
        if answer is not None and answer is not self.shown_answer:
            self.show_here(answer)

    def _show_answer(self, finding) -> None:
        self.answer.setText(finding.headline())
        for bar in self.bars.values():
            bar.hide()
        shown = finding.probabilities.items() if finding.typed else ()  # no tumour found: no type to show
        for row, (label, probability) in enumerate(sorted(shown, key=lambda x: -x[1])):
            bar = self.bars.get(label)
            if bar is None:
                bar = QProgressBar(self)
                bar.setRange(0, 1000)
                self.bars[label] = bar
            bar.setValue(int(round(probability * 1000)))
            bar.setFormat(f"{label}  {probability:.3f}")
            self.bars_layout.addWidget(bar, row, 0)
            bar.show()
        self.status.setText(f"{finding.model_name} {finding.model_version} · {finding.elapsed_ms:.0f} ms · "
                            f"{DISCLAIMER}")

    def _failed(self, error: BaseException) -> None:
        self.status.setText(f"<span style='color:#c03000'>{error}</span>")
        self.failed.emit(str(error))

    # -- the whole series ----------------------------------------------------------------------------------
    def classify_series(self) -> None:
        """Run over every slice of the series shown; a run already going is cancelled first (one run, one
        progress bar), and the results are filed under the series they were made for."""
        card = self.card_for("patch")
        if not self._may_run(card):
            return
        series = self.window.shown
        if not series.loaded:
            self.status.setText("Wait until the series has loaded.")
            return
        if card.slice_threshold is None:
            self.status.setText(f"{card.name} has no slice operating point: it cannot search a series.")
            return
        self.cancel_series(quiet=True)
        self.session.series_runs[series.key] = SeriesRun(card.name, card.slice_threshold, series.n_slices)
        self.draw_series_run()
        self.progress.setRange(0, series.n_slices)
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        rate = false_flag_words(card.slice_false_flag_rate)
        self.status.setText(f"Searching {series.n_slices} slices with {card.name}; a slice is flagged at "
                            f"P(tumour) ≥ {card.slice_threshold:.2f}: it {rate}.")
        key = series.key
        # what a cancelled run had already sent is dropped
        job = Job(series_job, card, series, self.view.t, owner=self, on_error=self._failed,
                  on_yield=lambda finding: job.cancelled or self._series_step(key, finding),
                  on_done=lambda _key: job.cancelled or self._series_done(key),
                  on_finished=lambda: job.cancelled or self._series_finished(job))
        self.series_job, self.series_run_key = job, key
        job.start()

    def _series_step(self, key, finding: SliceFinding) -> None:
        run = self.session.series_runs.get(key)
        if run is None:
            return
        run.add(finding)
        if self.window.shown is not None and self.window.shown.key == key:
            self.progress.setValue(len(run.findings))
            self.draw_series_run()

    def _series_done(self, key) -> None:
        run = self.session.series_runs.get(key)
        if run is None:
            return
        run.state = "done"
        flagged = sum(f.flagged for f in run.findings)
        self.status.setText(f"Series done: {len(run.findings)} slices, {flagged} flagged at the slice operating "
                            f"point · {DISCLAIMER}")
        self.series_finished.emit({f.k: f.score for f in run.findings})

    def _series_finished(self, job: Job) -> None:
        """A series job ended: its progress bar goes, unless another run has replaced it meanwhile."""
        if job is not self.series_job:
            return
        self.series_job = self.series_run_key = None
        self.progress.hide()
        self.cancel_button.hide()

    def cancel_series(self, quiet: bool = False) -> None:
        job, key = self.series_job, self.series_run_key
        self.series_job = self.series_run_key = None
        if job is not None:
            job.cancel()
            run = self.session.series_runs.get(key)
            if run is not None and run.state == "running":
                run.state = "cancelled"
                if not quiet:
                    self.status.setText(f"Series run cancelled after {len(run.findings)} slices.")
        self.progress.hide()
        self.cancel_button.hide()

    def series_scores(self) -> dict[int, float | None]:
        """The series run of the series shown, {k: best P(tumour)} (empty without a run)."""
        series = self.window.shown
        run = self.session.series_runs.get(series.key) if series is not None else None
        return {} if run is None else {f.k: f.score for f in run.findings}

    def draw_series_run(self) -> None:
        """The plot and list of the series shown, from its run in the session (slices numbered k + 1)."""
        series = self.window.shown
        run = self.session.series_runs.get(series.key) if series is not None else None
        findings = [] if run is None else [f for f in run.findings if f.score is not None]
        self.curve.setData([f.k + 1 for f in findings], [f.score for f in findings])
        self.flagged.clear()
        for finding in findings:
            if finding.flagged:
                text = slice_text(finding.k, series.n_slices, series.spec.instance_number(finding.k))
                column, row = finding.point
                item = QListWidgetItem(f"{text}: {finding.label} {finding.probability:.2f} at ({column:g}, {row:g}), "
                                       f"P(tumour) {finding.score:.2f}", self.flagged)
                item.setData(Qt.ItemDataRole.UserRole, finding.k)

    def _plot_clicked(self, event) -> None:
        """A click on the plot goes to the slice under it (the plot counts slices from 1)."""
        point = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        if self.window.shown is not None:
            self.view.set_slice(int(round(point.x())) - 1)
