"""The inference dock: pick a model, read its card, classify a slice, a clicked point or the whole series.

Every inference runs in the app's one worker abstraction; torch is imported and the model loaded in the worker
on first use, never at start-up. Each result is filed under the (series, slice, point, model) it was made for
and drawn only while that slice is on screen: a result that arrives after the user moved on waits in the
cache. Errors appear in the panel and the viewer carries on.
"""

from __future__ import annotations

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
from medview.gui.workers import Job


def classify_job(card: ModelCard, pixels: np.ndarray, spacing, point, modality: str, key: tuple, token):
    """Worker: load the model on first use (torch is imported here) and answer; returns (key, prediction).

    A point: the click's answer (none outside the body). No point: the slice answer, a detector's find-then-type
    (or a slice model's type)."""
    from medview.ai.torch_import import import_torch

    yield "loading model"
    import_torch()  # its libraries mapped without holding the GIL: the window keeps moving
    from medview.ai.infer import classifier_for

    classifier = classifier_for(card)
    if point is None and card.is_detector:
        return key, classifier.find(pixels, spacing, modality or None, saliency="gradcam")
    return key, classifier.classify(pixels, spacing, point, saliency="gradcam", modality=modality or None)


def series_job(card: ModelCard, series, token):
    """Worker: the detector over every slice, as `medview classify --all-slices` (one SliceFinding a slice)."""
    from medview.ai.torch_import import import_torch

    import_torch()
    from medview.ai.detect import iter_series
    from medview.ai.infer import classifier_for

    yield from iter_series(classifier_for(card), series, cancelled=lambda: token.cancelled)
    return None if token.cancelled else series.index


def card_html(card: ModelCard, fit: Fit | None) -> str:
    raw = card.raw
    test = raw.get("metrics", {}).get("test", {})
    lines = [f"<b>{card.name}</b> {card.version} — {card.task} model"
             + (f", {card.patch_mm:g} mm patches" if card.patch_mm else ""),
             f"For {card.modality} {card.body_part}. Labels: {', '.join(card.labels)}.",
             f"<i>{card.intended_use}</i>"]
    if test:
        lines.append(f"Test ({test.get('n', '?')} examples, patients unseen in training): accuracy "
                     f"{test.get('accuracy')}, macro AUC {test.get('macro_auc')}, ECE {test.get('ece')}.")
    lines.append(f"Calibration: temperature {card.temperature:g} (fitted on validation).")
    if card.patch_threshold is not None:
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


