"""What a reader draws on a slice, and what it measures.

An `Annotation` is plain data: a kind, its points in the slice's pixel coordinates (column, row) and an
optional text. `measure` turns it into named values with units, from the slice's pixels and spacing, through
`core.measure`. `Annotations` keeps them per (series, slice) for the session, with undo.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from medview.core import measure

#: kind → number of points that define it
KINDS = {"length": 2, "angle": 3, "ellipse": 2, "rectangle": 2, "arrow": 2, "text": 1}


@dataclass(frozen=True)
class Value:
    name: str  # "length", "angle", "mean", "SD", "min", "max", "area"
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
        return self.kind in ("length", "angle", "ellipse", "rectangle")


def measure_annotation(annotation: Annotation, pixels: np.ndarray | None, spacing: tuple[float, float],
                       value_unit: str = "") -> tuple[Value, ...]:
    """The values an annotation measures (none for arrows and texts; no statistics without pixels)."""
    kind, points = annotation.kind, annotation.points
    if kind == "length":
        return (Value("length", measure.length_mm(*points, spacing), "mm"),)
    if kind == "angle":
        return (Value("angle", measure.angle_degrees(*points, spacing), "deg"),)
    if kind in ("ellipse", "rectangle"):
        shape = pixels.shape if pixels is not None else None
        if shape is None:
            return ()
        stats = measure.roi_statistics(pixels, measure.roi_mask(shape, kind, *points), spacing)
        return (Value("mean", stats.mean, value_unit), Value("SD", stats.sd, value_unit),
                Value("min", stats.minimum, value_unit), Value("max", stats.maximum, value_unit),
                Value("area", stats.area_mm2, "mm2"))
    return ()


@dataclass
class Annotations:
    """Annotations per (series key, slice k) for one session, with an undo history of whole states."""

    by_slice: dict[tuple, list[Annotation]] = field(default_factory=dict)
    key_images: set[tuple] = field(default_factory=set)
    _history: list[tuple[dict, set]] = field(default_factory=list, repr=False)

    def _remember(self) -> None:
        self._history.append(({key: list(items) for key, items in self.by_slice.items()}, set(self.key_images)))
        del self._history[:-200]

    def on(self, series, k: int) -> list[Annotation]:
        return list(self.by_slice.get((series, k), ()))

    def add(self, series, k: int, annotation: Annotation) -> None:
        self._remember()
        self.by_slice.setdefault((series, k), []).append(annotation)

    def replace(self, series, k: int, old: Annotation, new: Annotation) -> None:
        items = self.by_slice.get((series, k), [])
        if old in items:
            self._remember()
            items[items.index(old)] = new

    def remove(self, series, k: int, annotation: Annotation) -> None:
        items = self.by_slice.get((series, k), [])
        if annotation in items:
            self._remember()
            items.remove(annotation)

    def toggle_key_image(self, series, k: int) -> bool:
        """Mark or unmark slice k as a key image; True when it is one now."""
        self._remember()
        key = (series, k)
        if key in self.key_images:
            self.key_images.discard(key)
            return False
        self.key_images.add(key)
        return True

    def undo(self) -> bool:
        if not self._history:
            return False
        self.by_slice, self.key_images = self._history.pop()
        return True

    def slices(self, series) -> list[int]:
        """Slices of a series with annotations, in order."""
        return sorted(k for (s, k), items in self.by_slice.items() if s == series and items)
