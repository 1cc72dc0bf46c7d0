"""What a reader sees stays legible and findable: texts on a dark shadow or box, labels that never cover one
another or an ROI, a scale bar in true mm, the slice count and warnings in view, cine speed, smoothing."""

from __future__ import annotations

import itertools
import math

import pytest

from medview.core.window_level import Window
from tests.gui.helpers import draw, open_and_wait

TIMEOUT = 120_000


def test_measurement_labels_never_cover_each_other_or_an_roi(qtbot, window):
    draw(qtbot, window, "ellipse", (150, 150), (180, 180))
    draw(qtbot, window, "rectangle", (150, 185), (175, 215))  # just right of the ellipse, where its label goes
    draw(qtbot, window, "length", (140, 150), (140, 215))
    window.view.zoom_by(1.6)
    window.view.rotate(1)
    items = window.layer.items
    labels = [label.sceneBoundingRect() for _a, _roi, label in items if label is not None]
    rois = [roi.sceneBoundingRect() for _a, roi, _label in items]
    assert len(labels) == 3
    for first, second in itertools.combinations(labels, 2):
        assert not first.intersects(second)
    for label in labels:
        assert not any(label.intersects(roi) for roi in rois)


def test_the_scale_bar_is_true_to_the_pixel_spacing(qtbot, window):
    view = window.view
    view.zoom_by(1.3)
    qtbot.wait(20)
    millimetres = float(view.scale_text.text().split()[0])
    line = view.scale_bar.line()
    col_mm = window.shown.pixel_spacing[1]
    a, b = view.widget_point_of(100, 0, centre=False), view.widget_point_of(100, 100, centre=False)
    pixels_per_mm = math.hypot(b.x() - a.x(), b.y() - a.y()) / (100 * col_mm)
    assert line.length() == pytest.approx(millimetres * pixels_per_mm, rel=0.01)
    assert 60 <= line.length() <= 160 and view.scale_bar.isVisible()


def test_overlay_texts_are_drawn_on_a_dark_box(qtbot, window):
    label = window.view.corners["bottom_left"]
    box = label.backdrop
    assert box.rect().contains(label.boundingRect()) and box.brush().color().lightness() < 30
    assert box.brush().color().alpha() >= 128 and box.isVisible()


def test_a_narrow_window_keeps_its_scale_when_dragged(qtbot, window):
    view = window.view
    view.set_window(Window(0.0125, 0.5))
    view.drag_window(1, 0)
    assert 0.0125 < view.window.width < 0.02
    assert "W 0.0126" in view.corners["bottom_right"].text()


def test_the_series_browser_shows_the_slice_count_at_its_default_width(qtbot, window, shared_data):
    open_and_wait(qtbot, window, str(shared_data / "dicom_cases" / "ct_head_ge_gantry_tilt"))
    browser = window.browser
    item = browser.items[0]
    right = browser.columnViewportPosition(1) + browser.columnWidth(1)
    assert right <= browser.viewport().width() and item.text(1) == "28"
    assert not item.icon(1).isNull() and "tilt" in item.toolTip(1)
    window.warnings_dock.show()
    texts = [window.warnings.item(i).text() for i in range(window.warnings.count())]
    assert any("tilt" in text for text in texts) and window.warnings_dock.windowTitle().startswith("Warnings (")


def test_cine_speed_smoothing_and_clearing_click_marks(qtbot, window):
    window.set_cine_rate(25)
    assert window.cine.interval() == 40
    view = window.view
    view.zoom_by(3)
    nearest = view.graphics.viewport().grab().toImage()
    window.smooth_action.trigger()
    smooth = view.graphics.viewport().grab().toImage()
    assert nearest != smooth
    window.smooth_action.trigger()
    window.inference.click_mode.setChecked(True)
    window.session.add_mark(window.shown.ref(17), 175, 210)
    view.draw_marks()
    assert view.marks.isVisible()
    window.clear_marks()
    assert not view.marks.isVisible()


def test_the_report_preview_follows_the_impression_as_it_is_typed(qtbot, window):
    dialog = window.open_report()
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.impression, "Enhancing mass")
    qtbot.waitUntil(lambda: "Enhancing mass" in dialog.preview.toPlainText(), timeout=3000)


def test_volumes_of_one_series_are_told_apart_by_their_split_key(qtbot, window, shared_data):
    open_and_wait(qtbot, window, str(shared_data / "dicom_cases" / "mr_philips_enhanced_fieldmap"))
    lines = [window.browser.items[i].text(0).splitlines() for i in (0, 1)]
    assert [line[-1] for line in lines] == ["field map", "magnitude"]
    assert window.browser.columnWidth(0) >= max(window.browser.fontMetrics().horizontalAdvance(line[-1])
                                                for line in lines)
