"""Inference: classify a 2D image, a slice of a volume, or a point on it, with calibrated probabilities and
saliency on the slice's own pixels. torch is imported when a `Classifier` is first made, never before.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from medview.ai.inputs import Placement, patch_input, slice_input
from medview.ai.manifest import DISCLAIMER, ModelCard, load_network
from medview.ai.metrics import softmax
from medview.errors import ModelError


@dataclass(frozen=True)
class Prediction:
    """One answer of one model on one image (and point), with everything a panel or report shows."""

    label: str
    probabilities: dict[str, float]  # calibrated (temperature-scaled)
    model_name: str
    model_version: str
    model_sha256: str
    task: str
    elapsed_ms: float
    #: saliency on the source image's pixel grid (rows × columns), in [0, 1]; None when not asked for
    saliency: np.ndarray | None = field(default=None, repr=False)
    saliency_method: str = ""
    point: tuple[float, float] | None = None  # (column, row) of a patch model's click
    #: patch models: P(tumour) = 1 - P(normal brain), and whether it is at or above the card's operating point
    tumour_probability: float | None = None
    flagged: bool | None = None
    disclaimer: str = DISCLAIMER

    def as_finding(self, k: int):
        """The report's record of this answer on slice k."""
        from medview.core.reading import AiFinding

        return AiFinding(k=k, label=self.label, probability=self.probabilities[self.label],
                         probabilities=dict(self.probabilities), model_name=self.model_name,
                         model_version=self.model_version, model_sha256=self.model_sha256, task=self.task,
                         elapsed_ms=self.elapsed_ms, point=self.point, tumour_probability=self.tumour_probability,
                         flagged=self.flagged, saliency_method=self.saliency_method)

    def as_dict(self) -> dict:
        return {
            "label": self.label, "probabilities": self.probabilities, "task": self.task,
            "model": {"name": self.model_name, "version": self.model_version, "sha256": self.model_sha256},
            "elapsed_ms": round(self.elapsed_ms, 1), "point": list(self.point) if self.point else None,
            "tumour_probability": self.tumour_probability, "flagged": self.flagged,
            "saliency_method": self.saliency_method, "disclaimer": self.disclaimer,
        }


class Classifier:
    """A loaded model. Thread-safe: one inference at a time per classifier."""

    def __init__(self, card: ModelCard) -> None:
        import torch

        torch.set_num_threads(2)
        self.card = card
        self.network = load_network(card)
        self._lock = threading.Lock()

    def model_input(self, image: np.ndarray, pixel_spacing: tuple[float, float],
                    point: tuple[float, float] | None = None, already_unit: bool = False
                    ) -> tuple[np.ndarray, Placement]:
        card = self.card
        if card.task == "patch":
            if point is None:
                raise ModelError(f"{card.name} classifies a point: give the column and row of a click")
            column, row = point
            return patch_input(image, pixel_spacing, (row, column), card.size, card.mm_per_pixel, already_unit)
        return slice_input(image, pixel_spacing, card.size, card.mm_per_pixel, already_unit)

    def classify(self, image: np.ndarray, pixel_spacing: tuple[float, float],
                 point: tuple[float, float] | None = None, saliency: str | None = "gradcam",
                 already_unit: bool = False) -> Prediction:
        """Classify one 2D image (values after the modality LUT, or a dataset PNG scaled to [0, 1])."""
        import torch

        from medview.ai.saliency import saliency as explain

        started = time.perf_counter()
        x, placement = self.model_input(image, pixel_spacing, point, already_unit)
        tensor = torch.from_numpy(x[None, None].copy())
        with self._lock:
            with torch.no_grad():
                logits = self.network(tensor).numpy()
            probabilities = softmax(logits, self.card.temperature)[0]
            best = int(probabilities.argmax())
            heat = None
            if saliency:
                heat = placement.to_source(explain(self.network, tensor.requires_grad_(False), best, saliency))
        labels = self.card.labels
        tumour = flagged = None
        if self.card.task == "patch" and "normal brain" in labels:
            tumour = float(1.0 - probabilities[labels.index("normal brain")])
            threshold = (self.card.operating_point or {}).get("threshold")
            flagged = None if threshold is None else bool(tumour >= threshold)
        return Prediction(
            label=labels[best], probabilities={k: round(float(p), 6) for k, p in zip(labels, probabilities,
                                                                                      strict=True)},
            model_name=self.card.name, model_version=self.card.version, model_sha256=self.card.weights_sha256,
            task=self.card.task, elapsed_ms=(time.perf_counter() - started) * 1000, saliency=heat,
            saliency_method=saliency or "", point=point, tumour_probability=tumour, flagged=flagged,
        )

    def tumour_probabilities(self, image: np.ndarray, pixel_spacing: tuple[float, float],
                             points: list[tuple[float, float]], batch: int = 64) -> np.ndarray:
        """P(tumour) at each (column, row) point of one image, in batches, without saliency (series runs)."""
        import torch

        if self.card.task != "patch" or "normal brain" not in self.card.labels:
            raise ModelError(f"{self.card.name} is not a patch model with a normal-brain class")
        if not points:
            return np.zeros(0, dtype=np.float32)
        from medview.ai.inputs import unit_range

        image01 = unit_range(image)
        inputs = np.stack([self.model_input(image01, pixel_spacing, p, already_unit=True)[0] for p in points])
        normal = self.card.labels.index("normal brain")
        out = []
        with self._lock, torch.no_grad():
            for start in range(0, len(inputs), batch):
                logits = self.network(torch.from_numpy(inputs[start:start + batch, None].copy())).numpy()
                out.append(1.0 - softmax(logits, self.card.temperature)[:, normal])
        return np.concatenate(out).astype(np.float32)

    def classify_slice(self, volume, k: int, point: tuple[float, float] | None = None, t: int = 0,
                       saliency: str | None = "gradcam") -> Prediction:
        """Slice k (and time point t) of a `medview.core.volume.Volume`; `point` is (column, row)."""
        if not 0 <= k < volume.n_slices:
            raise ModelError(f"slice {k} is outside the series (0 to {volume.n_slices - 1})")
        if point is not None:
            column, row = point
            if not (0 <= column < volume.shape[2] and 0 <= row < volume.shape[1]):
                raise ModelError(f"point {column},{row} is outside the image ({volume.shape[2]}×{volume.shape[1]})")
        return self.classify(volume.slice(k, t), volume.pixel_spacing, point, saliency)


_loaded: dict[str, Classifier] = {}
_loaded_lock = threading.Lock()


def classifier_for(card: ModelCard) -> Classifier:
    """A cached classifier per weights file: a model is loaded once per session."""
    key = f"{card.folder}:{card.weights_sha256}"
    with _loaded_lock:
        if key not in _loaded:
            _loaded[key] = Classifier(card)
        return _loaded[key]
