"""`medview train DATASET --task nodule`: lung nodule malignancy from a click on a chest CT, in HU.

Data: the LIDC-IDRI crops of `../shared/data/ct_lung_nodule` (`medview.ai.nodule_data`), split by patient.
Every input is made by `medview.ai.nodule_input.nodule_input`, the function inference uses.

- **Clicks are not exact.** Each training example is a click: the annotated centre, or (most of the time) a
  click displaced in-plane by up to the nodule's radius + 3 mm in a random direction, on a random slice of the
  crop that shows the nodule (within `SLICE_REACH` × the radius of its centre slice: a reader clicks a nodule
  near its largest cross-section). A click whose field of view would leave the crop (and its lung-like padding,
  `lung_padded`) is dropped and counted.
- **Thin and thick slices.** Each example's slab is drawn from `TRAINING_SLABS_MM` (the clicked slice alone,
  2, 5, 8 mm); the run-time slab is chosen on validation afterwards.
- **Augmentation**: flips, 90° rotations, a slightly finer or coarser grid (`SCALE_RANGE`: small, because the
  nodule's size carries much of the label), HU jitter (offset and gain).
- **Imbalance**: class-weighted cross entropy. The lesion gate of the network learns the nodule mask cut the
  same way, so its Grad-CAM points at the nodule.
- A one-cycle schedule planned for a time budget, an exponential moving average of the weights; the state with
  the best validation AUC is kept, the temperature and the operating threshold (`THRESHOLD_RULE`) are fitted on
  validation, the test part is scored once by `medview.ai.nodule_eval` and only written into the card.
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

from medview.ai import metrics
from medview.ai import nodule_data as data
from medview.ai.body import DESCRIPTION as BODY_CHECK
from medview.ai.manifest import DISCLAIMER, MANIFEST, seal
from medview.ai.nodule_input import (
    TRAINING_SLABS_MM,
    NoduleGeometry,
    disc_inside,
    mask_input,
    nodule_input,
    widest_section,
)
from medview.ai.train import Progress, logits_of, scheduled_batches
from medview.io.atomic import write_bytes

GEOMETRY = NoduleGeometry()
WIDTHS = (32, 64, 128)
HIDDEN = 64
BATCH = 64
LEARNING_RATE = 2e-3
#: examples per training nodule and epoch (each a fresh click, slab and augmentation)
PER_NODULE = 4
CENTRED_SHARE = 0.35
#: the grid's scale augmentation (a nodule looks this much larger or smaller): small, since size carries the label
SCALE_RANGE = (0.95, 1.05)
#: training clicks across slices: within this share of the radius from the centre slice (None: any slice showing
#: the nodule, as evaluation's displaced clicks); a reader clicks a nodule near its largest cross-section
SLICE_REACH: float | None = 0.5
#: clicks displaced in-plane up to the radius plus this (mm)
DISPLACEMENT_EXTRA_MM = 3.0
#: candidate run-time slabs, chosen on validation
RUNTIME_SLABS_MM = (0.0, 2.0, 5.0)
SENSITIVITY_TARGET = 0.90
#: how the operating threshold is chosen on validation: "youden" (the best balanced accuracy) or
#: "sensitivity" (the highest threshold reaching SENSITIVITY_TARGET); the size baseline gets the same rule
THRESHOLD_RULE = "youden"
#: the weights scored and kept are an exponential moving average of the trained ones (None: the raw weights)
EMA_DECAY: float | None = 0.98


@dataclass(frozen=True)
class Click:
    k: int
    row: float
    column: float


def nodule_slices(crop: data.Crop) -> np.ndarray:
    """The slices of a crop that show the nodule (its mask on them): where a reader would click."""
    return np.flatnonzero(crop.mask.reshape(crop.mask.shape[0], -1).any(axis=1))


def centred_click(nodule: data.Nodule, crop: data.Crop) -> Click:
    z, y, x = nodule.centre_zyx
    return Click(int(np.clip(round(z), 0, crop.hu.shape[0] - 1)), y, x)


def displaced_click(nodule: data.Nodule, crop: data.Crop, rng: random.Random, low_mm: float = 0.0,
                    high_mm: float | None = None, same_slice: bool = False, slice_reach: float | None = None
                    ) -> Click:
    """A click away from the centre in-plane by a distance drawn from [low_mm, high_mm] (default up to the
    radius + 3 mm), in a random direction; on a random slice showing the nodule unless `same_slice` (within
    slice_reach × the radius of the centre slice, when given)."""
    centre = centred_click(nodule, crop)
    high = nodule.diameter_mm / 2 + DISPLACEMENT_EXTRA_MM if high_mm is None else high_mm
    distance = rng.uniform(low_mm, high)
    angle = rng.uniform(0, 2 * math.pi)
    k = centre.k
    shown = nodule_slices(crop)
    if slice_reach is not None:
        reach = slice_reach * nodule.diameter_mm / 2
        near = shown[np.abs(shown - centre.k) * crop.spacing_zyx[0] <= reach + 1e-6]
        shown = near if len(near) else np.array([centre.k])
    if not same_slice and len(shown):
        k = int(shown[rng.randrange(len(shown))])
    _, dy, dx = crop.spacing_zyx
    return Click(k, centre.row + distance * math.sin(angle) / dy, centre.column + distance * math.cos(angle) / dx)


def padding_pixels(crop: data.Crop, geometry: NoduleGeometry) -> tuple[int, int]:
    """The lung-like padding around a training crop, in its own pixels (rows, columns)."""
    return tuple(int(math.ceil(geometry.crop_padding_mm / s - 1e-9)) for s in crop.spacing_zyx[1:])


def lung_padded(hu: np.ndarray, mask: np.ndarray, pad: tuple[int, int]) -> np.ndarray:
    """A crop's slice grown outwards by pad (rows, columns) pixels with padding that looks like lung: the
    slice mirrored at its edges (the lung's own texture, no straight border of air or repeated pixels), with
    the mirrored copy of the nodule (its mask, dilated by 2 pixels) replaced by the slice's median lung HU,
    so the padding never shows a second nodule."""
    if not any(pad):
        return hu
    from scipy import ndimage

    widths = ((pad[0], pad[0]), (pad[1], pad[1]))
    out = np.pad(hu, widths, mode="reflect")
    mirrored = np.pad(mask > 0, widths, mode="reflect")
    inner = (slice(pad[0], pad[0] + hu.shape[0]), slice(pad[1], pad[1] + hu.shape[1]))
    mirrored[inner] = False
    if mirrored.any():
        mirrored = ndimage.binary_dilation(mirrored, iterations=2)
        mirrored[inner] = False
        lung = hu[(mask == 0) & (hu < -500)]
        out[mirrored] = np.median(lung) if lung.size else -850
    return out


def click_fits(crop: data.Crop, click: Click, geometry: NoduleGeometry, scale: float = 1.0) -> bool:
    """Whether the click's field of view lies inside the crop and its lung-like padding (else it is dropped:
    the network would see a border)."""
    pad = padding_pixels(crop, geometry)
    shape = (crop.hu.shape[1] + 2 * pad[0], crop.hu.shape[2] + 2 * pad[1])
    return disc_inside(shape, crop.spacing_zyx[1:], (click.row + pad[0], click.column + pad[1]),
                       geometry.field_of_view_mm * scale)


def read_click(crop: data.Crop, click: Click, geometry: NoduleGeometry) -> Click:
    """The click moved to the slice it is read on (`widest_section`), as the viewer and the CLI read it; its place
    in the plane is kept, so its field of view still fits the crop."""
    k = widest_section(lambda j: crop.hu[j], crop.z_mm, click.k, crop.spacing_zyx[1:], (click.row, click.column),
                       geometry.field_of_view_mm)
    return Click(k, click.row, click.column)


def crop_input(crop: data.Crop, click: Click, geometry: NoduleGeometry, slab_mm: float | None = None,
               scale: float = 1.0, hu_offset: float = 0.0, hu_gain: float = 1.0, with_mask: bool = False):
    """A crop through the one mapping (`nodule_input`), as a series would go through it (the crop grown by its
    lung-like padding first, `lung_padded`)."""
    pad = padding_pixels(crop, geometry)
    point = (click.row + pad[0], click.column + pad[1])
    x, placement = nodule_input(lambda j: lung_padded(crop.hu[j], crop.mask[j], pad), crop.z_mm,
                                crop.spacing_zyx[1:], click.k, point, geometry, slab_mm, scale, hu_offset, hu_gain)
    if not with_mask:
        return x, placement
    slab = geometry.slab_mm if slab_mm is None else slab_mm
    widths = ((pad[0], pad[0]), (pad[1], pad[1]))
    m = mask_input(lambda j: np.pad(crop.mask[j], widths), crop.z_mm, crop.spacing_zyx[1:], click.k, point,
                   geometry, slab, scale)
    return x, m


def training_examples(crops: list[data.Crop], nodules: list[data.Nodule], targets: np.ndarray,
                      geometry: NoduleGeometry, rng: random.Random, per_nodule: int = PER_NODULE):
    """One epoch's examples: fresh clicks, slabs and augmentation. Returns x, masks, y and the drop count."""
    xs, ms, ys, dropped = [], [], [], 0
    for crop, nodule, y in zip(crops, nodules, targets, strict=True):
        for _ in range(per_nodule):
            scale = rng.uniform(*SCALE_RANGE)
            click = (centred_click(nodule, crop) if rng.random() < CENTRED_SHARE
                     else displaced_click(nodule, crop, rng, slice_reach=SLICE_REACH))
            if not click_fits(crop, click, geometry, scale):
                dropped += 1
                continue
            x, m = crop_input(crop, click, geometry, rng.choice(TRAINING_SLABS_MM), scale,
                              hu_offset=rng.gauss(0, 20), hu_gain=rng.uniform(0.95, 1.05), with_mask=True)
            turns, flip = rng.randrange(4), rng.random() < 0.5
            x, m = np.rot90(x, turns), np.rot90(m, turns)
            if flip:
                x, m = x[:, ::-1], m[:, ::-1]
            xs.append(np.ascontiguousarray(x))
            ms.append(np.ascontiguousarray(m))
            ys.append(int(y))
    size = geometry.size
    if not xs:
        return np.zeros((0, 1, size, size), np.float32), np.zeros((0, 1, size, size), np.float32), \
            np.zeros(0, np.int64), dropped
    return np.stack(xs)[:, None], np.stack(ms)[:, None], np.array(ys, np.int64), dropped


