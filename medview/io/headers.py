"""One DICOM file's header, read without its pixels, as plain picklable records (one per 2D image).

A single-frame file gives one `ImageHeader`; an enhanced multi-frame file gives one per frame, read from its
per-frame and shared functional groups (position, orientation, spacing, rescale, frame type, temporal index).
Everything here runs in scan worker processes, so it returns plain data and never raises on a file's
content: the caller turns exceptions into a skipped-file reason.
"""

from __future__ import annotations

import math
import os
import stat
import struct
from dataclasses import dataclass, field, replace

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID

from medview.core import geometry
from medview.core.volume import Photometric
from medview.errors import GeometryError, ImageRefused
from medview.io import limits
from medview.io.siemens_csa import CSA_IMAGE_HEADER
from medview.io.siemens_csa import slice_normal as csa_slice_normal

#: Transfer syntaxes whose native pixel bytes the fast path reads straight from the file.
NATIVE_LITTLE_ENDIAN = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}
#: Uncompressed transfer syntaxes: the pixel bytes an image claims must be in the file.
UNCOMPRESSED = NATIVE_LITTLE_ENDIAN | {"1.2.840.10008.1.2.2"}
RLE_LOSSLESS = "1.2.840.10008.1.2.5"

#: Tokens of ImageType / FrameType that set magnitude, phase and maps apart. Never the whole ImageType:
#: scanners add words such as ADD or HELIX partway through one series.
IMAGE_PART_TOKENS = {
    "M": "magnitude", "MAGNITUDE": "magnitude", "M_SE": "magnitude", "M_FFE": "magnitude",
    "M_IR": "magnitude",
    "P": "phase", "PHASE": "phase", "P_SE": "phase", "P_FFE": "phase", "PHASE MAP": "phase",
    "R": "real", "REAL": "real", "R_SE": "real", "R_FFE": "real",
    "I": "imaginary", "IMAGINARY": "imaginary", "I_SE": "imaginary", "I_FFE": "imaginary",
    "FIELD_MAP": "field map", "B0_MAP": "field map", "B0 MAP": "field map", "FM": "field map",
}

#: SOP classes that carry pixels but are not images to read as slices.
NOT_IMAGES = {
    "1.2.840.10008.5.1.4.1.1.66.4": "segmentation object (SEG)",
    "1.2.840.10008.5.1.4.1.1.481.3": "RT structure set",
    "1.2.840.10008.5.1.4.1.1.481.5": "RT plan",
    "1.2.840.10008.5.1.4.1.1.481.8": "RT ion plan",
    "1.2.840.10008.5.1.4.1.1.88.59": "key object selection (a list of key images)",
    "1.2.840.10008.5.1.4.1.1.104.1": "encapsulated PDF",
    "1.2.840.10008.5.1.4.1.1.104.2": "encapsulated CDA document",
    "1.2.840.10008.5.1.4.1.1.66": "raw data",
    "1.2.840.10008.5.1.4.1.1.66.1": "spatial registration",
    "1.2.840.10008.5.1.4.1.1.66.3": "deformable spatial registration",
    "1.2.840.10008.5.1.4.1.1.66.5": "surface segmentation",
    "1.2.840.10008.5.1.4.1.1.67": "real world value mapping",
    "1.2.840.10008.1.3.10": "a DICOMDIR (an index of files) under another name",
}
#: Words in pydicom's name of a SOP class that say what a non-image object is.
NOT_IMAGE_WORDS = (("SR Storage", "structured report"), ("Presentation State", "presentation state"),
                   ("Waveform", "waveform"), ("ECG", "waveform (ECG)"), ("Treatment Record", "RT treatment record"),
                   ("Encapsulated", "encapsulated document"), ("Measurements", "measurements"))

PHILIPS_SCALE_SLOPE = (0x2005, 0x100E)
PHILIPS_PER_FRAME_PRIVATE = (0x2005, 0x140F)
SIEMENS_IMAGES_IN_MOSAIC = (0x0019, 0x100A)


