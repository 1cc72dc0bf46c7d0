"""The LIDC-IDRI nodule crops of `../shared/data/ct_lung_nodule`: rows, the two label definitions, the split.

The split is by `patient_id` (a patient's nodules never sit on two sides), stratified by the patient's
labels (all benign, all malignant, mixed), with a fixed seed, into train / validation / test; it is drawn on
every usable nodule with the dataset's `label`, so both label definitions use the same patients on each side.
`LIDC-IDRI-0332_n1` is left out: its crop does not contain its annotated centre (32.9 mm off, the dataset's
README: probably a mix-up between that patient's two series). No torch here.
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
SPLIT_SHARES = (0.70, 0.15, 0.15)
SPLIT_SEED = 20261201
EXCLUDED = {"LIDC-IDRI-0332_n1": "its crop does not contain its annotated centre (32.9 mm off; the dataset's "
                                 "README: a mix-up between the patient's two series)"}
LABELS = ("benign", "malignant")
#: label definitions: the dataset's `label` (its Diagnosis column), or the radiologists' malignancy rating
#: after max voting, >= 4 malignant, <= 2 benign, 3 left out
DEFINITIONS = {
    "dataset": "the dataset's label (the source's Diagnosis column: malignant / benign)",
    "rating": "malignancy rating after max voting: 4-5 malignant, 1-2 benign, 3 left out",
}


@dataclass(frozen=True)
class Nodule:
    key: str  # LIDC-IDRI-XXXX_nN
    file: str
    patient_id: str
    label: str  # the dataset's label
    rating: int
    diameter_mm: float
    centre_zyx: tuple[float, float, float]  # fractional voxel index into the crop
    spacing_zyx: tuple[float, float, float]


def is_nodule_dataset(dataset: str | Path) -> bool:
    """A folder in the ct_lung_nodule format (labels.csv with nodule centres and diameters)."""
    path = Path(dataset) / "labels.csv"
    try:
        with path.open(newline="") as handle:
            header = next(csv.reader(handle), [])
    except OSError:
        return False
    return {"diameter_mm", "centre_vox_z", "malignancy_value", "patient_id"} <= set(header)


def read_nodules(dataset: str | Path) -> list[Nodule]:
    """Every usable nodule of DATASET/labels.csv (the excluded one left out)."""
    path = Path(dataset) / "labels.csv"
    if not is_nodule_dataset(dataset):
        raise MedviewError(f"{dataset} is not a nodule dataset (labels.csv with diameter_mm, centre_vox_z, ...)")
    nodules = []
    with path.open(newline="") as handle:
        for record in csv.DictReader(handle):
            try:
                key = Path(record["file"]).stem
                nodule = Nodule(
                    key=key, file=record["file"], patient_id=record["patient_id"], label=record["label"],
                    rating=int(record["malignancy_value"]), diameter_mm=float(record["diameter_mm"]),
                    centre_zyx=tuple(float(record[f"centre_vox_{a}"]) for a in "zyx"),
                    spacing_zyx=tuple(float(record[f"spacing_{a}_mm"]) for a in "zyx"))
            except (KeyError, ValueError) as error:
                raise MedviewError(f"{path}: a row cannot be read ({error})") from None
            if nodule.label not in LABELS:
                raise MedviewError(f"{path}: {key} has label {nodule.label!r}, not one of {', '.join(LABELS)}")
            if key not in EXCLUDED:
                nodules.append(nodule)
    return nodules


def target(nodule: Nodule, definition: str) -> int | None:
    """1 malignant, 0 benign, None when the definition leaves the nodule out."""
    if definition == "dataset":
        return LABELS.index(nodule.label)
    if definition == "rating":
        return 1 if nodule.rating >= 4 else 0 if nodule.rating <= 2 else None
    raise MedviewError(f"label definition must be one of {', '.join(DEFINITIONS)}, not {definition!r}")


def split_patients(nodules: list[Nodule], seed: int = SPLIT_SEED) -> dict[str, set[str]]:
    """Patients per part, stratified by the patient's labels (all benign / all malignant / mixed)."""
    labels_of: dict[str, set[str]] = defaultdict(set)
    for nodule in nodules:
        labels_of[nodule.patient_id].add(nodule.label)
    strata: dict[str, list[str]] = defaultdict(list)
    for patient, labels in sorted(labels_of.items()):
        strata["mixed" if len(labels) > 1 else next(iter(labels))].append(patient)
    parts: dict[str, set[str]] = {name: set() for name in SPLITS}
    rng = random.Random(seed)
    for stratum in sorted(strata):
        patients = sorted(strata[stratum])
        rng.shuffle(patients)
        n_val = round(SPLIT_SHARES[1] * len(patients))
        n_test = round(SPLIT_SHARES[2] * len(patients))
        parts["val"].update(patients[:n_val])
        parts["test"].update(patients[n_val:n_val + n_test])
        parts["train"].update(patients[n_val + n_test:])
    return parts


def split_digest(parts: dict[str, set[str]]) -> str:
    text = "|".join(f"{name}:{','.join(sorted(parts[name]))}" for name in SPLITS)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def part_of(nodules: list[Nodule], patients: set[str], definition: str) -> tuple[list[Nodule], np.ndarray]:
    """The nodules of these patients that the definition labels, and their targets."""
    chosen = [n for n in nodules if n.patient_id in patients and target(n, definition) is not None]
    return chosen, np.array([target(n, definition) for n in chosen], dtype=np.int64)


@dataclass(frozen=True)
class Crop:
    hu: np.ndarray  # int16 [z, y, x]
    mask: np.ndarray  # uint8
    spacing_zyx: tuple[float, float, float]

    @property
    def z_mm(self) -> np.ndarray:
        return np.arange(self.hu.shape[0]) * self.spacing_zyx[0]


def load_crop(dataset: str | Path, nodule: Nodule) -> Crop:
    path = Path(dataset) / nodule.file
    try:
        with np.load(path, allow_pickle=False) as data:
            hu, mask, spacing = data["hu"], data["mask"], data["spacing_zyx_mm"]
    except (OSError, KeyError, ValueError) as error:
        raise MedviewError(f"{path}: not a nodule crop ({error})") from None
    if hu.ndim != 3 or hu.shape != mask.shape:
        raise MedviewError(f"{path}: hu {hu.shape} and mask {mask.shape} must be the same 3D shape")
    return Crop(hu, mask, tuple(float(s) for s in spacing))