def fixed_examples(crops, nodules, targets, geometry: NoduleGeometry, seed: int, kind: str,
                   slab_mm: float | None = None):
    """Deterministic clicks for validation and test: kind "centred" or "displaced" (one per nodule; a displaced
    click whose field of view leaves the crop is dropped). Returns x, y, kept indices, dropped count."""
    rng = random.Random(seed)
    xs, ys, kept, dropped = [], [], [], 0
    for index, (crop, nodule, y) in enumerate(zip(crops, nodules, targets, strict=True)):
        click = centred_click(nodule, crop) if kind == "centred" else displaced_click(nodule, crop, rng)
        if not click_fits(crop, click, geometry):
            dropped += 1
            continue
        xs.append(crop_input(crop, read_click(crop, click, geometry), geometry, slab_mm)[0])
        ys.append(int(y))
        kept.append(index)
    size = geometry.size
    x = np.stack(xs)[:, None] if xs else np.zeros((0, 1, size, size), np.float32)
    return x, np.array(ys, np.int64), kept, dropped


def threshold_at_sensitivity(scores: np.ndarray, positives: np.ndarray, target: float = SENSITIVITY_TARGET
                             ) -> float:
    """The highest threshold whose sensitivity (score >= threshold) reaches the target."""
    positive = np.sort(np.asarray(scores)[np.asarray(positives, bool)])[::-1]
    if len(positive) == 0:
        return 0.5
    needed = max(1, math.ceil(target * len(positive)))
    return float(positive[needed - 1])