@dataclass(frozen=True)
class ImageHeader:
    """What the index and the assembler need to know of one 2D image (a file, or one frame of it)."""

    path: str
    frame: int = 0
    n_frames: int = 1
    sop_instance_uid: str = ""
    sop_class_uid: str = ""
    transfer_syntax: str = ""
    # who and what
    patient_name: str = ""
    patient_id: str = ""
    patient_birth_date: str = ""
    patient_sex: str = ""
    study_instance_uid: str = ""
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""
    accession_number: str = ""
    series_instance_uid: str = ""
    series_number: int | None = None
    series_description: str = ""
    modality: str = ""
    body_part: str = ""
    manufacturer: str = ""
    institution: str = ""
    frame_of_reference_uid: str = ""
    # how it was acquired: what a model card's sequence is compared with ("" = not stated)
    contrast_agent: str = ""
    scanning_sequence: str = ""
    sequence_variant: str = ""
    sequence_name: str = ""
    protocol_name: str = ""
    instance_number: int | None = None
    image_type: tuple[str, ...] = ()
    image_part: str = ""
    # geometry
    rows: int = 0
    columns: int = 0
    position: tuple[float, float, float] | None = None
    orientation: tuple[float, ...] | None = None
    pixel_spacing: tuple[float, float] | None = None
    slice_thickness: float | None = None
    spacing_between_slices: float | None = None
    gantry_tilt: float | None = None
    # values
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    rescale_type: str = ""
    philips_scale_slope: float | None = None
    photometric: str = "MONOCHROME2"
    samples_per_pixel: int = 1
    bits_allocated: int = 16
    bits_stored: int = 16
    pixel_representation: int = 0
    # split and time keys
    echo_number: int | None = None
    echo_time: float | None = None
    temporal_position_identifier: int | None = None
    temporal_position_index: int | None = None
    trigger_time: float | None = None
    acquisition_number: int | None = None
    acquisition_time: str = ""
    # pixel data location: native little endian, the value's offset and length; encapsulated, the offset of
    # the basic offset table item and this frame's fragments as (offset, length) in the file, when known
    pixel_offset: int | None = None
    pixel_length: int | None = None
    fragments: tuple[tuple[int, int], ...] | None = None
    #: why the pixels cannot be decoded, known at the scan: decoding names it at once, without reading them
    pixel_problem: str = ""
    mosaic_tiles: int | None = None
    #: Siemens CSA SliceNormalVector of a mosaic: the direction its tiles are stacked in
    mosaic_normal: tuple[float, float, float] | None = None
    #: offsets along the normal of the frames of a single-file volume (RT dose), in mm
    grid_frame_offset: float | None = None
    #: the scanner's windows, (width, centre, explanation) in values after the modality LUT: every
    #: WindowCenter/WindowWidth pair, then each VOI LUT as the window over its input range
    windows: tuple[tuple[float, float, str], ...] = ()
    #: where pixel_spacing came from: "PixelSpacing", "ImagerPixelSpacing" (at the detector) or
    #: "ImagerPixelSpacing ÷ EstimatedRadiographicMagnificationFactor"
    spacing_source: str = ""

    @property
    def is_colour(self) -> bool:
        """RGB, YBR or palette colour: decoded to R, G, B."""
        return Photometric.of(self.photometric, self.samples_per_pixel).is_colour or self.samples_per_pixel == 3

    @property
    def is_native_little_endian(self) -> bool:
        return self.transfer_syntax in NATIVE_LITTLE_ENDIAN and self.pixel_offset is not None


def _text(value) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _int(value) -> int | None:
    try:
        if isinstance(value, bytes):
            return int.from_bytes(value[:4], "little") if value else None
        if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
            value = value[0]
        return int(value)
    except (TypeError, ValueError, IndexError):
        return None


def _float(value) -> float | None:
    try:
        if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
            value = value[0]
        result = float(value)
    except (TypeError, ValueError, IndexError):
        return None
    return result if result == result else None  # NaN is no value


def _floats(value, count: int) -> tuple[float, ...] | None:
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count and all(n == n for n in numbers) else None


# -- a fast reader of the few elements the index needs -------------------------------------------------
# pydicom converts an element on first access through several layers; for the ~40 elements read per
# file that costs more than parsing the file. Plain ASCII text and numbers are converted here straight
# from the raw bytes; anything unusual (other character sets, sequences, already converted elements)
# goes through pydicom.

_US_TAGS = {0x00280002, 0x00280010, 0x00280011, 0x00280100, 0x00280101, 0x00280103}


