"""The detector judged where its answer is shown: whole slices of the dataset, searched as a series run does.

Every labelled slice holds a tumour, so three searches are made on each (`medview.ai.detect.search_slice`):
over the tumour-free places (outside the tumour dilated by half a patch, so no patch sees it), inside the
tumour, and over the whole slice. The slice operating point is chosen on validation slices from the first two;
since there are no tumour-free slices, the false-flag rate is measured on the tumour-free part of each slice and
scaled to the number of places a whole slice has (`scaled_rate`). No torch here: the scorer brings the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medview.ai import metrics
from medview.ai.body import body_mask
from medview.ai.detect import Search, search_slice, slice_scorer
from medview.ai.inputs import png_unit_range, within_mm


@dataclass(frozen=True)
class SliceSearches:
    tumour_free: Search  # the highest score outside the dilated tumour
    tumour: Search  # the highest score inside the tumour
    whole: Search  # the search a series run makes


def search_dataset_slices(scorer, images: np.ndarray, masks: np.ndarray, spacing: tuple[float, float],
                          margin_mm: float, negative: int = 0) -> list[SliceSearches]:
    """The three searches on every dataset slice (8-bit PNGs, min–max scaled)."""
    found = []
    for image, mask in zip(images, masks, strict=True):
        image01 = png_unit_range(image)
        body = body_mask(image01, spacing, "MR")
        at = slice_scorer(scorer, image01, spacing, already_unit=True)
        free = body & ~within_mm(mask, spacing, margin_mm)
        found.append(SliceSearches(search_slice(at, free, spacing, negative),
                                   search_slice(at, mask.astype(bool), spacing, negative),
                                   search_slice(at, body, spacing, negative)))
    return found


def per_place_rate(slice_rate: float, places: np.ndarray) -> float:
    """The per-place false-flag rate q that gives slice_rate over slices of these many places, if places
    were independent: mean(1 − (1 − q)^n) = slice_rate (bisection)."""
    if slice_rate <= 0:
        return 0.0
    if slice_rate >= 1:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(60):
        q = (low + high) / 2
        if np.mean(1 - (1 - q) ** places) < slice_rate:
            low = q
        else:
            high = q
    return (low + high) / 2


def scaled_rate(part_rate: float, part_places: np.ndarray, whole_places: float) -> float:
    """The false-flag rate of a whole tumour-free slice from the rate on tumour-free parts of slices."""
    return float(1 - (1 - per_place_rate(part_rate, part_places)) ** whole_places)


def choose_slice_threshold(searches: list[SliceSearches], target: float) -> dict:
    """The lowest slice operating point whose estimated false-flag rate per tumour-free slice is ≤ target."""
    free = [s.tumour_free for s in searches if s.tumour_free.score is not None]
    scores = np.array([s.score for s in free])
    part_places = np.array([s.places for s in free], dtype=np.float64)
    whole_places = float(np.median([s.whole.places for s in searches if s.whole.score is not None]))
    chosen = 1.0
    for threshold in np.unique(scores):
        if scaled_rate(float(np.mean(scores >= threshold)), part_places, whole_places) <= target:
            chosen = float(threshold)
            break
    part_rate = float(np.mean(scores >= chosen))
    return {
        "threshold": round(chosen, 6),
        "score": "the highest P(tumour) over a slice's places inside the head (medview.ai.detect.search_slice)",
        "chosen_on": f"validation slices: the lowest threshold whose estimated false-flag rate per tumour-free "
                     f"slice is <= {target:g}",
        "target_false_flag_rate": target,
        "false_flag_rate_per_tumour_free_slice": round(scaled_rate(part_rate, part_places, whole_places), 4),
        "false_flag_rate_on_tumour_free_parts": round(part_rate, 4),
        "places_per_tumour_free_part_median": float(np.median(part_places)),
        "places_per_whole_slice_median": whole_places,
        "estimate": "the dataset has no tumour-free slices: the rate is measured on the tumour-free part of each "
                    "tumour slice (centres more than half a patch from the tumour, so no patch sees it) and scaled "
                    "to the places of a whole slice as if places were independent: 1 - (1 - q)^N, q fitted to the "
                    "parts",
    }


def found_inside(searches: list[SliceSearches], masks: np.ndarray, threshold: float) -> np.ndarray:
    """Per slice: flagged, and the place found lies inside the tumour."""
    return np.array([s.whole.score is not None and s.whole.score >= threshold
                     and bool(m[int(s.whole.point[1]), int(s.whole.point[0])]) for s, m in zip(searches, masks,
                                                                                              strict=True)])


def _inside_box(point, box) -> bool:
    x0, y0, x1, y1 = box
    return x0 <= point[0] <= x1 and y0 <= point[1] <= y1


def slice_figures(searches: list[SliceSearches], threshold: float, targets: np.ndarray, masks: np.ndarray,
                  boxes: list, tumour_labels: list[str], negative: int = 0) -> dict:
    """Per-slice sensitivity, false flags, where the found place lies, and the tumour type at the tumour."""
    n = len(searches)
    whole = [s.whole for s in searches]
    flagged = np.array([w.score is not None and w.score >= threshold for w in whole])
    inside = found_inside(searches, masks, threshold)
    in_box = np.array([w.point is not None and b is not None and _inside_box(w.point, b)
                       for w, b in zip(whole, boxes, strict=True)])
    free = np.array([s.tumour_free.score is not None and s.tumour_free.score >= threshold for s in searches])
    reachable = np.array([s.tumour.score is not None and s.tumour.score >= threshold for s in searches])
    type_index = [i for i in range(len(tumour_labels) + 1) if i != negative]
    typed = np.array([s.tumour.probabilities[type_index] if s.tumour.probabilities is not None
                      else np.full(len(type_index), 1 / len(type_index)) for s in searches])
    typed = typed / np.clip(typed.sum(axis=1, keepdims=True), 1e-12, None)
    types = metrics.classification_report(typed, targets, tumour_labels)
    found_typed = np.array([w.probabilities is not None and
                            int(np.argmax(w.probabilities[type_index])) == t for w, t in zip(whole, targets,
                                                                                            strict=True)])
    return {
        "slices": n,
        "sensitivity_found_inside_tumour": round(float((flagged & inside).mean()), 4),
        "flagged": round(float(flagged.mean()), 4),
        "tumour_reaches_threshold": round(float(reachable.mean()), 4),
        "found_place_inside_tumour_box_of_flagged": round(float(in_box[flagged].mean()), 4) if flagged.any()
        else None,
        "false_flag_rate_on_tumour_free_parts": round(float(free.mean()), 4),
        "type_at_tumour": {k: types[k] for k in ("accuracy", "balanced_accuracy", "macro_auc", "ece", "per_class",
                                                 "confusion")},
        "type_right_at_found_place_of_found_slices": round(float(found_typed[flagged & inside].mean()), 4)
        if (flagged & inside).any() else None,
        "slice_answer_right": round(float((flagged & inside & found_typed).mean()), 4),
    }
