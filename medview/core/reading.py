"""A `Reading`: what one session found on one series, which the report layer turns into files.

Plain data only (numpy arrays for pixels and saliency): the GUI and `medview report` fill it the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from medview.core.annotations import Annotation, Value
from medview.core.volume import SeriesInfo
from medview.errors import MedviewError

DISCLAIMER = "AI generated, research use only, not for diagnosis"


@dataclass(frozen=True)
class AiFinding:
    """One model answer on slice k (at a point for a patch model)."""

    k: int
    label: str
    probability: float  # calibrated probability of `label`
    probabilities: dict[str, float]
    model_name: str
    model_version: str
    model_sha256: str
    task: str
    elapsed_ms: float
    point: tuple[float, float] | None = None  # the pixel (column, row) that was classified, as --at
    tumour_probability: float | None = None
    flagged: bool | None = None
    saliency_method: str = ""
    #: whether the model is made for this series (modality, body part, ...); the reasons when it is not,
    #: printed beside the answer in every output as the panel shows them
    fits: bool = True
    does_not_fit: tuple[str, ...] = ()
    t: int = 0  # the time point of a 4D series the answer was made on
    #: "click", "slice" (a detector's find, then type) or "slice model"
    kind: str = "click"
    #: the operating point the flag was set at (a click: the place one; a slice: the slice one)
    threshold: float | None = None

    @property
    def answered(self) -> bool:
        """False for a click outside the body: no probabilities, no answer."""
        return bool(self.probabilities)

    @property
    def typed(self) -> bool:
        """Whether the answer names a class (a slice where no tumour was found names none)."""
        return self.answered and not (self.kind == "slice" and not self.flagged)

    def headline(self) -> str:
        """The answer in one line, as the panel, the CLI and the report say it."""
        if not self.answered:
            return self.label
        if self.kind == "slice":
            if not self.flagged:
                return (f"{self.label} (highest P(tumour) {self.tumour_probability:.2f}, slice operating point "
                        f"{self.threshold:.2f})" if self.tumour_probability is not None and self.threshold is not None
                        else self.label)
            return (f"tumour at ({self.point[0]:g}, {self.point[1]:g}): {self.label} {self.probability:.2f} "
                    f"(P(tumour) {self.tumour_probability:.2f})")
        if self.kind == "slice model":
            return f"tumour type, if this is a tumour: {self.label} {self.probability:.2f}"
        if self.kind == "nodule":  # a nodule model's click: the call at its operating point, with P(malignant)
            p = self.probabilities.get("malignant", 0.0)
            if self.threshold is None:
                return f"nodule under the click: P(malignant) {p:.2f}"
            return (f"nodule under the click: {self.label} (P(malignant) {p:.2f}, operating point "
                    f"{self.threshold:.2f})")
        if self.tumour_probability is not None:
            if self.threshold is None:
                return f"{self.label} at this point (P(tumour) {self.tumour_probability:.2f})"
            where = "above" if self.flagged else "below"
            return (f"{self.label} at this point (P(tumour) {self.tumour_probability:.2f}: {where} the operating "
                    f"point {self.threshold:.2f})")
        return f"{self.label} {self.probability:.2f}"


@dataclass(frozen=True)
class Measurement:
    k: int  # the acquired slice (for a reformat: the one nearest to the measurement's centre)
    annotation: Annotation
    values: tuple[Value, ...]
    t: int = 0
    #: a measurement drawn on a reformat: its plane in words, and its points in patient space (LPS mm)
    plane: str = ""
    points_lps: tuple[tuple[float, float, float], ...] = ()

    @property
    def where(self) -> str:
        """'18' (the slice, as a person counts) or the reformat's plane."""
        return self.plane or str(self.k + 1)

    def describe(self) -> str:
        return ", ".join(str(v) for v in self.values) or self.annotation.text or self.annotation.kind


@dataclass(frozen=True)
class KeyImage:
    """A slice to show in the report, with everything drawn over it on screen."""

    k: int
    pixels: np.ndarray = field(repr=False)
    window: tuple[float, float]  # (width, level)
    annotations: tuple[Annotation, ...] = ()
    marks: tuple[tuple[float, float], ...] = ()  # pixels (column, row) that were clicked for the AI, as --at
    saliency: np.ndarray | None = field(default=None, repr=False)
    t: int = 0
    #: the answer the saliency belongs to (model, point, label), printed under the key image
    saliency_of: str = ""


@dataclass
class Reading:
    info: SeriesInfo
    n_slices: int
    pixel_spacing: tuple[float, float]
    row_cosine: tuple[float, float, float]
    column_cosine: tuple[float, float, float]
    photometric: str = "MONOCHROME2"
    value_unit: str = ""
    findings: list[AiFinding] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    key_images: list[KeyImage] = field(default_factory=list)
    impression: str = ""
    anonymised: bool = False
    disclaimer: str = DISCLAIMER
    #: (rows, columns) of the slices: every point of a measurement or a click must lie on the image
    image_size: tuple[int, int] | None = None
    #: who read the images (a preference) and when the report was signed (set at export when empty)
    reader: str = ""
    signed: str = ""
    #: lines the outputs print about themselves ("the key image of slice 15 was left out: ...")
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, volume, **fields) -> Reading:
        """An empty reading of a `Volume` (or anything with its geometry attributes)."""
        rows, columns = volume.shape[-2:]
        return cls(info=volume.info, n_slices=volume.n_slices, pixel_spacing=tuple(volume.pixel_spacing),
                   row_cosine=tuple(float(v) for v in volume.row_cosine),
                   column_cosine=tuple(float(v) for v in volume.column_cosine),
                   photometric=volume.photometric, value_unit=volume.value_unit,
                   image_size=(int(rows), int(columns)), **fields)

    def check(self) -> None:
        """Refuse, in one line, a measurement, mark or AI point that is not finite or not on the image: such a
        number would be written into the report and the SR's graphic data as it is."""
        for m in self.measurements:
            if m.plane:  # on a reformat: in its own pixels; its patient positions must be numbers
                check_points([p[:2] for p in m.points_lps] + [p[1:] for p in m.points_lps], None,
                             f"the {m.annotation.kind} on the {m.plane}")
                continue
            check_points(m.annotation.points, self.image_size, f"the {m.annotation.kind} on slice {m.k + 1}")
        for key in self.key_images:
            for annotation in key.annotations:
                check_points(annotation.points, key.pixels.shape, f"the {annotation.kind} on slice {key.k + 1}")
            check_points(key.marks, key.pixels.shape, f"the AI mark on slice {key.k + 1}", pixels=True)
        for finding in self.findings:
            if finding.point is not None:
                check_points([finding.point], self.image_size, f"the AI point on slice {finding.k + 1}",
                             pixels=True)


def check_points(points, image_size: tuple[int, int] | None, what: str, pixels: bool = False) -> None:
    """Every (column, row) of `points` finite and on an image of `image_size` (rows, columns): within its
    edges [0, columns] × [0, rows] for drawn shapes, or one of its pixels for a click (`pixels`)."""
    for point in points:
        column, row = (float(v) for v in point)
        if not (math.isfinite(column) and math.isfinite(row)):
            raise MedviewError(f"{what}: point ({column:g}, {row:g}) is not a finite number")
        if image_size is None:
            continue
        rows, columns = image_size[-2:]
        inside = (0 <= column < columns and 0 <= row < rows) if pixels else (
            0 <= column <= columns and 0 <= row <= rows)
        if not inside:
            raise MedviewError(f"{what}: point ({column:g}, {row:g}) lies outside the image "
                               f"({columns}×{rows} pixels)")