def _raw_text(dataset: Dataset, keyword: str, tag: int) -> str | None:
    element = dataset._dict.get(tag)
    if element is None:
        return None
    if isinstance(element, pydicom.dataelem.RawDataElement) and element.value is not None:
        raw = element.value
        if tag in _US_TAGS:
            order = "little" if element.is_little_endian else "big"
            return str(int.from_bytes(raw[:2], order)) if len(raw) >= 2 else None
        if raw.isascii() and b"\x1b" not in raw:
            return raw.decode("ascii").strip(" \x00")
    value = dataset.get(keyword)
    if value is None:
        return None
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value)


class _Fast:
    """Element values of one header, converted from raw bytes where that is safe."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def text(self, keyword: str) -> str:
        return (_raw_text(self.dataset, keyword, _TAGS[keyword]) or "").strip()

    def parts(self, keyword: str) -> tuple[str, ...]:
        text = _raw_text(self.dataset, keyword, _TAGS[keyword])
        return tuple(part.strip() for part in text.split("\\")) if text else ()

    def int(self, keyword: str) -> int | None:
        parts = self.parts(keyword)
        return _int(parts[0]) if parts else None

    def float(self, keyword: str) -> float | None:
        parts = self.parts(keyword)
        return _float(parts[0]) if parts else None

    def floats(self, keyword: str, count: int) -> tuple[float, ...] | None:
        parts = self.parts(keyword)
        return _floats(parts, count) if parts else None


_TAGS = {
    keyword: int(pydicom.datadict.tag_for_keyword(keyword))
    for keyword in (
        "SOPInstanceUID", "SOPClassUID", "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
        "StudyInstanceUID", "StudyDate", "StudyTime", "StudyDescription", "AccessionNumber",
        "SeriesInstanceUID", "SeriesNumber", "SeriesDescription", "Modality", "BodyPartExamined",
        "Manufacturer", "InstitutionName", "FrameOfReferenceUID", "InstanceNumber", "ImageType", "Rows",
        "Columns", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "ImagerPixelSpacing",
        "SliceThickness", "SpacingBetweenSlices", "GantryDetectorTilt", "RescaleSlope", "RescaleIntercept",
        "RescaleType",
        "PhotometricInterpretation", "SamplesPerPixel", "BitsAllocated", "BitsStored", "PixelRepresentation",
        "EchoNumbers", "EchoTime", "TemporalPositionIdentifier", "TriggerTime", "AcquisitionNumber",
        "AcquisitionTime", "NumberOfFrames", "ContrastBolusAgent", "ScanningSequence", "SequenceVariant",
        "SequenceName", "ProtocolName", "WindowCenter", "WindowWidth", "WindowCenterWidthExplanation",
        "VOILUTFunction", "EstimatedRadiographicMagnificationFactor",
    )
}


def _private_number(dataset: Dataset, tag: tuple[int, int], fmt: str) -> float | None:
    """A private numeric element, whether pydicom knows its VR (explicit) or holds raw bytes (implicit)."""
    if tag not in dataset:
        return None
    value = dataset[tag].value
    if isinstance(value, bytes):
        size = struct.calcsize(fmt)
        if len(value) < size:
            return None
        return struct.unpack("<" + fmt, value[:size])[0]
    return _float(value)


def _or(value, default):
    """The value, or the default when absent (0 is a value: a rescale slope of 0 is not replaced)."""
    return default if value is None else value


def image_part(image_type) -> str:
    """magnitude / phase / real / imaginary / field map, from the tokens of ImageType or FrameType."""
    tokens = [str(t).strip().upper() for t in (image_type or ())][2:]
    for token in tokens:
        if token in IMAGE_PART_TOKENS:
            return IMAGE_PART_TOKENS[token]
    return ""


def _item(dataset: Dataset, keyword: str) -> Dataset | None:
    sequence = dataset.get(keyword)
    if isinstance(sequence, pydicom.dataelem.DataElement):  # looked up by tag, not keyword
        sequence = sequence.value
    if not isinstance(sequence, pydicom.sequence.Sequence) or len(sequence) == 0:
        return None
    return sequence[0]


def _find(groups: list[Dataset], sequence: str, keyword: str):
    """A value from the first functional group (per-frame, then shared) whose sequence holds it."""
    for group in groups:
        item = _item(group, sequence) if group is not None else None
        if item is not None and keyword in item:
            return item.get(keyword)
    return None


def read_headers(path: str) -> list[ImageHeader]:
    """The image headers of one DICOM file. Raises on anything unreadable; the scan turns that into a reason.

    Only a regular file is read (checked on the open file, so a FIFO or a device swapped in after the scan
    listed the folder is not read either), and every read is bounded by the file's size.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as fp:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ImageRefused("not a regular file: not read")
        inflated = limits.check_deflated(fp, fp.read(4096))
        fp.seek(0)
        try:
            dataset = pydicom.dcmread(fp, stop_before_pixels=True)
        except pydicom.errors.InvalidDicomError:
            fp.seek(0)
            dataset = pydicom.dcmread(fp, stop_before_pixels=True, force=True)
            if "SOPClassUID" not in dataset and "Rows" not in dataset:
                raise
        pixel_offset = fp.tell()
        tag = fp.read(4)
        deflated = bool(getattr(dataset, "file_meta", None)) and UID(
            _text(dataset.file_meta.get("TransferSyntaxUID"))).is_deflated  # fp is not where pydicom stopped
        if len(tag) < 4 and "Rows" in dataset and _non_image_kind(dataset) is None and not deflated:
            raise ImageRefused("truncated: the file ends before the pixel data")
        layout = _pixel_layout(fp, pixel_offset, dataset)
        layout.inflated_size = inflated
    return headers_of(dataset, path, layout)


