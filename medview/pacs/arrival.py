"""Where retrieved instances go: the local cache (`cache.Cache`) or a folder the user named (`--out DIR`).

Both take the bytes of one DICOM file as they arrive, check the UIDs in its header (a UID names a file only when
it is a UID), and write it atomically: a file is there whole or not at all, whatever happens to the connection.
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import pydicom

from medview.errors import MedviewError
from medview.io import atomic
from medview.pacs.query import checked_uid


@dataclass(frozen=True)
class Arrived:
    """One instance on disk."""

    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    path: Path
    size: int


def _check_whole(dataset, cut_short: bool) -> None:
    """An image whose pixel data ended early (a connection cut in the middle of a WADO-RS part) is refused:
    a truncated file never enters the cache."""
    from medview.io.limits import image_bytes

    uid = str(dataset.get("SOPInstanceUID", "?"))
    pixels = next((dataset[k] for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData") if k in dataset),
                  None)
    if cut_short or ("Rows" in dataset and "Columns" in dataset and pixels is None):
        raise MedviewError(f"the instance {uid} arrived truncated (it ends before its pixel data does) and was "
                           "not kept")
    syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
    if pixels is None or syntax is None or syntax.is_encapsulated:
        return
    try:
        rows, columns, bits = int(dataset.Rows), int(dataset.Columns), int(dataset.BitsAllocated)
        samples, frames = int(dataset.get("SamplesPerPixel", 1)), int(dataset.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError):
        return
    needed = (-(-rows * columns * samples * frames // 8) if bits == 1 else
              image_bytes(rows, columns, samples, bits, frames))
    if len(pixels.value or b"") < needed:
        raise MedviewError(f"the instance {uid} arrived truncated ({len(pixels.value or b'')} of {needed} pixel "
                           "bytes) and was not kept")


def read_uids(data: bytes, expected_series: str | None = None) -> tuple[str, str, str, str]:
    """(study, series, SOP instance, SOP class) UIDs of an encoded DICOM file, checked; an instance of
    another series than the one asked for, or one that arrived truncated, is refused."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            header = pydicom.dcmread(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - whatever the bytes are, they are not a DICOM file we keep
        raise MedviewError(f"an instance that arrived is not a readable DICOM file: {error}") from error
    _check_whole(header, any("End of file reached" in str(w.message) for w in caught))
    uids = (checked_uid(header.get("StudyInstanceUID"), "StudyInstanceUID"),
            checked_uid(header.get("SeriesInstanceUID"), "SeriesInstanceUID"),
            checked_uid(header.get("SOPInstanceUID"), "SOPInstanceUID"),
            checked_uid(header.get("SOPClassUID"), "SOPClassUID"))
    if expected_series is not None and uids[1] != expected_series:
        raise MedviewError(f"an instance of another series ({uids[1]}) arrived and was refused")
    return uids


class FolderSink:
    """`--out DIR`: one file per SOPInstanceUID, `DIR/<SOPInstanceUID>.dcm`, written atomically."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = atomic.ensure_folder(folder)
        self.lock = threading.Lock()

    def path_of(self, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        return self.folder / f"{sop_uid}.dcm"

    def has(self, study_uid: str, series_uid: str, sop_uid: str) -> bool:
        return self.path_of(study_uid, series_uid, sop_uid).is_file()

    def present(self, study_uid: str, series_uid: str) -> set[str]:
        """A flat folder cannot tell a series' files apart: `has` answers instance by instance."""
        return set()

    def store(self, data: bytes, expected_series: str | None = None) -> Arrived:
        study, series, sop, sop_class = read_uids(data, expected_series)
        path = self.path_of(study, series, sop)
        with self.lock:
            atomic.write_bytes(path, data)
        return Arrived(study, series, sop, sop_class, path, len(data))

    def series_started(self, study, series, instances) -> None:
        """Nothing to record: a plain folder keeps no manifest."""

    def series_finished(self, result) -> None:
        """Nothing to record."""

    def study_folder(self, study_uid: str) -> Path:
        return self.folder
