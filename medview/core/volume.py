"""The one object that travels: a stack of slices with the geometry the scanner meant.

A `Volume` is made once by ``medview.io`` and read by everyone else, never copied along the way.
Voxels are indexed (k, r, c) = (slice, row, column), or (t, k, r, c) for a time series; values are after
the modality LUT (Hounsfield units for CT). Patient space is LPS in mm. Every slice keeps its own
position, because on a gantry-tilted or unevenly spaced stack those positions are the geometry.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from medview.core import geometry
from medview.core.window_level import Window


def display_date(text: str) -> str:
    """A DICOM DA value (YYYYMMDD) as YYYY-MM-DD for people; anything else as it is."""
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text


class Photometric(StrEnum):
    """DICOM PhotometricInterpretation: how stored samples become what is shown (a closed set, PS3.3 C.7.6.3.1.2).

    A `Volume` holds MONOCHROME1, MONOCHROME2 or RGB: the loader turns YBR and palette colour into RGB.
    """

    MONOCHROME1 = "MONOCHROME1"
    MONOCHROME2 = "MONOCHROME2"
    RGB = "RGB"
    PALETTE_COLOR = "PALETTE COLOR"
    YBR_FULL = "YBR_FULL"
    YBR_FULL_422 = "YBR_FULL_422"
    YBR_PARTIAL_420 = "YBR_PARTIAL_420"
    YBR_ICT = "YBR_ICT"
    YBR_RCT = "YBR_RCT"

    @property
    def is_colour(self) -> bool:
        return self not in (Photometric.MONOCHROME1, Photometric.MONOCHROME2)

    @classmethod
    def of(cls, text: str, samples_per_pixel: int = 1) -> Photometric:
        """The header's value; an unknown one is read as its sample count says (grey or RGB)."""
        try:
            return cls(text.strip().upper())
        except ValueError:
            return cls.RGB if samples_per_pixel == 3 else cls.MONOCHROME2


@dataclass(frozen=True)
class SeriesInfo:
    """Who and what a volume is: the header facts the browser, overlays and reports show."""

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
    #: how it was acquired, as the header says ("" = not stated): what a model card's sequence is checked against
    contrast_agent: str = ""
    scanning_sequence: str = ""
    sequence_variant: str = ""
    sequence_name: str = ""
    protocol_name: str = ""
    #: what sets this volume apart from others of the same series ("echo 2", "field map", ...)
    part: str = ""


