"""Texts drawn over an image view (corner texts, orientation letters, the AI notice), in screen pixels."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsSimpleTextItem

#: (colour, point size, bold) of the overlay texts
AI_STYLE = ("#ff9060", 10, True)
OVERLAY_STYLE = ("#f0f0a0", 9, False)
MARKER_STYLE = ("#ffd060", 12, True)


class OverlayText(QGraphicsSimpleTextItem):
    """Text drawn in the view's own paint pass and cached as a pixmap until it changes: cheaper on every
    scroll step than a QLabel over the view, which Qt composites again whenever the image repaints."""

    def __init__(self, style: tuple[str, int, bool]) -> None:
        super().__init__()
        colour, size, bold = style
        self.setBrush(QColor(colour))
        font = QFont()
        font.setPointSize(size)
        font.setBold(bold)
        self.setFont(font)
        self.setZValue(1000)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # a dark box behind the text: legible on white bone and on black air (a plain rect item drawn by Qt
        # itself: no Python in the paint pass of a scroll step)
        self.backdrop = QGraphicsRectItem(self)
        self.backdrop.setBrush(QColor(0, 0, 0, 150))
        self.backdrop.setPen(QPen(Qt.PenStyle.NoPen))
        self.backdrop.setFlag(QGraphicsItem.GraphicsItemFlag.ItemStacksBehindParent)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt name
        super().setText(text)
        self.backdrop.setRect(super().boundingRect().adjusted(-2, -1, 2, 1) if text else QRectF())

    def width(self) -> float:
        return self.boundingRect().width()

    def height(self) -> float:
        return self.boundingRect().height()

    def move(self, x: float, y: float) -> None:
        self.setPos(x, y)
