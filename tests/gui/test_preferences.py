"""Preferences: each one set in the dialog, kept across a restart of the window, and used by what it is for."""

from __future__ import annotations

import shutil
import subprocess

from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from medview.ai.registry import BUNDLED
from medview.core.window_level import CT_PRESETS
from medview.gui.app import SAMPLE
from medview.gui.main_window import MainWindow
from medview.gui.preferences import Preferences, open_about, open_preferences
from tests.gui.helpers import TIMEOUT, open_and_wait


def start_window(qtbot, settings_file, inference: bool = True) -> MainWindow:
    main = MainWindow(QSettings(str(settings_file), QSettings.Format.IniFormat), with_inference=inference)
    qtbot.addWidget(main)
    main.resize(1200, 800)
    main.show()
    qtbot.waitExposed(main)
    return main


def wheel_up(view) -> None:
    """A real wheel turn away from the reader over the image."""
    viewport = view.graphics.viewport()
    at = QPointF(viewport.width() / 2, viewport.height() / 2)
    event = QWheelEvent(at, viewport.mapToGlobal(at), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)


def test_each_preference_is_kept_across_a_restart_and_used(qtbot, tmp_path, shared_data):
    settings_file = tmp_path / "settings.ini"
    models = tmp_path / "my-models"
    shutil.copytree(BUNDLED / "brain-tumour-patch", models / "detector-copy")
    reports = tmp_path / "my-reports"

    first = start_window(qtbot, settings_file)
    dialog = open_preferences(first)
    dialog.reader.setText("Dr Ada Reader")
    dialog.reversed_order.setChecked(True)
    dialog.wheel_reversed.setChecked(True)
    dialog.modality.setCurrentText("CT")
    dialog.presets.setPlainText("narrow brain: 60/35\nlung: 1500/-600")
    dialog.cine.setValue(24)
    dialog.models_folder.setText(str(models))
    dialog.report_folder.setText(str(reports))
    dialog.accept()
    assert dialog.result() == dialog.DialogCode.Accepted
    first.close()

    second = start_window(qtbot, settings_file)  # the restart: a new window on the same settings
    kept = open_preferences(second)
    assert kept.reader.text() == "Dr Ada Reader"
    assert kept.reversed_order.isChecked() and kept.wheel_reversed.isChecked()
    assert kept.presets.toPlainText() == "narrow brain: 60/35\nlung: 1500/-600"
    assert kept.cine.value() == 24
    assert (kept.models_folder.text(), kept.report_folder.text()) == (str(models), str(reports))
    kept.reject()

    open_and_wait(qtbot, second, SAMPLE, k=10)
    view = second.view
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert view.k == 23  # the display order: Home shows the last slice
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.k == 22  # Down goes on from the first slice shown, through k the other way
    wheel_up(view)
    assert view.k == 21  # the reversed wheel: away from the reader is the next slice, as Down is
    assert second.cine.interval() == round(1000 / 24)
    assert any(card.folder.parent == models for card in second.inference.cards)

    report = second.open_report()
    assert report.pdf_path.text().startswith(str(reports))
    assert "Dr Ada Reader" in report.preview.toPlainText()
    report.html_box.setChecked(False)
    report.dicom_box.setChecked(False)
    with qtbot.waitSignal(report.exported, timeout=TIMEOUT) as written:
        report.export()
    pdf = written.args[0][0]
    assert pdf.parent == reports
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Dr Ada Reader" in text

    open_and_wait(qtbot, second, shared_data / "samples" / "ct_chest")
    view.ensure_window()
    mine = [p for p in view.presets if not p.name.startswith("scanner")]
    assert [(p.name, p.width, p.level) for p in mine] == [("narrow brain", 60, 35), ("lung", 1500, -600)]


def test_presets_left_as_built_in_stay_the_built_in_list(qtbot, tmp_path):
    main = start_window(qtbot, tmp_path / "settings.ini", inference=False)
    dialog = open_preferences(main)
    assert dialog.presets.toPlainText().splitlines()[0] == "brain: 80/40"
    dialog.modality.setCurrentText("MR")
    dialog.presets.setPlainText("T2 bright: 1200/600")
    dialog.accept()
    kept = Preferences.load(main.settings)
    assert "CT" not in kept.presets
    assert [(w.name, w.width, w.level) for w in kept.presets["MR"]] == [("T2 bright", 1200, 600)]
    assert len(CT_PRESETS) == 8


def test_a_preset_line_that_is_not_one_is_refused_with_its_number(qtbot, tmp_path):
    main = start_window(qtbot, tmp_path / "settings.ini", inference=False)
    dialog = open_preferences(main)
    dialog.presets.setPlainText("brain: 80/40\nlung 1500 -600")
    dialog.accept()
    assert dialog.isVisible() and "line 2" in dialog.problem.text()
    assert "presets/CT" not in main.settings.allKeys()


def test_a_hand_broken_settings_file_falls_back_to_the_defaults(qtbot, tmp_path):
    (tmp_path / "settings.ini").write_text("[display]\ncine_rate=fast\nwheel_reversed=maybe\n"
                                           "[presets]\nCT=brain 80 40\n")
    main = start_window(qtbot, tmp_path / "settings.ini", inference=False)
    assert main.cine.interval() == 100 and not main.view.wheel_reversed
    assert main.view.reader_presets == {}


def test_about_names_the_version_the_licences_the_citations_and_research_use(qtbot, tmp_path):
    from medview import __version__

    main = start_window(qtbot, tmp_path / "settings.ini", inference=False)
    text = open_about(main).text.toPlainText()
    for expected in (f"medview {__version__}", "Research use only, not for diagnosis", "brain-tumour-patch 2.0.0",
                     "CC BY 4.0", "figshare.1512427.v5", "CC BY 3.0", "doi.org/10.7937/K9/TCIA.2018.15quzvnb",
                     "PySide6-Essentials", "LGPL-3.0", "torch"):
        assert expected in text, expected
