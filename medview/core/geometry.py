"""Patient-space geometry in DICOM's LPS, in mm: slice normals, planes, slice steps, voxel↔patient.

Pure numpy. The per-slice positions are the geometry; a single slice spacing is only a summary of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Above this angle (degrees) between the slice normal and the nearest anatomical axis, a plane is oblique.
OBLIQUE_DEG = 1.0
#: Above this angle (degrees) between the slice step and the normal, a stack is sheared (gantry tilt).
TILT_DEG = 0.5
#: Row and column directions whose cosine exceeds this are not perpendicular (about 0.06°): damaged geometry.
PERPENDICULAR_COSINE = 1e-3
#: Steps along the normal that differ from the median by more than this (mm) make the spacing uneven.
UNEVEN_MM = 0.05
#: ... or by more than this fraction of the median step.
UNEVEN_FRACTION = 0.01

PLANE_BY_AXIS = ("sagittal", "coronal", "axial")  # the normal nearest to L, P or S


def unit(vector) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float64)
    n = np.linalg.norm(v)
    if not np.isfinite(n) or n == 0:
        raise ValueError(f"not a direction: {vector!r}")
    return v / n


def slice_normal(row_cosine, column_cosine) -> np.ndarray:
    """cross(row, column): the direction of ascending slice order (DICOM/GDCM convention)."""
    return unit(np.cross(unit(row_cosine), unit(column_cosine)))


@dataclass(frozen=True)
class Plane:
    """The anatomical plane nearest to a slice normal and how far the normal is from its axis."""

    name: str  # axial, coronal or sagittal
    angle_deg: float

    @property
    def oblique(self) -> bool:
        return self.angle_deg > OBLIQUE_DEG

    def __str__(self) -> str:
        return f"{self.name}, {self.angle_deg:.1f}° oblique" if self.oblique else self.name


def nearest_plane(normal) -> Plane:
    n = np.abs(unit(normal))
    axis = int(np.argmax(n))
    angle = math.degrees(math.acos(min(1.0, float(n[axis]))))
    return Plane(PLANE_BY_AXIS[axis], round(angle, 2))


def steps_along_normal(positions: np.ndarray, normal) -> np.ndarray:
    """Distances (mm) between consecutive slice planes, measured along the normal."""
    projections = np.asarray(positions, dtype=np.float64) @ unit(normal)
    return np.diff(projections)


def shear_angles_deg(positions: np.ndarray, normal) -> np.ndarray:
    """Angle between each slice-to-slice step and the normal: 0 for a regular stack, the tilt when sheared."""
    steps = np.diff(np.asarray(positions, dtype=np.float64), axis=0)
    lengths = np.linalg.norm(steps, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosines = np.abs(steps @ unit(normal)) / lengths
    cosines = np.where(lengths > 0, cosines, 1.0)
    return np.degrees(np.arccos(np.clip(cosines, 0.0, 1.0)))


def is_uneven(steps: np.ndarray) -> bool:
    if len(steps) < 2:
        return False
    median = float(np.median(steps))
    tolerance = max(UNEVEN_MM, UNEVEN_FRACTION * abs(median))
    return bool(np.max(np.abs(steps - median)) > tolerance)


def direction_matrix(row_cosine, column_cosine) -> np.ndarray:
    """3×3 matrix whose columns are the LPS directions of index axes c, r and k (SimpleITK's layout).

    The third column is the normal. On a sheared stack the true slice step is not along it: use the
    per-slice positions there.
    """
    row = unit(row_cosine)
    col = unit(column_cosine)
    return np.column_stack([row, col, np.cross(row, col)])


def voxel_to_lps(positions: np.ndarray, row_cosine, column_cosine, pixel_spacing, k: float, r: float,
                 c: float) -> np.ndarray:
    """Patient position (LPS mm) of voxel (k, r, c) from the per-slice positions: exact on sheared and unevenly
    spaced stacks; a fractional k interpolates between the positions of the two neighbouring slices, and a k
    outside the stack extrapolates from its end step on either side (never clamps)."""
    n_slices = len(positions)
    if n_slices == 1:
        base = np.asarray(positions[0], dtype=float)
    else:
        k_low = int(np.clip(np.floor(k), 0, n_slices - 2))
        fraction = float(k) - k_low
        base = positions[k_low] * (1 - fraction) + positions[k_low + 1] * fraction
    row_mm, col_mm = pixel_spacing
    return base + c * col_mm * np.asarray(row_cosine) + r * row_mm * np.asarray(column_cosine)
