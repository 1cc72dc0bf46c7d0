"""Find, then type: the detector looked over a whole slice, and over every slice of a series.

A slice is searched at places inside the body (`medview.ai.body`): a coarse grid every `COARSE_MM`, then finer
steps around the best places, so a small tumour between grid points is still met. The slice's score is the
highest P(tumour) = 1 − P(no tumour) found; the slice is flagged when that score reaches the card's *slice*
operating point, which was chosen on validation slices for a stated false-flag rate per tumour-free slice
(`medview.ai.train.slice_operating_point`). Training, evaluation, the CLI and the GUI all search with
`search_slice`, so the rate the card states is the rate of the procedure the user runs.

torch is used through a `Classifier` only (imported lazily there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from medview.ai.body import body_mask
from medview.ai.inputs import SquareSampler, unit_range
from medview.ai.manifest import DISCLAIMER
from medview.core.session import SliceFinding

COARSE_MM = 12.0
#: refinement: around the best `REFINE_TOP` places, a 3 × 3 step of each size in turn (mm)
REFINE_STEPS_MM = (4.0, 2.0)
REFINE_TOP = 3


@dataclass(frozen=True)
class PatchGeometry:
    """The square a patch model looks at: `size` × `size` pixels of `mm_per_pixel` mm (a card states it)."""

    size: int
    mm_per_pixel: float


class PatchScorer(Protocol):
    """What a search needs of a model: its patch geometry (`card`: a model card, or a `PatchGeometry` for a
    network in training) and calibrated probabilities of a stack of patches."""

    @property
    def card(self) -> PatchGeometry: ...

    def probabilities(self, inputs: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Search:
    """The best place of one slice: P(tumour) there, the calibrated probabilities, and how many places looked."""

    score: float | None  # None: no place to look at (no tissue)
    point: tuple[float, float] | None  # (column, row)
    probabilities: np.ndarray | None
    places: int


def grid_points(allowed: np.ndarray, pixel_spacing: tuple[float, float], step_mm: float) -> list[tuple[float, float]]:
    """(column, row) pixel centres every step_mm over the allowed pixels, the grid centred on the image."""
    rows, columns = allowed.shape
    row_step = max(1, int(round(step_mm / pixel_spacing[0])))
    column_step = max(1, int(round(step_mm / pixel_spacing[1])))
    r0 = (rows // 2) % row_step
    c0 = (columns // 2) % column_step
    rr, cc = np.nonzero(allowed[r0::row_step, c0::column_step])
    return [(float(c0 + c * column_step), float(r0 + r * row_step)) for r, c in zip(rr, cc, strict=True)]


def search_slice(probabilities_at: Callable[[list[tuple[float, float]]], np.ndarray], allowed: np.ndarray,
                 pixel_spacing: tuple[float, float], negative: int = 0) -> Search:
    """The highest P(tumour) over the allowed pixels: coarse grid, then refined around the best places.

    `probabilities_at(points)` gives the calibrated class probabilities (N × classes) at (column, row) points;
    class `negative` is "no tumour".
    """
    points = grid_points(allowed, pixel_spacing, COARSE_MM)
    if not points and allowed.any():  # a sliver of tissue smaller than the grid: look at its middle
        rr, cc = np.nonzero(allowed)
        middle = len(rr) // 2
        points = [(float(cc[middle]), float(rr[middle]))]
    if not points:
        return Search(None, None, None, 0)
    probabilities = probabilities_at(points)
    seen = dict(zip(points, probabilities, strict=True))
    for step_mm in REFINE_STEPS_MM:
        ranked = sorted(seen, key=lambda p: -(1.0 - seen[p][negative]))[:REFINE_TOP]
        dr, dc = step_mm / pixel_spacing[0], step_mm / pixel_spacing[1]
        new = []
        for column, row in ranked:
            for i in (-1, 0, 1):
                for j in (-1, 0, 1):
                    point = (float(round(column + j * dc)), float(round(row + i * dr)))
                    r, c = int(point[1]), int(point[0])
                    if (point not in seen and point not in new and 0 <= r < allowed.shape[0]
                            and 0 <= c < allowed.shape[1] and allowed[r, c]):
                        new.append(point)
        if new:
            seen.update(zip(new, probabilities_at(new), strict=True))
    best = max(seen, key=lambda p: (1.0 - seen[p][negative], -p[1], -p[0]))
    return Search(float(1.0 - seen[best][negative]), best, np.asarray(seen[best]), len(points))


def slice_scorer(classifier: PatchScorer, image: np.ndarray, pixel_spacing: tuple[float, float],
                 already_unit: bool = False) -> Callable[[list[tuple[float, float]]], np.ndarray]:
    """probabilities_at(points) for one slice: the slice is scaled and padded once for all its patches."""
    card = classifier.card
    image01 = image if already_unit else unit_range(image)
    sampler = SquareSampler(image01, pixel_spacing, card.size, card.mm_per_pixel)
    known: dict[tuple[float, float], np.ndarray] = {}  # searches of one slice share their places

    def probabilities_at(points: list[tuple[float, float]]) -> np.ndarray:
        new = [p for p in dict.fromkeys(points) if p not in known]
        if new:
            inputs = np.stack([sampler.sample((row, column))[0] for column, row in new])
            known.update(zip(new, classifier.probabilities(inputs), strict=True))
        return np.stack([known[p] for p in points])

    return probabilities_at


def find_in_slice(classifier, image: np.ndarray, pixel_spacing: tuple[float, float], modality: str) -> Search:
    """The detector over one slice (values after the modality LUT), inside the body only."""
    allowed = body_mask(image, pixel_spacing, modality)
    return search_slice(slice_scorer(classifier, image, pixel_spacing), allowed, pixel_spacing,
                        classifier.card.negative_index)


def finding_of(classifier, k: int, search: Search) -> SliceFinding:
    """The series-run record of one slice: flagged at the card's slice operating point, typed when flagged."""
    card = classifier.card
    threshold = card.slice_threshold
    if search.score is None:
        return SliceFinding(k, None, False, None, None)
    flagged = threshold is not None and search.score >= threshold
    label = probability = None
    if flagged:
        label, probability = card.tumour_type(search.probabilities)
    return SliceFinding(k, search.score, flagged, search.point, label, probability)


