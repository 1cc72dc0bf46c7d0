"""`medview train`: a whole model folder from a labels.csv dataset, honestly.

Split by patient family (train / validation / test, `medview.ai.dataset`); augmentation and class balancing
on the training part; early stopping, temperature scaling and the patch model's operating point on the
validation part; the test part is scored once at the end and only written into the card. Every input goes
through `medview.ai.inputs`, the same mapping inference uses.

The detector (task "patch") learns the whole head: its "no tumour" examples are centred anywhere on the slice
outside the tumour mask dilated by `MARGIN_MM` — brain, skull base, sinuses, orbits, the sella of patients
whose tumour is elsewhere, scalp, and the air just outside the head — with hard negatives mined on the training
patients during training. Its slice operating point is chosen on validation slices, by the same search the
series run uses (`slice_operating_point`).
"""

from __future__ import annotations

import hashlib
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
from medview.ai.body import DESCRIPTION as BODY_CHECK
from medview.ai.body import body_mask
from medview.ai.inputs import DATASET_MM_PER_PIXEL, SquareSampler, inner_part, png_unit_range, slice_input, within_mm
from medview.ai.manifest import DISCLAIMER, MANIFEST, NO_TUMOUR, seal
from medview.io.atomic import write_bytes

NORMAL = NO_TUMOUR
#: "No tumour" examples are centred outside the tumour mask dilated by this margin (mm).
MARGIN_MM = 10.0
#: Of the "no tumour" examples, this share is centred in the air within `AIR_BAND_MM` outside the head.
AIR_SHARE = 0.1
AIR_BAND_MM = 15.0
#: Brain tissue "as in version 1.0" (for evaluation beside the whole head): this far inside the head outline.
SKULL_MM = 12.0
#: Hard negatives: the tumour-free places of each training slice on a grid this coarse (mm, its offset drawn
#: anew each round) are scored as a series run would score them, and the highest HARD_KEPT kept.
HARD_GRID_MM = 20.0
HARD_KEPT = 3
#: The detector's "no tumour" class carries this share of the loss weight (the tumour types share the rest):
#: a slice is searched at hundreds of places, so a place must be called "no tumour" with confidence.
NO_TUMOUR_WEIGHT = 0.5
#: Tumour-free places for the slice operating point: centres this far from the tumour (half the patch side),
#: so that no patch of a tumour-free place sees the tumour, as on a tumour-free slice.
SLICE_FREE_MARGIN_MM = 32.0
SPACING = (DATASET_MM_PER_PIXEL, DATASET_MM_PER_PIXEL)
#: The false-flag rate per tumour-free slice the slice operating point is chosen for.
SLICE_FALSE_FLAG_TARGET = 0.05


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
    "patch": TaskSetup(size=64, mm_per_pixel=1.0, widths=(16, 32, 64, 96), stem=16, batch=64, patch_mm=64.0,
                       tumour_patches=4, normal_patches=6),
}


# -- inputs ---------------------------------------------------------------------------------------------

def slice_examples(images: np.ndarray, masks: np.ndarray, setup: TaskSetup) -> tuple[np.ndarray, np.ndarray]:
    spacing = (DATASET_MM_PER_PIXEL, DATASET_MM_PER_PIXEL)
    x = np.stack([slice_input(png_unit_range(i), spacing, setup.size, setup.mm_per_pixel, True)[0]
                  for i in images])
    m = np.stack([slice_input(k.astype(np.float32), spacing, setup.size, setup.mm_per_pixel, True)[0]
                  for k in masks])
    return x[:, None], m[:, None]


def _pick(candidates: np.ndarray, rng: random.Random, count: int) -> list[tuple[int, int]]:
    rows, columns = np.nonzero(candidates)
    if len(rows) == 0 or count <= 0:
        return []
    picks = [rng.randrange(len(rows)) for _ in range(count)]
    return [(int(rows[i]), int(columns[i])) for i in picks]


def tumour_centres(mask: np.ndarray, rng: random.Random, count: int) -> list[tuple[int, int]]:
    """(row, column) centres inside the tumour, preferring its inside (2 mm in) over its rim."""
    return _pick(inner_part(mask, SPACING, 2.0), rng, count)


