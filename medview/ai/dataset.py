"""Training data in the labels.csv format of ../shared/data/brain_tumor_mri, and the split by patient.

The split is the same everywhere (training, evaluation, the model card): by `patient_family`, stratified by
label, with a fixed seed, into train / validation / test. Slices of one family never sit on two sides. No
torch here: numpy and Pillow only, so the split can be checked without loading a model.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medview.errors import MedviewError

SPLITS = ("train", "val", "test")
#: Shares of the patient families per part.
SPLIT_SHARES = (0.70, 0.15, 0.15)
SPLIT_SEED = 20261124


@dataclass(frozen=True)
class Row:
    file: str
    label: str
    patient_id: str
    family: str
    box: tuple[int, int, int, int] | None  # x0, y0, x1, y1 inclusive, in the image's pixels

    @property
    def mask_file(self) -> str:
        return self.file.replace("images/", "masks/", 1)


def read_labels(dataset: str | Path) -> list[Row]:
    """The rows of DATASET/labels.csv; a clear error when the folder is not in that format."""
    path = Path(dataset) / "labels.csv"
    if not path.is_file():
        raise MedviewError(f"{dataset} has no labels.csv (expected the brain_tumor_mri format)")
    rows = []
    with path.open(newline="") as handle:
        for record in csv.DictReader(handle):
            try:
                box = tuple(int(record[k]) for k in ("box_x0", "box_y0", "box_x1", "box_y1"))
            except (KeyError, ValueError):
                box = None
            family = record.get("patient_family") or record.get("patient_id") or record["file"]
            rows.append(Row(record["file"], record["label"], record.get("patient_id", ""), family, box))
    if not rows:
        raise MedviewError(f"{path} lists no images")
    return rows


def split_families(rows: list[Row], seed: int = SPLIT_SEED,
                   shares: tuple[float, float, float] = SPLIT_SHARES) -> dict[str, set[str]]:
    """Families per part, stratified by the family's label (its most frequent label), fixed seed."""
    labels_of: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        labels_of[row.family].append(row.label)
    by_label: dict[str, list[str]] = defaultdict(list)
    for family, labels in sorted(labels_of.items()):
        by_label[max(sorted(set(labels)), key=labels.count)].append(family)
    parts: dict[str, set[str]] = {name: set() for name in SPLITS}
    rng = random.Random(seed)
    for label in sorted(by_label):
        families = sorted(by_label[label])
        rng.shuffle(families)
        n_val = max(1, round(shares[1] * len(families)))
        n_test = max(1, round(shares[2] * len(families)))
        parts["val"].update(families[:n_val])
        parts["test"].update(families[n_val:n_val + n_test])
        parts["train"].update(families[n_val + n_test:])
    return parts


def rows_of(rows: list[Row], parts: dict[str, set[str]], split: str) -> list[Row]:
    if split == "all":
        return list(rows)
    return [row for row in rows if row.family in parts[split]]


def split_digest(parts: dict[str, set[str]]) -> str:
    """A short hash of the family lists: the model card records it so a split can be checked."""
    text = "|".join(f"{name}:{','.join(sorted(parts[name]))}" for name in SPLITS)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.uint8)


def load_arrays(dataset: str | Path, rows: list[Row]) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 N×H×W, masks bool N×H×W) of the rows, in order."""
    root = Path(dataset)
    images = np.stack([load_png(root / row.file) for row in rows])
    masks = np.stack([load_png(root / row.mask_file) > 0 for row in rows])
    return images, masks