def threshold_youden(scores: np.ndarray, positives: np.ndarray) -> float:
    """The threshold with the best balanced accuracy (Youden's J; ties: the lower threshold, more sensitive)."""
    scores, positives = np.asarray(scores, np.float64), np.asarray(positives, bool)
    if not positives.any() or positives.all():
        return 0.5
    best, best_j = 0.5, -1.0
    for threshold in np.unique(scores):
        called = scores >= threshold
        j = called[positives].mean() + (~called[~positives]).mean()
        if j > best_j + 1e-12:
            best, best_j = float(threshold), j
    return best


def operating_threshold(scores: np.ndarray, positives: np.ndarray, rule: str | None = None) -> float:
    """The operating threshold on validation scores by THRESHOLD_RULE (or `rule`)."""
    rule = rule or THRESHOLD_RULE
    if rule == "youden":
        return threshold_youden(scores, positives)
    return threshold_at_sensitivity(scores, positives)


def threshold_rule_text(rule: str | None = None) -> str:
    rule = rule or THRESHOLD_RULE
    if rule == "youden":
        return "validation: the threshold with the best balanced accuracy (Youden's J; centred and displaced clicks)"
    return (f"validation: the highest threshold with sensitivity >= {SENSITIVITY_TARGET:.0%} (centred and "
            "displaced clicks)")


