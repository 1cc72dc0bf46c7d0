"""`medview train`: a whole model folder from a labels.csv dataset, honestly.

Split by patient family (train / validation / test, `medview.ai.dataset`); augmentation and class balancing
on the training part; early stopping, temperature scaling and the patch model's operating point on the
validation part; the test part is scored once at the end and only written into the card. Every input goes
through `medview.ai.inputs`, the same mapping inference uses.
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medview.ai import dataset as data
from medview.ai import metrics
from medview.ai.inputs import DATASET_MM_PER_PIXEL, brain_mask, dilate, patch_input, png_unit_range, slice_input
from medview.ai.manifest import DISCLAIMER, MANIFEST, seal, sha256_of

NORMAL = "normal brain"
#: Normal-brain patch centres lie this far inside the head outline (clear of skull and scalp).
SKULL_MM = 12.0


@dataclass(frozen=True)
class TaskSetup:
    size: int
    mm_per_pixel: float
    widths: tuple[int, ...]
    stem: int = 0  # channels of a stride-2 5×5 stem convolution (0: none)
    hidden: int = 64
    batch: int = 32
    patch_mm: float | None = None
    tumour_patches: int = 3  # per training image (patch task)
    normal_patches: int = 3
    learning_rate: float = 2e-3


TASKS = {
    "slice": TaskSetup(size=128, mm_per_pixel=1.96, widths=(32, 64, 128), stem=16,
                       learning_rate=1e-3),
    "patch": TaskSetup(size=64, mm_per_pixel=1.0, widths=(16, 32, 64, 96), batch=64, patch_mm=64.0),
}


# -- inputs ---------------------------------------------------------------------------------------------

def slice_examples(images: np.ndarray, masks: np.ndarray, setup: TaskSetup) -> tuple[np.ndarray, np.ndarray]:
    spacing = (DATASET_MM_PER_PIXEL, DATASET_MM_PER_PIXEL)
    x = np.stack([slice_input(png_unit_range(i), spacing, setup.size, setup.mm_per_pixel, True)[0]
                  for i in images])
    m = np.stack([slice_input(k.astype(np.float32), spacing, setup.size, setup.mm_per_pixel, True)[0]
                  for k in masks])
    return x[:, None], m[:, None]


def tumour_centres(mask: np.ndarray, rng: random.Random, count: int) -> list[tuple[int, int]]:
    core = mask.copy()
    for _ in range(3):  # prefer the tumour's inside over its rim when it has one
        eroded = dilate(~core, 1)
        if (core & ~eroded).sum() >= 4:
            core = core & ~eroded
    rows, columns = np.nonzero(core if core.any() else mask)
    if len(rows) == 0:
        return []
    picks = [rng.randrange(len(rows)) for _ in range(count)]
    return [(int(rows[i]), int(columns[i])) for i in picks]


def normal_centres(image01: np.ndarray, mask: np.ndarray, setup: TaskSetup, rng: random.Random,
                   count: int) -> list[tuple[int, int]]:
    """Brain tissue (not air, not skull) far enough from the tumour that the patch holds none of it."""
    spacing = (DATASET_MM_PER_PIXEL, DATASET_MM_PER_PIXEL)
    away = int(math.ceil((setup.patch_mm / 2 * math.sqrt(2) + 4) / DATASET_MM_PER_PIXEL))
    candidates = brain_mask(image01, spacing, SKULL_MM) & ~dilate(mask, away)
    rows, columns = np.nonzero(candidates)
    if len(rows) == 0:
        return []
    picks = [rng.randrange(len(rows)) for _ in range(count)]
    return [(int(rows[i]), int(columns[i])) for i in picks]


def patch_examples(images: np.ndarray, masks: np.ndarray, labels: list[int], setup: TaskSetup,
                   rng: random.Random, tumour_count: int, normal_count: int):
    """Patches centred in the tumour (its type) and in brain tissue away from it (normal brain = class 0)."""
    spacing = (DATASET_MM_PER_PIXEL, DATASET_MM_PER_PIXEL)
    xs, ms, ys = [], [], []
    for image, mask, label in zip(images, masks, labels, strict=True):
        image01 = png_unit_range(image)
        mask_f = mask.astype(np.float32)
        for centre, target in ([(c, label + 1) for c in tumour_centres(mask, rng, tumour_count)]
                               + [(c, 0) for c in normal_centres(image01, mask, setup, rng, normal_count)]):
            xs.append(patch_input(image01, spacing, centre, setup.size, setup.mm_per_pixel, True)[0])
            ms.append(patch_input(mask_f, spacing, centre, setup.size, setup.mm_per_pixel, True)[0])
            ys.append(target)
    return np.stack(xs)[:, None], np.stack(ms)[:, None], np.array(ys, dtype=np.int64)


# -- training ---------------------------------------------------------------------------------------------

def augment(x, m, generator):
    """Random rotation, scale, shift and left-right flip (image and mask alike), then gamma, contrast, noise."""
    import torch
    from torch.nn import functional as F

    n = x.shape[0]
    angle = (torch.rand(n, generator=generator) - 0.5) * math.radians(30)
    scale = 0.9 + torch.rand(n, generator=generator) * 0.2
    shift = (torch.rand(n, 2, generator=generator) - 0.5) * 0.12
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = flip * scale * torch.cos(angle)
    theta[:, 0, 1] = -scale * torch.sin(angle)
    theta[:, 1, 0] = flip * scale * torch.sin(angle)
    theta[:, 1, 1] = scale * torch.cos(angle)
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)
    m = F.grid_sample(m, grid, padding_mode="zeros", align_corners=False)
    gamma = torch.exp((torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 0.8)
    contrast = 0.85 + torch.rand(n, 1, 1, 1, generator=generator) * 0.3
    brightness = (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 0.1
    x = x.clamp(0, 1) ** gamma * contrast + brightness
    x = x + torch.randn(x.shape, generator=generator) * 0.02
    return x, m


def logits_of(network, x: np.ndarray, batch: int = 128) -> np.ndarray:
    import torch

    network.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch):
            out.append(network(torch.from_numpy(x[start:start + batch])).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


class Progress:
    """A one-line progress bar with ETA on stderr."""

    def __init__(self, total_steps: int, enabled: bool = True) -> None:
        self.total, self.done, self.start, self.enabled = total_steps, 0, time.perf_counter(), enabled

    def step(self, text: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        width = 30
        filled = int(width * self.done / max(1, self.total))
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                         f"{text} elapsed {elapsed / 60:4.1f} min, ETA {eta / 60:4.1f} min ")
        sys.stderr.flush()

    def line(self, text: str) -> None:
        if self.enabled:
            sys.stderr.write("\n" + text + "\n")
            sys.stderr.flush()


def fit(network, train_x, train_m, train_y, val_x, val_y, class_weights, epochs: int, batch: int, seed: int,
        patience: int, lesion_weight: float, progress: bool, max_steps: int | None = None,
        learning_rate: float = 2e-3, min_epochs: int = 0):
    """AdamW with a one-cycle schedule; the best validation NLL is kept; early stopping after `min_epochs`
    (while the learning rate is high the validation loss swings: patience counts only once it has come down).
    Returns (best state, history)."""
    import torch
    from torch.nn import functional as F

    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(network.parameters(), lr=learning_rate, weight_decay=1e-3)
    steps_per_epoch = max(1, math.ceil(len(train_x) / batch))
    total = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=learning_rate, total_steps=total,
                                                    pct_start=0.15)
    weights = torch.tensor(class_weights, dtype=torch.float32)
    x_all, m_all, y_all = (torch.from_numpy(a) for a in (train_x, train_m, train_y))
    bar = Progress(total, progress)
    best, best_loss, stale, history, step = None, math.inf, 0, [], 0
    for epoch in range(epochs):
        network.train()
        order = torch.randperm(len(x_all), generator=generator)
        running = 0.0
        for start in range(0, len(order), batch):
            if step >= total:
                break
            index = order[start:start + batch]
            x, m = augment(x_all[index], m_all[index], generator)
            logits = network(x)
            loss = F.cross_entropy(logits, y_all[index], weight=weights) + lesion_weight * network.lesion_loss(m)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            step += 1
            running += loss.item()
            bar.step(f"epoch {epoch + 1}/{epochs} loss {running / (start // batch + 1):.3f}")
        val_logits = logits_of(network, val_x)
        val_loss = metrics.nll(val_logits, val_y)
        val_accuracy = float((val_logits.argmax(1) == val_y).mean())
        history.append({"epoch": epoch + 1, "val_nll": round(val_loss, 4), "val_accuracy": round(val_accuracy, 4)})
        bar.line(f"epoch {epoch + 1}: validation NLL {val_loss:.4f}, accuracy {val_accuracy:.4f}")
        if val_loss < best_loss:
            best_loss, stale = val_loss, 0
            best = {k: v.detach().clone() for k, v in network.state_dict().items()}
        elif epoch + 1 > min_epochs:
            stale += 1
            if stale >= patience:
                bar.line(f"early stop: no better validation NLL for {patience} epochs")
                break
        if step >= total:
            break
    return best, history


def tumour_threshold(probabilities: np.ndarray, targets: np.ndarray) -> dict:
    """The patch model's operating point on P(tumour) = 1 − P(normal): Youden's J on validation."""
    score = 1.0 - probabilities[:, 0]
    positive = targets != 0
    best = (-1.0, 0.5)
    for threshold in np.unique(np.round(score, 4)):
        sensitivity = (score[positive] >= threshold).mean() if positive.any() else 0
        specificity = (score[~positive] < threshold).mean() if (~positive).any() else 0
        best = max(best, (sensitivity + specificity - 1, float(threshold)))
    threshold = best[1]
    return {"score": "P(tumour) = 1 - P(normal brain)", "threshold": round(threshold, 4),
            "chosen_on": "validation, Youden's J",
            "validation_sensitivity": round(float((score[positive] >= threshold).mean()), 4),
            "validation_specificity": round(float((score[~positive] < threshold).mean()), 4)}


def _atomic_write(path: Path, data_bytes: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(temporary, "wb") as handle:
        handle.write(data_bytes)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def train(dataset: str | Path, task: str, out: str | Path, epochs: int = 40, seed: int = 7, patience: int = 8,
          limit: int | None = None, max_steps: int | None = None, name: str | None = None,
          version: str = "1.0.0", progress: bool = True, command: str = "", threads: int = 2) -> dict:
    """Train a model on DATASET and write the whole model folder to OUT; returns the manifest."""
    import torch
    from safetensors.torch import save_file

    from medview.ai.network import LesionCNN

    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}")
    started = time.perf_counter()
    cpu_started = time.process_time()
    setup = TASKS[task]
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))
    rows = data.read_labels(dataset)
    tumour_labels = sorted({row.label for row in rows})
    labels = [NORMAL, *tumour_labels] if task == "patch" else tumour_labels
    parts = data.split_families(rows)
    split_rows = {name: data.rows_of(rows, parts, name) for name in data.SPLITS}
    if limit:
        split_rows = {name: r[:limit] for name, r in split_rows.items()}
    rng = random.Random(seed)

    examples = {}
    for part, part_rows in split_rows.items():
        images, masks = data.load_arrays(dataset, part_rows)
        y = np.array([tumour_labels.index(row.label) for row in part_rows], dtype=np.int64)
        if task == "slice":
            x, m = slice_examples(images, masks, setup)
        else:
            counts = ((setup.tumour_patches, setup.normal_patches) if part == "train" else (2, 2))
            x, m, y = patch_examples(images, masks, list(y), setup, rng, *counts)
        examples[part] = (x, m, y, part_rows)
        if progress:
            print(f"{part}: {len(part_rows)} images of {len({r.family for r in part_rows})} patient families "
                  f"→ {len(x)} examples", file=sys.stderr)

    train_x, train_m, train_y, _ = examples["train"]
    counts = np.bincount(train_y, minlength=len(labels)).astype(np.float64)
    class_weights = (counts.sum() / (len(labels) * np.maximum(counts, 1))).tolist()
    network = LesionCNN(len(labels), setup.widths, setup.hidden, stem=setup.stem)
    best, history = fit(network, train_x, train_m, train_y, examples["val"][0], examples["val"][2],
                        class_weights, epochs, setup.batch, seed, patience, lesion_weight=1.0,
                        progress=progress, max_steps=max_steps, learning_rate=setup.learning_rate,
                        min_epochs=epochs // 2)
    if best is not None:
        network.load_state_dict(best)
    network.eval()

    val_logits = logits_of(network, examples["val"][0])
    temperature = metrics.fit_temperature(val_logits, examples["val"][2])
    figures = {}
    for part in ("val", "test"):  # the test part is scored once, here, and never used to choose anything
        x, _, y, _ = examples[part]
        logits = logits_of(network, x)
        report = metrics.classification_report(metrics.softmax(logits, temperature), y, labels)
        report["ece_before_calibration"] = round(metrics.ece(metrics.softmax(logits), y), 4)
        figures[part] = report
    operating_point = None
    if task == "patch":
        operating_point = tumour_threshold(metrics.softmax(val_logits, temperature), examples["val"][2])

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    weights_path = out / "model.safetensors"
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(weights_path))
    elapsed = time.perf_counter() - started
    manifest = {
        "name": name or f"brain-tumour-{task}",
        "version": version,
        "task": task,
        "labels": labels,
        "modality": "MR",
        "body_part": "BRAIN",
        "input": {
            "size": setup.size, "mm_per_pixel": setup.mm_per_pixel,
            **({"patch_mm": setup.patch_mm} if setup.patch_mm else {}),
            "channels": 1,
            "mapping": "per-image min-max of the whole slice to [0, 1], then the centred "
                       + ("square" if task == "slice" else "patch") + " resampled with area averaging "
                       "(medview.ai.inputs)",
            "source_mm_per_pixel_of_training_images": DATASET_MM_PER_PIXEL,
        },
        "architecture": {"name": "LesionCNN", "stem": setup.stem, "widths": list(setup.widths),
                         "hidden": setup.hidden,
                         "parameters": int(sum(p.numel() for p in network.parameters()))},
        "weights": {"file": weights_path.name, "sha256": sha256_of(weights_path), "format": "safetensors"},
        "training_data": {
            "name": "Cheng et al. brain tumour MRI (figshare 1512427 v5), T1 post-contrast slices, 256² PNG",
            "licence": "CC BY 4.0",
            "path": "../shared/data/brain_tumor_mri",
            "split": {"by": "patient_family", "stratified_by": "label", "seed": data.SPLIT_SEED,
                      "shares": list(data.SPLIT_SHARES), "digest": data.split_digest(parts),
                      "families": {p: sorted(parts[p]) for p in data.SPLITS},
                      "images": {p: len(examples[p][3]) for p in data.SPLITS},
                      "examples": {p: int(len(examples[p][0])) for p in data.SPLITS}},
            "augmentation": "rotation ±15°, scale 0.9–1.1, shift ±6 %, left-right flip, gamma, contrast, noise",
            "class_balancing": "class-weighted cross entropy",
            "uses_tumour_masks": "lesion gate trained on the masks (BCE on the coarse tumour map)",
        },
        "training": {"command": command, "epochs_run": len(history), "max_epochs": epochs, "seed": seed,
                     "history": history, "wall_seconds": round(elapsed, 1),
                     "cpu_seconds": round(time.process_time() - cpu_started, 1),
                     "threads": torch.get_num_threads(), "machine": platform.machine(),
                     "limit": limit, "max_steps": max_steps},
        "calibration": {"method": "temperature scaling on validation", "temperature": round(temperature, 4)},
        "operating_point": operating_point,
        "metrics": {"validation": figures["val"], "test": figures["test"],
                    "note": "choices (early stopping, temperature, threshold) made on validation; test reported once"},
        "intended_use": (
            "Tells the tumour type (glioma, meningioma, pituitary tumour) of a T1 post-contrast brain MRI slice "
            "that is known to hold a tumour. It is not a detector: every slice gets one of the three types."
            if task == "slice" else
            f"Click-to-classify on T1 post-contrast brain MRI: a {setup.patch_mm:g} mm patch centred on the clicked "
            "point is called normal brain or glioma / meningioma / pituitary tumour; P(tumour) at or above the "
            "operating point flags the point. It is the detector of the two bundled models."),
        "limitations": [
            "Trained on 2D slices of one public dataset (two hospitals in China, 2005–2010), mixed views.",
            "Training images were 8-bit, JPEG-compressed, min–max scaled: other contrasts and scanners may shift "
            "its answers.",
            "Not validated for clinical use; other tumour types, post-operative changes and children unseen.",
            *(["Every training slice holds a tumour: on a slice without one it still answers a tumour type."]
              if task == "slice" else
              [f"'Normal brain' patches were centred in brain tissue (by intensity, {SKULL_MM:g} mm inside the head "
               f"outline) with no tumour inside the patch; points near a tumour (oedema, margins), skull, air "
               "and non-brain tissue were never shown, so answers there are not tested.",
               "The operating point was chosen on validation patches (Youden's J), not on whole series."]),
        ],
        "research_use_only": True,
        "disclaimer": f"{DISCLAIMER}, not for diagnosis",
    }
    manifest = seal(manifest)
    _atomic_write(out / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    if progress:
        print(f"\nwrote {out} in {elapsed / 60:.1f} min: validation accuracy {figures['val']['accuracy']}, "
              f"macro AUC {figures['val']['macro_auc']}, temperature {temperature:.3f}", file=sys.stderr)
    return manifest
