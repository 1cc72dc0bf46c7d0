"""Model folders: `manifest.json` (the model card) + weights in safetensors, checked before anything loads.

A folder is refused, with a message that says why, when the manifest is malformed, when the weights file is
not safetensors, or when its sha256 differs from the card's. Nothing is ever unpickled: weights are read with
safetensors only. No torch here, so the registry can list and check models without loading torch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from medview.errors import ModelError

MANIFEST = "manifest.json"
SAFETENSORS_SUFFIX = ".safetensors"
DISCLAIMER = "AI generated, research use only"
#: The detector's negative class; "normal brain" is what cards of version 1.0 called it.
NO_TUMOUR = "no tumour"
NEGATIVE_LABELS = (NO_TUMOUR, "normal brain")
REQUIRED = ("name", "version", "task", "labels", "modality", "body_part", "input", "weights", "architecture",
            "intended_use", "research_use_only")


@dataclass(frozen=True)
class ModelCard:
    """What a model is, for what and how good, as its manifest says."""

    folder: Path
    name: str
    version: str
    task: str  # "slice" or "patch"
    labels: tuple[str, ...]
    modality: str
    body_part: str
    input: dict
    weights_file: str
    weights_sha256: str
    architecture: dict
    intended_use: str
    temperature: float = 1.0
    operating_point: dict | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def weights_path(self) -> Path:
        return self.folder / self.weights_file

    @property
    def patch_mm(self) -> float | None:
        return self.input.get("patch_mm") if self.task == "patch" else None

    @property
    def size(self) -> int:
        return int(self.input["size"])

    @property
    def mm_per_pixel(self) -> float:
        return float(self.input["mm_per_pixel"])

    @property
    def short_sha(self) -> str:
        return self.weights_sha256[:12]

    @property
    def negative_index(self) -> int | None:
        """Index of the "no tumour" class of a detector (None for a model without one)."""
        for name in NEGATIVE_LABELS:
            if name in self.labels:
                return self.labels.index(name)
        return None

    @property
    def is_detector(self) -> bool:
        return self.task == "patch" and self.negative_index is not None

    @property
    def patch_threshold(self) -> float | None:
        """The operating point of one place (a click): P(tumour) at or above it flags that point."""
        value = (self.operating_point or {}).get("threshold")
        return None if value is None else float(value)

    @property
    def slice_threshold(self) -> float | None:
        """The operating point of a whole slice (series run, slice answer), chosen on validation slices."""
        value = ((self.operating_point or {}).get("slice") or {}).get("threshold")
        return None if value is None else float(value)

    @property
    def slice_false_flag_rate(self) -> float | None:
        value = ((self.operating_point or {}).get("slice") or {}).get("false_flag_rate_per_tumour_free_slice")
        return None if value is None else float(value)

    def tumour_type(self, probabilities) -> tuple[str, float]:
        """The most probable tumour class of a detector's probabilities, with its probability."""
        negative = self.negative_index
        best = max((i for i in range(len(self.labels)) if i != negative), key=lambda i: probabilities[i])
        return self.labels[best], float(probabilities[best])

    def fits(self, modality: str, body_part: str = "") -> bool:
        """Whether the model is for images of this modality and body part (an empty body part is unknown)."""
        if modality and modality.upper() != self.modality.upper():
            return False
        if body_part and self.body_part and body_part.upper() not in (self.body_part.upper(), "HEAD", "BRAIN"):
            return False
        return True


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_safetensors(path: Path) -> None:
    """The file starts with an 8-byte little-endian header length and a JSON header, as safetensors does."""
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise ModelError(f"{path.name} is not a safetensors file (too short)")
        length = int.from_bytes(head, "little")
        if not 2 <= length <= 100_000_000:
            raise ModelError(f"{path.name} is not a safetensors file (a pickle or torch checkpoint is refused)")
        header = handle.read(length)
    try:
        json.loads(header)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{path.name} is not a safetensors file: {error}") from None


def read_card(folder: str | Path, verify: bool = True) -> ModelCard:
    """The model card of a folder, checked: manifest well formed, weights safetensors with the right sha256."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise ModelError(f"{folder} is not a model folder: no {MANIFEST}")
    try:
        raw = json.loads(manifest.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{manifest}: not valid JSON ({error})") from None
    if not isinstance(raw, dict):
        raise ModelError(f"{manifest}: the manifest must be a JSON object")
    missing = [key for key in REQUIRED if key not in raw]
    if missing:
        raise ModelError(f"{manifest}: missing {', '.join(missing)}")
    weights = raw["weights"]
    if not isinstance(weights, dict) or not {"file", "sha256"} <= set(weights):
        raise ModelError(f"{manifest}: 'weights' needs 'file' and 'sha256'")
    if not str(weights["file"]).endswith(SAFETENSORS_SUFFIX) or "/" in weights["file"]:
        raise ModelError(f"{manifest}: weights must be a .safetensors file inside the folder")
    if raw["task"] not in ("slice", "patch"):
        raise ModelError(f"{manifest}: task must be 'slice' or 'patch', not {raw['task']!r}")
    if raw["research_use_only"] is not True:
        raise ModelError(f"{manifest}: a model must be marked research use only")
    labels = raw["labels"]
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) for x in labels):
        raise ModelError(f"{manifest}: 'labels' must list at least two class names")
    try:
        card = ModelCard(
            folder=folder, name=str(raw["name"]), version=str(raw["version"]), task=raw["task"],
            labels=tuple(labels), modality=str(raw["modality"]), body_part=str(raw["body_part"]),
            input=dict(raw["input"]), weights_file=str(weights["file"]), weights_sha256=str(weights["sha256"]),
            architecture=dict(raw["architecture"]), intended_use=str(raw["intended_use"]),
            temperature=float(raw.get("calibration", {}).get("temperature", 1.0)),
            operating_point=raw.get("operating_point"), raw=raw,
        )
        card.size, card.mm_per_pixel  # noqa: B018 - both must be present and numeric
    except (KeyError, TypeError, ValueError) as error:
        raise ModelError(f"{manifest}: malformed ({error})") from None
    if verify:
        verify_weights(card)
    return card


def verify_weights(card: ModelCard) -> None:
    path = card.weights_path
    if not path.is_file():
        raise ModelError(f"{card.name}: weights file {path.name} is missing")
    _check_safetensors(path)
    actual = sha256_of(path)
    if actual != card.weights_sha256:
        raise ModelError(f"{card.name}: weights sha256 {actual[:12]}… does not match the model card's "
                         f"{card.weights_sha256[:12]}… (tampered or corrupted); refused")


def load_network(card: ModelCard):
    """The network with its weights, read with safetensors after the checks (torch is imported here)."""
    from safetensors.torch import load_file

    from medview.ai.network import build

    verify_weights(card)
    network = build(card.architecture, len(card.labels))
    try:
        state = load_file(str(card.weights_path))
        network.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, OSError) as error:
        raise ModelError(f"{card.name}: weights do not fit the network of its card ({error})") from None
    network.eval()
    return network