def train_nodule(dataset: str | Path, out: str | Path, definition: str = "dataset", epochs: int = 60,
                 seed: int = 7, limit: int | None = None, max_steps: int | None = None, name: str | None = None,
                 version: str = "1.0.0", progress: bool = True, command: str = "", threads: int = 2,
                 minutes: float | None = None, score_parts: tuple[str, ...] = ("val", "test")) -> dict:
    """Train the nodule model on DATASET and write its whole model folder (weights, sealed card) to OUT."""
    import torch
    from safetensors.torch import save as safetensors_bytes
    from torch.nn import functional as F

    from medview.ai.network import LesionCNN

    started, cpu_started = time.perf_counter(), time.process_time()
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))
    geometry = GEOMETRY
    nodules = data.read_nodules(dataset)
    parts = data.split_patients(nodules)
    split = {}
    for part in data.SPLITS:
        chosen, y = data.part_of(nodules, parts[part], definition)
        if limit:
            chosen, y = chosen[:limit], y[:limit]
        split[part] = (chosen, y, [data.load_crop(dataset, n) for n in chosen])
        if progress:
            print(f"{part}: {len(chosen)} nodules of {len({n.patient_id for n in chosen})} patients, "
                  f"{int(y.sum())} malignant", file=sys.stderr)
    train_nodules, train_y, train_crops = split["train"]
    val_nodules, val_y, val_crops = split["val"]
    val_x = np.concatenate([fixed_examples(val_crops, val_nodules, val_y, geometry, seed, kind, 5.0)[0]
                            for kind in ("centred", "displaced")])
    val_t = np.concatenate([fixed_examples(val_crops, val_nodules, val_y, geometry, seed, kind, 5.0)[1]
                            for kind in ("centred", "displaced")])

    counts = np.bincount(train_y, minlength=2).astype(np.float64)
    class_weights = (counts.sum() / (2 * np.maximum(counts, 1))).tolist()
    network = LesionCNN(2, WIDTHS, HIDDEN, stem=0)
    optimiser = torch.optim.AdamW(network.parameters(), lr=LEARNING_RATE, weight_decay=1e-3)
    averaged = None
    if EMA_DECAY:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        averaged = AveragedModel(network, multi_avg_fn=get_ema_multi_avg_fn(EMA_DECAY), use_buffers=True)
    scored = network if averaged is None else averaged.module
    weights = torch.tensor(class_weights, dtype=torch.float32)
    rng = random.Random(seed)
    steps_per_epoch = max(1, math.ceil(len(train_nodules) * PER_NODULE / BATCH))
    planned = epochs
    history, best, best_key, step, dropped_total, offered = [], None, None, 0, 0, 0
    total = planned * steps_per_epoch if max_steps is None else min(max_steps, planned * steps_per_epoch)
    bar = Progress(total, progress)
    epoch = 0
    while epoch < planned and step < total and (minutes is None or time.perf_counter() - started < minutes * 60):
        epoch_started = time.perf_counter()
        x, m, y, dropped = training_examples(train_crops, train_nodules, train_y, geometry, rng)
        dropped_total += dropped
        offered += len(train_nodules) * PER_NODULE
        network.train()
        order = np.random.default_rng(seed + epoch).permutation(len(x))
        running = 0.0
        for batches, index in enumerate(scheduled_batches(order, BATCH, optimiser, LEARNING_RATE, step, total), 1):
            xb, mb = torch.from_numpy(x[index]), torch.from_numpy(m[index])
            logits = network(xb)
            loss = F.cross_entropy(logits, torch.from_numpy(y[index]), weight=weights) + network.lesion_loss(mb)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if averaged is not None:
                averaged.update_parameters(network)
            step += 1
            running += loss.item()
            bar.step(f"epoch {epoch + 1}/{planned} loss {running / batches:.3f}")
        val_logits = logits_of(scored, val_x)
        auc = metrics.roc_auc(metrics.softmax(val_logits)[:, 1], val_t == 1) if len(val_t) else float("nan")
        nll = metrics.nll(val_logits, val_t) if len(val_t) else float("nan")
        history.append({"epoch": epoch + 1, "val_auc": round(auc, 4), "val_nll": round(nll, 4),
                        "minutes": round((time.perf_counter() - started) / 60, 2)})
        key = (-auc if auc == auc else 0.0, nll if nll == nll else 0.0)
        if best is None or key < best_key:
            best = {k: v.detach().clone() for k, v in scored.state_dict().items()}
            best_key = key
        epoch += 1
        if epoch == 1 and minutes is not None and max_steps is None:  # plan the schedule for the budget
            seconds = time.perf_counter() - epoch_started
            left = minutes * 60 - (time.perf_counter() - started) - 60  # a minute for choosing and writing
            planned = max(2, min(epochs, 1 + int(left / max(seconds, 1e-3))))
            total = planned * steps_per_epoch
            bar.total = total
            bar.line(f"one epoch took {seconds:.1f} s: {planned} epochs planned for {minutes:g} minutes")
    if best is not None:
        network.load_state_dict(best)
    network.eval()
    del averaged, scored

    geometry, temperature, threshold, slab_auc = fit_on_validation(network, val_crops, val_nodules, val_y, geometry,
                                                                   seed)
    runtime_slab = geometry.slab_mm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    weights_bytes = safetensors_bytes({k: v.contiguous() for k, v in network.state_dict().items()})
    write_bytes(out / "model.safetensors", weights_bytes)
    manifest = {
        "name": name or "lung-nodule-malignancy",
        "version": version,
        "task": "nodule",
        "labels": list(data.LABELS),
        "modality": "CT",
        "body_part": "CHEST",
        "input": geometry.card_input(),
        "architecture": {"name": "LesionCNN", "stem": 0, "widths": list(WIDTHS), "hidden": HIDDEN,
                         "parameters": int(sum(p.numel() for p in network.parameters()))},
        "weights": {"file": "model.safetensors", "sha256": hashlib.sha256(weights_bytes).hexdigest(),
                    "format": "safetensors"},
        "label_definition": {"name": definition, "meaning": data.DEFINITIONS[definition]},
        "training_data": {
            "name": "LIDC-IDRI lung nodule crops in HU with the radiologists' masks and ratings "
                    "(../shared/data/ct_lung_nodule, from LUNA16 / LIDC-IDRI)",
            "licence": "CC BY 3.0 (LIDC-IDRI, TCIA); see LICENCE.md in this folder for the citations",
            "path": "../shared/data/ct_lung_nodule",
            "excluded": dict(data.EXCLUDED),
            "split": {"by": "patient_id", "stratified_by": "the patient's labels (all benign / all malignant / "
                      "mixed)", "seed": data.SPLIT_SEED, "shares": list(data.SPLIT_SHARES),
                      "digest": data.split_digest(parts), "patients": {p: sorted(parts[p]) for p in data.SPLITS},
                      "nodules": {p: len(split[p][0]) for p in data.SPLITS},
                      "malignant": {p: int(split[p][1].sum()) for p in data.SPLITS}},
            "clicks": f"centred ({CENTRED_SHARE:.0%}) or displaced in-plane up to the radius + "
                      f"{DISPLACEMENT_EXTRA_MM:g} mm in a random direction, on a random slice showing the nodule"
                      + ("" if SLICE_REACH is None else f" within {SLICE_REACH:g} x the radius of its centre slice")
                      + "; a click whose field of view would leave the crop"
                      + (f" and its {geometry.crop_padding_mm:g} mm of lung-like padding" if geometry.crop_padding_mm
                         else "") + " is dropped",
            "clicks_dropped": {"dropped": dropped_total, "offered": offered},
            "slabs_mm": list(TRAINING_SLABS_MM),
            "augmentation": f"flips, 90° rotations, grid {SCALE_RANGE[0]:g}-{SCALE_RANGE[1]:g}x, HU offset "
                            "N(0, 20 HU) and gain 0.95-1.05, slab drawn from slabs_mm, click displaced",
            "class_balancing": "class-weighted cross entropy",
            "uses_nodule_masks": "lesion gate trained on the nodule masks, cut by the same mapping",
        },
        "training": {"command": command, "epochs_run": len(history), "planned_epochs": planned, "seed": seed,
                     "history": history, "wall_seconds": round(time.perf_counter() - started, 1),
                     "cpu_seconds": round(time.process_time() - cpu_started, 1),
                     "threads": torch.get_num_threads(), "machine": platform.machine(), "limit": limit,
                     "max_steps": max_steps, "minutes_budget": minutes,
                     "class_weights": dict(zip(data.LABELS, [round(w, 4) for w in class_weights], strict=True)),
                     "state": "the epoch with the best validation AUC (centred and displaced clicks, 5 mm slab)"
                              + (f"; weights: exponential moving average (decay {EMA_DECAY:g} per step)"
                                 if EMA_DECAY else ""),
                     "runtime_slab": {"chosen_on": "validation AUC, centred and displaced clicks",
                                      "validation_auc_by_slab_mm": {f"{k:g}": round(v, 4)
                                                                    for k, v in slab_auc.items()}}},
        "calibration": {"method": "temperature scaling on validation (centred and displaced clicks)",
                        "temperature": round(temperature, 4)},
        "operating_point": {"score": "P(malignant)", "threshold": round(threshold, 6),
                            "rule": THRESHOLD_RULE, "chosen_on": threshold_rule_text()},
        "intended_use": (
            "Lung nodule malignancy on a chest CT (HU): a click on a nodule the reader has found gives "
            "P(malignant), as LIDC-IDRI's radiologists rated such nodules, with the saliency over the slice. It "
            "assumes a nodule under the cursor; it does not find nodules, and a click on anything else (vessel, "
            "airway, normal lung) still gets an answer about a nodule that is not there. A click in the air "
            "outside the body is refused."),
        "assumes": "a nodule under the cursor; it does not find nodules",
        "inside_body": {"CT": BODY_CHECK["CT"]},
        "limitations": [
            "Labels are radiologists' suspicion ratings (LIDC-IDRI), not pathology.",
            f"Trained on nodules of 3.3-32.3 mm; a mass wider than the {2 * geometry.field_of_view_mm:g} mm field "
            "of view fills it, so the network sees no margin and answers from its texture alone (as it learnt from "
            "the largest training nodules).",
            "No non-nodule training samples: vessels, scars and normal lung are not known to it.",
            "Thin-slice LIDC-IDRI scans (0.45-2.5 mm); thick slices (5-8 mm) are emulated by slab averaging in "
            "training.",
            "Not validated for clinical use.",
        ],
        "research_use_only": True,
        "disclaimer": f"{DISCLAIMER}, not for diagnosis",
    }
    write_card(out, manifest)
    if progress:
        print(f"\nwrote {out}: {len(history)} epochs in {(time.perf_counter() - started) / 60:.1f} min; "
              f"slab {runtime_slab:g} mm, T {temperature:.3f}, threshold {threshold:.3f}; scoring validation "
              "and test...", file=sys.stderr)
    from medview.ai.manifest import read_card
    from medview.ai.nodule_eval import card_metrics

    manifest["metrics"] = card_metrics(dataset, read_card(out, verify=False), definition, network=network,
                                       splits=score_parts)
    manifest["limitations"] = with_size_statement(manifest["limitations"], manifest["metrics"])
    manifest["training"]["wall_seconds_with_scoring"] = round(time.perf_counter() - started, 1)
    write_card(out, manifest)
    if progress:
        part = "test" if "test" in score_parts else "validation"
        test = manifest["metrics"][part]
        print(f"{part}: AUC {test['auc']}, balanced accuracy {test['balanced_accuracy']}; size baseline AUC "
              f"{test['size_baseline']['auc']}", file=sys.stderr)
    return manifest


