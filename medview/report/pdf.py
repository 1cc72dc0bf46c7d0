"""The report as PDF through Qt's PDF writer: Qt lays out the same HTML as the .html file, with the key images
handed over as document resources, into an A4 document held in memory and then written atomically."""

from __future__ import annotations

import os

from medview.core.reading import Reading
from medview.report.html import report_html


def _application():
    """A QGuiApplication for fonts and layout (offscreen when there is no display: `medview report` is headless)."""
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance()
    if app is None:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QGuiApplication(["medview-report"])
    return app


def report_pdf(reading: Reading, key_images: list[bytes]) -> bytes:
    """The PDF's bytes."""
    _application()
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QUrl
    from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPdfWriter, QTextDocument

    document = QTextDocument()
    names = [f"keyimage{i}.png" for i in range(len(key_images))]
    for name, png in zip(names, key_images, strict=True):
        image = QImage()
        image.loadFromData(png, "PNG")
        document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
    document.setHtml(report_html(reading, key_images, image_source=lambda i, _png: names[i], image_width=560))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setTitle("medview report")
    writer.setCreator("medview")
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                                     QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter))
    writer.setResolution(96)
    document.setPageSize(writer.pageLayout().paintRectPixels(96).size().toSizeF())
    document.print_(writer)
    del writer  # flushes the PDF into the buffer
    buffer.close()
    return bytes(data.data())