@dataclass
class PixelLayout:
    """Where the pixel data lies in the file: what the limits are checked against and decoding reads."""

    file_size: int
    #: native: the value's offset and length; encapsulated: the offset of the basic offset table item
    offset: int | None = None
    length: int | None = None
    #: encapsulated: (offset, length) of every fragment's value after the basic offset table
    fragments: list[tuple[int, int]] | None = None
    basic_offsets: list[int] = field(default_factory=list)
    #: the first bytes of the first fragment (a codestream's SIZ or SOF)
    head: bytes = b""
    #: a deflated data set: its size inflated (the pixels must fit in it)
    inflated_size: int | None = None
    #: why the pixels cannot be decoded, known from the header alone ("" when nothing is known against them)
    problem: str = ""

    def frame_fragments(self, index: int, n_frames: int) -> tuple[tuple[int, int], ...] | None:
        """The fragments of one frame: by the basic offset table, one per frame, or all for one frame."""
        fragments = self.fragments
        if not fragments:
            return None
        if len(self.basic_offsets) == n_frames and n_frames > 1:
            first = fragments[0][0] - ITEM_HEADER_BYTES
            start = first + self.basic_offsets[index]
            end = first + self.basic_offsets[index + 1] if index + 1 < n_frames else math.inf
            return tuple(f for f in fragments if start <= f[0] - ITEM_HEADER_BYTES < end)
        if len(fragments) == n_frames:
            return (fragments[index],)
        if n_frames == 1:
            return tuple(fragments)
        return None


#: Bytes of the first fragment read at the scan: a JPEG 2000 SIZ is in the first 50; a JPEG SOF further on is
#: checked when the frame is decoded.
CODESTREAM_HEAD = 4096
#: Items walked at most in encapsulated pixel data (a hostile file of tiny items costs no more than this).
MAX_ITEMS = 1_000_000
ITEM_HEADER_BYTES = 8


def _non_image_kind(dataset: Dataset) -> str | None:
    """What a non-image object is (structured report, RT plan, SEG, ...), by its SOP class; None for images."""
    meta = getattr(dataset, "file_meta", None)
    sop_class = _text(dataset.get("SOPClassUID")) or _text(meta.get("MediaStorageSOPClassUID") if meta else "")
    if sop_class in NOT_IMAGES:
        return NOT_IMAGES[sop_class]
    name = UID(sop_class).name if sop_class else ""
    return next((kind for word, kind in NOT_IMAGE_WORDS if word in name), None)


def _is_encapsulated(syntax: str) -> bool:
    return bool(syntax) and UID(syntax).is_encapsulated


