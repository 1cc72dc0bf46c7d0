"""Where the network looked, with captum: Grad-CAM on the lesion gate (the last conv block's output), and
integrated gradients. Both come back on the model input's grid, ≥ 0 and scaled to [0, 1]; the caller puts
them onto the slice's own pixels with `Placement.to_source`. Imports torch and captum: import lazily.
"""

from __future__ import annotations

import numpy as np
import torch

METHODS = ("gradcam", "integrated_gradients")


#: Positive evidence below this share of the map's largest magnitude is noise, not a place the model looked.
NOISE_SHARE = 1e-3


def _unit(values: np.ndarray) -> np.ndarray:
    """Positive part scaled to [0, 1]; all zeros when there is no positive evidence worth the name."""
    values = np.asarray(values, dtype=np.float32)
    positive = np.maximum(values, 0)
    peak = float(positive.max())
    if peak <= NOISE_SHARE * float(np.abs(values).max()) or peak == 0:
        return np.zeros_like(positive)
    return positive / peak


def grad_cam(network, x: torch.Tensor, target: int) -> np.ndarray:
    """Grad-CAM of class `target` on the gate, upsampled (bilinear) to the input's size."""
    from captum.attr import LayerAttribution, LayerGradCam

    cam = LayerGradCam(network, network.gate).attribute(x, target=target, relu_attributions=False)
    up = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear")
    return _unit(up.detach()[0, 0].numpy())


def integrated_gradients(network, x: torch.Tensor, target: int, steps: int = 24) -> np.ndarray:
    """Integrated gradients from a black image, absolute values."""
    from captum.attr import IntegratedGradients

    attributions = IntegratedGradients(network).attribute(
        x, baselines=torch.zeros_like(x), target=target, n_steps=steps, internal_batch_size=steps)
    return _unit(np.abs(attributions.detach()[0, 0].numpy()))  # magnitude: where the pixels mattered


def saliency(network, x: torch.Tensor, target: int, method: str = "gradcam") -> np.ndarray:
    if method == "gradcam":
        return grad_cam(network, x, target)
    if method == "integrated_gradients":
        return integrated_gradients(network, x, target)
    raise ValueError(f"saliency method must be one of {', '.join(METHODS)}")
