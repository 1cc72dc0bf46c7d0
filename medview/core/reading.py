"""A `Reading`: what one session found on one series, which the report layer turns into files.

Plain data only (numpy arrays for pixels and saliency): the GUI and `medview report` fill it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from medview.core.annotations import Annotation, Value
from medview.core.volume import SeriesInfo

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
    t: int = 0  # the time point of a 4D series the answer was made on


@dataclass(frozen=True)
class Measurement:
    k: int
    annotation: Annotation
    values: tuple[Value, ...]
    t: int = 0

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

    @classmethod
    def of(cls, volume, **fields) -> Reading:
        """An empty reading of a `Volume` (or anything with its geometry attributes)."""
        return cls(info=volume.info, n_slices=volume.n_slices, pixel_spacing=tuple(volume.pixel_spacing),
                   row_cosine=tuple(float(v) for v in volume.row_cosine),
                   column_cosine=tuple(float(v) for v in volume.column_cosine),
                   photometric=volume.photometric, value_unit=volume.value_unit, **fields)
