"""The crosshair's reference lines on a plane view: where the other views' planes cut this one, each in its
plane's colour and with two rotation handles (as in Slicer and Horos), drawn on the image's own pixels."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QGraphicsLineItem

#: each plane's colour: its frame, its name and its reference line in the other views
PLANE_COLOURS = {"axial": "#ff5a5a", "coronal": "#5adc5a", "sagittal": "#5a9cff", "acquired": "#e0e0e0"}
#: a rotation handle: its radius and how near (screen pixels) a press must be to take it
HANDLE_RADIUS = 5
HANDLE_REACH = 9
#: the handles sit this far along their line from the crosshair, as a share of the view's smaller side
HANDLE_DISTANCE = 0.36


def plane_colour(name: str) -> str:
    return next((c for key, c in PLANE_COLOURS.items() if key in name), "#e0e0e0")


class ReferenceLines:
    """The lines (and their handles) of the other planes through the crosshair, children of the image item so
    that they stay on the same pixels at every zoom and pan; the handles keep their size on screen."""

    def __init__(self, image, box) -> None:
        self.image, self.box = image, box
        self.lines: dict[str, QGraphicsLineItem] = {}
        self.handles: dict[str, tuple[QGraphicsEllipseItem, QGraphicsEllipseItem]] = {}

    def _items(self, name: str) -> tuple[QGraphicsLineItem, tuple]:
        if name not in self.lines:
            colour = QColor(plane_colour(name))
            line = self.lines[name] = QGraphicsLineItem(self.image)
            pen = QPen(colour, 1.5)
            pen.setCosmetic(True)
            line.setPen(pen)
            line.setZValue(40)
            ends = []
            for _ in range(2):
                handle = QGraphicsEllipseItem(-HANDLE_RADIUS, -HANDLE_RADIUS, 2 * HANDLE_RADIUS, 2 * HANDLE_RADIUS,
                                              self.image)
                handle.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)  # screen pixels
                handle.setPen(QPen(colour, 1.5))
                handle.setBrush(QColor(0, 0, 0, 120))
                handle.setZValue(41)
                ends.append(handle)
            self.handles[name] = tuple(ends)
        return self.lines[name], self.handles[name]

    def draw(self, plane, where: tuple[float, float] | None, others: dict, handles: bool = True) -> None:
        """A line for each of `others` (name → ImagePlane) through pixel `where` (row, column) of `plane`."""
        for name, other in others.items():
            line, ends = self._items(name)
            direction = None if where is None or plane is None else plane.line_with(other)
            if direction is None:
                self._hide(name)
                continue
            row, column = where
            d_row, d_column = direction
            reach = 4 * (plane.shape[0] + plane.shape[1]) / max(math.hypot(d_row, d_column), 1e-9)
            centre = QPointF(column + 0.5, row + 0.5)  # pixel (r, c) covers [c, c + 1): its centre at + 0.5
            line.setLine(centre.x() - reach * d_column, centre.y() - reach * d_row,
                         centre.x() + reach * d_column, centre.y() + reach * d_row)
            line.show()
            for handle, point in zip(ends, self._handle_points(plane, centre, d_row, d_column), strict=True):
                handle.setPos(point)
                handle.setVisible(handles)
        for name in set(self.lines) - set(others):
            self._hide(name)

    def hide(self) -> None:
        for name in self.lines:
            self._hide(name)

    def _hide(self, name: str) -> None:
        self.lines[name].hide()
        for handle in self.handles[name]:
            handle.hide()

    def _handle_points(self, plane, centre: QPointF, d_row: float, d_column: float) -> list[QPointF]:
        """Image positions of a line's two handles: on the line, a fixed share of the view from the crosshair,
        brought in where that would leave the view (a crosshair near an edge). Worked out from the view's range
        and the image's own transform: the item's scene transform may not be updated yet."""
        rect = self.box.viewRect()
        width, height = self.box.width(), self.box.height()
        if rect.width() <= 0 or width <= 0:
            return [centre, centre]
        pixels_per_mm = width / rect.width()  # the view's coordinates are mm, the same scale both ways
        transform = self.image.transform()
        here = transform.map(centre)
        step = transform.map(centre + QPointF(d_column, d_row)) - here  # one pixel step along the line, in mm
        step_mm = math.hypot(step.x(), step.y()) or 1.0
        screen = ((here.x() - rect.left()) * pixels_per_mm, (here.y() - rect.top()) * pixels_per_mm)
        direction = (step.x() / step_mm, step.y() / step_mm)
        wanted = HANDLE_DISTANCE * min(width, height)
        points = []
        for sign in (1, -1):
            reach = wanted
            for axis, size in ((0, width), (1, height)):
                towards = sign * direction[axis]
                if abs(towards) > 1e-9:  # how far along the line before this edge (less a margin)
                    edge = (size - HANDLE_REACH - screen[axis]) if towards > 0 else (screen[axis] - HANDLE_REACH)
                    reach = min(reach, edge / abs(towards))
            reach = max(reach, 2 * HANDLE_REACH)  # never on the crosshair itself
            points.append(centre + QPointF(d_column, d_row) * (sign * reach / pixels_per_mm / step_mm))
        return points

    def handle_at(self, scene_pos) -> str | None:
        """The plane whose line's handle is under a scene position (within a few screen pixels), if any."""
        for name, ends in self.handles.items():
            for handle in ends:
                if handle.isVisible():
                    place = handle.scenePos()
                    if math.hypot(place.x() - scene_pos.x(), place.y() - scene_pos.y()) <= HANDLE_REACH:
                        return name
        return None

    def handle_scene_points(self, name: str) -> list[QPointF]:
        return [handle.scenePos() for handle in self.handles[name]]