def fit_on_validation(network, val_crops, val_nodules, val_y, geometry: NoduleGeometry, seed: int):
    """What is chosen on validation once the weights are fixed (centred and displaced clicks, read as the viewer
    reads them): the run-time slab (best AUC), the temperature and the operating threshold. Returns (geometry
    with that slab, temperature, threshold, {slab_mm: AUC})."""
    slab_auc = {}
    for slab_mm in RUNTIME_SLABS_MM:
        xs = [fixed_examples(val_crops, val_nodules, val_y, geometry, seed, kind, slab_mm) for kind in
              ("centred", "displaced")]
        scores = metrics.softmax(logits_of(network, np.concatenate([e[0] for e in xs])))[:, 1]
        slab_auc[slab_mm] = metrics.roc_auc(scores, np.concatenate([e[1] for e in xs]) == 1)
    runtime_slab = max(RUNTIME_SLABS_MM, key=lambda s: (slab_auc[s] if slab_auc[s] == slab_auc[s] else -1, s))
    geometry = NoduleGeometry(**{**geometry.__dict__, "slab_mm": runtime_slab})
    xs = [fixed_examples(val_crops, val_nodules, val_y, geometry, seed, kind) for kind in ("centred", "displaced")]
    val_x, val_t = np.concatenate([e[0] for e in xs]), np.concatenate([e[1] for e in xs])
    val_logits = logits_of(network, val_x)
    temperature = metrics.fit_temperature(val_logits, val_t) if len(set(val_t.tolist())) == 2 else 1.0
    threshold = operating_threshold(metrics.softmax(val_logits, temperature)[:, 1], val_t == 1)
    return geometry, temperature, threshold, slab_auc


