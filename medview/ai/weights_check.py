"""The weights file of a model folder, checked before torch reads a byte of it.

A safetensors file is an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape
and byte range, then the bytes. Every part of that is an input to be checked: the header's size is bounded,
its JSON parsed under the same nesting bound as a manifest, every tensor's byte range must match its dtype
and shape and lie inside the file, the ranges must tile the data without gaps or overlaps (as the format
requires), and the tensors must be exactly those the card's architecture builds (shapes computed here,
without torch). The file must be a regular file in the model folder, never a link. No torch here.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

from medview.ai.card_schema import load_json
from medview.errors import ModelError

#: a header names every tensor of the network: a few kB for medview's models; 1 MB is plenty
MAX_HEADER_BYTES = 1 << 20
#: medview's CPU models weigh about 1 MB; a weights file is hashed in full when the models are listed, so a
#: huge one would stall every start-up
MAX_WEIGHTS_BYTES = 256 << 20
ITEM_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
             "BOOL": 1}


def weights_file(folder: Path, name: str) -> Path:
    """The weights path, refused unless it is a regular file directly in `folder` (not a link)."""
    path = folder / name
    try:
        status = os.lstat(path)
    except OSError:
        raise ModelError(f"weights file {name} is missing") from None
    if stat.S_ISLNK(status.st_mode):
        raise ModelError(f"weights file {name} is a link; the weights must be a regular file in the model folder")
    if not stat.S_ISREG(status.st_mode):
        raise ModelError(f"weights file {name} is not a regular file")
    if status.st_size > MAX_WEIGHTS_BYTES:
        raise ModelError(f"weights file {name} is {status.st_size >> 20} MB (at most {MAX_WEIGHTS_BYTES >> 20} MB)")
    if path.resolve().parent != folder.resolve():
        raise ModelError(f"weights file {name} lies outside the model folder")
    return path


def read_header(path: Path) -> tuple[dict, int]:
    """The safetensors header (parsed, checked for shape) and where the tensor data starts."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise ModelError(f"{path.name} is not a safetensors file (too short)")
        length = int.from_bytes(head, "little")
        if length < 2 or length > size - 8:
            raise ModelError(f"{path.name} is not a safetensors file (a pickle or torch checkpoint is refused)")
        if length > MAX_HEADER_BYTES:
            raise ModelError(f"{path.name}: its safetensors header is {length} bytes (at most {MAX_HEADER_BYTES})")
        raw = handle.read(length)
    if not raw.lstrip().startswith(b"{"):
        raise ModelError(f"{path.name} is not a safetensors file (no JSON header)")
    header = load_json(raw, f"{path.name} is not a safetensors file: header")
    if not isinstance(header, dict):
        raise ModelError(f"{path.name} is not a safetensors file: the header is not a JSON object")
    return header, 8 + length


def check_tensors(path: Path, header: dict, data_start: int, expected: dict[str, tuple[int, ...]]) -> None:
    """Every tensor's dtype, shape and byte range agree with the file, and the names and shapes are the
    architecture's."""
    data_bytes = path.stat().st_size - data_start
    ranges = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict):
            raise ModelError(f"{path.name}: tensor {name!r} is not described by an object")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype not in ITEM_SIZE:
            raise ModelError(f"{path.name}: tensor {name!r} has an unknown dtype {dtype!r}")
        if not isinstance(shape, list) or len(shape) > 8 or not all(
                isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 1 << 48 for n in shape):
            raise ModelError(f"{path.name}: tensor {name!r} has a malformed shape")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(
                isinstance(n, int) and not isinstance(n, bool) for n in offsets) and 0 <= offsets[0] <= offsets[1]):
            raise ModelError(f"{path.name}: tensor {name!r} has malformed data_offsets")
        begin, end = offsets
        if end > data_bytes:
            raise ModelError(f"{path.name}: tensor {name!r} ends at byte {end}, past the end of the file's "
                             f"{data_bytes} data bytes")
        if end - begin != math.prod(shape) * ITEM_SIZE[dtype]:
            raise ModelError(f"{path.name}: tensor {name!r} has {end - begin} bytes, but its shape {shape} of "
                             f"{dtype} needs {math.prod(shape) * ITEM_SIZE[dtype]}")
        ranges.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(ranges):
        if begin != position:
            raise ModelError(f"{path.name}: tensor {name!r} starts at byte {begin}, not {position} "
                             "(tensors overlap or leave gaps)")
        position = end
    if position != data_bytes:
        raise ModelError(f"{path.name}: the tensors cover {position} of its {data_bytes} data bytes")
    shapes = {name: tuple(entry["shape"]) for name, entry in header.items() if name != "__metadata__"}
    missing = sorted(set(expected) - set(shapes))
    extra = sorted(set(shapes) - set(expected))
    if missing or extra:
        parts = ([f"missing {', '.join(missing[:3])}"] if missing else []) + (
            [f"unexpected {', '.join(extra[:3])}"] if extra else [])
        raise ModelError(f"{path.name} does not hold the network of its card: {'; '.join(parts)}")
    for name, shape in expected.items():
        if shapes[name] != shape:
            raise ModelError(f"{path.name}: tensor {name!r} has shape {list(shapes[name])}, the card's "
                             f"architecture builds {list(shape)}")


def _batch_norm(prefix: str, channels: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {f"{prefix}.{part}": (channels,)
                                          for part in ("weight", "bias", "running_mean", "running_var")}
    shapes[f"{prefix}.num_batches_tracked"] = ()
    return shapes


def expected_shapes(architecture: dict, n_classes: int) -> dict[str, tuple[int, ...]]:
    """The state-dict names and shapes `medview.ai.network.build(architecture, n_classes)` makes, without torch
    (a test holds the two equal)."""
    widths = [int(w) for w in architecture["widths"]]
    hidden, stem = int(architecture.get("hidden", 64)), int(architecture.get("stem", 0))
    shapes: dict[str, tuple[int, ...]] = {}
    index, channels = 0, 1
    if stem:
        shapes["encoder.0.weight"] = (stem, 1, 5, 5)
        shapes.update(_batch_norm("encoder.1", stem))
        index, channels = 3, stem
    for i, width in enumerate(widths):
        shapes[f"encoder.{index}.0.weight"] = (width, channels, 3, 3)
        shapes.update(_batch_norm(f"encoder.{index}.1", width))
        shapes[f"encoder.{index}.3.weight"] = (width, width, 3, 3)
        shapes.update(_batch_norm(f"encoder.{index}.4", width))
        index += 2 if i < len(widths) - 1 else 1  # a max pool follows every block but the last
        channels = width
    shapes["gate.lesion.weight"] = (1, channels, 1, 1)
    shapes["gate.lesion.bias"] = (1,)
    shapes["head.0.weight"] = (hidden, channels + 1)
    shapes["head.0.bias"] = (hidden,)
    shapes["head.3.weight"] = (n_classes, hidden)
    shapes["head.3.bias"] = (n_classes,)
    return shapes


def trainable_parameters(shapes: dict[str, tuple[int, ...]]) -> int:
    """The number of trainable parameters (what a card's architecture.parameters states): batch-norm running
    statistics are buffers, not parameters."""
    return sum(math.prod(shape) for name, shape in shapes.items()
               if not name.endswith(("running_mean", "running_var", "num_batches_tracked")))


def check_weights(folder: Path, name: str, architecture: dict, n_classes: int) -> Path:
    """All the checks of the weights file; its path."""
    path = weights_file(folder, name)
    header, data_start = read_header(path)
    check_tensors(path, header, data_start, expected_shapes(architecture, n_classes))
    return path
