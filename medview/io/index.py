"""Index: Patient → Study → Series → volumes, from the scanned headers, in a fixed order.

A series is split into separate volumes where it mixes echoes, the magnitude/phase/field-map part of
ImageType or FrameType, orientations, matrix sizes or SeriesNumbers under one SeriesInstanceUID.
Repeated positions become a time axis only when a temporal key tells the repeats apart and every time
point covers the same positions; otherwise they are separate volumes, and exact duplicates are reported.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from medview.core import geometry
from medview.core.volume import SeriesInfo
from medview.core.window_level import Window
from medview.io.headers import ImageHeader
from medview.io.scan import ScanResult, SkippedFile
from medview.io.validate import geometry_warnings

#: Positions closer than this along the normal (mm) are the same slice position.
SAME_POSITION_MM = 0.01
#: Temporal keys, in order of trust, that can tell repeated positions apart.
TEMPORAL_KEYS = ("temporal_position_identifier", "temporal_position_index", "trigger_time",
                 "acquisition_number", "acquisition_time")
TEMPORAL_NAMES = {
    "temporal_position_identifier": "TemporalPositionIdentifier",
    "temporal_position_index": "TemporalPositionIndex",
    "trigger_time": "TriggerTime",
    "acquisition_number": "AcquisitionNumber",
    "acquisition_time": "AcquisitionTime",
}


@dataclass(frozen=True)
class VolumeSpec:
    """Everything needed to assemble one volume, before any pixel is decoded."""

    info: SeriesInfo
    #: images[t][k]: the header of slice k at time point t (for a mosaic, one image holding every slice)
    images: tuple[tuple[ImageHeader, ...], ...]
    positions: np.ndarray
    row_cosine: np.ndarray
    column_cosine: np.ndarray
    pixel_spacing: tuple[float, float]
    rows: int
    columns: int
    warnings: tuple[str, ...] = ()
    time_labels: tuple[str, ...] = ()
    #: tiles per mosaic image (Siemens MOSAIC unpacked into slices), 0 when not a mosaic
    mosaic_tiles: int = 0
    #: the mosaic's tiles run against the slice order (CSA SliceNormalVector opposite cross(row, column))
    mosaic_descending: bool = False
    has_geometry: bool = True
    #: the scanner's windows (values after the modality LUT), the first is the default: see scanner_windows
    windows: tuple[Window, ...] = ()
    sort_key: tuple = field(default=(), compare=False, repr=False)

    @property
    def n_slices(self) -> int:
        return len(self.positions)

    @property
    def time_points(self) -> int:
        return len(self.images)

    @property
    def is_colour(self) -> bool:
        return self.images[0][0].is_colour

    @property
    def shape(self) -> tuple[int, ...]:
        """(slices, rows, columns), with the time points first for a 4D volume and R, G, B last for colour."""
        base = (self.n_slices, self.rows, self.columns)
        base = (self.time_points, *base) if self.time_points > 1 else base
        return (*base, 3) if self.is_colour else base

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.row_cosine, self.column_cosine)

    def header_of(self, k: int, t: int = 0) -> ImageHeader:
        """The header slice k (at time point t) came from (a mosaic: the one image holding every slice)."""
        point = self.images[t]
        return point[0] if self.mosaic_tiles else point[k]

    def instance_number(self, k: int, t: int = 0) -> int | None:
        """The DICOM InstanceNumber of slice k, shown beside k + 1 so the image can be found on the console."""
        return self.header_of(k, t).instance_number

    @property
    def label(self) -> str:
        info = self.info
        number = f"#{info.series_number} " if info.series_number is not None else ""
        text = f"{info.modality} {number}{info.series_description}".strip()
        return f"{text} ({info.part})" if info.part else text


@dataclass
class Catalog:
    """What a folder holds: the volumes in their fixed order, and every file that gave none, with why."""

    root: str
    volumes: list[VolumeSpec]
    skipped: list[SkippedFile]
    n_files: int = 0
    #: files read that the user should know about (a DICOMDIR id that breaks PS3.10's naming rules)
    warnings: list[SkippedFile] = field(default_factory=list)

    def find(self, series: str | int | None) -> VolumeSpec:
        """A volume by its index in this list, or by SeriesInstanceUID (the first of its volumes)."""
        from medview.errors import NothingLoadedError

        if not self.volumes:
            raise NothingLoadedError(f"no image could be loaded from {self.root}")
        if series is None:
            return self.volumes[0]
        if isinstance(series, int) or (isinstance(series, str) and series.isdigit() and "." not in series):
            index = int(series)
            if not 0 <= index < len(self.volumes):
                raise NothingLoadedError(f"no volume {index}: this folder holds {len(self.volumes)} (0-based)")
            return self.volumes[index]
        for spec in self.volumes:
            if spec.info.series_instance_uid == series:
                return spec
        raise NothingLoadedError(f"no series {series} in {self.root}")


def _round(value, digits=4):
    return None if value is None else round(value, digits)


def _split_key(h: ImageHeader) -> tuple:
    orientation = tuple(round(v, 3) + 0.0 for v in h.orientation) if h.orientation else ()
    return (h.series_number if h.series_number is not None else -1,
            h.echo_number if h.echo_number is not None else 0, _round(h.echo_time, 2) or 0.0,
            h.image_part, orientation, h.rows, h.columns, h.samples_per_pixel, h.is_colour, bool(h.mosaic_tiles))


def _series_info(h: ImageHeader, part: str) -> SeriesInfo:
    return SeriesInfo(
        patient_name=h.patient_name, patient_id=h.patient_id, patient_birth_date=h.patient_birth_date,
        patient_sex=h.patient_sex, study_instance_uid=h.study_instance_uid, study_date=h.study_date,
        study_time=h.study_time, study_description=h.study_description, accession_number=h.accession_number,
        series_instance_uid=h.series_instance_uid, series_number=h.series_number,
        series_description=h.series_description, modality=h.modality, body_part=h.body_part,
        manufacturer=h.manufacturer, institution=h.institution, frame_of_reference_uid=h.frame_of_reference_uid,
        contrast_agent=h.contrast_agent, scanning_sequence=h.scanning_sequence, sequence_variant=h.sequence_variant,
        sequence_name=h.sequence_name, protocol_name=h.protocol_name, part=part,
    )


def index_volumes(scan: ScanResult) -> Catalog:
    """Group the scanned images into volumes, in the fixed order (patient, study date, study, series...)."""
    skipped = list(scan.skipped)
    by_series: dict[str, list[ImageHeader]] = defaultdict(list)
    for header in scan.images:
        by_series[header.series_instance_uid or f"(no SeriesInstanceUID) {header.path}"].append(header)

    specs: list[VolumeSpec] = []
    for images in by_series.values():
        groups: dict[tuple, list[ImageHeader]] = defaultdict(list)
        for header in images:
            groups[_split_key(header)].append(header)
        notes = _split_notes(list(groups))
        for key in sorted(groups, key=_sortable):
            unique, duplicates = _drop_duplicates(groups[key])
            skipped.extend(duplicates)
            specs.extend(_volumes_of(unique, key, notes))
    specs.sort(key=lambda spec: spec.sort_key)
    return Catalog(root=scan.root, volumes=specs, skipped=skipped, n_files=scan.n_files,
                   warnings=list(scan.warnings))


def _sortable(key: tuple) -> tuple:
    return tuple(str(part) if not isinstance(part, (int, float)) else f"{part:020.6f}" for part in key)


def _split_notes(keys: list[tuple]) -> list[str]:
    notes = []
    series_numbers = {key[0] for key in keys}
    echoes = {(key[1], key[2]) for key in keys}
    echoes_per_part: dict[str, set] = defaultdict(set)
    for key in keys:
        echoes_per_part[key[3]].add((key[1], key[2]))
    orientations = {key[4] for key in keys}
    if len(series_numbers) > 1:
        notes.append(f"one of {len(series_numbers)} SeriesNumbers under one SeriesInstanceUID: split")
    if any(len(per_part) > 1 for per_part in echoes_per_part.values()):
        notes.append(f"one of {len(echoes)} echoes of this series: split by echo")
    if len(orientations) > 1:
        notes.append(f"one of {len(orientations)} orientations in this series: split by orientation")
    return notes


def _drop_duplicates(images: list[ImageHeader]) -> tuple[list[ImageHeader], list[SkippedFile]]:
    seen: dict[tuple[str, int], ImageHeader] = {}
    unique, duplicates = [], []
    for header in images:
        key = (header.sop_instance_uid, header.frame)
        if header.sop_instance_uid and key in seen:
            duplicates.append(SkippedFile(header.path, f"duplicate of {seen[key].path} (same SOPInstanceUID)"))
            continue
        seen[key] = header
        unique.append(header)
    return unique, duplicates


def _part_label(h: ImageHeader, key: tuple, notes: list[str]) -> str:
    parts = []
    if any("echo" in note for note in notes):
        if h.echo_number is not None:
            parts.append(f"echo {h.echo_number}")
        if h.echo_time is not None:
            parts.append(f"TE {h.echo_time:g} ms")
    if h.image_part:
        parts.append(h.image_part)
    if any("SeriesNumbers" in note for note in notes) and h.series_number is not None:
        parts.append(f"series number {h.series_number}")
    return ", ".join(parts)


def _position(h: ImageHeader, normal: np.ndarray) -> np.ndarray:
    position = np.asarray(h.position, dtype=np.float64)
    if h.grid_frame_offset is not None:  # RT dose: frames at offsets along the normal from one position
        position = position + h.grid_frame_offset * normal
    return position


def _volumes_of(images: list[ImageHeader], key: tuple, notes: list[str]) -> list[VolumeSpec]:
    first = images[0]
    with_geometry = [h for h in images if h.position is not None and h.orientation is not None]
    if len(with_geometry) < len(images):
        return _without_geometry(images, key, notes)
    row, col = np.array(first.orientation[:3]), np.array(first.orientation[3:])
    try:
        normal = geometry.slice_normal(row, col)
    except ValueError:
        return _without_geometry(images, key, notes)
    if first.mosaic_tiles:
        return [_mosaic(h, key, notes) for h in sorted(images, key=lambda h: h.instance_number or 0)]

    projections = np.array([_position(h, normal) @ normal for h in images])
    order = np.argsort(projections, kind="stable")
    slots: list[list[ImageHeader]] = []
    slot_projection: list[float] = []
    for index in order:
        if slot_projection and abs(projections[index] - slot_projection[-1]) <= SAME_POSITION_MM:
            slots[-1].append(images[index])
        else:
            slots.append([images[index]])
            slot_projection.append(projections[index])

    repeats = {len(slot) for slot in slots}
    if repeats == {1}:
        return [_spec(key, notes, ((tuple(slot[0] for slot in slots)),), normal, ())]
    return _repeated(slots, key, notes, normal)


def _repeated(slots: list[list[ImageHeader]], key, notes, normal) -> list[VolumeSpec]:
    """Slices repeated at the same positions: a time axis if a temporal key sets the repeats apart."""
    most = max(len(slot) for slot in slots)
    images = [h for slot in slots for h in slot]
    for name in TEMPORAL_KEYS:
        values = [getattr(h, name) for h in images]
        if any(v is None or v == "" for v in values):
            continue
        distinct = sorted(set(values))
        if len(distinct) != most:
            continue
        points = [[h for h in images if getattr(h, name) == value] for value in distinct]
        position_sets = [tuple(round(float(_position(h, normal) @ normal), 2) for h in point) for point in points]
        if any(len(set(s)) != len(s) for s in position_sets):
            continue
        sorted_points = [tuple(sorted(point, key=lambda h: float(_position(h, normal) @ normal))) for point in points]
        if len({tuple(sorted(s)) for s in position_sets}) == 1:
            labels = tuple(f"{TEMPORAL_NAMES[name]} {value}" for value in distinct)
            return [_spec(key, notes, tuple(sorted_points), normal, labels)]
        # time points that cover different positions: separate volumes
        note = f"repeated positions with different coverage per {TEMPORAL_NAMES[name]}: split"
        return [_spec(key, [*notes, note], (point,), normal, ()) for point in sorted_points]
    # No temporal key tells the repeats apart: separate volumes, in instance order at each position.
    note = (f"{most} images at the same positions and no temporal key tells them apart: "
            f"shown as {most} separate volumes")
    volumes: list[list[ImageHeader]] = [[] for _ in range(most)]
    for slot in slots:
        for i, header in enumerate(sorted(slot, key=lambda h: (h.instance_number or 0, h.path, h.frame))):
            volumes[i].append(header)
    return [_spec(key, [*notes, note], (tuple(v),), normal, ()) for v in volumes if v]


def _spec(key, notes, images, normal, time_labels) -> VolumeSpec:
    first = images[0][0]
    positions = np.array([_position(h, normal) for h in images[0]])
    row, col = np.array(first.orientation[:3]), np.array(first.orientation[3:])
    warnings = list(notes) + geometry_warnings(positions, normal, [h.slice_thickness for h in images[0]])
    spacing = _pixel_spacing(first, warnings)
    return VolumeSpec(
        info=_series_info(first, _part_label(first, key, notes)),
        images=tuple(images), positions=positions, row_cosine=geometry.unit(row),
        column_cosine=geometry.unit(col), pixel_spacing=tuple(spacing), rows=first.rows,
        columns=first.columns, warnings=tuple(warnings), time_labels=tuple(time_labels),
        windows=scanner_windows(images[0]), sort_key=_order(first, key),
    )


def _pixel_spacing(h: ImageHeader, warnings: list[str]) -> tuple[float, float]:
    """PixelSpacing, or 1 mm with a warning when the header has none or a meaningless one."""
    spacing = h.pixel_spacing
    if spacing is None or not all(0 < s < math.inf for s in spacing):  # "inf" parses as a number too
        warnings.append("no valid PixelSpacing: 1 mm assumed, distances are not in true mm")
        return (1.0, 1.0)
    if h.spacing_source == "ImagerPixelSpacing":
        warnings.append("spacing at the detector (ImagerPixelSpacing, no magnification factor): lengths in "
                        "the patient are overstated by the X-ray magnification")
    elif h.spacing_source.startswith("ImagerPixelSpacing ÷"):
        warnings.append(f"spacing in the patient estimated: {h.spacing_source}")
    return (float(spacing[0]), float(spacing[1]))


def scanner_windows(images: tuple[ImageHeader, ...]) -> tuple[Window, ...]:
    """The scanner's windows for a stack: the i-th window is the median over the slices of their i-th.

    Scanners often store a window per slice (MR); the median is one window for the whole volume.
    """
    count = max((len(h.windows) for h in images), default=0)
    windows = []
    for index in range(count):
        pairs = [h.windows[index] for h in images if len(h.windows) > index]
        width = float(np.median([p[0] for p in pairs]))
        centre = float(np.median([p[1] for p in pairs]))
        windows.append(Window(width, centre, f"scanner: {pairs[0][2]}"))
    return tuple(windows)


def _order(h: ImageHeader, key: tuple) -> tuple:
    """The fixed order: patient, study date, study, SeriesNumber, split key."""
    return (h.patient_name, h.patient_id, h.study_date, h.study_time, h.study_instance_uid,
            h.series_number if h.series_number is not None else math.inf, h.series_instance_uid,
            _sortable(key), h.instance_number or 0, h.path)


def _mosaic(h: ImageHeader, key: tuple, notes: list[str]) -> VolumeSpec:
    """A Siemens mosaic unpacked: tile i is slice i, ascending along the normal from the corrected origin."""
    tiles = h.mosaic_tiles
    per_row = math.ceil(math.sqrt(tiles))
    rows, columns = h.rows // per_row, h.columns // per_row
    row, col = geometry.unit(h.orientation[:3]), geometry.unit(h.orientation[3:])
    normal = np.cross(row, col)
    row_mm, col_mm = h.pixel_spacing or (1.0, 1.0)
    # ImagePositionPatient of a mosaic is the corner of the whole frame; move it to the corner of a tile.
    origin = (np.asarray(h.position) + row * col_mm * (h.columns - columns) / 2
              + col * row_mm * (h.rows - rows) / 2)
    step = h.spacing_between_slices or h.slice_thickness or 1.0
    if h.mosaic_normal is not None:
        descending = float(np.dot(h.mosaic_normal, normal)) < 0
        order = "descending: tiles reversed" if descending else "ascending"
    else:
        descending, order = False, "no CSA SliceNormalVector: taken as ascending"
    # tile i lies at origin + i·step·(±normal); slice k runs ascending along the normal
    first = origin - (tiles - 1) * step * normal if descending else origin
    positions = np.array([first + k * step * normal for k in range(tiles)])
    warnings = [*notes, f"Siemens mosaic unpacked into {tiles} slices of {rows}×{columns} (tile order {order})"]
    return VolumeSpec(
        info=_series_info(h, _part_label(h, key, notes)), images=((h,),), positions=positions,
        row_cosine=row, column_cosine=col, pixel_spacing=(row_mm, col_mm), rows=rows, columns=columns,
        warnings=tuple(warnings), mosaic_tiles=tiles, mosaic_descending=descending,
        windows=scanner_windows((h,)), sort_key=_order(h, key),
    )


def _without_geometry(images: list[ImageHeader], key: tuple, notes: list[str]) -> list[VolumeSpec]:
    """Images with no position or orientation (CR, some multi-frame files): one volume per file."""
    by_file: dict[str, list[ImageHeader]] = defaultdict(list)
    for header in images:
        by_file[header.path].append(header)
    specs = []
    for frames in by_file.values():
        frames.sort(key=lambda h: h.frame)
        first = frames[0]
        warnings = [*notes, "no patient geometry (ImagePositionPatient / ImageOrientationPatient): "
                            "orientation unknown"]
        spacing = _pixel_spacing(first, warnings)
        positions = np.array([[0.0, 0.0, float(k)] for k in range(len(frames))])
        specs.append(VolumeSpec(
            info=_series_info(first, _part_label(first, key, notes)), images=(tuple(frames),),
            positions=positions, row_cosine=np.array([1.0, 0, 0]), column_cosine=np.array([0, 1.0, 0]),
            pixel_spacing=tuple(spacing), rows=first.rows, columns=first.columns,
            warnings=tuple(warnings), has_geometry=False, windows=scanner_windows(tuple(frames)),
            sort_key=_order(first, key),
        ))
    return specs
