"""Measuring on the slice view and exporting the report, driven as a user: tools, clicks, menu keys, the dialog."""

from __future__ import annotations

import subprocess

import highdicom as hd
import numpy as np
import pydicom
import pytest
from PySide6.QtCore import Qt

from medview.core import measure
from tests.gui.helpers import click_pixel, draw

TIMEOUT = 120_000


def test_a_length_drawn_with_two_clicks_measures_what_the_pixel_spacing_implies(qtbot, window):
    layer = window.layer
    draw(qtbot, window, "length", (100, 60), (100, 200))
    [length] = layer.on_slice()
    (c0, r0), (c1, r1) = length.points
    # the clicks land within half an image pixel of the intended points (the view shows > 2 screen px per pixel)
    assert abs(c0 - 60) < 0.5 and abs(c1 - 200) < 0.5 and abs(r0 - 100) < 0.5 and abs(r1 - 100) < 0.5
    [value] = layer.values(length)
    row_mm, col_mm = window.shown.pixel_spacing
    assert value.value == pytest.approx(np.hypot((c1 - c0) * col_mm, (r1 - r0) * row_mm), abs=1e-9)
    assert value.value == pytest.approx(140 * col_mm, abs=col_mm)
    assert "length" in window.statusBar().currentMessage()


def test_angle_arrow_and_text_are_placed_by_their_clicks(qtbot, window):
    layer = window.layer
    layer.ask_text = lambda: "enhancing rim"  # what the user types in the text dialog
    draw(qtbot, window, "angle", (100, 200), (100, 100), (10, 100))  # arm along the row, vertex, arm up
    draw(qtbot, window, "arrow", (50, 50), (80, 80))
    draw(qtbot, window, "text", (120, 40))
    angle, arrow, text = layer.on_slice()
    row_mm, col_mm = window.shown.pixel_spacing
    assert (angle.kind, arrow.kind, text.kind, text.text) == ("angle", "arrow", "text", "enhancing rim")
    assert layer.values(angle)[0].value == pytest.approx(90.0, abs=0.6)
    assert layer.values(arrow) == () and len(layer.items) == 3


def test_roi_select_move_delete_and_undo(qtbot, window):
    view, layer = window.view, window.layer
    draw(qtbot, window, "ellipse", (195, 160), (225, 190))
    [ellipse] = layer.on_slice()
    values = {v.name: v.value for v in layer.values(ellipse)}
    pixels = window.shown.slice(view.k)
    mask = measure.roi_mask(pixels.shape, "ellipse", *ellipse.points)
    assert values["mean"] == pytest.approx(pixels[mask].astype(float).mean())
    assert values["SD"] == pytest.approx(pixels[mask].astype(float).std(ddof=1))
    # move it as a drag would: the ROI's position changes and the store follows
    _annotation, roi, _label = layer.items[0]
    roi.setPos(roi.pos() + pg_point(10, 5))
    [moved] = layer.on_slice()
    assert moved.points[0] == pytest.approx((ellipse.points[0][0] + 10, ellipse.points[0][1] + 5))
    layer.select(moved)
    qtbot.keyClick(window, Qt.Key.Key_Delete)
    assert layer.on_slice() == []
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert layer.on_slice() == [moved]
    # annotations stay with their slice
    view.set_slice(view.k + 1)
    assert layer.on_slice() == [] and layer.items == []
    view.set_slice(view.k - 1)
    assert layer.on_slice() == [moved] and len(layer.items) == 1


def pg_point(x: float, y: float):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


def test_draw_classify_mark_and_export_the_report(qtbot, window, tmp_path):
    view, layer, panel = window.view, window.layer, window.inference
    draw(qtbot, window, "length", (200, 150), (220, 200))
    draw(qtbot, window, "rectangle", (195, 160), (225, 190))
    assert len(layer.on_slice()) == 2
    panel.click_mode.setChecked(True)  # switches the measuring tool off
    assert layer.tool is None
    with qtbot.waitSignal(panel.result_drawn, timeout=TIMEOUT) as drawn:
        click_pixel(qtbot, view, 210, 175)
    prediction = drawn.args[0]
    assert len(layer.on_slice()) == 2  # the classifying click drew nothing
    qtbot.keyClick(window, Qt.Key.Key_K)
    assert window.shown.ref(view.k) in window.session.key_images
    view.set_slice(5)
    qtbot.keyClick(window, Qt.Key.Key_K)  # a second key image, on k 5
    view.set_slice(17)
    panel.answers.item(0).setCheckState(Qt.CheckState.Checked)  # "Keep in report"

    dialog = window.open_report()
    qtbot.addWidget(dialog)
    assert prediction.label in dialog.preview.toPlainText()
    dialog.impression.setPlainText("Mass in the left hemisphere.")
    dialog.pdf_path.setText(str(tmp_path / "out" / "report.pdf"))
    dialog.html_path.setText(str(tmp_path / "out" / "report.html"))
    dialog.dicom_path.setText(str(tmp_path / "out" / "dicom"))
    with qtbot.waitSignal(dialog.exported, timeout=TIMEOUT) as written:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    paths = written.args[0]
    assert {p.name for p in paths} == {"report.pdf", "report.html", "medview-report-SR.dcm",
                                       "medview-key-image-01-SC.dcm", "medview-key-image-02-SC.dcm"}
    text = subprocess.run(["pdftotext", str(tmp_path / "out" / "report.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert prediction.label in text and "Mass in the left hemisphere." in text and "length" in text
    sr = hd.sr.srread(tmp_path / "out" / "dicom" / "medview-report-SR.dcm")
    groups = sr.content.get_planar_roi_measurement_groups()
    assert [g.finding_type.meaning for g in groups[:1]] == [prediction.label]
    assert len(groups) == 3
    # each key image's SC refers to exactly the slice it shows (k 5 first, then k 17, in slice order)
    uids = window.shown.volume.sop_instance_uids
    for name, k in (("medview-key-image-01-SC.dcm", 5), ("medview-key-image-02-SC.dcm", 17)):
        sc = pydicom.dcmread(tmp_path / "out" / "dicom" / name)
        assert sc.pixel_array.ndim == 3
        assert [item.ReferencedSOPInstanceUID for item in sc.SourceImageSequence] == [uids[k]]
    assert "AI generated, research use only" in (tmp_path / "out" / "report.html").read_text()
