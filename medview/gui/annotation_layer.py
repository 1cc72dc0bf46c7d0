"""Measuring and annotating on the slice view: length, angle, ellipse and rectangle ROI, arrow, text.

A tool is chosen from the *Measure* menu or toolbar; each click on the image then places a point (two for a
length, an arrow or an ROI's opposite corners, three for an angle: arm, vertex, arm; one for a text). What
is drawn is kept in the `Session` under the image it was drawn on (its `ImageRef`: series, time point, slice),
with undo and redo, and drawn as pyqtgraph ROIs that are children of the image item, so they sit on the same
pixels at every zoom, flip and rotation. The clicks of one measurement all come from one image: the session
starts it again when the user clicks on another. Drag an ROI or its handles to move it; click it to select it
(not while clicks classify); Delete removes the selection; Ctrl+Z undoes. Values come from
`core.annotations.measure_annotation`, in mm and in the series' units (HU for CT), at the time point shown.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Signal
from PySide6.QtWidgets import QInputDialog

from medview.core.annotations import KINDS, Annotation, bidimensional, measure_annotation
from medview.core.session import ImageRef, Session

PEN = pg.mkPen("#ffdc00", width=2)
ROI_PEN = pg.mkPen("#50dcff", width=2)
SELECTED_PEN = pg.mkPen("#ff4080", width=3)


class AnnotationLayer(QObject):
    """The drawn annotations of the slice on screen, and the tool that adds new ones."""

    changed = Signal()  # an annotation was added, moved, removed, or undone

    def __init__(self, view, session: Session | None = None) -> None:
        super().__init__(view)
        self.view = view
        self.session = session or Session()
        self.tool: str | None = None
        self.selectable = True  # off while clicks classify: a click on an ROI is then not a selection
        self.selected: Annotation | None = None
        self.items: list[tuple[Annotation, object, object]] = []  # (annotation, roi, label)
        self._drawn_key: tuple | None = None
        self.ask_text = self._ask_text
        view.point_clicked.connect(self._clicked)
        view.slice_changed.connect(lambda _k: self.redraw())
        view.box.sigRangeChanged.connect(lambda *_: self.place_labels())  # labels keep their screen size

    # -- which slice ------------------------------------------------------------------------------------------
    @property
    def key(self) -> ImageRef | None:
        series = self.view.series
        return None if series is None else series.ref(self.view.k, self.view.t)

    def on_slice(self) -> list[Annotation]:
        return self.session.on(self.key)

    # -- tools ------------------------------------------------------------------------------------------------
    def set_tool(self, tool: str | None) -> None:
        if tool is not None and tool not in KINDS:
            raise ValueError(f"no such tool {tool!r}")
        self.tool = tool
        self.session.drawing = None
        self.view.tool_active = tool is not None

    def _clicked(self, k: int, column: float, row: float) -> None:
        if self.tool is None or self.key is None:
            return
        points = self.session.click(self.key, self.tool, (column, row))
        if points is None:
            return
        text = ""
        if self.tool == "text":
            text = self.ask_text()
            if not text:
                return
        if self.tool == "bidimensional":
            self.add(bidimensional(points, self.view.series.pixel_spacing))
            return
        self.add(Annotation(self.tool, points, text))

    def _ask_text(self) -> str:
        text, ok = QInputDialog.getText(self.view, "Text", "Annotation:")
        return text.strip() if ok else ""

    # -- editing ----------------------------------------------------------------------------------------------
    def add(self, annotation: Annotation) -> None:
        self.session.add(self.key, annotation)
        self.redraw(force=True)
        self.changed.emit()

    def delete_selected(self) -> bool:
        if self.selected is None or self.key is None:
            return False
        self.session.remove(self.key, self.selected)
        self.selected = None
        self.redraw(force=True)
        self.changed.emit()
        return True

    def undo(self) -> bool:
        return self._after(self.session.undo())

    def redo(self) -> bool:
        return self._after(self.session.redo())

    def _after(self, done: bool) -> bool:
        if done:
            self.selected = None
            self.redraw(force=True)
            self.changed.emit()
        return done

    def toggle_key_image(self) -> bool:
        if self.key is None:
            return False
        marked = self.session.toggle_key_image(self.key)
        self.changed.emit()
        return marked

    def values(self, annotation: Annotation):
        series = self.view.series
        return measure_annotation(annotation, series.slice(self.view.k, self.view.t), series.pixel_spacing,
                                  series.value_unit)

    # -- drawing ----------------------------------------------------------------------------------------------
    def redraw(self, force: bool = False) -> None:
        """Draw the annotations of the slice on screen (nothing to do on slices without any: scrolling stays
        as cheap as before)."""
        annotations = self.on_slice()
        key = (self.key, tuple(annotations), self.selected)
        if not force and key == self._drawn_key:
            return
        self._drawn_key = key
        for _annotation, roi, label in self.items:
            for item in (roi, label, *getattr(roi, "extras", ())):
                if item is not None and item.scene() is not None:
                    item.scene().removeItem(item)
        self.items = []
        for annotation in annotations:
            self.items.append(self._draw(annotation))
        self.place_labels()

    def _draw(self, annotation: Annotation):
        kind, points = annotation.kind, annotation.points
        pen = SELECTED_PEN if annotation == self.selected else (ROI_PEN if kind in ("ellipse", "rectangle") else PEN)
        if kind in ("length", "arrow"):
            roi = pg.LineSegmentROI(positions=list(points), pen=pen)
        elif kind == "bidimensional":  # the long axis can be moved; the short axis follows it
            roi = pg.LineSegmentROI(positions=list(points[:2]), pen=pen)
            short = pg.PlotCurveItem(x=[points[2][0], points[3][0]], y=[points[2][1], points[3][1]], pen=pen)
            short.setParentItem(self.view.image)
            short.setZValue(30)
            roi.extras = (short,)
        elif kind == "angle":
            roi = pg.PolyLineROI(list(points), closed=False, pen=pen)
        elif kind in ("ellipse", "rectangle"):
            (c0, r0), (c1, r1) = points
            position, size = (min(c0, c1), min(r0, r1)), (abs(c1 - c0), abs(r1 - r0))
            roi = (pg.EllipseROI if kind == "ellipse" else pg.RectROI)(position, size, pen=pen)
        else:  # text: a small movable box at the anchor
            roi = pg.ROI(points[0], (1, 1), pen=pen)
        roi.setParentItem(self.view.image)
        roi.setZValue(30)
        roi.setAcceptedMouseButtons(roi.acceptedMouseButtons() | pg.QtCore.Qt.MouseButton.LeftButton)
        roi.sigClicked.connect(lambda _roi, _event, a=annotation: self.selectable and self.select(a))
        roi.sigRegionChangeFinished.connect(lambda r, a=annotation: self._moved(a, r))
        text = annotation.text or "\n".join(str(v) for v in self.values(annotation))
        label = None
        if kind == "arrow":
            label = self._arrow_head(points, pen)
        elif text:  # on a dark box: legible on bone and air; placed by `_place_labels`
            label = pg.TextItem(text, color="#f0f0a0" if annotation.text else pen.color(), anchor=(0, 0),
                                fill=pg.mkBrush(0, 0, 0, 215))
            label.setParentItem(self.view.image)
            label.setZValue(31)
        return annotation, roi, label

    def place_labels(self) -> None:
        """Each value label beside its ROI, on screen's right of it, moved down past any ROI or label it would
        cover: labels never overlap one another or an ROI, whatever the zoom, rotation or flip."""
        if not self.items:
            return
        image = self.view.image
        taken = [roi.sceneBoundingRect() for _annotation, roi, _label in self.items]
        for _annotation, roi, label in self.items:
            if not isinstance(label, pg.TextItem):
                continue
            box = roi.sceneBoundingRect()
            label.setPos(image.mapFromScene(QPointF(box.right() + 4, box.top())))
            label.updateTransform(force=True)
            for _ in range(2 * len(taken) + 1):
                rect = label.sceneBoundingRect()
                hit = next((other for other in taken if other.intersects(rect)), None)
                if hit is None:
                    break
                label.setPos(image.mapFromScene(QPointF(rect.left(), hit.bottom() + 2)))
                label.updateTransform(force=True)
            taken.append(label.sceneBoundingRect())

    def _arrow_head(self, points, pen):
        """Two 5 mm barbs at the head, drawn in the image's coordinates so they turn and flip with it; the
        angles are taken in mm so the head keeps its shape on anisotropic pixels."""
        row_mm, col_mm = self.view.series.pixel_spacing
        (c0, r0), (c1, r1) = points
        dx, dy = (c1 - c0) * col_mm, (r1 - r0) * row_mm
        norm = math.hypot(dx, dy) or 1.0
        ux, uy = -dx / norm, -dy / norm  # from the head back along the shaft
        xs, ys = [], []
        for angle in (0.45, 0.0, -0.45):
            if angle == 0.0:
                xs.append(c1)
                ys.append(r1)
                continue
            bx = (ux * math.cos(angle) - uy * math.sin(angle)) * 5.0
            by = (ux * math.sin(angle) + uy * math.cos(angle)) * 5.0
            xs.append(c1 + bx / col_mm)
            ys.append(r1 + by / row_mm)
        head = pg.PlotCurveItem(x=xs, y=ys, pen=pen)
        head.setParentItem(self.view.image)
        head.setZValue(31)
        return head

    def select(self, annotation: Annotation | None) -> None:
        self.selected = annotation
        self.redraw(force=True)

    def _moved(self, old: Annotation, roi) -> None:
        if old.kind == "bidimensional":
            new = _bidimensional_moved(old, _points_of("length", roi), self.view.series.pixel_spacing)
        else:
            new = Annotation(old.kind, _points_of(old.kind, roi), old.text)
        if new != old and self.key is not None:
            self.session.replace(self.key, old, new)
            if self.selected == old:
                self.selected = new
            self.redraw(force=True)
            self.changed.emit()


def _bidimensional_moved(old: Annotation, long_axis, spacing) -> Annotation:
    """The long axis dragged (moved, or an end moved): the short axis moves with its middle and is made
    perpendicular again."""
    (a0, a1), (b0, b1) = old.points[:2]
    (n0, n1), (m0, m1) = long_axis
    shift = ((n0 + m0 - a0 - b0) / 2, (n1 + m1 - a1 - b1) / 2)
    short = [(c + shift[0], r + shift[1]) for c, r in old.points[2:]]
    return bidimensional((*long_axis, *short), spacing)


def _points_of(kind: str, roi) -> tuple[tuple[float, float], ...]:
    """An ROI's geometry back in the slice's pixel coordinates (its parent is the image item)."""
    if kind in ("length", "arrow", "angle"):
        return tuple((p.x(), p.y()) for p in (roi.mapToParent(h["pos"]) for h in roi.handles))
    x, y = roi.pos().x(), roi.pos().y()
    if kind == "text":
        return ((x, y),)
    width, height = roi.size().x(), roi.size().y()
    return (x, y), (x + width, y + height)
