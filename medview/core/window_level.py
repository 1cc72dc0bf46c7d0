"""Window and level: which values map to black and white. CT presets in HU; MR windows from percentiles.

A window is (width, level) in the volume's values (HU for CT): values below level − width/2 are black, above
level + width/2 white. MONOCHROME1 and the user's invert swap black and white in the display only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    width: float
    level: float
    name: str = ""

    def __post_init__(self) -> None:
        if not self.width > 0:
            raise ValueError(f"window width must be positive, got {self.width}")

    @property
    def low(self) -> float:
        return self.level - self.width / 2

    @property
    def high(self) -> float:
        return self.level + self.width / 2

    def __str__(self) -> str:
        return f"W {_short(self.width)} / L {_short(self.level)}"


def _short(value: float) -> str:
    """A window figure as a reader wants it: 1047 not 1047.01, but 0.0125 or 523.5 kept."""
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"


#: CT presets (HU), in the order of keys 1–8.
CT_PRESETS = (
    Window(80, 40, "brain"),
    Window(200, 75, "subdural"),
    Window(40, 40, "stroke"),
    Window(1500, -600, "lung"),
    Window(350, 50, "mediastinum"),
    Window(400, 50, "abdomen"),
    Window(150, 30, "liver"),
    Window(1800, 400, "bone"),
)

#: MR presets as percentile ranges of the volume's values, in the order of keys 1–4.
MR_PERCENTILES = (
    ("full range", 0.0, 100.0),
    ("default (1–99 %)", 1.0, 99.0),
    ("bright (50–99.5 %)", 50.0, 99.5),
    ("contrast (5–95 %)", 5.0, 95.0),
)


def percentile_window(values: np.ndarray, low: float, high: float, name: str = "") -> Window:
    """The window spanning two percentiles of the values (on a subsample: fast on big volumes)."""
    flat = np.asarray(values).ravel()
    if flat.size > 2_000_000:
        flat = flat[:: flat.size // 1_000_000]
    a, b = np.percentile(flat, [low, high])
    if b <= a:
        b = a + 1
    return Window(float(b - a), float((a + b) / 2), name)


def presets_for(modality: str, values: np.ndarray, scanner: tuple[Window, ...] = (),
                reader: tuple[Window, ...] | None = None) -> list[Window]:
    """The presets in key order (1, 2, ...): the scanner's own windows first, then the modality's. `reader`:
    the reader's own fixed presets for this modality (a preference), in place of the built-in CT list; on
    other modalities they come before the percentile windows, which follow each volume's values."""
    if modality.upper() == "CT":
        return [*scanner, *(CT_PRESETS if reader is None else reader)]
    return [*scanner, *(reader or ()),
            *(percentile_window(values, low, high, name) for name, low, high in MR_PERCENTILES)]


def default_window(modality: str, values: np.ndarray, scanner: tuple[Window, ...] = ()) -> Window:
    """The window a series opens with: the scanner's first (WindowCenter/WindowWidth or VOI LUT), else soft
    tissue (W 400 / L 40) for CT and 1–99 % of the values otherwise (pass the whole volume, not a slice)."""
    if scanner:
        return scanner[0]
    if modality.upper() == "CT":
        return Window(400, 40, "soft tissue")
    return percentile_window(values, 1.0, 99.0, "default (1–99 %)")


def grey(values: np.ndarray, window: Window, inverted: bool = False) -> np.ndarray:
    """Values → 8-bit grey through a window: the display mapping, as the slice view draws it.

    Linear from black at `window.low` to white at `window.high`, clipped outside; `inverted` (MONOCHROME1
    or the user's invert) swaps black and white. The values themselves are never changed. Colour (rows,
    columns, 3) R, G, B is drawn as stored: no window on colour.
    """
    if np.ndim(values) == 3 and np.shape(values)[-1] == 3:
        return np.asarray(values, dtype=np.uint8)
    scaled = (np.asarray(values, dtype=np.float32) - np.float32(window.low)) * np.float32(255.0 / window.width)
    scaled = np.clip(scaled, 0, 255)
    if inverted:
        scaled = 255 - scaled
    return scaled.astype(np.uint8)
