"""The project's own CNN: convolution, batch norm, ReLU, max pooling and a fully connected head.

The network is made to look at the lesion. Its encoder ends in a lesion gate: a 1×1 convolution predicts a
coarse tumour map (trained on the dataset's tumour masks), and the last feature maps are multiplied by that
map before pooling. The classifier therefore sees the features where the tumour is, and Grad-CAM on the gate
(the last conv block's output) shows those same places. This module imports torch: import it lazily.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def conv_block(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs), nn.ReLU(inplace=True),
        nn.Conv2d(outputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs), nn.ReLU(inplace=True),
    )


class LesionGate(nn.Module):
    """Features × sigmoid(lesion logits): the last conv block's output, and Grad-CAM's layer."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.lesion = nn.Conv2d(channels, 1, 1)
        self.lesion_logits: torch.Tensor | None = None

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        self.lesion_logits = self.lesion(features)
        return features * torch.sigmoid(self.lesion_logits)


class LesionCNN(nn.Module):
    """widths: channels per conv block; a 2× max pool follows every block but the last.

    stem: when > 0, a 5×5 convolution with stride 2 (and batch norm, ReLU) to that many channels comes first,
    so the blocks start at half the input's resolution: about half the training time on a CPU for the same
    receptive field.
    """

    def __init__(self, n_classes: int, widths: tuple[int, ...] = (16, 32, 64, 128, 128),
                 hidden: int = 64, dropout: float = 0.3, stem: int = 0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        if stem:
            layers += [nn.Conv2d(1, stem, 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(stem),
                       nn.ReLU(inplace=True)]
            channels = stem
        for index, width in enumerate(widths):
            layers.append(conv_block(channels, width))
            if index < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            channels = width
        self.encoder = nn.Sequential(*layers)
        self.gate = LesionGate(channels)
        self.head = nn.Sequential(
            nn.Linear(channels + 1, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        gated = self.gate(self.encoder(images))
        attention = torch.sigmoid(self.gate.lesion_logits)
        mass = attention.sum(dim=(2, 3))
        pooled = gated.sum(dim=(2, 3)) / (mass + 1.0)
        return self.head(torch.cat([pooled, attention.mean(dim=(2, 3))], dim=1))

    def lesion_loss(self, masks: torch.Tensor) -> torch.Tensor:
        """BCE of the gate's tumour map against the masks averaged onto its grid (after a forward pass)."""
        logits = self.gate.lesion_logits
        target = F.adaptive_avg_pool2d(masks, logits.shape[-2:])
        return F.binary_cross_entropy_with_logits(logits, target)


def build(architecture: dict, n_classes: int) -> LesionCNN:
    """The network a model card describes: {"name": "LesionCNN", "widths": [...], "hidden": N, "stem": N}."""
    if architecture.get("name") != "LesionCNN":
        raise ValueError(f"unknown architecture {architecture.get('name')!r}")
    return LesionCNN(n_classes, tuple(architecture["widths"]), int(architecture.get("hidden", 64)),
                     stem=int(architecture.get("stem", 0)))
