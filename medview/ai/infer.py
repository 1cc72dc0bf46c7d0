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

#: The answer to a click outside the body: no answer, never "normal".
OUTSIDE_BODY = "outside the head: no answer"
OUTSIDE_CHEST = "outside the body (air): no answer"
NO_TUMOUR_FOUND = "no tumour found"


@dataclass(frozen=True)
class Prediction:
    """One answer of one model on one image (and point), with everything a panel or report shows."""

    label: str
    probabilities: dict[str, float]  # calibrated (temperature-scaled); empty when there is no answer
    model_name: str
    model_version: str
    model_sha256: str
    task: str
    elapsed_ms: float
    #: saliency on the source image's pixel grid (rows × columns), in [0, 1]; None when not asked for
    saliency: np.ndarray | None = field(default=None, repr=False)
    saliency_method: str = ""
    point: tuple[float, float] | None = None  # (column, row): the click, or the place a slice answer found
    #: detectors: P(tumour) = 1 - P(no tumour), and whether it reaches the operating point of what was asked
    #: (a click: the card's place operating point; a slice: its slice operating point)
    tumour_probability: float | None = None
    flagged: bool | None = None
    threshold: float | None = None
    #: "click", "slice" (find, then type), "slice model" or "nodule" (a nodule model's click)
    kind: str = "click"
    #: False: the point lies outside the body, and there is no answer
    answered: bool = True
    #: a nodule model's click: the slice it was read on (k), the nodule's widest section near the clicked slice
    read_slice: int | None = None
    disclaimer: str = DISCLAIMER

    @property
    def probability(self) -> float | None:
        return self.probabilities.get(self.label)

    def headline(self) -> str:
        """The answer in one line, as the panel and the CLI say it (`AiFinding.headline`)."""
        return self.as_finding(0).headline()

    def as_finding(self, k: int):
        """The report's record of this answer on slice k."""
        from medview.core.reading import AiFinding

        return AiFinding(k=k, label=self.label, probability=self.probabilities.get(self.label, 0.0),
                         probabilities=dict(self.probabilities), model_name=self.model_name,
                         model_version=self.model_version, model_sha256=self.model_sha256, task=self.task,
                         elapsed_ms=self.elapsed_ms, point=self.point, tumour_probability=self.tumour_probability,
                         flagged=self.flagged, saliency_method=self.saliency_method, kind=self.kind,
                         threshold=self.threshold)

    def as_dict(self) -> dict:
        return {
            "label": self.label, "answer": self.headline(), "kind": self.kind, "answered": self.answered,
            "probabilities": self.probabilities, "task": self.task,
            "model": {"name": self.model_name, "version": self.model_version, "sha256": self.model_sha256},
            "elapsed_ms": round(self.elapsed_ms, 1), "point": list(self.point) if self.point else None,
            "tumour_probability": self.tumour_probability, "flagged": self.flagged, "threshold": self.threshold,
            "read_slice": self.read_slice, "saliency_method": self.saliency_method, "disclaimer": self.disclaimer,
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

    def probabilities(self, inputs: np.ndarray, batch: int = 128) -> np.ndarray:
        """Calibrated class probabilities of a stack of model inputs (N × size × size), without saliency."""
        import torch

        out = []
        with self._lock, torch.no_grad():
            for start in range(0, len(inputs), batch):
                chunk = torch.from_numpy(np.ascontiguousarray(inputs[start:start + batch, None], dtype=np.float32))
                out.append(softmax(self.network(chunk).numpy(), self.card.temperature))
        return np.concatenate(out) if out else np.zeros((0, len(self.card.labels)))

    def _answer(self, x: np.ndarray, placement: Placement, saliency: str | None
                ) -> tuple[np.ndarray, np.ndarray | None, int]:
        import torch

        from medview.ai.saliency import saliency as explain

        tensor = torch.from_numpy(x[None, None].copy())
        with self._lock:
            with torch.no_grad():
                logits = self.network(tensor).numpy()
            probabilities = softmax(logits, self.card.temperature)[0]
            best = int(probabilities.argmax())
            target = best
            if self.card.is_detector and best == self.card.negative_index:
                target = self.card.labels.index(self.card.tumour_type(probabilities)[0])
            heat = placement.to_source(explain(self.network, tensor, target, saliency)) if saliency else None
        return probabilities, heat, best

    def _prediction(self, label: str, probabilities, started: float, **extra) -> Prediction:
        labels = self.card.labels
        values = {} if probabilities is None else {
            name: round(float(p), 6) for name, p in zip(labels, probabilities, strict=True)}
        return Prediction(label=label, probabilities=values, model_name=self.card.name,
                          model_version=self.card.version, model_sha256=self.card.weights_sha256,
                          task=self.card.task, elapsed_ms=(time.perf_counter() - started) * 1000, **extra)

    def classify(self, image: np.ndarray, pixel_spacing: tuple[float, float],
                 point: tuple[float, float] | None = None, saliency: str | None = "gradcam",
                 already_unit: bool = False, modality: str | None = None) -> Prediction:
        """Classify one 2D image (values after the modality LUT, or a dataset PNG scaled to [0, 1]).

        A detector's click outside the body (`medview.ai.body`, by the image's modality) gets no answer."""
        started = time.perf_counter()
        if self.card.is_detector and point is not None:
            from medview.ai.body import body_mask, inside

            if not inside(body_mask(image, pixel_spacing, modality or self.card.modality), point):
                return self._prediction(OUTSIDE_BODY, None, started, point=point, answered=False)
        x, placement = self.model_input(image, pixel_spacing, point, already_unit)
        probabilities, heat, best = self._answer(x, placement, saliency)
        label = self.card.labels[best]
        tumour = flagged = threshold = None
        if self.card.is_detector:
            tumour = float(1.0 - probabilities[self.card.negative_index])
            threshold = self.card.patch_threshold
            if threshold is not None:  # the label says what the flag says: the operating point decides
                flagged = bool(tumour >= threshold)
                label = (self.card.tumour_type(probabilities)[0] if flagged
                         else self.card.labels[self.card.negative_index])
        kind = "click" if self.card.task == "patch" else "slice model"
        return self._prediction(label, probabilities, started, saliency=heat,
                                saliency_method=saliency or "", point=point, tumour_probability=tumour,
                                flagged=flagged, threshold=threshold, kind=kind)

    def find(self, image: np.ndarray, pixel_spacing: tuple[float, float], modality: str | None = None,
             saliency: str | None = "gradcam") -> Prediction:
        """The slice answer: the detector searched over the slice; "no tumour found", or the tumour's place
        and type with the saliency of that place. Flagged by the card's slice operating point."""
        from medview.ai.detect import find_in_slice

        if not self.card.is_detector:
            raise ModelError(f"{self.card.name} is not a detector: it cannot say whether a slice holds a tumour")
        threshold = self.card.slice_threshold
        if threshold is None:
            raise ModelError(f"{self.card.name} has no slice operating point: it cannot answer for a slice")
        started = time.perf_counter()
        search = find_in_slice(self, image, pixel_spacing, modality or self.card.modality)
        if search.score is None:
            return self._prediction(NO_TUMOUR_FOUND, None, started, kind="slice", threshold=threshold,
                                    flagged=False)
        if search.score < threshold:
            return self._prediction(NO_TUMOUR_FOUND, search.probabilities, started, kind="slice",
                                    tumour_probability=search.score, flagged=False, threshold=threshold,
                                    point=search.point)
        x, placement = self.model_input(image, pixel_spacing, search.point)
        _, heat, _ = self._answer(x, placement, saliency)
        label, _ = self.card.tumour_type(search.probabilities)
        return self._prediction(label, search.probabilities, started, saliency=heat, saliency_method=saliency or "",
                                point=search.point, tumour_probability=search.score, flagged=True,
                                threshold=threshold, kind="slice")

    def classify_nodule(self, slices, z_mm, pixel_spacing: tuple[float, float], k: int,
                        point: tuple[float, float], modality: str | None = None,
                        saliency: str | None = "gradcam", plane: str = "axial") -> Prediction:
        """A nodule model's click: `slices(j)` gives slice j in HU, z_mm every slice's position along the
        normal, point the click (column, row) on slice k. The click is read on the nodule's widest section within
        10 mm of slice k (`widest_section`; `read_slice` says which), through `medview.ai.nodule_input.nodule_input`
        as in training; the saliency lies on the read slice's pixels (which share slice k's grid), inside the
        field of view only: the answer belongs to the read slice. A click in
        the air outside the body gets no answer. It was trained on axial slices: another plane is refused."""
        from medview.ai.body import body_mask, inside
        from medview.ai.nodule_input import NoduleGeometry, field_of_view, nodule_input, widest_section

        started = time.perf_counter()
        if self.card.task != "nodule":
            raise ModelError(f"{self.card.name} is not a nodule model")
        if (modality or "CT").upper() != "CT":
            raise ModelError(f"{self.card.name} reads CT in Hounsfield units, not {modality}")
        if plane != "axial":
            raise ModelError(f"{self.card.name} reads axial slices; this series is {plane}")
        image = slices(k)
        # the body check on every other pixel (at most ~2 mm): a quarter of the work, the same answer for a
        # click in the air around a chest
        step = max(1, min(int(2.0 // max(pixel_spacing)), 2))
        body = body_mask(image[::step, ::step], (pixel_spacing[0] * step, pixel_spacing[1] * step), "CT")
        if not inside(body, (point[0] / step, point[1] / step)):
            return self._prediction(OUTSIDE_CHEST, None, started, point=point, answered=False, kind="nodule")
        geometry = NoduleGeometry.from_card(self.card.input)
        z_mm = np.asarray(z_mm, dtype=np.float64)
        read = widest_section(slices, z_mm, k, pixel_spacing, (point[1], point[0]), geometry.field_of_view_mm)
        x, placement = nodule_input(slices, z_mm, pixel_spacing, read, (point[1], point[0]), geometry)
        probabilities, heat, _ = self._answer(x, placement, None)
        if saliency:
            import torch

            from medview.ai.saliency import saliency as explain

            with self._lock:
                inputs = torch.from_numpy(x[None, None].copy())
                heat = placement.to_source(explain(self.network, inputs, int(probabilities.argmax()), saliency)
                                           * field_of_view(geometry))
        malignant = float(probabilities[self.card.labels.index("malignant")])
        threshold = self.card.patch_threshold
        flagged = malignant >= (0.5 if threshold is None else threshold)
        label = "malignant" if flagged else "benign"
        return self._prediction(label, probabilities, started, saliency=heat, saliency_method=saliency or "",
                                point=point, flagged=flagged, threshold=threshold, kind="nodule", read_slice=read)

    def classify_slice(self, volume, k: int, point: tuple[float, float] | None = None, t: int = 0,
                       saliency: str | None = "gradcam") -> Prediction:
        """Slice k (and time point t) of a `medview.core.volume.Volume`: a click when `point` (column, row) is
        given, else the slice answer (a detector's find-then-type, or a slice model's type)."""
        if not 0 <= k < volume.n_slices:
            raise ModelError(f"slice {k + 1} is outside the series (slices 1 to {volume.n_slices}; --slice takes "
                             f"k from 0 to {volume.n_slices - 1})")
        if point is not None:
            column, row = point
            if not (0 <= column < volume.shape[2] and 0 <= row < volume.shape[1]):
                raise ModelError(f"point {column},{row} is outside the image ({volume.shape[2]}×{volume.shape[1]})")
            if self.card.task == "nodule":
                return self.classify_nodule(lambda j: volume.slice(j, t), volume.positions @ volume.normal,
                                            volume.pixel_spacing, k, point, volume.info.modality or None, saliency,
                                            volume.plane.name)
            return self.classify(volume.slice(k, t), volume.pixel_spacing, point, saliency,
                                 modality=volume.info.modality or None)
        if self.card.task == "nodule":
            raise ModelError(f"{self.card.name} classifies a nodule under a click: give --at COLUMN,ROW (it does "
                             "not find nodules)")
        if self.card.is_detector:
            return self.find(volume.slice(k, t), volume.pixel_spacing, volume.info.modality or None, saliency)
        return self.classify(volume.slice(k, t), volume.pixel_spacing, None, saliency)


_loaded: dict[str, Classifier] = {}
_loaded_lock = threading.Lock()


def classifier_for(card: ModelCard) -> Classifier:
    """A cached classifier per weights file: a model is loaded once per session."""
    key = f"{card.folder}:{card.weights_sha256}"
    with _loaded_lock:
        if key not in _loaded:
            _loaded[key] = Classifier(card)
        return _loaded[key]
