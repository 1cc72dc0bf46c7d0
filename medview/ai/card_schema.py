"""The model card's schema: a manifest is read like any input file, as hostile until checked.

JSON is parsed under a nesting bound (a deeply nested document gives a reason, never RecursionError), every
number in it must be finite, and the keys medview acts on must have the right type and lie within stated
bounds. Keys the schema does not know are accepted (a card may say more than medview reads). No torch here.

Each check raises `ModelError` with one reason naming the key, e.g. "calibration.temperature must be > 0".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable

import numpy as np

from medview.errors import ModelError

#: deeper than this, a JSON document is refused before it is parsed (a real manifest is 5 levels deep)
MAX_DEPTH = 32
ARCHITECTURES = ("LesionCNN",)
TASKS = ("slice", "patch", "nodule")
#: input size in pixels, network widths and hidden units: generous for a CPU model, far below what
#: would exhaust memory (a size of 1e9 or a width of 200000 is refused before torch sees it)
SIZE_RANGE = (8, 1024)
WIDTH_RANGE = (1, 2048)
HIDDEN_RANGE = (1, 4096)
MAX_BLOCKS = 8
MAX_LABELS = 256
MM_PER_PIXEL_RANGE = (1e-3, 100.0)  # mm, open at 0
PATCH_MM_RANGE = (1.0, 2000.0)
TEMPERATURE_RANGE = (1e-3, 1e3)  # temperature scaling divides the logits by it: 0 or NaN breaks every answer

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def nesting_depth(text: str) -> int:
    """How deeply `[` and `{` nest in a JSON text (strings skipped), without recursion."""
    skeleton = _STRING.sub('""', text)
    codes = np.frombuffer(skeleton.encode("utf-8", "replace"), dtype=np.uint8)
    step = (codes == ord("[")).astype(np.int32) + (codes == ord("{")) - (codes == ord("]")) - (codes == ord("}"))
    return int(np.cumsum(step).max(initial=0))


#: parts of a card that describe the past (figures of the training run: an AUC can be undefined, NaN, on a
#: tiny split); medview reads no number from them, so a NaN there is a statement, not a fault
DESCRIPTIVE = ("metrics", "training", "training_data")


def load_json(text: str | bytes, what: str, max_depth: int = MAX_DEPTH, descriptive: tuple[str, ...] = ()):
    """Parse JSON from an untrusted file: bounded nesting, no NaN or Infinity (named by path) outside the
    top-level keys listed as `descriptive`."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ModelError(f"{what}: not valid JSON (not UTF-8: {error.reason})") from None
    depth = nesting_depth(text)
    if depth > max_depth:
        raise ModelError(f"{what}: JSON nested {depth} levels deep (at most {max_depth} allowed)")
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, ValueError, RecursionError) as error:
        raise ModelError(f"{what}: not valid JSON ({error})") from None
    acted_on = ({k: v for k, v in document.items() if k not in descriptive} if isinstance(document, dict)
                else document)
    where = _first_non_finite(acted_on)
    if where is not None:
        raise ModelError(f"{what}: {where} is not a finite number")
    return document


