"""One export of a Reading: key images rendered once, then PDF, HTML and DICOM (SR + Secondary Capture),
every file written atomically, never into the folder the images came from.

With `reading.anonymised`, one `Anonymiser` serves the whole export: the DICOM outputs are built from the
anonymised headers of the source images, so the SR and the Secondary Captures name the same new study and
image UIDs, and the PDF and HTML headers show no identity.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import pydicom

from medview.core.reading import Reading
from medview.errors import ExportError
from medview.io import atomic


@dataclass(frozen=True)
class SourceImage:
    """Where slice k's pixels came from: a file, and its frame in a multi-frame file."""

    path: str
    frame: int = 0
    n_frames: int = 1


def source_of(spec, k: int, t: int = 0) -> SourceImage:
    """The file (and frame) slice k at time point t of a `VolumeSpec` came from (a mosaic: the one image
    holding every slice)."""
    header = spec.header_of(k, t)
    return SourceImage(header.path, header.frame, header.n_frames)


@dataclass(frozen=True)
class Targets:
    pdf: Path | None = None
    html: Path | None = None
    dicom_folder: Path | None = None


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def check_targets(targets: Targets, source_folder: str | os.PathLike | None) -> None:
    """Refuse to write into the folder that was read (it is never written to)."""
    if source_folder is None:
        return
    folder = Path(source_folder)
    folder = folder if folder.is_dir() else folder.parent
    for target in (targets.pdf, targets.html, targets.dicom_folder):
        if target is not None and _inside(Path(target), folder):
            raise ExportError(f"medview never writes into the folder it reads ({folder}): choose another place "
                              f"for {target}")


def _references(reading: Reading, sources: dict[int, SourceImage], anonymiser):
    """{k: (header dataset, frame number or None)} for every slice the SR or SC refers to."""
    wanted = {f.k for f in reading.findings} | {m.k for m in reading.measurements} | {i.k for i in reading.key_images}
    references = {}
    for k in sorted(wanted):
        source = sources[k]
        try:
            dataset = pydicom.dcmread(source.path, stop_before_pixels=True)
        except Exception as error:  # noqa: BLE001 - a source changed on disk since it was read
            raise ExportError(f"could not read the source image {source.path} again: {error}") from error
        if anonymiser is not None:
            dataset = anonymiser.anonymise(dataset)
        references[k] = (dataset, source.frame + 1 if source.n_frames > 1 else None)
    return references


def _dicom_bytes(dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def export_report(reading: Reading, sources: dict[int, SourceImage], targets: Targets,
                  source_folder: str | os.PathLike | None = None) -> list[Path]:
    """Write the asked-for outputs; returns the files written. Raises ExportError with a reason."""
    from medview.report.render import png_bytes, render_key_image

    check_targets(targets, source_folder)
    pictures = [render_key_image(reading, key) for key in reading.key_images]
    pngs = [png_bytes(picture) for picture in pictures]
    outputs: list[tuple[Path, bytes]] = []
    if targets.dicom_folder is not None:
        outputs += _dicom_outputs(reading, sources, Path(targets.dicom_folder), pictures)
    if targets.html is not None:
        from medview.report.html import report_html

        outputs.append((Path(targets.html), report_html(reading, pngs).encode("utf-8")))
    if targets.pdf is not None:
        from medview.report.pdf import report_pdf

        outputs.append((Path(targets.pdf), report_pdf(reading, pngs)))
    written = []
    for path, data in outputs:  # everything is made before the first byte is written
        if path.parent != Path(""):
            atomic.ensure_folder(path.parent)
        written.append(atomic.write_bytes(path, data))
    return written


def _dicom_outputs(reading: Reading, sources, folder: Path, pictures) -> list[tuple[Path, bytes]]:
    from medview.io.anonymize import Anonymiser

    anonymiser = Anonymiser() if reading.anonymised else None
    references = _references(reading, sources, anonymiser)
    with warnings.catch_warnings():  # highdicom's advice on the source's own names is not the reader's concern
        warnings.simplefilter("ignore", UserWarning)
        return _dicom_files(reading, references, folder, pictures)


def _dicom_files(reading: Reading, references, folder: Path, pictures) -> list[tuple[Path, bytes]]:
    import highdicom as hd

    from medview.report.dicom_sr import structured_report
    from medview.report.secondary_capture import key_image_dataset

    files = []
    if reading.findings or any(m.values for m in reading.measurements):
        report = structured_report(reading, references)
        files.append((folder / "medview-report-SR.dcm", _dicom_bytes(report)))
    series_uid = hd.UID()
    for number, (key, picture) in enumerate(zip(reading.key_images, pictures, strict=True), 1):
        image = key_image_dataset(reading, picture, references[key.k][0], series_uid, number,
                                  with_ai=key.saliency is not None or bool(key.marks))
        files.append((folder / f"medview-key-image-{number:02d}-SC.dcm", _dicom_bytes(image)))
    return files