def head_negative_centres(image01: np.ndarray, mask: np.ndarray, rng: random.Random, count: int
                          ) -> list[tuple[int, int]]:
    """(row, column) centres anywhere in the head outside the tumour dilated by MARGIN_MM, and some in the air
    just outside the head: "no tumour" as the whole head shows it."""
    body = body_mask(image01, SPACING, "MR")
    clear = ~within_mm(mask, SPACING, MARGIN_MM)
    air = within_mm(body, SPACING, AIR_BAND_MM) & ~body & clear
    in_air = sum(rng.random() < AIR_SHARE for _ in range(count)) if air.any() else 0
    return _pick(body & clear, rng, count - in_air) + _pick(air, rng, in_air)


def brain_tissue(image01: np.ndarray) -> np.ndarray:
    """Brain tissue roughly as version 1.0 drew its normal patches: SKULL_MM inside the head, not dark."""
    body = body_mask(image01, SPACING, "MR")
    return ~within_mm(~body, SPACING, SKULL_MM) & (image01 > 0.12)


def brain_negative_centres(image01: np.ndarray, mask: np.ndarray, setup: TaskSetup, rng: random.Random,
                           count: int) -> list[tuple[int, int]]:
    """Version 1.0's normal patches: brain tissue far enough from the tumour that the patch holds none of it."""
    away = setup.patch_mm / 2 * math.sqrt(2) + 4
    return _pick(brain_tissue(image01) & ~within_mm(mask, SPACING, away), rng, count)


def patch_examples(images: np.ndarray, masks: np.ndarray, labels: list[int], setup: TaskSetup,
                   rng: random.Random, tumour_count: int, normal_count: int, negatives: str = "head"):
    """Patches centred in the tumour (its type, class label + 1) and outside it ("no tumour" = class 0).

    negatives: "head" (anywhere outside the dilated tumour, the detector's training) or "brain" (brain tissue
    away from the tumour, as version 1.0 drew them; for comparison in `evaluate`)."""
    xs, ms, ys = [], [], []
    for image, mask, label in zip(images, masks, labels, strict=True):
        image01 = png_unit_range(image)
        if negatives == "head":
            normal = head_negative_centres(image01, mask, rng, normal_count)
        else:
            normal = brain_negative_centres(image01, mask, setup, rng, normal_count)
        centres = [(c, label + 1) for c in tumour_centres(mask, rng, tumour_count)] + [(c, 0) for c in normal]
        x, m = _cut(image01, mask, setup, [c for c, _ in centres])
        xs += x
        ms += m
        ys += [target for _, target in centres]
    return _stack(xs, ms, ys, setup)


def _cut(image01: np.ndarray, mask: np.ndarray, setup: TaskSetup, centres: list[tuple[int, int]]):
    images = SquareSampler(image01, SPACING, setup.size, setup.mm_per_pixel)
    masks = SquareSampler(mask.astype(np.float32), SPACING, setup.size, setup.mm_per_pixel)
    return [images.sample(c)[0] for c in centres], [masks.sample(c)[0] for c in centres]


def _stack(xs, ms, ys, setup: TaskSetup):
    if not xs:
        empty = np.zeros((0, 1, setup.size, setup.size), dtype=np.float32)
        return empty, empty.copy(), np.zeros(0, dtype=np.int64)
    return np.stack(xs)[:, None], np.stack(ms)[:, None], np.array(ys, dtype=np.int64)


class NetworkScorer:
    """A network in training as a `medview.ai.detect.PatchScorer` (its patch geometry and calibrated
    probabilities of a stack of inputs): training searches slices as the app does."""

    def __init__(self, network, setup: TaskSetup, temperature: float = 1.0) -> None:
        from medview.ai.detect import PatchGeometry

        self.network = network
        self.temperature = temperature
        self.card = PatchGeometry(size=setup.size, mm_per_pixel=setup.mm_per_pixel)

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        return metrics.softmax(logits_of(self.network, np.ascontiguousarray(inputs[:, None], dtype=np.float32)),
                               self.temperature)


