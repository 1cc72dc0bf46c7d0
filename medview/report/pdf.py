"""The report as PDF through Qt's PDF writer: Qt lays out the same HTML as the .html file, with the key images
handed over as document resources, into an A4 document held in memory and then written atomically.

A fileable report: every page carries the patient id (or "anonymised") and the study date at its head, the
reader, the time of signing and "page n of N" at its foot; a heading never stands alone at the foot of a page
(it is moved to the next page with what it heads).
"""

from __future__ import annotations

import os
from html import escape

from medview.core.reading import Reading
from medview.report.html import report_html, signed_line
from medview.report.identity import page_line

RESOLUTION = 96
HEAD_PIXELS = 26  # the band above and below the body that holds the page's identity line and its number


def _application():
    """A QGuiApplication for fonts and layout (offscreen when there is no display: `medview report` is headless)."""
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance()
    if app is None:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QGuiApplication(["medview-report"])
    return app


def _page_of(document, block) -> int:
    """The page where the block's first line lands (a picture too tall for what is left of a page is moved
    down by the layout, inside its block)."""
    top = document.documentLayout().blockBoundingRect(block).top()
    lines = block.layout()
    if lines.lineCount():
        top += lines.lineAt(0).y()
    return int(top // document.pageSize().height())


def _blocks(document):
    block = document.begin()
    while block.isValid():
        yield block
        block = block.next()


def stranded_headings(document) -> list[str]:
    """The headings whose next block starts on a later page: alone at the foot of theirs."""
    return [block.text() for block in _blocks(document) if block.blockFormat().headingLevel()
            and block.next().isValid() and _page_of(document, block.next()) > _page_of(document, block)]


def _document(html: str, resources: dict, body_size):
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    for name, image in resources.items():
        document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
    document.setHtml(html)
    document.setPageSize(body_size)
    return document


def report_document(reading: Reading, key_images: list[bytes], body_size, keep_headings: bool = True):
    """The report as a paged QTextDocument of `body_size` (QSizeF) pages. With `keep_headings`, a heading
    that would stand alone at the foot of a page starts the next one (laid out again until none does)."""
    from PySide6.QtGui import QImage

    names = [f"keyimage{i}.png" for i in range(len(key_images))]
    resources = {}
    for name, png in zip(names, key_images, strict=True):
        resources[name] = QImage()
        resources[name].loadFromData(png, "PNG")
    html = report_html(reading, key_images, image_source=lambda i, _png: names[i], image_width=560)
    moved: set[str] = set()
    for _ in range(10):
        page_html = html
        for heading in moved:
            for level in ("h1", "h2"):
                page_html = page_html.replace(f"<{level}>{escape(heading)}</{level}>",
                                              f"<{level} style='page-break-before: always'>{escape(heading)}</{level}>")
        document = _document(page_html, resources, body_size)
        stranded = set(stranded_headings(document)) - moved
        if not keep_headings or not stranded:
            return document
        moved |= stranded
    return document


def report_pdf(reading: Reading, key_images: list[bytes]) -> bytes:
    """The PDF's bytes."""
    _application()
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRectF, QSizeF, Qt
    from PySide6.QtGui import QColor, QFont, QPageLayout, QPageSize, QPainter, QPdfWriter

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setTitle("medview report")
    writer.setCreator("medview")
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                                     QMarginsF(15, 12, 15, 12), QPageLayout.Unit.Millimeter))
    writer.setResolution(RESOLUTION)
    page = writer.pageLayout().paintRectPixels(RESOLUTION)
    body = QSizeF(page.width(), page.height() - 2 * HEAD_PIXELS)
    document = report_document(reading, key_images, body)
    count = document.pageCount()
    head, foot = page_line(reading), signed_line(reading)
    painter = QPainter(writer)
    font = QFont("DejaVu Sans")
    font.setPixelSize(11)
    left, right = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, (
        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    for number in range(count):
        if number:
            writer.newPage()
        painter.setFont(font)
        painter.setPen(QColor(60, 60, 60))
        top_band = QRectF(0, 0, body.width(), HEAD_PIXELS)
        bottom_band = QRectF(0, page.height() - HEAD_PIXELS, body.width(), HEAD_PIXELS)
        painter.drawText(top_band, left, head)
        painter.drawText(top_band, right, "medview report" + (" (anonymised)" if reading.anonymised else ""))
        painter.drawText(bottom_band, left, foot)
        painter.drawText(bottom_band, right, f"page {number + 1} of {count}")
        painter.save()
        painter.translate(0, HEAD_PIXELS - number * body.height())
        document.drawContents(painter, QRectF(0, number * body.height(), body.width(), body.height()))
        painter.restore()
    painter.end()
    del writer  # flushes the PDF into the buffer
    buffer.close()
    return bytes(data.data())