def _pixel_layout(fp, offset: int, dataset: Dataset) -> PixelLayout:
    """Offsets of the pixel data read from the element header pydicom stopped at, bounded by the file size."""
    fp.seek(0, 2)
    layout = PixelLayout(file_size=fp.tell())
    meta = getattr(dataset, "file_meta", None)
    syntax = _text(meta.get("TransferSyntaxUID")) if meta is not None else "1.2.840.10008.1.2"
    if syntax not in NATIVE_LITTLE_ENDIAN and not _is_encapsulated(syntax):
        return layout
    fp.seek(offset)
    head = fp.read(12)
    if len(head) < 8 or head[:4] != b"\xe0\x7f\x10\x00":
        return layout
    if syntax == "1.2.840.10008.1.2":  # implicit VR: tag, 4-byte length
        length = struct.unpack("<I", head[4:8])[0]
        start = offset + 8
    else:  # explicit VR OB/OW: tag, VR, 2 reserved bytes, 4-byte length
        if len(head) < 12:
            return layout
        length = struct.unpack("<I", head[8:12])[0]
        start = offset + 12
    if length == 0xFFFFFFFF:
        if _is_encapsulated(syntax):
            _walk_items(fp, start, layout)
        return layout
    if syntax not in NATIVE_LITTLE_ENDIAN:
        # PS3.5 A.4: compressed pixel data is a sequence of fragments of undefined length. A defined length
        # over items is a damaged length (pydicom still reads the items); one over anything else means the
        # transfer syntax is not the one the pixels were written in: the image keeps its place in its series
        # (shown blank, named) and no decoder is given its bytes.
        fp.seek(start)
        if fp.read(4) == b"\xfe\xff\x00\xe0":
            _walk_items(fp, start, layout)
            return layout
        layout.problem = (f"the pixel data has a defined length, which {UID(syntax).name} does not allow: "
                          "the header names a transfer syntax the pixels are not written in")
    if layout.file_size < start + length:
        raise ImageRefused(f"truncated: the file ends {start + length - layout.file_size} bytes into the pixel data")
    layout.offset, layout.length = start, length
    return layout


def _walk_items(fp, start: int, layout: PixelLayout) -> None:
    """The basic offset table and the fragments of encapsulated pixel data, without reading their values."""
    layout.offset = start
    fragments: list[tuple[int, int]] = []
    at, first = start, True
    while len(fragments) < MAX_ITEMS:
        fp.seek(at)
        item = fp.read(ITEM_HEADER_BYTES)
        if len(item) < ITEM_HEADER_BYTES or item[:4] != b"\xfe\xff\x00\xe0":
            break  # the sequence delimiter, the end of the file, or damage: the fragments so far are the data
        length = struct.unpack("<I", item[4:])[0]
        value = at + ITEM_HEADER_BYTES
        if value + length > layout.file_size:
            length = layout.file_size - value  # a truncated last fragment: what is there
        if first:
            if length % 4 == 0 and length <= 4 * MAX_ITEMS:
                table = fp.read(length)
                layout.basic_offsets = list(struct.unpack(f"<{length // 4}I", table))
            first = False
        elif length > 0:
            fragments.append((value, length))
        at = value + length
    layout.fragments = fragments
    if fragments:
        fp.seek(fragments[0][0])
        layout.head = fp.read(min(fragments[0][1], CODESTREAM_HEAD))