def _first_non_finite(document, path: str = "") -> str | None:
    """The path of the first NaN or ±Infinity in a parsed document (iterative: depth is already bounded)."""
    stack = [(path, document)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return where or "the document"
        if isinstance(value, dict):
            stack.extend((f"{where}.{key}" if where else str(key), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
    return None


# -- field checks ------------------------------------------------------------------------------------------

def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _number(value, key: str, low: float, high: float, low_open: bool = False) -> float:
    if not _is_number(value):
        raise ModelError(f"{key} must be a number, not {_shown(value)}")
    if value < low or value > high or (low_open and value == low):
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        raise ModelError(f"{key} must be {bound} and <= {high:g}, not {value!r}")
    return float(value)


def _integer(value, key: str, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ModelError(f"{key} must be a whole number, not {_shown(value)}")
    if not low <= value <= high:
        raise ModelError(f"{key} must lie in {low}..{high}, not {value}")
    return value


def _text(value, key: str, max_length: int = 4096, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise ModelError(f"{key} must be a non-empty text, not {_shown(value)}")
    if len(value) > max_length:
        raise ModelError(f"{key} is longer than {max_length} characters")
    return value


def _object(value, key: str) -> dict:
    if not isinstance(value, dict):
        raise ModelError(f"{key} must be an object ({{...}}), not {_shown(value)}")
    return value


def _shown(value) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _labels(value) -> list[str]:
    if not isinstance(value, list) or not 2 <= len(value) <= MAX_LABELS:
        raise ModelError(f"labels must list 2 to {MAX_LABELS} class names")
    for i, label in enumerate(value):
        _text(label, f"labels[{i}]", 64)
    duplicates = sorted({label for label in value if value.count(label) > 1})
    if duplicates:
        raise ModelError(f"labels must be unique: {', '.join(map(repr, duplicates))} appears twice")
    return value


def _threshold(value, key: str) -> float:
    return _number(value, key, 0.0, 1.0)


def _operating_point(value) -> None:
    if value is None:
        return
    point = _object(value, "operating_point")
    if "threshold" in point:
        _threshold(point["threshold"], "operating_point.threshold")
    if point.get("slice") is not None:
        per_slice = _object(point["slice"], "operating_point.slice")
        if "threshold" in per_slice:
            _threshold(per_slice["threshold"], "operating_point.slice.threshold")


def _architecture(value, size: int) -> None:
    architecture = _object(value, "architecture")
    name = architecture.get("name")
    if name not in ARCHITECTURES:
        raise ModelError(f"architecture.name {_shown(name)} is not an architecture medview knows "
                         f"({', '.join(ARCHITECTURES)})")
    widths = architecture.get("widths")
    if not isinstance(widths, list) or not 1 <= len(widths) <= MAX_BLOCKS:
        raise ModelError(f"architecture.widths must list 1 to {MAX_BLOCKS} channel counts")
    for i, width in enumerate(widths):
        _integer(width, f"architecture.widths[{i}]", *WIDTH_RANGE)
    if "hidden" in architecture:
        _integer(architecture["hidden"], "architecture.hidden", *HIDDEN_RANGE)
    stem = _integer(architecture.get("stem", 0), "architecture.stem", 0, WIDTH_RANGE[1])
    if "parameters" in architecture:
        _integer(architecture["parameters"], "architecture.parameters", 1, 10**9)
    halvings = len(widths) - 1 + (1 if stem else 0)
    if size >> halvings < 1:
        raise ModelError(f"input.size {size} is too small for {halvings} halvings of architecture.widths")


def _input(value) -> int:
    spec = _object(value, "input")
    size = _integer(spec.get("size"), "input.size", *SIZE_RANGE)
    _number(spec.get("mm_per_pixel"), "input.mm_per_pixel", *MM_PER_PIXEL_RANGE)
    if "patch_mm" in spec:
        _number(spec["patch_mm"], "input.patch_mm", *PATCH_MM_RANGE)
    if "channels" in spec:
        _integer(spec["channels"], "input.channels", 1, 1)
    return size


def _weights(value) -> None:
    weights = _object(value, "weights")
    name = _text(weights.get("file"), "weights.file", 255)
    if not name.endswith(".safetensors") or "/" in name or "\\" in name or name.startswith("."):
        raise ModelError("weights.file must be a .safetensors file inside the folder")
    sha = weights.get("sha256")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ModelError("weights.sha256 must be 64 lower-case hexadecimal digits")


def _optional_object(key: str, check_value: Callable[[object, str], object] | None = None):
    def check(value) -> None:
        if value is None:
            return
        for name, item in _object(value, key).items():
            if check_value is not None:
                check_value(item, f"{key}.{name}")
    return check


def _calibration(value) -> None:
    calibration = _object(value, "calibration")
    if "temperature" in calibration:
        _number(calibration["temperature"], "calibration.temperature", *TEMPERATURE_RANGE, low_open=True)


def _research_only(value) -> None:
    if value is not True:
        raise ModelError("a model must be marked research use only (research_use_only: true)")


#: key -> check; the keys every card must have
REQUIRED = ("name", "version", "task", "labels", "modality", "body_part", "input", "weights", "architecture",
            "intended_use", "research_use_only")
CHECKS: dict[str, Callable] = {
    "name": lambda v: _text(v, "name", 128),
    "version": lambda v: _text(v, "version", 64),
    "task": lambda v: v in TASKS or _fail(f"task must be one of {', '.join(TASKS)}, not {_shown(v)}"),
    "labels": _labels,
    "modality": lambda v: _text(v, "modality", 16),
    "body_part": lambda v: _text(v, "body_part", 64, empty=True),
    "weights": _weights,
    "intended_use": lambda v: _text(v, "intended_use", 10_000),
    "research_use_only": _research_only,
    "calibration": _calibration,
    "operating_point": _operating_point,
    # optional keys of model cards made for the series checks (issue 23): shapes only, their meaning is
    # for medview.ai.fit to read
    "inside_body": _optional_object("inside_body"),
    "sequence": _optional_object("sequence",
                                 lambda v, k: v if isinstance(v, bool) else _text(v, k, 256, empty=True)),
    "slice_answer": _optional_object("slice_answer"),
}


def _fail(message: str):
    raise ModelError(message)


def check_manifest(manifest) -> None:
    """Raise ModelError with one reason when the parsed manifest breaks the schema."""
    if not isinstance(manifest, dict):
        raise ModelError("the manifest must be a JSON object")
    missing = [key for key in REQUIRED if key not in manifest]
    if missing:
        raise ModelError(f"missing {', '.join(missing)}")
    for key, check in CHECKS.items():
        if key in manifest:
            check(manifest[key])
    size = _input(manifest["input"])
    _architecture(manifest["architecture"], size)