def iter_series(classifier, volume, t: int = 0, cancelled: Callable[[], bool] | None = None
                ) -> Iterator[SliceFinding]:
    """One `SliceFinding` per slice k = 0 … N − 1 of time point t, as each is done."""
    modality = volume.info.modality or classifier.card.modality
    for k in range(volume.n_slices):
        if cancelled is not None and cancelled():
            return
        yield finding_of(classifier, k, find_in_slice(classifier, volume.slice(k, t), volume.pixel_spacing,
                                                       modality))


def series_answer(classifier, findings: list[SliceFinding], fit) -> dict:
    """The one object `medview classify --all-slices --json` prints (and the GUI shows)."""
    card = classifier.card
    return {
        "model": {"name": card.name, "version": card.version, "sha256": card.weights_sha256},
        "threshold": card.slice_threshold,
        "false_flag_rate": card.slice_false_flag_rate,
        "fits": fit.fits,
        "does_not_fit": list(fit.reasons),
        "disclaimer": DISCLAIMER,
        "slices": [finding.as_dict() for finding in findings],
    }


def false_flag_words(rate: float | None) -> str:
    """'flags a tumour-free slice about 1 time in 20 on validation' from a rate."""
    if rate is None or not math.isfinite(rate) or rate <= 0:
        return "its false-flag rate on tumour-free slices is not known"
    return f"flags a tumour-free slice about 1 time in {max(1, round(1 / rate))} on validation"
