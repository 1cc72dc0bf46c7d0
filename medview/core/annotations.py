"""What a reader draws on a slice, and what it measures.

An `Annotation` is plain data: a kind, its points in the slice's pixel coordinates (column, row) and an
optional text. `measure` turns it into named values with units, from the slice's pixels and spacing, through
`core.measure`. The `core.session.Session` keeps them per image, with undo.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from medview.core import measure

#: kind → number of points that define it
KINDS = {"length": 2, "angle": 3, "ellipse": 2, "rectangle": 2, "arrow": 2, "text": 1, "bidimensional": 4}


@dataclass(frozen=True)
class Value:
    name: str  # "length", "angle", "mean", "SD", "min", "max", "area", "long axis", "short axis"
    value: float
    unit: str  # "mm", "deg", "mm2", "HU" or "" (the modality's units)

    def __str__(self) -> str:
        unit = {"mm2": "mm²", "deg": "°"}.get(self.unit, self.unit)
        spacer = "" if unit in ("°", "") else " "
        return f"{self.name} {self.value:.1f}{spacer}{unit}"


@dataclass(frozen=True)
class Annotation:
    kind: str
    points: tuple[tuple[float, float], ...]  # (column, row), continuous pixel coordinates
    text: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown annotation kind {self.kind!r}")
        if len(self.points) != KINDS[self.kind]:
            raise ValueError(f"a {self.kind} needs {KINDS[self.kind]} points, got {len(self.points)}")
        object.__setattr__(self, "points", tuple((float(c), float(r)) for c, r in self.points))

    def moved(self, d_column: float, d_row: float) -> Annotation:
        return replace(self, points=tuple((c + d_column, r + d_row) for c, r in self.points))

    @property
    def measures(self) -> bool:
        return self.kind in ("length", "angle", "ellipse", "rectangle", "bidimensional")


def bidimensional(points, spacing: tuple[float, float]) -> Annotation:
    """A bidimensional measurement from its four clicks (long axis ends, then short axis ends): the short axis
    made perpendicular to the long one."""
    long_a, long_b, short_a, short_b = points
    return Annotation("bidimensional", (long_a, long_b,
                                        *measure.perpendicular_short_axis(long_a, long_b, short_a, short_b, spacing)))


def measure_annotation(annotation: Annotation, pixels: np.ndarray | None, spacing: tuple[float, float],
                       value_unit: str = "") -> tuple[Value, ...]:
    """The values an annotation measures (none for arrows and texts; no statistics without pixels)."""
    kind, points = annotation.kind, annotation.points
    if kind == "length":
        return (Value("length", measure.length_mm(*points, spacing), "mm"),)
    if kind == "angle":
        return (Value("angle", measure.angle_degrees(*points, spacing), "deg"),)
    if kind == "bidimensional":  # long axis, then the perpendicular short axis (RECIST, RANO)
        return (Value("long axis", measure.length_mm(*points[:2], spacing), "mm"),
                Value("short axis", measure.length_mm(*points[2:], spacing), "mm"))
    if kind in ("ellipse", "rectangle"):
        shape = pixels.shape if pixels is not None else None
        if shape is None:
            return ()
        stats = measure.roi_statistics(pixels, measure.roi_mask(shape, kind, *points), spacing)
        return (Value("mean", stats.mean, value_unit), Value("SD", stats.sd, value_unit),
                Value("min", stats.minimum, value_unit), Value("max", stats.maximum, value_unit),
                Value("area", stats.area_mm2, "mm2"))
    return ()
