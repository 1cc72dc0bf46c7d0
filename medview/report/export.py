"""One export of a Reading: key images rendered once, then PDF, HTML and DICOM (SR + Secondary Capture),
every file written atomically, never into the folder the images came from.

With `reading.anonymised`, one PS3.15 decision serves the whole export: the DICOM outputs are built from the
anonymised headers of the source images (one `Anonymiser`, so the SR and the Secondary Captures name the same
new study and image UIDs), and the PDF, HTML and key images print the series facts put through the same
profile (`report.identity`). A key image whose source may carry burned-in annotation is left out of an
anonymised export, with a line that says so; otherwise the Secondary Capture is marked BurnedInAnnotation
YES whenever its source may carry such text, never NO for a source that said YES.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import pydicom

from medview.core.reading import Reading
from medview.errors import ExportError
from medview.io import atomic
from medview.io.anonymize import may_have_burned_in_text


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


def check_targets(targets: Targets, source_folder: str | os.PathLike | None,
                  sources: dict | None = None) -> None:
    """Refuse to write into a folder that was read (it is never written to): the folder opened and the real
    folders of the files the report was made from (a link, or a DICOMDIR, can lead outside the folder opened)."""
    folders = []
    if source_folder is not None:
        folder = Path(source_folder)
        folders.append(folder if folder.is_dir() else folder.parent)
    folders += sorted({Path(os.path.realpath(source.path)).parent for source in (sources or {}).values()})
    for folder in folders:
        for target in (targets.pdf, targets.html, targets.dicom_folder):
            if target is not None and _inside(Path(target), folder):
                raise ExportError(f"medview never writes into a folder it reads ({folder}): choose another "
                                  f"place for {target}")


def _source_headers(reading: Reading, sources: dict[int, SourceImage]) -> dict[int, pydicom.Dataset]:
    """The header of the source image of every slice the report refers to, read once."""
    wanted = {f.k for f in reading.findings} | {m.k for m in reading.measurements} | {i.k for i in reading.key_images}
    headers = {}
    for k in sorted(wanted):
        source = sources[k]
        try:
            headers[k] = pydicom.dcmread(source.path, stop_before_pixels=True)
        except Exception as error:  # noqa: BLE001 - a source changed on disk since it was read
            raise ExportError(f"could not read the source image {source.path} again: {error}") from error
    return headers


def _leave_out_burned_in(reading: Reading, headers: dict[int, pydicom.Dataset]) -> str | None:
    """In an anonymised export, key images whose source may carry burnt-in identity are left out of every
    output (PDF, HTML and Secondary Capture alike: each shows the source's pixels). Returns the line that
    says so, or None."""
    if not reading.anonymised:
        return None
    risky = [key for key in reading.key_images if may_have_burned_in_text(headers[key.k])]
    if not risky:
        return None
    reading.key_images = [key for key in reading.key_images if key not in risky]
    slices = ", ".join(str(key.k + 1) for key in risky)
    return (f"key image of slice {slices} left out of the anonymised export: its source image has or may have "
            "burned-in annotation (identity written into the pixels)")


def _dicom_bytes(dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def export_report(reading: Reading, sources: dict[int, SourceImage], targets: Targets,
                  source_folder: str | os.PathLike | None = None, notes: list[str] | None = None) -> list[Path]:
    """Write the asked-for outputs; returns the files written. Lines the user must read (a key image left
    out) are appended to `notes` and printed in the report. Raises ExportError / MedviewError with a reason;
    every file is made in memory and written before any is renamed into place (`atomic.write_all`)."""
    from medview.report.render import png_bytes, render_key_image

    check_targets(targets, source_folder, sources)
    reading.check()
    reading = dataclasses.replace(reading, notes=list(reading.notes), key_images=list(reading.key_images),
                                  signed=reading.signed or _dt.datetime.now().strftime("%Y-%m-%d %H:%M"))
    headers = _source_headers(reading, sources)
    note = _leave_out_burned_in(reading, headers)
    if note:
        reading.notes.append(note)
        if notes is not None:
            notes.append(note)
    pictures = [render_key_image(reading, key) for key in reading.key_images]
    pngs = [png_bytes(picture) for picture in pictures]
    outputs: list[tuple[Path, bytes]] = []
    if targets.dicom_folder is not None:
        outputs += _dicom_outputs(reading, sources, headers, Path(targets.dicom_folder), pictures)
    if targets.html is not None:
        from medview.report.html import report_html

        outputs.append((Path(targets.html), report_html(reading, pngs).encode("utf-8")))
    if targets.pdf is not None:
        from medview.report.pdf import report_pdf

        outputs.append((Path(targets.pdf), report_pdf(reading, pngs)))
    for path, _data in outputs:
        if path.parent != Path(""):
            atomic.ensure_folder(path.parent)
    return atomic.write_all(outputs)


def _dicom_outputs(reading: Reading, sources, headers, folder: Path, pictures) -> list[tuple[Path, bytes]]:
    from medview.io.anonymize import Anonymiser

    anonymiser = Anonymiser() if reading.anonymised else None
    references = {}
    for k, dataset in headers.items():
        source = sources[k]
        references[k] = (anonymiser.anonymise(dataset) if anonymiser else dataset,
                         source.frame + 1 if source.n_frames > 1 else None)
    burned_in = {k for k, dataset in headers.items() if may_have_burned_in_text(dataset)}
    with warnings.catch_warnings():  # highdicom's advice on the source's own names is not the reader's concern
        warnings.simplefilter("ignore", UserWarning)
        return _dicom_files(reading, references, burned_in, folder, pictures)


def _dicom_files(reading: Reading, references, burned_in, folder: Path, pictures) -> list[tuple[Path, bytes]]:
    import highdicom as hd

    from medview.report.dicom_sr import structured_report
    from medview.report.secondary_capture import key_image_dataset

    files = []
    if reading.findings or any(m.values for m in reading.measurements):  # TID 1500 needs one group at least
        report = structured_report(reading, references)
        files.append((folder / "medview-report-SR.dcm", _dicom_bytes(report)))
    series_uid = hd.UID()
    for number, (key, picture) in enumerate(zip(reading.key_images, pictures, strict=True), 1):
        image = key_image_dataset(reading, picture, references[key.k][0], series_uid, number,
                                  with_ai=key.saliency is not None or bool(key.marks),
                                  burned_in=key.k in burned_in)
        files.append((folder / f"medview-key-image-{number:02d}-SC.dcm", _dicom_bytes(image)))
    return files
