"""File → Preferences…: the reader's name, display order, scroll direction, W/L presets per modality, cine
speed, models folder and report folder. OK keeps them (QSettings) and puts them to work at once; what each
does is listed in `medview.gui.preferences`."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from medview.core.window_level import CT_PRESETS
from medview.errors import MedviewError
from medview.gui import preferences as prefs

#: Modalities offered for presets (any other DICOM modality code can be typed).
MODALITIES = ("CT", "MR", "PT", "NM", "CR", "DX", "MG", "US", "XA")


def built_in_text(modality: str) -> str:
    """The built-in fixed presets of a modality, as the editor shows them (CT's list; none elsewhere)."""
    return "\n".join(prefs.preset_line(w) for w in CT_PRESETS) if modality == "CT" else ""


class PreferencesDialog(QDialog):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.setWindowTitle("Preferences")
        kept = prefs.Preferences.load(window.settings)
        self.preset_texts = {m: "\n".join(prefs.preset_line(w) for w in ws) for m, ws in kept.presets.items()}

        self.reader = QLineEdit(kept.reader, self)
        self.reader.setPlaceholderText("on every page of the report")
        self.reversed_order = QCheckBox("Reverse the slice order: Home shows the last slice (head first on axial "
                                        "stacks); slice numbers never change", self)
        self.reversed_order.setChecked(kept.reversed_order)
        self.wheel_reversed = QCheckBox("Reverse the mouse wheel: wheel away from you shows the next slice", self)
        self.wheel_reversed.setChecked(kept.wheel_reversed)
        self.modality = QComboBox(self)
        self.modality.setEditable(True)
        self.modality.addItems(MODALITIES)
        self.presets = QPlainTextEdit(self)
        self.presets.setPlaceholderText("one per line, NAME: WIDTH/LEVEL (HU for CT), e.g. lung: 1500/-600")
        self.presets.setMinimumHeight(170)
        restore = QPushButton("Built-in presets", self)
        self.cine = QDoubleSpinBox(self)
        self.cine.setRange(*prefs.CINE_RANGE)
        self.cine.setDecimals(1)
        self.cine.setSuffix(" slices per second")
        self.cine.setValue(kept.cine_rate)
        self.models_folder = QLineEdit(kept.models_folder, self)
        self.models_folder.setPlaceholderText("default: $MEDVIEW_MODELS, else ~/.local/share/medview/models")
        self.report_folder = QLineEdit(kept.report_folder, self)
        self.report_folder.setPlaceholderText("default: ~/medview-reports")
        self.problem = QLabel("", self)
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c03000")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)

        form = QFormLayout()
        form.addRow("Reader's name", self.reader)
        form.addRow("Display order", self.reversed_order)
        form.addRow("Scroll direction", self.wheel_reversed)
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.modality)
        preset_row.addWidget(restore)
        preset_row.addStretch(1)
        form.addRow("W/L presets for", self._row(preset_row))
        form.addRow("", self.presets)
        form.addRow("", QLabel("Keys 1–9 and the Window menu: the scanner's windows first, then these (for CT in "
                               "place of the built-in list; for MR before the percentile windows).", self))
        form.addRow("Cine speed", self.cine)
        form.addRow("Models folder", self._folder_row(self.models_folder, "Models folder"))
        form.addRow("Report folder", self._folder_row(self.report_folder, "Report folder"))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

        self.shown_modality = ""
        self.modality.currentTextChanged.connect(self._modality_changed)
        restore.clicked.connect(lambda: self.presets.setPlainText(built_in_text(self.shown_modality)))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self._modality_changed(self.modality.currentText())

    def _row(self, layout) -> QWidget:
        holder = QWidget(self)
        layout.setContentsMargins(0, 0, 0, 0)
        holder.setLayout(layout)
        return holder

    def _folder_row(self, line: QLineEdit, title: str) -> QWidget:
        row = QHBoxLayout()
        row.addWidget(line, 1)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(lambda: self._browse(line, title))
        row.addWidget(browse)
        return self._row(row)

    def _browse(self, line: QLineEdit, title: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, title, line.text())
        if folder:
            line.setText(folder)

    def _modality_changed(self, text: str) -> None:
        """The editor shows one modality's presets; the text of the one left is kept as typed until OK."""
        if self.shown_modality:
            self.preset_texts[self.shown_modality] = self.presets.toPlainText()
        self.shown_modality = text.strip().upper()
        shown = self.preset_texts.get(self.shown_modality)
        self.presets.setPlainText(built_in_text(self.shown_modality) if shown is None else shown)

    def chosen(self) -> prefs.Preferences:
        """The preferences as set in the dialog; MedviewError names a preset line that is not one."""
        self._modality_changed(self.modality.currentText())
        presets = {}
        for modality, text in sorted(self.preset_texts.items()):
            if not modality or text.strip() == built_in_text(modality):
                continue  # the built-in list stays the built-in list
            try:
                presets[modality] = prefs.parse_presets(text)
            except MedviewError as error:
                raise MedviewError(f"{modality} presets: {error}") from None
        return prefs.Preferences(reader=self.reader.text().strip(), reversed_order=self.reversed_order.isChecked(),
                                 wheel_reversed=self.wheel_reversed.isChecked(), presets=presets,
                                 cine_rate=self.cine.value(), models_folder=self.models_folder.text().strip(),
                                 report_folder=self.report_folder.text().strip())

    def accept(self) -> None:
        try:
            chosen = self.chosen()
        except MedviewError as error:
            self.problem.setText(str(error))
            return
        chosen.save(self.window.settings)
        prefs.apply(self.window, chosen)
        super().accept()
