"""One reading session, as a user meets it: what the reader and the AI add stays with the image it was made on.

Each test is a defect found by using the viewer: written to fail on the code before the session model."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from medview.gui.app import SAMPLE
from tests.gui.helpers import TIMEOUT, choose_and_wait, click_pixel, draw, drawn, open_and_wait, rgb_of


def _run_anyway(panel) -> None:
    if panel.unfit.isVisible() or panel.unfit.isVisibleTo(panel):
        panel.unfit.setChecked(True)


def _plotted(panel) -> list:
    x, _y = panel.curve.getData()
    return [] if x is None else list(x)


def test_a_series_run_stays_with_its_series_when_the_user_switches(qtbot, window, shared_data):
    open_and_wait(qtbot, window, shared_data / "dicom_cases" / "mr_siemens_multi_echo")
    panel = window.inference
    _run_anyway(panel)
    panel.classify_series()
    qtbot.waitUntil(lambda: len(_plotted(panel)) >= 2, timeout=TIMEOUT)
    choose_and_wait(qtbot, window, 1)  # the second echo, while the run on the first goes on or is cancelled
    qtbot.wait(1500)
    assert _plotted(panel) == [] and panel.flagged.count() == 0  # nothing of echo 1 drawn on echo 2
    choose_and_wait(qtbot, window, 0)
    shown = _plotted(panel)
    assert shown and len(shown) == len(set(shown)) and max(shown) <= 36  # slices 1..36, once each


def test_a_second_series_run_replaces_the_first_and_keeps_its_progress_bar(qtbot, window):
    panel = window.inference
    panel.classify_series()
    first = panel.series_job
    qtbot.waitUntil(lambda: len(_plotted(panel)) >= 1, timeout=TIMEOUT)
    with qtbot.waitSignal(panel.series_finished, timeout=TIMEOUT) as finished:
        panel.classify_series()
        assert first.cancelled  # the first run can no longer land anywhere
        qtbot.waitUntil(lambda: not first.running, timeout=TIMEOUT)
        assert panel.progress.isVisible() or panel.series_job is None  # its end did not hide the second's progress
    assert sorted(finished.args[0]) == list(range(24))
    assert sorted(_plotted(panel)) == list(range(1, 25))


def test_a_new_folder_clears_the_series_plot_and_list(qtbot, window, shared_data):
    panel = window.inference
    with qtbot.waitSignal(panel.series_finished, timeout=TIMEOUT):
        panel.classify_series()
    assert _plotted(panel)
    open_and_wait(qtbot, window, shared_data / "dicom_cases" / "mr_siemens_multi_echo")
    assert _plotted(panel) == [] and panel.flagged.count() == 0


def test_an_answer_is_not_shown_on_a_slice_it_was_not_made_for(qtbot, window):
    panel, view = window.inference, window.view
    with qtbot.waitSignal(panel.result_drawn, timeout=TIMEOUT) as drawn:
        panel.classify_point(175, 210)  # a click's answer has a label and bars (a slice with no tumour has none)
    label = drawn.args[0].label
    assert label in panel.answer.text() and any(bar.isVisible() for bar in panel.bars.values())
    view.step(1)
    assert label not in panel.answer.text() and panel.answer.text() == ""
    assert not any(bar.isVisibleTo(panel) for bar in panel.bars.values())
    assert not view.heat_on_screen()
    view.step(-1)  # back on its slice: the answer is drawn again, label and bars
    assert label in panel.answer.text() and any(bar.isVisibleTo(panel) for bar in panel.bars.values())


def test_a_4d_report_at_t_2_holds_what_the_screen_shows(qtbot, window, shared_data):
    from medview.gui.report_dialog import gather_reading

    open_and_wait(qtbot, window, shared_data / "dicom_cases" / "mr_philips_4d_oblique_scaling")
    window.time_slider.setValue(2)
    draw(qtbot, window, "ellipse", (20, 20), (40, 44))
    [ellipse] = window.layer.on_slice()
    on_screen = {v.name: v.value for v in window.layer.values(ellipse)}
    qtbot.keyClick(window, Qt.Key.Key_K)
    reading, _sources = gather_reading(window)
    [measurement] = reading.measurements
    assert {v.name: v.value for v in measurement.values}["mean"] == pytest.approx(on_screen["mean"])
    [key] = reading.key_images
    assert np.array_equal(key.pixels, window.shown.slice(window.view.k, 2))


def test_the_clicks_of_one_length_never_come_from_two_slices(qtbot, window):
    layer, view = window.layer, window.view
    window.set_tool("length")
    click_pixel(qtbot, view, 100, 60, centre=False)  # first end on k 17
    view.set_slice(5)
    click_pixel(qtbot, view, 100, 200, centre=False)  # on k 5: a new length begins, it does not end here
    assert layer.on_slice() == []
    view.set_slice(17)
    assert layer.on_slice() == []
    view.set_slice(5)
    click_pixel(qtbot, view, 120, 200, centre=False)
    [length] = layer.on_slice()
    assert [round(c) for c, _r in length.points] == [200, 200]


def test_click_to_classify_on_an_annotation_does_not_select_it(qtbot, window):
    layer, panel = window.layer, window.inference
    draw(qtbot, window, "rectangle", (195, 160), (225, 190))
    panel.click_mode.setChecked(True)
    with qtbot.waitSignal(panel.result_drawn, timeout=TIMEOUT):
        click_pixel(qtbot, window.view, 210, 175)
    assert layer.selected is None


def test_a_cancelled_series_loads_the_rest_when_chosen_again(qtbot, window, shared_data):
    window.open_path(str(shared_data / "samples" / "ct_chest"))
    qtbot.waitUntil(lambda: window.shown is not None and window.shown.spec.info.modality == "CT",
                    timeout=TIMEOUT)
    window.cancel_button.click()
    assert not window.shown.loaded
    with qtbot.waitSignal(window.series_loaded, timeout=60_000):
        window.browser.volume_chosen.emit(0)  # the user chooses it again in the browser
    assert window.shown.loaded and window.shown.slice(29) is not None


def test_reopening_the_folder_keeps_the_annotations(qtbot, window):
    draw(qtbot, window, "length", (100, 60), (100, 200))
    [length] = window.layer.on_slice()
    open_and_wait(qtbot, window, SAMPLE, k=17)
    assert window.layer.on_slice() == [length]


def test_the_tag_dock_never_shows_another_folders_header(qtbot, window, shared_data):
    window.tags_dock.show()
    qtbot.waitUntil(lambda: window.tags.tree.topLevelItemCount() > 20, timeout=10_000)
    old_source = window.tags.source
    window.tags_dock.hide()
    open_and_wait(qtbot, window, shared_data / "samples" / "ct_chest", k=17)
    window._tags_read((old_source, [("(0010,0010)", "Patient's Name", "PN", "the other folder's patient")]))
    assert "the other folder's patient" not in [window.tags.tree.topLevelItem(i).text(3)
                                                for i in range(window.tags.tree.topLevelItemCount())]


def test_switching_series_keeps_the_chosen_model(qtbot, window, shared_data):
    open_and_wait(qtbot, window, shared_data / "dicom_cases" / "mr_siemens_multi_echo")
    panel = window.inference
    chosen = panel.model_box.count() - 1
    assert chosen >= 1
    panel.model_box.setCurrentIndex(chosen)
    name = panel.card().name
    choose_and_wait(qtbot, window, 1)
    assert panel.card().name == name


def test_only_the_answers_the_reader_kept_reach_the_pdf_html_and_sr(qtbot, window, tmp_path):
    import subprocess

    import highdicom as hd

    panel, view = window.inference, window.view
    panel.click_mode.setChecked(True)
    with qtbot.waitSignal(panel.result_drawn, timeout=TIMEOUT) as tumour:
        click_pixel(qtbot, view, 210, 175)  # on the tumour: kept
    panel.answers.item(0).setCheckState(Qt.CheckState.Checked)
    with qtbot.waitSignal(panel.result_drawn, timeout=TIMEOUT):
        click_pixel(qtbot, view, 3, 3)  # in the air: not kept
    panel.click_mode.setChecked(False)
    with qtbot.waitSignal(panel.result_drawn, timeout=TIMEOUT) as whole_slice:
        qtbot.mouseClick(panel.slice_button, Qt.MouseButton.LeftButton)
    discarded = panel.answers.item(panel.answers.count() - 1)
    discarded.setCheckState(Qt.CheckState.Checked)
    discarded.setCheckState(Qt.CheckState.Unchecked)  # kept, then discarded
    qtbot.keyClick(window, Qt.Key.Key_K)
    [kept] = window.session.kept_answers(window.shown.key)
    assert kept.finding.point == (175.0, 210.0)

    dialog = window.open_report()
    qtbot.addWidget(dialog)
    out = tmp_path / "out"
    dialog.pdf_path.setText(str(out / "report.pdf"))
    dialog.html_path.setText(str(out / "report.html"))
    dialog.dicom_path.setText(str(out / "dicom"))
    with qtbot.waitSignal(dialog.exported, timeout=TIMEOUT):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    discarded_answer, kept_answer = whole_slice.args[0], tumour.args[0]
    assert discarded_answer.kind == "slice"
    html = (out / "report.html").read_text()
    pdf = subprocess.run(["pdftotext", "-layout", str(out / "report.pdf"), "-"], capture_output=True, text=True,
                         check=True).stdout
    for text in (html, pdf):
        assert kept_answer.model_name in text and "175, 210" in text and "3, 3" not in text
        assert text.count(f"sha256 {kept_answer.model_sha256}") == 1, "one finding: the kept one"
        if discarded_answer.label != kept_answer.label:
            assert discarded_answer.label not in text
    groups = hd.sr.srread(out / "dicom" / "medview-report-SR.dcm").content.get_planar_roi_measurement_groups()
    assert [g.finding_type.meaning for g in groups] == [tumour.args[0].label]


def test_a_saved_session_comes_back_on_the_same_pixels_after_the_app_is_closed(qtbot, window, tmp_path,
                                                                                user_data_folder):
    from PySide6.QtCore import QSettings

    from medview.gui.main_window import MainWindow

    panel, view = window.inference, window.view
    draw(qtbot, window, "length", (100, 60), (100, 200))
    draw(qtbot, window, "ellipse", (195, 160), (225, 190))
    window.set_tool(None)
    panel.click_mode.setChecked(True)
    with qtbot.waitSignal(panel.result_drawn, timeout=TIMEOUT):
        click_pixel(qtbot, view, 210, 175)
    panel.answers.item(0).setCheckState(Qt.CheckState.Checked)
    panel.click_mode.setChecked(False)
    qtbot.keyClick(window, Qt.Key.Key_K)
    qtbot.mouseMove(view.graphics.viewport(), QPoint(2, 2))  # no ROI under the mouse (hover colours)
    qtbot.wait(50)
    before = rgb_of(drawn(window.view))
    annotations, keys = window.layer.on_slice(), set(window.session.key_images)
    [kept] = window.session.kept_answers(window.shown.key)
    window.close()  # the app closes: the session is saved
    [saved] = (user_data_folder / "sessions").iterdir()
    assert saved.stat().st_mode & 0o777 == 0o600

    again = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    again.resize(window.size())
    again.show()
    qtbot.waitExposed(again)
    with qtbot.waitSignals([again.series_loaded, again.session_restored], timeout=TIMEOUT):
        again.open_path(str(SAMPLE), k=17)
    qtbot.wait(100)
    assert again.layer.on_slice() == annotations and again.session.key_images == keys
    [restored] = again.session.kept_answers(again.shown.key)
    assert restored.finding == kept.finding and np.array_equal(restored.saliency, kept.saliency)
    assert kept.finding.label in again.inference.answer.text()
    after = rgb_of(drawn(again.view))
    assert after.shape == before.shape and np.array_equal(after, before)  # drawn on the same pixels
    again.close()


def test_close_study_empties_the_window_and_clear_can_be_undone(qtbot, window):
    draw(qtbot, window, "length", (100, 60), (100, 200))
    window.clear_series()
    assert window.layer.on_slice() == []
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(window.layer.on_slice()) == 1
    window.close_study()
    assert window.shown is None and window.browser.topLevelItemCount() == 0 and window.session.annotations == {}
    open_and_wait(qtbot, window, SAMPLE, k=17)
    qtbot.waitUntil(lambda: len(window.layer.on_slice()) == 1, timeout=10_000)  # restored from disk


def test_the_tag_dock_shows_the_frame_of_an_enhanced_file_not_its_first_frames(qtbot, window, shared_data):
    import pydicom

    open_and_wait(qtbot, window, shared_data / "dicom_cases" / "mr_siemens_enhanced_4d", k=4)
    window.time_slider.setValue(1)
    window.tags_dock.show()
    header = window.shown.header_of(4, 1)
    qtbot.waitUntil(lambda: window.tags.source == window.shown.ref(4, 1)
                    and window.tags.tree.topLevelItemCount() > 20, timeout=10_000)
    rows = [[window.tags.tree.topLevelItem(i).text(c) for c in range(4)]
            for i in range(window.tags.tree.topLevelItemCount())]
    frames = pydicom.dcmread(header.path, stop_before_pixels=True).PerFrameFunctionalGroupsSequence
    position = frames[header.frame].PlanePositionSequence[0].ImagePositionPatient
    positions = [row[3] for row in rows if row[1] == "Image Position (Patient)"]
    assert positions == [str(position)]
    assert any(row[3].startswith(f"frame {header.frame + 1} of {len(frames)}") for row in rows)
