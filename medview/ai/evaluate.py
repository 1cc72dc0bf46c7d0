"""`medview evaluate`: a model's figures on a labels.csv dataset, by the split its card records.

On the dataset a model was trained on (its card's patient families are found there) the default is the card's
test part, using the families the card lists (never a re-drawn split); on any other dataset, every row. A patch
model is scored on patches cut as in training (fixed seed), with its "no tumour" patches drawn from the
whole head as in training and, beside them, from brain tissue away from the tumour as version 1.0 drew them.
Figures: accuracy, per-class precision / recall / F1, macro one-vs-rest ROC AUC, confusion matrix, ECE before
and after temperature scaling and, where boxes exist, the Grad-CAM pointing game beside a baseline that always
points at the centre.

`evaluate_slice_answer` scores the answer the app gives for a slice — the detector searched over the whole
slice, then the type at the place found — on whole dataset slices (`medview.ai.slice_level`).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np

from medview.ai import dataset as data
from medview.ai import metrics
from medview.ai.inputs import DATASET_MM_PER_PIXEL
from medview.ai.manifest import NO_TUMOUR, ModelCard
from medview.errors import MedviewError

PATCH_SEED = 11
NORMAL = NO_TUMOUR


def trained_on_this(card: ModelCard, rows: list[data.Row]) -> bool:
    families = card.raw.get("training_data", {}).get("split", {}).get("families", {})
    listed = {f for part in families.values() for f in part}
    return bool(listed) and listed <= {row.family for row in rows}


def choose_rows(card: ModelCard, rows: list[data.Row], split: str | None) -> tuple[list[data.Row], str]:
    """The rows to score and the name of that choice."""
    own = trained_on_this(card, rows)
    if split is None:
        split = "test" if own else "all"
    if split == "all":
        return list(rows), "all"
    if not own:
        raise MedviewError(f"{card.name} was not trained on this dataset: only --split all applies")
    families = set(card.raw["training_data"]["split"]["families"][split])
    return [row for row in rows if row.family in families], split


def setup_of(card: ModelCard):
    """The input geometry a card records, as `medview.ai.train` cuts its examples (never the current defaults)."""
    from medview.ai.train import TaskSetup

    return TaskSetup(size=card.size, mm_per_pixel=card.mm_per_pixel, widths=(), patch_mm=card.patch_mm)


def evaluate(dataset: str | Path, card: ModelCard, split: str | None = None, pointing: bool = True,
             limit: int | None = None) -> dict:
    import torch

    from medview.ai.infer import classifier_for
    from medview.ai.inputs import slice_input
    from medview.ai.saliency import grad_cam
    from medview.ai.train import logits_of, patch_examples, slice_examples

    started = time.perf_counter()
    rows = data.read_labels(dataset)
    chosen, split_name = choose_rows(card, rows, split)
    if limit:
        chosen = chosen[:limit]
    tumour_labels = [x for i, x in enumerate(card.labels) if i != card.negative_index]
    unknown = sorted({row.label for row in chosen} - set(tumour_labels))
    if unknown:
        raise MedviewError(f"{card.name} does not know the labels {', '.join(unknown)}")
    images, masks = data.load_arrays(dataset, chosen)
    setup = setup_of(card)
    y = np.array([tumour_labels.index(row.label) for row in chosen], dtype=np.int64)
    if card.task == "slice":
        x, _ = slice_examples(images, masks, setup)
    else:
        brain_x, _, brain_y = patch_examples(images, masks, list(y), setup, random.Random(PATCH_SEED), 2, 2,
                                             negatives="brain")
        x, _, y = patch_examples(images, masks, list(y), setup, random.Random(PATCH_SEED), 2, 2, negatives="head")
    network = classifier_for(card).network
    logits = logits_of(network, x)
    labels = list(card.labels)
    calibrated = metrics.softmax(logits, card.temperature)
    report = metrics.classification_report(calibrated, y, labels)
    report["ece_before_calibration"] = round(metrics.ece(metrics.softmax(logits), y), 4)
    report["ece_after_calibration"] = report.pop("ece")
    report.update({"model": {"name": card.name, "version": card.version, "sha256": card.weights_sha256},
                   "dataset": str(dataset), "split": split_name, "images": len(chosen),
                   "temperature": card.temperature})
    if card.is_detector:
        negative = card.negative_index
        report["negatives"] = "whole head outside the dilated tumour, as in training"
        report["detector"] = detector_figures(calibrated[:, negative], y == negative, card.patch_threshold)
        brain = metrics.softmax(logits_of(network, brain_x), card.temperature)
        report["detector_brain_negatives"] = {
            **detector_figures(brain[:, negative], brain_y == negative, card.patch_threshold),
            "accuracy": metrics.classification_report(brain, brain_y, labels)["accuracy"],
            "negatives": "brain tissue away from the tumour, as version 1.0 drew them"}
    if card.task == "slice" and pointing and all(row.box for row in chosen):
        # the peak of the saliency as the product shows it: Grad-CAM put back onto the image's own pixels
        peaks = []
        spacing = (DATASET_MM_PER_PIXEL, DATASET_MM_PER_PIXEL)
        for index in range(len(x)):
            tensor = torch.from_numpy(x[index:index + 1].copy())
            cam = grad_cam(network, tensor, int(logits[index].argmax()))
            _, placement = slice_input(images[index], spacing, card.size, card.mm_per_pixel)
            heat = placement.to_source(cam)
            peaks.append(np.unravel_index(int(heat.argmax()), heat.shape))
        boxes = [row.box for row in chosen]
        centre = (images.shape[1] // 2, images.shape[2] // 2)
        report["pointing_game"] = {
            "gradcam": metrics.pointing_game(peaks, boxes),
            "centre_baseline": metrics.pointing_game([centre] * len(boxes), boxes),
            "note": "share of slices whose saliency peak lies inside the tumour box",
        }
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def evaluate_slice_answer(dataset: str | Path, card: ModelCard, split: str | None = None, pointing: bool = True,
                          limit: int | None = None) -> dict:
    """The slice answer as the app gives it: the detector searched over each whole dataset slice, flagged at the
    card's slice operating point, typed at the place found; with the Grad-CAM of that place for the pointing
    game (a slice not flagged points nowhere)."""
    import torch

    from medview.ai.infer import classifier_for
    from medview.ai.inputs import png_unit_range
    from medview.ai.saliency import grad_cam
    from medview.ai.slice_level import search_dataset_slices, slice_figures
    from medview.ai.train import SLICE_FREE_MARGIN_MM, SPACING

    if not card.is_detector or card.slice_threshold is None:
        raise MedviewError(f"{card.name} is not a detector with a slice operating point")
    started = time.perf_counter()
    chosen, split_name = choose_rows(card, data.read_labels(dataset), split)
    chosen = chosen[:limit] if limit else chosen
    tumour_labels = [x for i, x in enumerate(card.labels) if i != card.negative_index]
    images, masks = data.load_arrays(dataset, chosen)
    targets = np.array([tumour_labels.index(row.label) for row in chosen], dtype=np.int64)
    classifier = classifier_for(card)
    searches = search_dataset_slices(classifier, images, masks, SPACING, SLICE_FREE_MARGIN_MM,
                                     card.negative_index)
    boxes = [row.box for row in chosen]
    figures = slice_figures(searches, card.slice_threshold, targets, masks, boxes, tumour_labels,
                            card.negative_index)
    types = figures["type_at_tumour"]
    report = {
        "model": {"name": card.name, "version": card.version, "sha256": card.weights_sha256},
        "answer": "slice: the detector searched over the slice, then the tumour type at the place found",
        "dataset": str(dataset), "split": split_name, "images": len(chosen), "n": len(chosen),
        "temperature": card.temperature,
        "accuracy": types["accuracy"], "balanced_accuracy": types["balanced_accuracy"],
        "macro_auc": types["macro_auc"], "ece_after_calibration": types["ece"], "ece_before_calibration": None,
        "per_class": types["per_class"], "confusion": types["confusion"],
        "type_note": "tumour type at the highest-scoring place inside the tumour, probabilities renormalised over "
                     "the tumour types",
        "detector": {"sensitivity": figures["sensitivity_found_inside_tumour"],
                     "specificity": round(1 - card.slice_false_flag_rate, 4)
                     if card.slice_false_flag_rate is not None else None,
                     "specificity_note": "1 - the card's estimated false-flag rate per tumour-free slice (validation)",
                     "false_flag_rate_on_tumour_free_parts": figures["false_flag_rate_on_tumour_free_parts"],
                     "threshold": card.slice_threshold},
        "slice_level": figures,
    }
    if pointing and all(boxes):
        hits = []
        for index, search in enumerate(s.whole for s in searches):
            if search.score is None or search.score < card.slice_threshold:
                hits.append(False)
                continue
            x, placement = classifier.model_input(png_unit_range(images[index]), SPACING, search.point,
                                                  already_unit=True)
            label, _ = card.tumour_type(search.probabilities)
            heat = placement.to_source(grad_cam(classifier.network, torch.from_numpy(x[None, None].copy()),
                                                card.labels.index(label)))
            r, c = np.unravel_index(int(heat.argmax()), heat.shape)
            hits.append(metrics.pointing_game([(r, c)], [boxes[index]]) == 1.0)
        centre = (images.shape[1] // 2, images.shape[2] // 2)
        report["pointing_game"] = {
            "gradcam": round(float(np.mean(hits)), 4),
            "centre_baseline": metrics.pointing_game([centre] * len(boxes), boxes),
            "note": "share of slices whose answer's saliency peak lies inside the tumour box (not flagged: a miss)",
        }
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def format_slice_answer(report: dict) -> str:
    figures, detector = report["slice_level"], report["detector"]
    lines = [f"{report['model']['name']} {report['model']['version']} (sha256 {report['model']['sha256'][:12]}) "
             f"on {report['dataset']}, split {report['split']}: {report['images']} slices, searched as a series run",
             f"slice operating point {detector['threshold']}: tumour found inside the tumour on "
             f"{figures['sensitivity_found_inside_tumour']} of tumour slices (flagged {figures['flagged']}); "
             f"false flags on the tumour-free parts {figures['false_flag_rate_on_tumour_free_parts']}; "
             f"found place inside the tumour box {figures['found_place_inside_tumour_box_of_flagged']} of flagged",
             f"tumour type at the tumour: accuracy {report['accuracy']}, balanced accuracy "
             f"{report['balanced_accuracy']}, macro AUC {report['macro_auc']}, ECE {report['ece_after_calibration']}",
             f"slice answer right (found inside the tumour, right type): {figures['slice_answer_right']}"]
    if "pointing_game" in report:
        game = report["pointing_game"]
        lines.append(f"pointing game: Grad-CAM {game['gradcam']}, centre baseline {game['centre_baseline']}")
    return "\n".join(lines)


def detector_figures(p_normal: np.ndarray, is_normal: np.ndarray, threshold: float | None) -> dict:
    """Tumour against no tumour on P(tumour) = 1 - P(no tumour): AUC, and the card's place operating point."""
    score = 1.0 - p_normal
    tumour = ~is_normal
    figures = {"auc_tumour_vs_normal": round(metrics.roc_auc(score, tumour), 4), "threshold": threshold}
    if threshold is not None:
        figures["sensitivity"] = round(float((score[tumour] >= threshold).mean()), 4) if tumour.any() else None
        figures["specificity"] = round(float((score[~tumour] < threshold).mean()), 4) if (~tumour).any() else None
    return figures


