"""Classification figures from probabilities, the same for training, the card and `evaluate`.

scikit-learn computes the confusion matrix, precision / recall / F1 and the ROC AUCs; scipy fits the
temperature. The expected calibration error (ECE), which neither library offers, is the one short function kept
here: equal-width bins on the top probability.
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 15


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    from scipy.special import softmax as scipy_softmax

    return scipy_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


def nll(logits: np.ndarray, targets: np.ndarray, temperature: float = 1.0) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(targets, softmax(logits, temperature), labels=list(range(np.shape(logits)[1]))))


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood, on validation only (bounded 0.05–20)."""
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(lambda log_t: nll(logits, targets, float(np.exp(log_t))),
                             bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def ece(probabilities: np.ndarray, targets: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error on the top probability, equal-width bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == targets
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in np.unique(which):
        inside = which == b
        total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def roc_auc(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve; NaN without both classes."""
    from sklearn.metrics import roc_auc_score

    positives = np.asarray(positives, dtype=bool)
    if positives.all() or not positives.any():
        return float("nan")
    return float(roc_auc_score(positives, scores))


def classification_report(probabilities: np.ndarray, targets: np.ndarray, labels: list[str]) -> dict:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    predicted = probabilities.argmax(axis=1)
    classes = list(range(len(labels)))
    confusion = confusion_matrix(targets, predicted, labels=classes)
    precision, recall, f1, support = precision_recall_fscore_support(targets, predicted, labels=classes,
                                                                     zero_division=0)
    per_class = {label: {"precision": round(float(precision[i]), 4), "recall": round(float(recall[i]), 4),
                         "f1": round(float(f1[i]), 4), "support": int(support[i])}
                 for i, label in enumerate(labels)}
    aucs = [roc_auc(probabilities[:, i], targets == i) for i in classes]
    valid = [a for a in aucs if a == a]
    present = [float(recall[i]) for i in classes if support[i]]
    return {
        "n": int(len(targets)),
        "accuracy": round(float((predicted == targets).mean()), 4) if len(targets) else None,
        # balanced accuracy over the classes present (scikit-learn's warns and drops absent ones alike)
        "balanced_accuracy": round(float(np.mean(present)), 4) if present else None,
        "macro_auc": round(float(np.mean(valid)), 4) if valid else None,
        "per_class": per_class,
        "confusion": {"labels": labels, "rows_truth_columns_predicted": confusion.tolist()},
        "ece": round(ece(probabilities, targets), 4) if len(targets) else None,
    }


def pointing_game(peaks_rc: list[tuple[int, int]], boxes: list[tuple[int, int, int, int]]) -> float:
    """Share of images whose saliency peak (row, column) lies in the tumour box (x0, y0, x1, y1 inclusive)."""
    hits = [x0 <= c <= x1 and y0 <= r <= y1 for (r, c), (x0, y0, x1, y1) in zip(peaks_rc, boxes, strict=True)]
    return round(float(np.mean(hits)), 4) if hits else float("nan")