def headers_of(dataset: Dataset, path: str, layout: PixelLayout | None = None) -> list[ImageHeader]:
    """Turn a parsed header into one `ImageHeader` per 2D image, after checking what it claims (io.limits)."""
    layout = layout or PixelLayout(file_size=0)
    pixel_offset, pixel_length = layout.offset, layout.length
    meta = getattr(dataset, "file_meta", None)
    syntax = _text(meta.get("TransferSyntaxUID")) if meta is not None else ""
    if not syntax:
        syntax = "1.2.840.10008.1.2.1" if not dataset.is_implicit_VR else "1.2.840.10008.1.2"
    sop_class = _text(dataset.get("SOPClassUID")) or _text(meta.get("MediaStorageSOPClassUID") if meta else "")
    kind = _non_image_kind(dataset)
    if kind is not None:
        raise ImageRefused(f"{kind}, not an image")
    if "Rows" not in dataset or "Columns" not in dataset:
        name = UID(sop_class).name if sop_class else "unknown SOP class"
        raise ImageRefused(f"no image in this file: no Rows/Columns ({name}; the header may be damaged)")
    if _raw_text(dataset, "BitsAllocated", _TAGS["BitsAllocated"]) == "1":
        raise ImageRefused("1-bit image (a mask or overlay), not a slice")

    f = _Fast(dataset)
    image_type = f.parts("ImageType")
    spacing, spacing_source = _pixel_spacing(f)
    base = ImageHeader(
        path=path,
        sop_instance_uid=f.text("SOPInstanceUID"),
        sop_class_uid=sop_class,
        transfer_syntax=syntax,
        patient_name=f.text("PatientName"),
        patient_id=f.text("PatientID"),
        patient_birth_date=f.text("PatientBirthDate"),
        patient_sex=f.text("PatientSex"),
        study_instance_uid=f.text("StudyInstanceUID"),
        study_date=f.text("StudyDate"),
        study_time=f.text("StudyTime"),
        study_description=f.text("StudyDescription"),
        accession_number=f.text("AccessionNumber"),
        series_instance_uid=f.text("SeriesInstanceUID"),
        series_number=f.int("SeriesNumber"),
        series_description=f.text("SeriesDescription"),
        modality=f.text("Modality"),
        body_part=f.text("BodyPartExamined"),
        manufacturer=f.text("Manufacturer"),
        institution=f.text("InstitutionName"),
        frame_of_reference_uid=f.text("FrameOfReferenceUID"),
        contrast_agent=f.text("ContrastBolusAgent"),
        scanning_sequence=f.text("ScanningSequence"),
        sequence_variant=f.text("SequenceVariant"),
        sequence_name=f.text("SequenceName"),
        protocol_name=f.text("ProtocolName"),
        instance_number=f.int("InstanceNumber"),
        image_type=image_type,
        image_part=image_part(image_type),
        rows=f.int("Rows") or 0,
        columns=f.int("Columns") or 0,
        position=f.floats("ImagePositionPatient", 3),
        orientation=f.floats("ImageOrientationPatient", 6),
        pixel_spacing=spacing,
        spacing_source=spacing_source,
        windows=scanner_windows(dataset, f),
        slice_thickness=f.float("SliceThickness"),
        spacing_between_slices=f.float("SpacingBetweenSlices"),
        gantry_tilt=f.float("GantryDetectorTilt"),
        rescale_slope=_or(f.float("RescaleSlope"), 1.0),
        rescale_intercept=_or(f.float("RescaleIntercept"), 0.0),
        rescale_type=f.text("RescaleType"),
        philips_scale_slope=_private_number(dataset, PHILIPS_SCALE_SLOPE, "f"),
        photometric=f.text("PhotometricInterpretation") or "MONOCHROME2",
        samples_per_pixel=f.int("SamplesPerPixel") or 1,
        bits_allocated=f.int("BitsAllocated") or 16,
        bits_stored=f.int("BitsStored") or f.int("BitsAllocated") or 16,
        pixel_representation=f.int("PixelRepresentation") or 0,
        echo_number=f.int("EchoNumbers"),
        echo_time=f.float("EchoTime"),
        temporal_position_identifier=f.int("TemporalPositionIdentifier"),
        trigger_time=f.float("TriggerTime"),
        acquisition_number=f.int("AcquisitionNumber"),
        acquisition_time=f.text("AcquisitionTime"),
        pixel_offset=pixel_offset,
        pixel_length=pixel_length,
        pixel_problem=layout.problem,
        mosaic_tiles=_mosaic_tiles(dataset, image_type),
        mosaic_normal=_mosaic_normal(dataset, image_type),
    )
    n_frames = f.int("NumberOfFrames")
    n_frames = 1 if n_frames is None else n_frames
    _check_claims(base, n_frames, layout)
    _check_orientation(base.orientation)
    if n_frames == 1 and "PerFrameFunctionalGroupsSequence" not in dataset:
        return [replace(base, fragments=layout.frame_fragments(0, 1))]
    return _frames(dataset, replace(base, n_frames=n_frames), n_frames, layout)


def _pixel_spacing(f: _Fast) -> tuple[tuple[float, ...] | None, str]:
    """PixelSpacing (in the patient), else ImagerPixelSpacing corrected by the magnification when stated.

    ImagerPixelSpacing is at the detector: on CR/DX it overstates lengths in the patient by the geometric
    magnification, so it is divided by EstimatedRadiographicMagnificationFactor, or named as uncorrected.
    """
    spacing = f.floats("PixelSpacing", 2)
    if spacing is not None:
        return spacing, "PixelSpacing"
    imager = f.floats("ImagerPixelSpacing", 2)
    if imager is None:
        return None, ""
    magnification = f.float("EstimatedRadiographicMagnificationFactor")
    if magnification is not None and magnification > 0:
        return (tuple(v / magnification for v in imager),
                f"ImagerPixelSpacing ÷ EstimatedRadiographicMagnificationFactor {magnification:g}")
    return imager, "ImagerPixelSpacing"