@dataclass(frozen=True, eq=False)
class Volume:
    """Voxels plus geometry. Construction checks that the parts agree, so a wrong volume never exists.

    A colour volume (photometric RGB) has a last axis of 3 samples, R, G, B in 0–255: (k, r, c, 3).
    """

    voxels: np.ndarray
    #: LPS position (mm) of voxel (k, 0, 0) for every slice k, in slice order.
    positions: np.ndarray
    #: LPS unit vector along increasing column index c (DICOM's first ImageOrientationPatient triple).
    row_cosine: np.ndarray
    #: LPS unit vector along increasing row index r (the second triple).
    column_cosine: np.ndarray
    #: (between rows, between columns) in mm, DICOM PixelSpacing order.
    pixel_spacing: tuple[float, float]
    info: SeriesInfo = field(default_factory=SeriesInfo)
    photometric: str = "MONOCHROME2"
    #: unit of the values: "HU" for CT, "Hz" for a field map, "" when the scanner's units are arbitrary.
    value_unit: str = ""
    #: which values are shown when a vendor offers several (Philips: displayed vs floating-point value).
    value_note: str = ""
    #: nominal SliceThickness of every slice (mm), NaN where the header has none.
    slice_thickness: tuple[float, ...] = ()
    #: SOPInstanceUID of every slice (of time point 0 for a 4D volume), for references in reports.
    sop_instance_uids: tuple[str, ...] = ()
    #: a label per time point of a 4D volume ("t=1", "TriggerTime 120 ms", ...).
    time_labels: tuple[str, ...] = ()
    #: loader warnings a radiologist should see (tilt, uneven spacing, missing slices, ...).
    warnings: tuple[str, ...] = ()
    #: False when the images carry no patient geometry (no position/orientation): positions are made up.
    has_geometry: bool = True
    #: the scanner's windows (WindowCenter/WindowWidth, VOI LUTs) in the volume's values; the first is the default
    windows: tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        voxels = self.voxels
        object.__setattr__(self, "photometric", Photometric(self.photometric))
        if self.photometric not in (Photometric.MONOCHROME1, Photometric.MONOCHROME2, Photometric.RGB):
            raise ValueError(f"a volume is grey or RGB, not {self.photometric} (convert it when loading)")
        if self.is_colour and (voxels.shape[-1:] != (3,) or voxels.dtype != np.uint8):
            raise ValueError(f"an RGB volume has 3 uint8 samples per voxel, got {voxels.shape} {voxels.dtype}")
        if len(self._spatial_shape) not in (3, 4):
            raise ValueError(f"voxels must be (k, r, c) or (t, k, r, c), got shape {voxels.shape}")
        positions = np.asarray(self.positions, dtype=np.float64)
        if positions.shape != (self.n_slices, 3):
            raise ValueError(f"need one LPS position per slice: {positions.shape} for {self.n_slices} slices")
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "row_cosine", geometry.unit(self.row_cosine))
        object.__setattr__(self, "column_cosine", geometry.unit(self.column_cosine))
        if abs(float(self.row_cosine @ self.column_cosine)) > geometry.PERPENDICULAR_COSINE:
            raise ValueError("row and column directions are not perpendicular")
        spacing = tuple(float(s) for s in self.pixel_spacing)
        if len(spacing) != 2 or not all(s > 0 for s in spacing):
            raise ValueError(f"pixel spacing must be two positive mm values, got {self.pixel_spacing!r}")
        object.__setattr__(self, "pixel_spacing", spacing)
        if self.time_labels and len(self.time_labels) != self.time_points:
            raise ValueError("one time label per time point")
        for name in ("slice_thickness", "sop_instance_uids"):
            if getattr(self, name) and len(getattr(self, name)) != self.n_slices:
                raise ValueError(f"one {name.replace('_', ' ')} value per slice: "
                                 f"{len(getattr(self, name))} for {self.n_slices} slices")

    # -- shape ---------------------------------------------------------------------------------------
    @property
    def is_colour(self) -> bool:
        return self.photometric == Photometric.RGB

    @property
    def _spatial_shape(self) -> tuple[int, ...]:
        return self.voxels.shape[:-1] if self.is_colour else self.voxels.shape

    @property
    def is_4d(self) -> bool:
        return len(self._spatial_shape) == 4

    @property
    def time_points(self) -> int:
        return self.voxels.shape[0] if self.is_4d else 1

    @property
    def shape(self) -> tuple[int, int, int]:
        """(slices, rows, columns)."""
        return tuple(self._spatial_shape[-3:])

    @property
    def n_slices(self) -> int:
        return self._spatial_shape[-3]

    def slice(self, k: int, t: int = 0) -> np.ndarray:
        """The 2D image of slice k (and time point t), (r, c) or (r, c, 3) for colour: a view, not a copy."""
        return self.voxels[t, k] if self.is_4d else self.voxels[k]

    # -- geometry ------------------------------------------------------------------------------------
    @functools.cached_property
    def normal(self) -> np.ndarray:
        """cross(row, column), made once (asked for by every reformat and crosshair move), read-only."""
        normal = np.cross(self.row_cosine, self.column_cosine)
        normal.setflags(write=False)
        return normal

    @property
    def direction(self) -> np.ndarray:
        """3×3, columns = LPS directions of index axes c, r, k (the third is the normal)."""
        return geometry.direction_matrix(self.row_cosine, self.column_cosine)

    @property
    def origin(self) -> np.ndarray:
        """LPS position of voxel (0, 0, 0)."""
        return self.positions[0]

    @property
    def plane(self) -> geometry.Plane:
        return geometry.nearest_plane(self.normal)

    @property
    def slice_steps(self) -> np.ndarray:
        """Distances (mm) between consecutive slices along the normal."""
        return geometry.steps_along_normal(self.positions, self.normal)

    @property
    def uneven(self) -> bool:
        return geometry.is_uneven(self.slice_steps)

    @property
    def tilt_deg(self) -> float:
        """Largest angle between a slice step and the normal: a gantry tilt shears the stack."""
        angles = geometry.shear_angles_deg(self.positions, self.normal)
        return float(angles.max()) if len(angles) else 0.0

    @property
    def sheared(self) -> bool:
        return self.tilt_deg > geometry.TILT_DEG

    @property
    def slice_spacing(self) -> float | None:
        """The one spacing between slices (mm), or None when the steps are uneven or there is one slice."""
        steps = self.slice_steps
        if len(steps) == 0 or self.uneven:
            return None
        return float(np.median(steps))

    @property
    def spacing_xyz(self) -> tuple[float, float, float | None]:
        """(column, row, slice) spacing in mm, SimpleITK's order; slice is None when uneven."""
        return (self.pixel_spacing[1], self.pixel_spacing[0], self.slice_spacing)

    def voxel_to_lps(self, k: float, r: float, c: float) -> np.ndarray:
        """Patient position (LPS mm) of a voxel, exact on sheared and unevenly spaced stacks.

        A fractional k interpolates between the positions of the two neighbouring slices; outside the stack
        k extrapolates from the end step on either side (as `lps_to_voxel` does), never clamps.
        """
        return geometry.voxel_to_lps(self.positions, self.row_cosine, self.column_cosine, self.pixel_spacing,
                                     k, r, c)

    def lps_to_voxel(self, point) -> np.ndarray:
        """Fractional (k, r, c) of a patient position: k by the projections on the normal, then in-plane."""
        point = np.asarray(point, dtype=np.float64)
        projections = self.positions @ self.normal
        target = float(point @ self.normal)
        if self.n_slices == 1:
            k = 0.0
        else:
            k = float(np.interp(target, projections, np.arange(self.n_slices, dtype=np.float64),
                                left=np.nan, right=np.nan))
            if np.isnan(k):  # outside the stack: extrapolate from the end steps
                steps = np.diff(projections)
                if target < projections[0]:
                    k = (target - projections[0]) / steps[0]
                else:
                    k = self.n_slices - 1 + (target - projections[-1]) / steps[-1]
        base = self.voxel_to_lps(k, 0, 0)
        offset = point - base
        row_mm, col_mm = self.pixel_spacing
        return np.array([k, offset @ self.column_cosine / row_mm, offset @ self.row_cosine / col_mm])
