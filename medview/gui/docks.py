"""Docks around the viewer: the files that gave no image, and the DICOM tags of the slice shown."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QLineEdit,
    QListWidget,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medview.io.scan import SkippedFile


class SeriesWarnings(QListWidget):
    """The loader's warnings about the series shown (tilt, uneven spacing, missing slices...): they stay here,
    not only in a status message that goes after ten seconds."""

    def show_warnings(self, warnings) -> None:
        self.clear()
        self.addItems(list(warnings) or ["No warnings for this series."])


class SkippedFiles(QTableWidget):
    """Every file that gave no image, with the loader's reason: one list, not a popup per file."""

    def __init__(self, parent=None) -> None:
        super().__init__(0, 2, parent)
        self.setHorizontalHeaderLabels(["File", "Reason"])
        self.horizontalHeader().setStretchLastSection(True)
        self.verticalHeader().setVisible(False)

    def show_skipped(self, skipped: list[SkippedFile]) -> None:
        self.setRowCount(len(skipped))
        for row, item in enumerate(skipped):
            self.setItem(row, 0, QTableWidgetItem(item.path))
            self.setItem(row, 1, QTableWidgetItem(item.reason))
        self.resizeColumnToContents(0)


def read_tags(path: str, frame: int = 0) -> list[tuple[str, str, str, str]]:
    """(tag, name, VR, value) rows of the header of one image, sequences flattened with indentation (in a
    worker). For an enhanced multi-frame file, the per-frame functional groups show the frame of the slice on
    screen only (its position, orientation, rescale), not the first frames of the file."""
    import pydicom

    dataset = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    rows: list[tuple[str, str, str, str]] = []

    def walk(data, depth: int) -> None:
        for element in data:
            indent = "  " * depth
            if element.keyword == "PerFrameFunctionalGroupsSequence" and 0 <= frame < len(element.value):
                rows.append((f"{indent}{element.tag}", element.name, "SQ",
                             f"frame {frame + 1} of {len(element.value)} (the slice shown)"))
                walk(element.value[frame], depth + 1)
            elif element.VR == "SQ":
                rows.append((f"{indent}{element.tag}", element.name, "SQ", f"{len(element.value)} item(s)"))
                for item in element.value[:20]:
                    walk(item, depth + 1)
            else:
                value = element.repval if element.VR in ("OB", "OW", "UN", "OF", "OD") else str(element.value)
                rows.append((f"{indent}{element.tag}", element.name, element.VR or "", value[:200]))

    walk(dataset.file_meta, 0)
    walk(dataset, 0)
    return rows


class TagDock(QWidget):
    """The header of the slice shown, with a search box that filters tags, names and values."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search tags, names, values…")
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Tag", "Name", "VR", "Value"])
        self.tree.setColumnWidth(0, 110)
        self.tree.setColumnWidth(1, 200)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.search.textChanged.connect(self._filter)
        self.source: tuple | None = None

    def show_tags(self, source: tuple, rows: list[tuple[str, str, str, str]]) -> None:
        self.source = source
        self.tree.clear()
        self.tree.addTopLevelItems([QTreeWidgetItem(list(row)) for row in rows])
        self._filter(self.search.text())

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            shown = not needle or any(needle in item.text(column).lower() for column in range(4))
            item.setHidden(not shown)

    def visible_rows(self) -> list[str]:
        return [self.tree.topLevelItem(i).text(1) for i in range(self.tree.topLevelItemCount())
                if not self.tree.topLevelItem(i).isHidden()]