def scanner_windows(dataset: Dataset, f: _Fast | None = None) -> tuple[tuple[float, float, str], ...]:
    """Every window the scanner stored: WindowCenter/WindowWidth pairs with their explanations, then VOI LUTs.

    A VOI LUT is given as the window over its input range (first mapped value to last): the LUT's curve
    itself is not applied.
    """
    f = f or _Fast(dataset)
    centres, widths = f.parts("WindowCenter"), f.parts("WindowWidth")
    explanations = f.parts("WindowCenterWidthExplanation")
    function = f.text("VOILUTFunction").upper()
    windows = []
    for index, (centre, width) in enumerate(zip(centres, widths, strict=False)):
        centre_value, width_value = _float(centre), _float(width)
        if centre_value is None or width_value is None or not width_value > 0:
            continue
        name = explanations[index] if index < len(explanations) and explanations[index] else f"window {index + 1}"
        if function == "SIGMOID":
            name += " (sigmoid on the scanner, shown linear)"
        windows.append((width_value, centre_value, name))
    for index, item in enumerate(dataset.get("VOILUTSequence") or []):
        descriptor = item.get("LUTDescriptor")
        if descriptor is None or len(descriptor) != 3:
            continue
        entries, first, _bits = (int(v) for v in descriptor)
        entries = entries or 65536
        explanation = _text(item.get("LUTExplanation")) or f"VOI LUT {index + 1}"
        windows.append((float(max(1, entries - 1)), first + (entries - 1) / 2, f"{explanation} (VOI LUT range)"))
    return tuple(windows)


def _check_claims(h: ImageHeader, n_frames: int, layout: PixelLayout) -> None:
    """Refuse a header whose image the file cannot hold, before anything is allocated (see io.limits)."""
    limits.check_claims(h.rows, h.columns, h.samples_per_pixel, h.bits_allocated, h.bits_stored, n_frames)
    needed = limits.image_bytes(h.rows, h.columns, h.samples_per_pixel, h.bits_allocated, n_frames)
    if h.photometric.strip().upper() == Photometric.YBR_FULL_422:  # two chroma samples shared by two pixels
        needed = needed * 2 // 3
    if h.pixel_length is not None:
        limits.check_native(needed, h.pixel_length)
    elif h.transfer_syntax in UNCOMPRESSED and layout.file_size:
        limits.check_native(needed, layout.file_size)
    elif layout.inflated_size is not None:
        limits.check_native(needed, layout.inflated_size)
    elif layout.fragments is not None:
        pixel_bytes = sum(length for _, length in layout.fragments)
        limits.check_encapsulated(h.rows, h.columns, n_frames, needed, pixel_bytes, len(layout.fragments),
                                  is_rle=h.transfer_syntax == RLE_LOSSLESS)
        limits.check_codestream(layout.head, h.rows, h.columns, h.samples_per_pixel)


def _check_orientation(orientation: tuple[float, ...] | None) -> None:
    """Row and column directions of unit length and perpendicular, or the file is named as damaged."""
    if orientation is None:
        return
    row, column = orientation[:3], orientation[3:]
    norms = [math.sqrt(sum(v * v for v in vector)) for vector in (row, column)]
    if min(norms) < 0.5 or max(norms) > 1.5:
        raise GeometryError("damaged ImageOrientationPatient: a direction is not of unit length "
                           f"({norms[0]:.3g}, {norms[1]:.3g})")
    cosine = sum(a * b for a, b in zip(row, column, strict=True)) / (norms[0] * norms[1])
    if abs(cosine) > geometry.PERPENDICULAR_COSINE:
        angle = math.degrees(math.acos(max(-1.0, min(1.0, cosine))))
        raise GeometryError(f"damaged ImageOrientationPatient: row and column directions are not perpendicular "
                           f"({angle:.1f}° apart)")


def _mosaic_tiles(dataset: Dataset, image_type: tuple[str, ...]) -> int | None:
    if "MOSAIC" not in (t.upper() for t in image_type):
        return None
    tiles = _private_number(dataset, SIEMENS_IMAGES_IN_MOSAIC, "H")
    return int(tiles) if tiles else None


def _mosaic_normal(dataset: Dataset, image_type: tuple[str, ...]) -> tuple[float, float, float] | None:
    if "MOSAIC" not in (t.upper() for t in image_type) or CSA_IMAGE_HEADER not in dataset:
        return None
    return csa_slice_normal(dataset[CSA_IMAGE_HEADER].value)