def format_report(report: dict) -> str:
    lines = [f"{report['model']['name']} {report['model']['version']} (sha256 {report['model']['sha256'][:12]}) "
             f"on {report['dataset']}, split {report['split']}: {report['images']} images, {report['n']} examples",
             f"accuracy {report['accuracy']}, balanced accuracy {report['balanced_accuracy']}, "
             f"macro AUC {report['macro_auc']}",
             f"ECE (15 bins) {report['ece_before_calibration']} before, {report['ece_after_calibration']} after "
             f"temperature scaling (T = {report['temperature']})"]
    lines.append(f"{'class':<14} {'precision':>9} {'recall':>7} {'F1':>7} {'n':>6}")
    for label, row in report["per_class"].items():
        lines.append(f"{label:<14} {row['precision']:>9} {row['recall']:>7} {row['f1']:>7} {row['support']:>6}")
    labels = report["confusion"]["labels"]
    lines.append("confusion (rows truth, columns predicted): " + ", ".join(labels))
    for label, counts in zip(labels, report["confusion"]["rows_truth_columns_predicted"], strict=True):
        lines.append(f"  {label:<14} " + " ".join(f"{c:>6}" for c in counts))
    if "detector" in report:
        d = report["detector"]
        lines.append(f"tumour vs no tumour (whole head): AUC {d['auc_tumour_vs_normal']}; at the card's place "
                     f"operating point P(tumour) >= {d['threshold']}: sensitivity {d.get('sensitivity')}, "
                     f"specificity {d.get('specificity')}")
    if "detector_brain_negatives" in report:
        d = report["detector_brain_negatives"]
        lines.append(f"tumour vs brain tissue away from it (as in 1.0): AUC {d['auc_tumour_vs_normal']}, "
                     f"sensitivity {d.get('sensitivity')}, specificity {d.get('specificity')}")
    if "pointing_game" in report:
        game = report["pointing_game"]
        lines.append(f"pointing game: Grad-CAM {game['gradcam']}, centre baseline {game['centre_baseline']}")
    return "\n".join(lines)
