"""Measurement maths on one slice, in mm from the slice's own pixel spacing.

Points are (column, row) in continuous pixel coordinates: pixel (r, c) covers [c, c+1) × [r, r+1), so its
centre is (c + 0.5, r + 0.5). Distances and angles are taken after scaling columns by the column spacing and
rows by the row spacing, so anisotropic pixels measure true. An ROI holds the pixels whose centres lie inside
it; its area is their count times the area of one pixel (what the statistics are computed over).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Point = tuple[float, float]  # (column, row)


def pixel_centre(pixel: Point) -> Point:
    """The continuous coordinates of the centre of pixel (column, row), as `--at COL,ROW` names it."""
    return pixel[0] + 0.5, pixel[1] + 0.5


def _mm(point: Point, spacing: tuple[float, float]) -> np.ndarray:
    row_mm, col_mm = spacing
    return np.array([point[0] * col_mm, point[1] * row_mm], dtype=np.float64)


def length_mm(start: Point, end: Point, spacing: tuple[float, float]) -> float:
    """Distance between two points of a slice in mm (`spacing` = (between rows, between columns))."""
    return float(np.linalg.norm(_mm(end, spacing) - _mm(start, spacing)))


def perpendicular_short_axis(long_a: Point, long_b: Point, short_a: Point, short_b: Point,
                             spacing: tuple[float, float]) -> tuple[Point, Point]:
    """The short axis of a bidimensional measurement made perpendicular to the long axis (in mm, so on
    anisotropic pixels too): both ends keep their distance across the long axis and move along it to where
    their middle was, as RECIST and RANO measure the longest perpendicular diameter."""
    a, b = _mm(long_a, spacing), _mm(long_b, spacing)
    axis = b - a
    norm = float(np.linalg.norm(axis))
    if norm == 0:
        return short_a, short_b
    along = axis / norm
    across = np.array([-along[1], along[0]])
    ends = [_mm(short_a, spacing), _mm(short_b, spacing)]
    middle = sum(float((end - a) @ along) for end in ends) / 2
    row_mm, col_mm = spacing
    snapped = []
    for end in ends:
        point = a + middle * along + float((end - a) @ across) * across
        snapped.append((float(point[0] / col_mm), float(point[1] / row_mm)))
    return snapped[0], snapped[1]


def angle_degrees(end_a: Point, vertex: Point, end_b: Point, spacing: tuple[float, float]) -> float:
    """The angle at `vertex` between the arms to `end_a` and `end_b`, in degrees, measured in mm space."""
    a = _mm(end_a, spacing) - _mm(vertex, spacing)
    b = _mm(end_b, spacing) - _mm(vertex, spacing)
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if norms == 0:
        return float("nan")
    return math.degrees(math.acos(float(np.clip(a @ b / norms, -1.0, 1.0))))


def roi_mask(shape: tuple[int, int], kind: str, corner_a: Point, corner_b: Point) -> np.ndarray:
    """Boolean (rows, columns) mask of the pixels whose centres are inside a rectangle or the ellipse
    inscribed in it; the box is given by two opposite corners."""
    if kind not in ("rectangle", "ellipse"):
        raise ValueError(f"an ROI is a rectangle or an ellipse, not {kind!r}")
    rows, columns = shape
    c0, c1 = sorted((corner_a[0], corner_b[0]))
    r0, r1 = sorted((corner_a[1], corner_b[1]))
    cc = np.arange(columns) + 0.5
    rr = np.arange(rows) + 0.5
    if kind == "rectangle":
        return ((rr >= r0) & (rr <= r1))[:, None] & ((cc >= c0) & (cc <= c1))[None, :]
    half_c, half_r = (c1 - c0) / 2, (r1 - r0) / 2
    if half_c <= 0 or half_r <= 0:
        return np.zeros(shape, dtype=bool)
    u = ((cc - (c0 + c1) / 2) / half_c)[None, :]
    v = ((rr - (r0 + r1) / 2) / half_r)[:, None]
    return u * u + v * v <= 1.0


@dataclass(frozen=True)
class RoiStatistics:
    """Values inside an ROI. SD is the sample standard deviation (n − 1), as clinical viewers report it."""

    mean: float
    sd: float
    minimum: float
    maximum: float
    area_mm2: float
    pixels: int


def roi_statistics(pixels: np.ndarray, mask: np.ndarray, spacing: tuple[float, float]) -> RoiStatistics:
    """Mean, SD, min, max of the slice's values (HU for CT) under the mask, and its area in mm²."""
    values = np.asarray(pixels)[mask].astype(np.float64)
    area = float(mask.sum()) * spacing[0] * spacing[1]
    if values.size == 0:
        nan = float("nan")
        return RoiStatistics(nan, nan, nan, nan, area, 0)
    sd = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return RoiStatistics(float(values.mean()), sd, float(values.min()), float(values.max()), area, int(values.size))
