"""The one geometry validator: warnings a radiologist must see, with the tolerances named in core.geometry.

Gantry tilt (a sheared stack), uneven spacing, missing slices and changing slice thickness are judged from
the per-slice positions, never from SliceThickness or a single spacing.
"""

from __future__ import annotations

import math

import numpy as np

from medview.core import geometry

#: A step this many times the steps on both sides (which agree) is a gap of missing slices.
MISSING_RATIO = 1.5
#: Thicknesses closer than this (mm) are the same.
THICKNESS_MM = 0.01


def _runs(values: np.ndarray, tolerance: float) -> list[float]:
    """The distinct values in order of appearance, consecutive near-equal values merged."""
    runs: list[float] = []
    for value in values:
        if not runs or abs(value - runs[-1]) > tolerance:
            runs.append(float(value))
    return runs


def missing_slice_gaps(steps: np.ndarray) -> list[tuple[int, float, int]]:
    """(k before the gap, gap in mm, slices missing) where a step is a multiple of the even steps around it."""
    gaps = []
    for i, step in enumerate(steps):
        neighbours = [steps[j] for j in (i - 1, i + 1) if 0 <= j < len(steps)]
        if not neighbours:
            continue
        local = float(np.median(neighbours))
        if local <= 0 or max(abs(n - local) for n in neighbours) > geometry.UNEVEN_MM + 0.01 * local:
            continue
        ratio = step / local
        if ratio > MISSING_RATIO and abs(ratio - round(ratio)) < 0.2:
            gaps.append((i, float(step), int(round(ratio)) - 1))
    return gaps


def geometry_warnings(positions: np.ndarray, normal: np.ndarray, thickness: list[float | None]) -> list[str]:
    warnings: list[str] = []
    if len(positions) < 2:
        return warnings
    tilt = float(np.max(geometry.shear_angles_deg(positions, normal)))
    if tilt > geometry.TILT_DEG:
        warnings.append(
            f"gantry tilt {tilt:.1f}°: the slices step {tilt:.1f}° off their normal (a sheared stack); "
            "per-slice positions are kept as the geometry")
    steps = geometry.steps_along_normal(positions, normal)
    if np.any(np.abs(steps) < 1e-3):
        warnings.append("two slices at the same position")
    gaps = missing_slice_gaps(steps)
    for k, gap, missing in gaps:
        warnings.append(f"missing slices: a {gap:.2f} mm gap between slices {k + 1} and {k + 2} "
                        f"(about {missing} slice{'s' if missing > 1 else ''} missing)")
    if geometry.is_uneven(steps) and not (gaps and _even_without(steps, [g[0] for g in gaps])):
        runs = _runs(steps, max(geometry.UNEVEN_MM, 0.01 * float(np.median(np.abs(steps)))))
        listed = " / ".join(f"{r:.2f}" for r in runs[:8]) + (" / ..." if len(runs) > 8 else "")
        warnings.append(f"uneven slice spacing: {listed} mm along the normal")
    known = [t for t in thickness if t is not None and not math.isnan(t)]
    if known:
        distinct = _runs(np.array(known), THICKNESS_MM)
        if len({round(t, 2) for t in distinct}) > 1:
            warnings.append("slice thickness changes: " + " → ".join(f"{t:g}" for t in distinct[:6]) + " mm")
    return warnings


def _even_without(steps: np.ndarray, skip: list[int]) -> bool:
    kept = np.array([s for i, s in enumerate(steps) if i not in skip])
    return not geometry.is_uneven(kept)
