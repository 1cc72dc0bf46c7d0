"""Model folders: `manifest.json` (the model card) + weights in safetensors, checked before anything loads.

A folder is refused, with a message that says why, when the manifest breaks its schema (`card_schema`) or
was edited after it was sealed, when the weights file is not a sound safetensors file holding the network the
card describes (`weights_check`), or when its sha256 differs from the card's. Nothing is ever unpickled:
weights are read with safetensors only. No torch here, so the registry can list and check models without loading torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from medview.ai.card_schema import DESCRIPTIVE, check_manifest, load_json
from medview.ai.weights_check import check_weights, expected_shapes, trainable_parameters
from medview.errors import ModelError

MANIFEST = "manifest.json"
DISCLAIMER = "AI generated, research use only"
#: The detector's negative class; "normal brain" is what cards of version 1.0 called it.
NO_TUMOUR = "no tumour"
NEGATIVE_LABELS = (NO_TUMOUR, "normal brain")
MAX_MANIFEST_BYTES = 4 << 20


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
        return not self.does_not_fit(modality, body_part)

    def does_not_fit(self, modality: str, body_part: str = "") -> list[str]:
        """Why a series of this modality and body part is not what the model is for ([] when it fits); the
        whole check, sequence included, is `medview.ai.fit.check_fit`."""
        from medview.ai.fit import check_fit
        from medview.core.volume import SeriesInfo

        return list(check_fit(self, SeriesInfo(modality=modality, body_part=body_part)).reasons)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _canonical(manifest: dict) -> bytes:
    """The manifest as canonical JSON (sorted keys, no spaces), without its own digest."""
    unsealed = dict(manifest)
    integrity = dict(unsealed.get("integrity") or {}) if isinstance(unsealed.get("integrity"), dict) else {}
    integrity.pop("manifest_sha256", None)
    if integrity:
        unsealed["integrity"] = integrity
    else:
        unsealed.pop("integrity", None)
    return json.dumps(unsealed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def seal(manifest: dict) -> dict:
    """The manifest with `integrity.manifest_sha256`: the sha256 of its canonical JSON, so that an edit of the
    card after training (labels reordered, a threshold changed) is refused. `medview train` seals every card
    just before writing it; a card edited on purpose must be sealed again."""
    sealed = dict(manifest)
    sealed["integrity"] = {**(manifest.get("integrity") or {}),
                           "manifest_sha256": hashlib.sha256(_canonical(manifest)).hexdigest()}
    return sealed


def _check_seal(manifest: dict) -> None:
    integrity = manifest.get("integrity")
    stated = integrity.get("manifest_sha256") if isinstance(integrity, dict) else None
    if not isinstance(stated, str):
        raise ModelError("the card is not sealed (no integrity.manifest_sha256): it was not written by "
                         "`medview train`; refused")
    actual = hashlib.sha256(_canonical(manifest)).hexdigest()
    if actual != stated:
        raise ModelError(f"the card was edited after it was sealed (manifest sha256 {actual[:12]}… is not "
                         f"{stated[:12]}…); refused")


def _read_manifest(path: Path) -> dict:
    try:
        status = os.lstat(path)
    except OSError:
        raise ModelError(f"{path.parent} is not a model folder: no {MANIFEST}") from None
    if not stat.S_ISREG(status.st_mode):
        raise ModelError(f"{path}: the manifest must be a regular file, not a link")
    if status.st_size > MAX_MANIFEST_BYTES:
        raise ModelError(f"{path}: the manifest is {status.st_size} bytes (at most {MAX_MANIFEST_BYTES})")
    try:
        text = path.read_bytes()
    except OSError as error:
        raise ModelError(f"{path}: cannot be read ({error.strerror})") from None
    return load_json(text, str(path), descriptive=DESCRIPTIVE)


def read_card(folder: str | Path, verify: bool = True) -> ModelCard:
    """The model card of a folder, checked: manifest against the schema and its seal; with `verify`, the
    weights file too (regular file in the folder, safetensors header consistent with the file and with the
    architecture, sha256 as the card says). Any failure is a ModelError with one reason."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    raw = _read_manifest(manifest)
    try:
        check_manifest(raw)
    except ModelError as error:
        raise ModelError(f"{manifest}: {error}") from None
    architecture = raw["architecture"]
    shapes = expected_shapes(architecture, len(raw["labels"]))
    stated = architecture.get("parameters")
    if stated is not None and stated != trainable_parameters(shapes):
        raise ModelError(f"{manifest}: architecture.parameters says {stated}, the architecture has "
                         f"{trainable_parameters(shapes)}")
    weights = raw["weights"]
    card = ModelCard(
        folder=folder, name=raw["name"], version=raw["version"], task=raw["task"], labels=tuple(raw["labels"]),
        modality=raw["modality"], body_part=raw["body_part"], input=dict(raw["input"]),
        weights_file=weights["file"], weights_sha256=weights["sha256"], architecture=dict(architecture),
        intended_use=raw["intended_use"],
        temperature=float((raw.get("calibration") or {}).get("temperature", 1.0)),
        operating_point=raw.get("operating_point"), raw=raw,
    )
    if verify:
        verify_weights(card)
    try:
        _check_seal(raw)
    except ModelError as error:
        raise ModelError(f"{manifest}: {error}") from None
    return card


def verify_weights(card: ModelCard) -> None:
    """The weights file's structure, then its sha256 (read in full only once the structure is sound)."""
    try:
        path = check_weights(card.folder, card.weights_file, card.architecture, len(card.labels))
        actual = sha256_of(path)
    except OSError as error:
        raise ModelError(f"{card.name}: weights file cannot be read ({error.strerror})") from None
    except ModelError as error:
        raise ModelError(f"{card.name}: {error}") from None
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