def refit_reading(folder: str | Path, dataset: str | Path, version: str, why: str) -> dict:
    """A bundled model's card after a change in how a click is read (not in its weights): the run-time slab,
    temperature and threshold fitted again on validation as training fits them, the figures scored again, the
    version raised and the change recorded under `training.revisions`. Writes the sealed card; returns it."""
    from medview.ai.infer import classifier_for
    from medview.ai.manifest import read_card
    from medview.ai.nodule_eval import card_definition, card_metrics, card_parts

    card = read_card(folder)
    network = classifier_for(card).network
    definition = card_definition(card)
    seed = int(card.raw["training"]["seed"])
    val_nodules, val_y = data.part_of(data.read_nodules(dataset), card_parts(card)["val"], definition)
    val_crops = [data.load_crop(dataset, n) for n in val_nodules]
    geometry, temperature, threshold, slab_auc = fit_on_validation(
        network, val_crops, val_nodules, val_y, NoduleGeometry.from_card(card.input), seed)
    manifest = {k: v for k, v in card.raw.items() if k != "integrity"}
    revision = {"from_version": manifest["version"], "version": version, "why": why,
                "refitted_on_validation": {"runtime_slab_mm": geometry.slab_mm, "temperature": round(temperature, 4),
                                           "threshold": round(threshold, 6)}}
    manifest["version"] = version
    manifest["input"] = geometry.card_input()
    manifest["training"] = {**manifest["training"], "revisions": [*manifest["training"].get("revisions", []),
                                                                  revision]}
    manifest["training"]["runtime_slab"] = {**manifest["training"]["runtime_slab"], "validation_auc_by_slab_mm": {
        f"{k:g}": round(v, 4) for k, v in slab_auc.items()}}
    manifest["calibration"] = {**manifest["calibration"], "temperature": round(temperature, 4)}
    manifest["operating_point"] = {**manifest["operating_point"], "threshold": round(threshold, 6)}
    write_card(Path(folder), manifest)
    manifest["metrics"] = card_metrics(dataset, read_card(folder, verify=False), definition, network=network)
    manifest["limitations"] = with_size_statement(manifest.get("limitations", []), manifest["metrics"])
    write_card(Path(folder), manifest)
    return manifest


def with_size_statement(limitations: list[str], figures: dict) -> list[str]:
    """The card's limitations with the sentence comparing the model with the size-only baseline
    (`nodule_eval.size_statement`) in place of any older one, before the last line ("Not validated for clinical
    use.")."""
    from medview.ai.nodule_eval import SIZE_STATEMENT, size_statement

    kept = [line for line in limitations if not line.startswith(SIZE_STATEMENT)]
    statement = size_statement(figures)
    if statement is None:
        return kept
    return [*kept[:-1], statement, *kept[-1:]]


def write_card(out: Path, manifest: dict) -> None:
    manifest.pop("integrity", None)
    sealed = seal(manifest)
    manifest.update(sealed)
    write_bytes(Path(out) / MANIFEST, (json.dumps(sealed, indent=2) + "\n").encode())