def hard_negatives(network, images: np.ndarray, masks: np.ndarray, setup: TaskSetup, rng: random.Random):
    """Per training slice, the HARD_KEPT tumour-free places (outside the tumour dilated by MARGIN_MM, inside the
    head) that the network now scores highest on a HARD_GRID_MM grid: the places that would flag a tumour-free
    slice. Mined on training patients only."""
    from medview.ai.detect import grid_points

    scorer = NetworkScorer(network, setup)
    step = max(1, int(round(HARD_GRID_MM / SPACING[0])))
    kept_x, kept_m = [], []
    for image, mask in zip(images, masks, strict=True):
        image01 = png_unit_range(image)
        allowed = body_mask(image01, SPACING, "MR") & ~within_mm(mask, SPACING, MARGIN_MM)
        dr, dc = rng.randrange(step), rng.randrange(step)
        centres = []
        for column, row in grid_points(np.ones_like(allowed), SPACING, HARD_GRID_MM):
            r, c = int(row) + dr, int(column) + dc
            if r < allowed.shape[0] and c < allowed.shape[1] and allowed[r, c]:
                centres.append((r, c))
        if not centres:
            continue
        x, m = _cut(image01, mask, setup, centres)
        tumour = 1.0 - scorer.probabilities(np.stack(x))[:, 0]
        for i in np.argsort(-tumour)[:HARD_KEPT]:
            kept_x.append(x[i])
            kept_m.append(m[i])
    return _stack(kept_x, kept_m, [0] * len(kept_x), setup)


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


def learning_rate_at(progress: float, peak: float) -> float:
    """One cycle: a linear warm-up over the first 15 % of training, then a cosine down to 1 % of the peak."""
    if progress < 0.15:
        return peak * (0.04 + 0.96 * progress / 0.15)
    done = min(1.0, (progress - 0.15) / 0.85)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * done)))


def scheduled_batches(order, batch: int, optimiser, peak: float, step: int, total: int):
    """One epoch's batches of `order` (indices) under the one-cycle schedule: each step's learning rate is set
    before its batch is handed out; none is handed out once `total` steps are reached (`step`: steps already
    taken; the caller counts on as it trains)."""
    for start in range(0, len(order), batch):
        if step >= total:
            return
        for group in optimiser.param_groups:
            group["lr"] = learning_rate_at(step / total, peak)
        yield order[start:start + batch]
        step += 1