def _relative_offsets(vector, position, orientation) -> list[float] | None:
    """GridFrameOffsetVector as distances from ImagePositionPatient along the normal (mm).

    PS3.3 C.8.8.3.2: relative when its first value is 0; otherwise, on an axial grid (IOP 1,0,0,0,1,0), the
    values are the frames' own z (absolute) and the first one is the z of ImagePositionPatient.
    """
    if vector is None:
        return None
    values = [_float(v) for v in (vector if isinstance(vector, (list, tuple, pydicom.multival.MultiValue))
                                  else [vector])]
    if any(v is None for v in values):
        return None
    if not values or values[0] == 0 or position is None or orientation is None:
        return values
    row, column = orientation[:3], orientation[3:]
    normal_z = row[0] * column[1] - row[1] * column[0]
    if abs(abs(normal_z) - 1) > 1e-3:
        return values  # the absolute form is defined for axial grids only: read as relative
    return [(v - position[2]) * normal_z for v in values]


def _frames(dataset: Dataset, base: ImageHeader, n_frames: int, layout: PixelLayout) -> list[ImageHeader]:
    """One header per frame of a multi-frame file, from its functional groups where it has them."""
    per_frame = list(dataset.get("PerFrameFunctionalGroupsSequence") or [])
    shared = _item(dataset, "SharedFunctionalGroupsSequence")
    offsets = _relative_offsets(dataset.get("GridFrameOffsetVector"), base.position, base.orientation)
    headers = []
    for index in range(n_frames):
        own = per_frame[index] if index < len(per_frame) else None
        groups = [own, shared]
        frame_type = _find(groups, "MRImageFrameTypeSequence", "FrameType") or _find(
            groups, "CTImageFrameTypeSequence", "FrameType")
        frame_type = tuple(str(t) for t in frame_type) if frame_type else base.image_type
        position = _find(groups, "PlanePositionSequence", "ImagePositionPatient")
        orientation = _find(groups, "PlaneOrientationSequence", "ImageOrientationPatient")
        spacing = _find(groups, "PixelMeasuresSequence", "PixelSpacing")
        thickness = _find(groups, "PixelMeasuresSequence", "SliceThickness")
        slope = _find(groups, "PixelValueTransformationSequence", "RescaleSlope")
        intercept = _find(groups, "PixelValueTransformationSequence", "RescaleIntercept")
        echo_time = _find(groups, "MREchoSequence", "EffectiveEchoTime")
        temporal_index = _find(groups, "FrameContentSequence", "TemporalPositionIndex")
        trigger = _find(groups, "CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime")
        voi = next((item for item in (_item(g, "FrameVOILUTSequence") for g in groups if g is not None)
                    if item is not None), None)
        philips_slope = None
        for group in groups:
            private = _item(group, PHILIPS_PER_FRAME_PRIVATE) if group is not None else None
            if private is not None:
                philips_slope = _private_number(private, PHILIPS_SCALE_SLOPE, "f")
                if philips_slope is not None:
                    break
        headers.append(replace(
            base,
            frame=index,
            image_type=frame_type,
            image_part=image_part(frame_type) or base.image_part,
            # frames with no position of their own and no offsets (cine, ultrasound) have no slice geometry
            position=(_floats(position, 3) if position is not None
                      else base.position if offsets is not None else None),
            orientation=_floats(orientation, 6) if orientation is not None else base.orientation,
            pixel_spacing=_floats(spacing, 2) if spacing is not None else base.pixel_spacing,
            slice_thickness=_float(thickness) if thickness is not None else base.slice_thickness,
            rescale_slope=_float(slope) if slope is not None else base.rescale_slope,
            rescale_intercept=_float(intercept) if intercept is not None else base.rescale_intercept,
            echo_time=_float(echo_time) if echo_time is not None else base.echo_time,
            temporal_position_index=_int(temporal_index),
            trigger_time=_float(trigger) if trigger is not None else base.trigger_time,
            philips_scale_slope=philips_slope if philips_slope is not None else base.philips_scale_slope,
            grid_frame_offset=offsets[index] if offsets is not None and index < len(offsets) else None,
            fragments=layout.frame_fragments(index, n_frames),
            windows=scanner_windows(voi) if voi is not None else base.windows,
        ))
    return headers
