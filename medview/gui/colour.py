"""Colour images on screen: R, G, B drawn as stored (no window or level), read back as "R, G, B".

Kept apart from the views so that each view needs one line per difference between grey and colour.
"""

from __future__ import annotations

import numpy as np

from medview.core.volume import Photometric
from medview.core.window_level import Window


def is_colour(pixels: np.ndarray | None) -> bool:
    """(rows, columns, 3) R, G, B pixels, as a colour `Volume` gives them."""
    return pixels is not None and pixels.ndim == 3 and pixels.shape[-1] == 3


def is_colour_series(photometric: str) -> bool:
    return Photometric.of(photometric).is_colour


def levels(pixels: np.ndarray, window: Window | None, inverted: bool) -> tuple[float, float]:
    """The display levels: 0–255 for colour (drawn as stored), the window otherwise (swapped to invert)."""
    if is_colour(pixels):
        return (0.0, 255.0)
    window = window or Window(1, 0)
    return (window.high, window.low) if inverted else (window.low, window.high)


def value_text(value) -> str:
    """A pixel's value for the status bar: "R, G, B" for colour, the number otherwise."""
    if np.ndim(value) == 1:
        return ", ".join(str(int(v)) for v in value)
    return f"{value:g}" if isinstance(value, (float, np.floating)) else f"{int(value)}"


def thumbnail(values: np.ndarray, step: int) -> np.ndarray:
    """A colour slice subsampled for the series browser, contiguous for a QImage."""
    return np.ascontiguousarray(np.asarray(values)[::step, ::step], dtype=np.uint8)
