"""The saliency colour map, one definition for the screen and the report: 'inferno' (perceptually uniform,
dark = no evidence, pale yellow = strongest), sampled from matplotlib's table at nine points and interpolated."""

from __future__ import annotations

import numpy as np

_INFERNO = np.array([
    (0.001462, 0.000466, 0.013866), (0.087411, 0.044556, 0.224813), (0.258234, 0.038571, 0.406485),
    (0.416331, 0.090203, 0.432943), (0.578304, 0.148039, 0.404411), (0.735683, 0.215906, 0.330245),
    (0.865006, 0.316822, 0.226055), (0.954506, 0.468744, 0.099874), (0.988362, 0.998364, 0.644924),
])

#: 256 × RGB uint8
INFERNO_LUT = np.stack([np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_INFERNO)), _INFERNO[:, i])
                        for i in range(3)], axis=1).__mul__(255).round().astype(np.uint8)


def heat_rgba(values: np.ndarray, opacity: float, threshold: float) -> np.ndarray:
    """Saliency in [0, 1] → RGBA uint8; transparent below the threshold, `opacity` above it."""
    index = np.clip((np.nan_to_num(values) * 255).astype(np.int32), 0, 255)
    rgba = np.empty(values.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = INFERNO_LUT[index]
    rgba[..., 3] = np.where(values >= threshold, int(round(opacity * 255)), 0)
    return rgba
