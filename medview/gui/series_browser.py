"""Series browser: Patient → Study → Series/volume, each volume with a thumbnail of its middle slice,
modality, description, slice count and a warning icon whose tooltip lists the loader's warnings."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QHeaderView, QStyle, QTreeWidget, QTreeWidgetItem

from medview.core.volume import display_date
from medview.core.window_level import grey, percentile_window
from medview.gui import colour
from medview.io.index import Catalog, VolumeSpec

THUMBNAIL = 64
INDEX_ROLE = Qt.ItemDataRole.UserRole


def thumbnail_pixels(values: np.ndarray, photometric: str = "MONOCHROME2") -> np.ndarray:
    """A THUMBNAIL² grey image of a slice, windowed 1–99 %, for the browser (computed in a worker)."""
    step = max(1, max(values.shape) // THUMBNAIL)
    if colour.is_colour(values):
        return colour.thumbnail(values, step)
    small = np.asarray(values)[::step, ::step]
    window = percentile_window(small, 1.0, 99.0)
    return np.ascontiguousarray(grey(small, window, inverted=photometric == "MONOCHROME1"))


class SeriesBrowser(QTreeWidget):
    """Emits `volume_chosen(index)` with the volume's index in the catalog's fixed order."""

    volume_chosen = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["Series", "Slices"])
        self.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        # the slice count and the warning icon stay in view at any width; the description is elided instead
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.items: dict[int, QTreeWidgetItem] = {}
        self.itemSelectionChanged.connect(self._selected)

    def show_catalog(self, catalog: Catalog) -> None:
        self.clear()
        self.items = {}
        patients: dict[tuple, QTreeWidgetItem] = {}
        studies: dict[str, QTreeWidgetItem] = {}
        warning_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for index, spec in enumerate(catalog.volumes):
            info = spec.info
            patient_key = (info.patient_name, info.patient_id)
            if patient_key not in patients:
                patients[patient_key] = QTreeWidgetItem(
                    self, [f"{info.patient_name or '(no name)'}  {info.patient_id}".strip()])
                patients[patient_key].setExpanded(True)
            if info.study_instance_uid not in studies:
                studies[info.study_instance_uid] = QTreeWidgetItem(
                    patients[patient_key],
                    [f"{display_date(info.study_date) or 'no date'}  {info.study_description}".strip()])
                studies[info.study_instance_uid].setExpanded(True)
            item = QTreeWidgetItem(studies[info.study_instance_uid], [self._text(spec), self._count(spec)])
            item.setData(0, INDEX_ROLE, index)
            if spec.warnings:
                item.setIcon(1, warning_icon)
                item.setToolTip(0, "\n".join(spec.warnings))
                item.setToolTip(1, "\n".join(spec.warnings))
            self.items[index] = item

    @staticmethod
    def _text(spec: VolumeSpec) -> str:
        info = spec.info
        number = f"#{info.series_number} " if info.series_number is not None else ""
        text = f"{info.modality} {number}{info.series_description}".strip()
        # the split key on a line of its own: volumes of one series stay told apart at any width
        return f"{text}\n{info.part}" if info.part else text

    @staticmethod
    def _count(spec: VolumeSpec) -> str:
        text = f"{spec.n_slices}"
        return text + (f" × {spec.time_points} t" if spec.time_points > 1 else "")

    def warnings_of(self, index: int) -> str:
        item = self.items.get(index)
        return item.toolTip(1) if item is not None else ""

    def set_thumbnail(self, index: int, pixels: np.ndarray) -> None:
        item = self.items.get(index)
        if item is None:
            return
        height, width = pixels.shape[:2]
        kind = QImage.Format.Format_RGB888 if colour.is_colour(pixels) else QImage.Format.Format_Grayscale8
        image = QImage(pixels.data, width, height, pixels.strides[0], kind).copy()
        if max(width, height) < THUMBNAIL:  # a tiny image (16×16 on a CD) is enlarged, pixels kept square
            image = image.scaled(THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio,
                                 Qt.TransformationMode.FastTransformation)
        item.setIcon(0, QIcon(QPixmap.fromImage(image)))

    def select(self, index: int) -> None:
        item = self.items.get(index)
        if item is not None:
            self.setCurrentItem(item)

    def _selected(self) -> None:
        items = self.selectedItems()
        if items:
            index = items[0].data(0, INDEX_ROLE)
            if index is not None:
                self.volume_chosen.emit(int(index))