def fit(network, train_x, train_m, train_y, val_x, val_y, class_weights, epochs: int, batch: int, seed: int,
        patience: int, lesion_weight: float, progress: bool, max_steps: int | None = None,
        learning_rate: float = 2e-3, min_epochs: int | None = 0, minutes: float | None = None, refresh=None,
        budget: float | None = None):
    """AdamW with a one-cycle learning rate; the best validation NLL is kept; early stopping after `min_epochs`
    (while the learning rate is high the validation loss swings: patience counts only once it has come down).

    minutes: the time to plan for. After the first epoch the number of epochs is planned to fit it, and the
    schedule follows that plan. budget: a hard wall-clock limit; no epoch starts that would pass it.
    refresh(network, epoch, planned): called before each epoch after the first,
    may return extra training examples (x, m, y) that replace the previous extra ones (hard negatives); None
    keeps them. min_epochs None: half the planned epochs.
    Returns (best state, history, planned epochs, final state)."""
    import torch
    from torch.nn import functional as F

    started = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(network.parameters(), lr=learning_rate, weight_decay=1e-3)
    weights = torch.tensor(class_weights, dtype=torch.float32)
    base = [torch.from_numpy(a) for a in (train_x, train_m, train_y)]
    x_all, m_all, y_all = base
    steps_per_epoch = max(1, math.ceil(len(x_all) / batch))
    planned = epochs
    total = planned * steps_per_epoch if max_steps is None else min(max_steps, planned * steps_per_epoch)
    bar = Progress(total, progress)
    best, best_loss, stale, history, step = None, math.inf, 0, [], 0
    for epoch in range(epochs):
        if epoch >= planned:
            break
        if refresh is not None and epoch > 0:
            extra = refresh(network, epoch, planned)
            if extra is not None and len(extra[0]):
                x_all, m_all, y_all = (torch.cat([b, torch.from_numpy(e)]) for b, e in zip(base, extra, strict=True))
        network.train()
        order = torch.randperm(len(x_all), generator=generator)
        running = 0.0
        for batches, index in enumerate(scheduled_batches(order, batch, optimiser, learning_rate, step, total), 1):
            x, m = augment(x_all[index], m_all[index], generator)
            logits = network(x)
            loss = F.cross_entropy(logits, y_all[index], weight=weights) + lesion_weight * network.lesion_loss(m)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step += 1
            running += loss.item()
            bar.step(f"epoch {epoch + 1}/{planned} loss {running / batches:.3f}")
        val_logits = logits_of(network, val_x)
        val_loss = metrics.nll(val_logits, val_y)
        val_accuracy = float((val_logits.argmax(1) == val_y).mean())
        history.append({"epoch": epoch + 1, "val_nll": round(val_loss, 4), "val_accuracy": round(val_accuracy, 4),
                        "minutes": round((time.perf_counter() - started) / 60, 2)})
        bar.line(f"epoch {epoch + 1}: validation NLL {val_loss:.4f}, accuracy {val_accuracy:.4f}")
        if epoch == 0 and minutes is not None and max_steps is None:
            per_epoch = (time.perf_counter() - started) / 60
            planned = max(2, min(epochs, int(minutes / per_epoch)))
            total = planned * steps_per_epoch
            bar.total = total
            bar.line(f"{per_epoch:.2f} min per epoch: {planned} epochs planned for {minutes:g} min")
        if val_loss < best_loss:
            best_loss, stale = val_loss, 0
            best = {k: v.detach().clone() for k, v in network.state_dict().items()}
        elif epoch + 1 > (planned // 2 if min_epochs is None else min_epochs):
            stale += 1
            if stale >= patience:
                bar.line(f"early stop: no better validation NLL for {patience} epochs")
                break
        if step >= total:
            break
        elapsed = (time.perf_counter() - started) / 60
        last = history[-1]["minutes"] - (history[-2]["minutes"] if len(history) > 1 else 0.0)
        if budget is not None and epoch + 1 < planned and elapsed + 1.1 * last > budget:
            bar.line(f"stopped at {elapsed:.1f} min: the next epoch would pass the {budget:g} min budget")
            break
    final = {k: v.detach().clone() for k, v in network.state_dict().items()}
    return best, history, planned, final


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
    return {"score": "P(tumour) = 1 - P(no tumour)", "threshold": round(threshold, 4),
            "chosen_on": "validation, Youden's J",
            "validation_sensitivity": round(float((score[positive] >= threshold).mean()), 4),
            "validation_specificity": round(float((score[~positive] < threshold).mean()), 4)}


def slice_operating_point(scorer, arrays: dict, progress: bool):
    """The slice operating point, chosen on validation slices searched as a series run does; returns it with
    the validation searches (for the figures)."""
    from medview.ai.slice_level import choose_slice_threshold, search_dataset_slices

    images, masks = arrays["val"]
    searched = search_dataset_slices(scorer, images, masks, SPACING, SLICE_FREE_MARGIN_MM)
    if progress:
        print(f"\nval: {len(images)} slices searched as a series run does", file=sys.stderr)
    return choose_slice_threshold(searched, SLICE_FALSE_FLAG_TARGET), searched


def slice_level_figures(scorer, arrays: dict, rows: dict, tumour_labels: list[str], threshold: float,
                        val_searches) -> dict:
    """Slice-level figures of validation and, once, of test (never used to choose anything)."""
    from medview.ai.slice_level import search_dataset_slices, slice_figures

    figures = {}
    for part, name in (("val", "validation"), ("test", "test")):
        images, masks = arrays[part]
        searched = val_searches if part == "val" else search_dataset_slices(scorer, images, masks, SPACING,
                                                                             SLICE_FREE_MARGIN_MM)
        targets = np.array([tumour_labels.index(row.label) for row in rows[part]], dtype=np.int64)
        figures[name] = slice_figures(searched, threshold, targets, masks, [row.box for row in rows[part]],
                                      tumour_labels)
    return figures


def choose_detector_state(network, states: dict, setup: TaskSetup, examples: dict, arrays: dict,
                          progress: bool) -> tuple[str, float, dict, list, dict]:
    """Of the candidate states (the best validation NLL, the end of the schedule), the one whose slice answer
    finds the most validation tumours at its own slice operating point: the detector is chosen where it is used.
    Returns (name, temperature, slice operating point, validation searches, what each candidate scored)."""
    from medview.ai.slice_level import found_inside

    scored, best = {}, None
    val_x, _, val_y, _ = examples["val"]
    for name, state in states.items():
        network.load_state_dict(state)
        network.eval()
        temperature = metrics.fit_temperature(logits_of(network, val_x), val_y)
        chosen, searched = slice_operating_point(NetworkScorer(network, setup, temperature), arrays, progress)
        found = round(float(found_inside(searched, arrays["val"][1], chosen["threshold"]).mean()), 4)
        scored[name] = {"validation_sensitivity_found_inside_tumour": found,
                        "slice_threshold": chosen["threshold"], "temperature": round(temperature, 4)}
        if best is None or found > best[0]:
            best = (found, name, temperature, chosen, searched)
    _, name, temperature, chosen, searched = best
    network.load_state_dict(states[name])
    network.eval()
    return name, temperature, chosen, searched, scored


def train(dataset: str | Path, task: str, out: str | Path, epochs: int = 40, seed: int = 7, patience: int = 8,
          limit: int | None = None, max_steps: int | None = None, name: str | None = None,
          version: str = "1.0.0", progress: bool = True, command: str = "", threads: int = 2,
          minutes: float | None = None) -> dict:
    """Train a model on DATASET and write the whole model folder to OUT; returns the manifest."""
    import torch
    from safetensors.torch import save as safetensors_bytes

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

    examples, arrays = {}, {}
    for part, part_rows in split_rows.items():
        images, masks = data.load_arrays(dataset, part_rows)
        arrays[part] = (images, masks)
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
    class_weights = counts.sum() / (len(labels) * np.maximum(counts, 1))
    if task == "patch":  # "no tumour" weighs as much as all tumour types together, which stay balanced
        tumour_weights = class_weights[1:] * counts[1:]
        class_weights = np.concatenate([[NO_TUMOUR_WEIGHT * counts.sum() / max(counts[0], 1)],
                                        class_weights[1:] * (1 - NO_TUMOUR_WEIGHT) * counts.sum()
                                        / max(tumour_weights.sum(), 1e-12)])
    class_weights = class_weights.tolist()
    network = LesionCNN(len(labels), setup.widths, setup.hidden, stem=setup.stem)
    mined: list[int] = []
    plan_minutes = minutes
    if minutes is not None and task == "patch":  # hard negatives enlarge the last two thirds of the epochs
        plan_minutes = minutes / (1 + HARD_KEPT / (setup.tumour_patches + setup.normal_patches) * 2 / 3)

    def refresh(net, epoch: int, planned: int):
        """Hard negatives from the training patients, mined at a third and at two thirds of the planned epochs."""
        if task != "patch" or epoch not in (max(1, planned // 3), max(2, 2 * planned // 3)):
            return None
        mined.append(epoch)
        return hard_negatives(net, *arrays["train"], setup, rng)
    best, history, planned, final = fit(network, train_x, train_m, train_y, examples["val"][0], examples["val"][2],
                                 class_weights, epochs, setup.batch, seed,
                                 # with a time budget the schedule runs to its end; the best validation NLL is kept
                                 patience if minutes is None else epochs + 1, lesion_weight=1.0,
                                 progress=progress, max_steps=max_steps, learning_rate=setup.learning_rate,
                                 min_epochs=epochs // 2 if minutes is None else None, minutes=plan_minutes,
                                 refresh=refresh, budget=minutes)
    operating_point, slice_level, chosen_state = None, {}, {}
    if task == "patch" and minutes is not None and best is not None:
        best_epoch = min(history, key=lambda h: h["val_nll"])["epoch"]
        states = {f"best validation NLL (epoch {best_epoch})": best, f"end of schedule (epoch {len(history)})": final}
        state_name, temperature, slice_point, val_searches, scored = choose_detector_state(
            network, states, setup, examples, arrays, progress)
        chosen_state = {"chosen": state_name, "candidates": scored,
                        "chosen_on": "validation slices: the most tumour slices found inside the tumour at each "
                                     "candidate's own slice operating point"}
    else:
        if best is not None:
            network.load_state_dict(best)
        network.eval()
        temperature = metrics.fit_temperature(logits_of(network, examples["val"][0]), examples["val"][2])
        if task == "patch":
            slice_point, val_searches = slice_operating_point(NetworkScorer(network, setup, temperature), arrays,
                                                              progress)
    val_logits = logits_of(network, examples["val"][0])
    figures = {}
    for part in ("val", "test"):  # the test part is scored once, here, and never used to choose anything
        x, _, y, _ = examples[part]
        logits = logits_of(network, x)
        report = metrics.classification_report(metrics.softmax(logits, temperature), y, labels)
        report["ece_before_calibration"] = round(metrics.ece(metrics.softmax(logits), y), 4)
        figures[part] = report
    if task == "patch":
        operating_point = tumour_threshold(metrics.softmax(val_logits, temperature), examples["val"][2])
        slice_level = slice_level_figures(NetworkScorer(network, setup, temperature), arrays,
                                          {p: examples[p][3] for p in ("val", "test")}, tumour_labels,
                                          slice_point["threshold"], val_searches)
        slice_point["validation_sensitivity_found_inside_tumour"] = \
            slice_level["validation"]["sensitivity_found_inside_tumour"]
        operating_point["slice"] = slice_point

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    weights_path = out / "model.safetensors"
    weights = safetensors_bytes({k: v.contiguous() for k, v in network.state_dict().items()})
    write_bytes(weights_path, weights)
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
        "weights": {"file": weights_path.name, "sha256": hashlib.sha256(weights).hexdigest(),
                    "format": "safetensors"},
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
                     "limit": limit, "max_steps": max_steps, "minutes_budget": minutes,
                     "planned_epochs": planned, **({"state": chosen_state} if chosen_state else {}),
                     **({"hard_negatives": {"mined_before_epochs": [e + 1 for e in mined],
                                            "grid_mm": HARD_GRID_MM, "kept_per_image": HARD_KEPT},
                         "class_weights": dict(zip(labels, [round(w, 4) for w in class_weights], strict=True))}
                        if task == "patch" else {})},
        "calibration": {"method": "temperature scaling on validation", "temperature": round(temperature, 4)},
        "operating_point": operating_point,
        "metrics": {"validation": figures["val"], "test": figures["test"],
                    **({"slices": slice_level} if slice_level else {}),
                    "note": "choices (early stopping, temperature, thresholds) made on validation; test reported "
                            "once"},
        "intended_use": (
            "Tells the tumour type (glioma, meningioma, pituitary tumour) of a T1 post-contrast brain MRI slice "
            "that is known to hold a tumour. It is not a detector: every slice gets one of the three types."
            if task == "slice" else
            f"The detector for T1 post-contrast brain MRI. A click: the {setup.patch_mm:g} mm patch centred on the "
            "point is called no tumour or glioma / meningioma / pituitary tumour, and P(tumour) at or above the "
            "place operating point flags it; a click outside the head gets no answer. A slice or a series: the "
            "detector is searched over every place inside the head; a slice whose highest P(tumour) reaches the "
            "slice operating point is flagged, with the place found and the tumour type there."),
        "sequence": {"name": "T1-weighted after contrast", "weighting": "T1", "contrast": True},
        **({"inside_body": dict(BODY_CHECK)} if task == "patch" else {}),
        "limitations": [
            "Trained on 2D slices of one public dataset (two hospitals in China, 2005–2010), mixed views.",
            "Training images were 8-bit, JPEG-compressed, min–max scaled: other contrasts and scanners may shift "
            "its answers.",
            "Not validated for clinical use; other tumour types, post-operative changes and children unseen.",
            *(["Every training slice holds a tumour: on a slice without one it still answers a tumour type."]
              if task == "slice" else
              [f"'No tumour' examples were centred anywhere on the training slices outside the tumour dilated by "
               f"{MARGIN_MM:g} mm (brain, skull base, sinuses, orbits, the sella of patients whose tumour is "
               f"elsewhere, scalp, and air within {AIR_BAND_MM:g} mm of the head), with hard negatives mined on "
               "patients; places within that margin of a tumour were never labelled, so answers at a tumour's "
               "edge are not tested.",
               "Every training slice holds a tumour: the slice operating point's false-flag rate is estimated on the "
               "tumour-free part of tumour slices and scaled to a whole slice; it was never measured on tumour-free "
               "series, scanners or patients outside the dataset.",
               "The place operating point (a click) was chosen on validation patches (Youden's J); the slice "
               "operating point on validation slices."]),
        ],
        "research_use_only": True,
        "disclaimer": f"{DISCLAIMER}, not for diagnosis",
    }
    manifest = seal(manifest)
    write_bytes(out / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    if progress:
        print(f"\nwrote {out} in {elapsed / 60:.1f} min: validation accuracy {figures['val']['accuracy']}, "
              f"macro AUC {figures['val']['macro_auc']}, temperature {temperature:.3f}", file=sys.stderr)
    return manifest
