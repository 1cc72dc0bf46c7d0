"""Classification figures from probabilities: numpy only, the same for training, the card and `evaluate`."""

from __future__ import annotations

import numpy as np

ECE_BINS = 15


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, targets: np.ndarray, temperature: float = 1.0) -> float:
    p = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(targets)), targets], 1e-12, 1.0))))


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood (grid, then refined): on validation only."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 121))
    best = min(grid, key=lambda t: nll(logits, targets, t))
    fine = np.linspace(best * 0.95, best * 1.05, 41)
    return float(min(fine, key=lambda t: nll(logits, targets, t)))


def ece(probabilities: np.ndarray, targets: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error on the top probability, equal-width bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == targets
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def roc_auc(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve by the rank statistic (ties counted half); NaN without both classes."""
    positives = positives.astype(bool)
    n_pos, n_neg = positives.sum(), (~positives).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def classification_report(probabilities: np.ndarray, targets: np.ndarray, labels: list[str]) -> dict:
    predicted = probabilities.argmax(axis=1)
    n = len(labels)
    confusion = np.zeros((n, n), dtype=int)
    for truth, guess in zip(targets, predicted, strict=True):
        confusion[truth, guess] += 1
    per_class = {}
    for i, label in enumerate(labels):
        tp = confusion[i, i]
        precision = tp / confusion[:, i].sum() if confusion[:, i].sum() else 0.0
        recall = tp / confusion[i].sum() if confusion[i].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": round(float(precision), 4), "recall": round(float(recall), 4),
                            "f1": round(float(f1), 4), "support": int(confusion[i].sum())}
    aucs = [roc_auc(probabilities[:, i], targets == i) for i in range(n)]
    valid = [a for a in aucs if a == a]
    return {
        "n": int(len(targets)),
        "accuracy": round(float((predicted == targets).mean()), 4),
        "balanced_accuracy": round(float(np.mean([per_class[x]["recall"] for x in labels
                                                   if per_class[x]["support"]] or [0.0])), 4),
        "macro_auc": round(float(np.mean(valid)), 4) if valid else None,
        "per_class": per_class,
        "confusion": {"labels": labels, "rows_truth_columns_predicted": confusion.tolist()},
        "ece": round(ece(probabilities, targets), 4),
    }


def pointing_game(peaks_rc: list[tuple[int, int]], boxes: list[tuple[int, int, int, int]]) -> float:
    """Share of images whose saliency peak (row, column) lies in the tumour box (x0, y0, x1, y1 inclusive)."""
    hits = [x0 <= c <= x1 and y0 <= r <= y1 for (r, c), (x0, y0, x1, y1) in zip(peaks_rc, boxes, strict=True)]
    return round(float(np.mean(hits)), 4) if hits else float("nan")