class InferencePanel(QWidget):
    result_drawn = Signal(object)     # a Prediction drawn on the slice it belongs to
    failed = Signal(str)              # a run that could not start or ended in an error
    series_finished = Signal(object)  # {k: P(tumour)} of a series run

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.view = window.view
        self.cards: list[ModelCard] = []
        self.cache: dict[tuple, object] = {}
        self.jobs: dict[str, Job] = {}
        self.series_scores: dict[int, float] = {}
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
        self.plot.setLabel("bottom", "slice k")
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
        layout.addWidget(QLabel("Flagged slices: type and place", self))
        layout.addWidget(self.flagged)
        layout.addWidget(self.disclaimer)
        layout.addStretch(1)

        self.model_box.currentIndexChanged.connect(self._model_changed)
        self.slice_button.clicked.connect(self.classify_slice)
        self.series_button.clicked.connect(self.classify_series)
        self.cancel_button.clicked.connect(self.cancel_series)
        self.view.pixel_clicked.connect(self._clicked)
        self.view.slice_changed.connect(self._slice_changed)
        self.heat_toggle.toggled.connect(lambda on: self.view.set_heat_style(enabled=on))
        self.opacity.valueChanged.connect(lambda v: self.view.set_heat_style(opacity=v / 100))
        self.threshold.valueChanged.connect(lambda v: self.view.set_heat_style(threshold=v / 100))
        self.plot.scene().sigMouseClicked.connect(self._plot_clicked)
        self.flagged.itemClicked.connect(lambda item: self.view.set_slice(int(item.data(Qt.ItemDataRole.UserRole))))
        self.reload_models()

    def forget(self) -> None:
        """A new folder: results of the old one are dropped (series indices start again)."""
        for job in self.jobs.values():
            job.cancel()
        self.jobs.clear()
        self.cache.clear()
        self.view.clear_click_marks()
        self.view.show_saliency(None, None)
        self.answer.setText("")
        for bar in self.bars.values():
            bar.hide()

    # -- models --------------------------------------------------------------------------------------------
    def reload_models(self) -> None:
        """List the registry's models, those that fit the shown series first; broken folders as errors."""
        from medview.ai.registry import scan_models

        cards, problems = scan_models()
        series = self.window.shown
        modality = series.info.modality if series else ""
        body_part = series.info.body_part if series else ""
        self.cards = sorted(cards, key=lambda c: (not c.fits(modality, body_part), not c.is_detector, c.name))
        self.model_box.blockSignals(True)
        self.model_box.clear()
        for card in self.cards:
            suffix = "" if card.fits(modality, body_part) else f"  (for {card.modality} {card.body_part})"
            self.model_box.addItem(f"{card.name} {card.version} · {card.task}{suffix}")
        self.model_box.blockSignals(False)
        if problems:
            self.status.setText("Refused: " + "; ".join(f"{p.folder.name}: {p.reason}" for p in problems))
        self._model_changed(self.model_box.currentIndex())

    def card(self) -> ModelCard | None:
        index = self.model_box.currentIndex()
        return self.cards[index] if 0 <= index < len(self.cards) else None

    def card_for(self, task: str) -> ModelCard | None:
        """The chosen model if it does this task, else the first fitting one that does. A slice answer is the
        detector's (find, then type) unless a slice model is chosen."""
        chosen = self.card()
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
        self.view.add_click_mark(self.view.k, int(row), int(column))
        self._classify(self.card_for("patch"), (float(column), float(row)))

    def _clicked(self, k: int, row: int, column: int) -> None:
        if self.click_mode.isChecked():
            self.classify_point(column, row)

    def _classify(self, card: ModelCard | None, point) -> None:
        if not self._may_run(card):
            return
        series = self.window.shown
        key = (series.index, self.view.k, self.view.t, point, card.weights_sha256)
        if key in self.cache:
            self._draw(key, self.cache[key])
            return
        self.status.setText(f"Classifying with {card.name}…")
        pixels = series.slice(self.view.k, self.view.t)
        name = f"classify {key}"
        self.jobs[name] = Job(classify_job, card, pixels, series.pixel_spacing, point, series.info.modality, key,
                              on_yield=lambda message: self.status.setText(f"{message}…"),
                              on_done=self._classified, on_error=self._failed,
                              on_finished=lambda: self.jobs.pop(name, None)).start()

    def _classified(self, result) -> None:
        key, prediction = result
        self.cache[key] = prediction
        self._draw(key, prediction)

    def _draw(self, key: tuple, prediction) -> None:
        """Draw a result only if its slice is on screen; otherwise it waits in the cache for that slice."""
        series = self.window.shown
        if series is None or key[:3] != (series.index, self.view.k, self.view.t):
            self.status.setText(f"Result for slice {key[1] + 1} kept; it shows when you go back to that slice.")
            return
        self.shown_key = key
        self.view.show_saliency(key[:3], prediction.saliency)
        self._show_answer(prediction)
        self.result_drawn.emit(prediction)

    def _show_answer(self, prediction) -> None:
        self.answer.setText(prediction.headline())
        for bar in self.bars.values():
            bar.hide()
        typed = prediction.answered and not (prediction.kind == "slice" and not prediction.flagged)
        shown = prediction.probabilities.items() if typed else ()
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
        self.status.setText(f"{prediction.model_name} {prediction.model_version} · {prediction.elapsed_ms:.0f} ms · "
                            f"{DISCLAIMER}")

    def _slice_changed(self, k: int) -> None:
        series = self.window.shown
        if series is None:
            return
        for key, prediction in reversed(list(self.cache.items())):
            if key[:3] == (series.index, k, self.view.t):
                self.view.show_saliency(key[:3], prediction.saliency)
                self._show_answer(prediction)
                return

    def _failed(self, error: BaseException) -> None:
        self.status.setText(f"<span style='color:#c03000'>{error}</span>")
        self.failed.emit(str(error))

    # -- the whole series ----------------------------------------------------------------------------------
    def classify_series(self) -> None:
        card = self.card_for("patch")
        if not self._may_run(card):
            return
        series = self.window.shown
        if not series.loaded:
            self.status.setText("Wait until the series has loaded.")
            return
        self.series_scores = {}
        self.flagged.clear()
        self.curve.setData([], [])
        self.progress.setRange(0, series.n_slices)
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        if card.slice_threshold is None:
            self.status.setText(f"{card.name} has no slice operating point: it cannot search a series.")
            return
        rate = false_flag_words(card.slice_false_flag_rate)
        self.status.setText(f"Searching {series.n_slices} slices with {card.name}; a slice is flagged at "
                            f"P(tumour) ≥ {card.slice_threshold:.2f}: it {rate}.")
        self.series_card = card
        self.jobs["series"] = Job(series_job, card, series, on_yield=self._series_step,
                                  on_done=self._series_done, on_error=self._failed,
                                  on_finished=self._series_finished).start()

    def _series_step(self, finding) -> None:
        k = finding.k
        self.series_scores[k] = 0.0 if finding.score is None else finding.score
        ks = sorted(self.series_scores)
        self.curve.setData(ks, [self.series_scores[i] for i in ks])
        self.progress.setValue(len(self.series_scores))
        if finding.flagged:
            column, row = finding.point
            self.flagged.addItem(f"slice {k + 1}: {finding.label} {finding.probability:.2f} at ({column:g}, {row:g}), "
                                 f"P(tumour) {finding.score:.2f}")
            self.flagged.item(self.flagged.count() - 1).setData(Qt.ItemDataRole.UserRole, k)

    def _series_done(self, _index) -> None:
        self.status.setText(f"Series done: {len(self.series_scores)} slices, {self.flagged.count()} flagged at the "
                            f"slice operating point · {DISCLAIMER}")
        self.series_finished.emit(dict(self.series_scores))

    def _series_finished(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.jobs.pop("series", None)

    def cancel_series(self) -> None:
        job = self.jobs.pop("series", None)
        if job is not None:
            job.cancel()
            self.status.setText(f"Series run cancelled after {len(self.series_scores)} slices.")
        self._series_finished()

    def _plot_clicked(self, event) -> None:
        point = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        if self.window.shown is not None:
            self.view.set_slice(int(round(point.x())))
