"""`medview evaluate DATASET` for a nodule model: its figures beside a size-only baseline, on the same patients.

The patients are the card's (validation, test); every input is cut by `medview.ai.nodule_input` as at run
time (the card's slab). Per part:

- the model with **centred clicks** (every nodule) and with **displaced clicks** (in-plane up to the radius
  + 3 mm, on a slice showing the nodule, fixed seed; a click whose field of view leaves the crop is dropped
  and counted): AUC, balanced accuracy, sensitivity and specificity at the card's threshold, ECE before and
  after temperature scaling;
- the **size baseline**: logistic regression on `diameter_mm` fitted on the card's training patients, its
  threshold chosen on validation by the same rule as the model's (the card's `operating_point.rule`); AUC and
  balanced accuracy on the same nodules, and a paired bootstrap (resampling patients) 95 % interval of the AUC
  difference;
- the AUC with slabs of 0 (the clicked slice), 2, 5 and 8 mm: thin and thick series;
- **saliency** with clicks just outside the nodule (2 to 5 mm outside its mask's edge, i.e. the radius + 2 to
  5 mm along the way out) on its centre slice: the
  share of cases whose Grad-CAM peak (inside the field of view) lies in the nodule mask dilated by 2 mm, beside
  the click-point baseline, and the share of positive saliency inside that dilated mask against its share of
  the field of view.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np

from medview.ai import metrics
from medview.ai import nodule_data as data
from medview.ai.manifest import ModelCard
from medview.ai.nodule_input import NoduleGeometry, field_of_view
from medview.errors import MedviewError

EVAL_SEED = 11
BOOTSTRAP = 2000
SLABS_MM = (0.0, 2.0, 5.0, 8.0)
SALIENCY_OUTSIDE_MM = (2.0, 5.0)
DILATION_MM = 2.0


def card_parts(card: ModelCard) -> dict[str, set[str]]:
    patients = card.raw.get("training_data", {}).get("split", {}).get("patients")
    if not isinstance(patients, dict) or not all(p in patients for p in data.SPLITS):
        raise MedviewError(f"{card.name}: its card lists no patient split")
    return {p: set(patients[p]) for p in data.SPLITS}


def card_definition(card: ModelCard) -> str:
    return (card.raw.get("label_definition") or {}).get("name", "dataset")


def binary_figures(p_malignant: np.ndarray, p_before: np.ndarray, y: np.ndarray, threshold: float) -> dict:
    """AUC, and at the threshold: sensitivity, specificity, balanced accuracy; ECE before and after scaling."""
    positive = y == 1
    called = p_malignant >= threshold
    sensitivity = float(called[positive].mean()) if positive.any() else float("nan")
    specificity = float((~called[~positive]).mean()) if (~positive).any() else float("nan")
    two = lambda p: np.stack([1 - p, p], axis=1)  # noqa: E731
    return {"n": int(len(y)), "malignant": int(positive.sum()),
            "auc": _round(metrics.roc_auc(p_malignant, positive)),
            "balanced_accuracy": _round((sensitivity + specificity) / 2),
            "sensitivity": _round(sensitivity), "specificity": _round(specificity), "threshold": round(threshold, 6),
            "ece_before_calibration": _round(metrics.ece(two(p_before), y)) if len(y) else None,
            "ece_after_calibration": _round(metrics.ece(two(p_malignant), y)) if len(y) else None}


def _round(value: float, digits: int = 4):
    return None if value != value else round(float(value), digits)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, y: np.ndarray, groups: list[str], resamples: int = BOOTSTRAP,
                     seed: int = EVAL_SEED) -> dict:
    """AUC(a) − AUC(b) on the same cases, with a 95 % percentile interval from resampling patients."""
    groups = np.asarray(groups)
    names = np.unique(groups)
    members = [np.flatnonzero(groups == g) for g in names]
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(resamples):
        index = np.concatenate([members[i] for i in rng.integers(0, len(names), len(names))])
        if len(np.unique(y[index])) < 2:
            continue
        differences.append(rank_auc(a[index], y[index]) - rank_auc(b[index], y[index]))
    observed = metrics.roc_auc(a, y == 1) - metrics.roc_auc(b, y == 1)
    low, high = (np.percentile(differences, [2.5, 97.5]) if differences else (float("nan"),) * 2)
    return {"auc_difference": _round(observed), "ci95": [_round(low), _round(high)],
            "resamples": len(differences), "resampled": "patients", "above_zero": bool(low > 0)}


def rank_auc(scores: np.ndarray, y: np.ndarray) -> float:
    """The ROC AUC as the Mann–Whitney U statistic (ties count half): the same number as scikit-learn's
    roc_auc_score (a test holds them equal), fast enough for thousands of bootstrap resamples."""
    from scipy.stats import rankdata

    positive = np.asarray(y) == 1
    n1, n0 = int(positive.sum()), int((~positive).sum())
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


class SizeBaseline:
    """Logistic regression on the nodule diameter (scikit-learn), fitted on the training patients."""

    def __init__(self, train_nodules: list[data.Nodule], train_y: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        self.model = LogisticRegression().fit(self._x(train_nodules), train_y)
        self.threshold = 0.5

    @staticmethod
    def _x(nodules: list[data.Nodule]) -> np.ndarray:
        return np.array([[n.diameter_mm] for n in nodules])

    def scores(self, nodules: list[data.Nodule]) -> np.ndarray:
        return self.model.predict_proba(self._x(nodules))[:, 1]

    def card(self) -> dict:
        return {"model": "logistic regression on diameter_mm (scikit-learn), fitted on the training patients",
                "coefficient_per_mm": _round(float(self.model.coef_[0, 0]), 5),
                "intercept": _round(float(self.model.intercept_[0]), 5), "threshold": round(self.threshold, 6)}


class Scorer:
    """A network (the card's, or the one being trained) with the card's input geometry and calibration."""

    def __init__(self, card: ModelCard, network=None) -> None:
        if network is None:
            from medview.ai.infer import classifier_for

            network = classifier_for(card).network
        self.network = network
        self.geometry = NoduleGeometry.from_card(card.input)
        self.temperature = card.temperature
        self.threshold = card.patch_threshold if card.patch_threshold is not None else 0.5

    def probabilities(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(malignant) after and before temperature scaling."""
        from medview.ai.train import logits_of

        logits = logits_of(self.network, x)
        if len(x) == 0:
            return np.zeros(0), np.zeros(0)
        return metrics.softmax(logits, self.temperature)[:, 1], metrics.softmax(logits)[:, 1]


def click_figures(scorer: Scorer, baseline: SizeBaseline, crops, nodules, y, kind: str,
                  slab_mm: float | None = None, bootstrap: bool = True) -> dict:
    from medview.ai.nodule_train import fixed_examples

    x, t, kept, dropped = fixed_examples(crops, nodules, y, scorer.geometry, EVAL_SEED, kind, slab_mm)
    p, p_before = scorer.probabilities(x)
    figures = binary_figures(p, p_before, t, scorer.threshold)
    figures["clicks"] = kind
    figures["dropped_clicks"] = {"dropped": dropped, "of": len(nodules),
                                 "why": "the click's field of view would leave the crop"}
    chosen = [nodules[i] for i in kept]
    base = baseline.scores(chosen)
    base_called = base >= baseline.threshold
    positive = t == 1
    sens = float(base_called[positive].mean()) if positive.any() else float("nan")
    spec = float((~base_called[~positive]).mean()) if (~positive).any() else float("nan")
    figures["size_baseline"] = {"auc": _round(metrics.roc_auc(base, positive)),
                                "balanced_accuracy": _round((sens + spec) / 2), "sensitivity": _round(sens),
                                "specificity": _round(spec), "threshold": round(baseline.threshold, 6),
                                "n": int(len(t))}
    if bootstrap and len(t):
        figures["model_minus_size_baseline"] = paired_bootstrap(p, base, t, [n.patient_id for n in chosen])
    return figures


def edge_click(crop, nodule, geometry: NoduleGeometry, rng: random.Random):
    """A click just outside the nodule on its centre slice: a random pixel 2 to 5 mm from the mask's edge (so the
    click itself is never inside the mask dilated by 2 mm), among those whose field of view lies inside the
    crop (and its lung-like padding); None when there is none."""
    from scipy import ndimage

    from medview.ai.nodule_train import Click, centred_click, click_fits

    k = centred_click(nodule, crop).k
    mask = crop.mask[k] > 0
    if not mask.any():
        return None
    spacing = crop.spacing_zyx[1:]
    distance = ndimage.distance_transform_edt(~mask, sampling=spacing)
    rows, columns = np.nonzero((distance > SALIENCY_OUTSIDE_MM[0]) & (distance <= SALIENCY_OUTSIDE_MM[1]))
    fits = [i for i in range(len(rows)) if click_fits(crop, Click(k, float(rows[i]), float(columns[i])), geometry)]
    if not fits:
        return None
    i = fits[rng.randrange(len(fits))]
    return Click(k, float(rows[i]), float(columns[i]))


def saliency_figures(scorer: Scorer, crops, nodules, seed: int = EVAL_SEED) -> dict:
    """The pointing game with clicks just outside the nodule (2 to 5 mm from its edge, centre slice), read on the
    clicked slice itself (not moved to `widest_section`: there the click may lie on the nodule, and the figure
    would no longer ask whether the map finds a nodule that is off the input's centre)."""
    import torch
    from scipy import ndimage

    from medview.ai.nodule_train import crop_input
    from medview.ai.saliency import grad_cam

    geometry = scorer.geometry
    disc = field_of_view(geometry)
    rng = random.Random(seed)
    hits, click_hits, inside_shares, area_shares, dropped = [], [], [], [], 0
    for crop, nodule in zip(crops, nodules, strict=True):
        click = edge_click(crop, nodule, geometry, rng)
        if click is None:
            dropped += 1
            continue
        x, _ = crop_input(crop, click, geometry)
        mask = clicked_slice_mask(crop, click, geometry)
        outside = ndimage.distance_transform_edt(~mask, sampling=geometry.mm_per_pixel)
        near = (outside <= DILATION_MM) & disc
        tensor = torch.from_numpy(x[None, None].copy())
        with torch.no_grad():
            target = int(scorer.network(tensor).argmax())
        cam = grad_cam(scorer.network, tensor, target) * disc
        peak = np.unravel_index(int(cam.argmax()), cam.shape)
        hits.append(bool(near[peak]) and cam.max() > 0)
        centre = geometry.size // 2  # the click lies between the four middle pixels of an even-sized input
        click_hits.append(bool(near[centre - 1:centre + 1, centre - 1:centre + 1].all()))
        positive = np.clip(cam, 0, None)
        inside_shares.append(float(positive[near].sum() / positive.sum()) if positive.sum() > 0 else 0.0)
        area_shares.append(float(near.sum() / disc.sum()))
    return {"clicks": f"on the nodule's centre slice, {SALIENCY_OUTSIDE_MM[0]:g} to {SALIENCY_OUTSIDE_MM[1]:g} mm "
                      "outside its mask (random pixel of that ring whose field of view lies in the crop)",
            "n": len(hits), "dropped_clicks": dropped,
            "dropped_why": "no pixel of the ring with its field of view inside the crop, or no mask on the slice",
            "peak_in_mask_dilated_2mm": _round(float(np.mean(hits))) if hits else None,
            "click_point_baseline": _round(float(np.mean(click_hits))) if click_hits else None,
            "positive_saliency_share_in_dilated_mask": _round(float(np.mean(inside_shares))) if hits else None,
            "dilated_mask_share_of_field_of_view": _round(float(np.mean(area_shares))) if hits else None,
            "method": "Grad-CAM on the lesion gate, of the predicted class, inside the field of view"}


def clicked_slice_mask(crop, click, geometry: NoduleGeometry) -> np.ndarray:
    """The nodule mask of the clicked slice alone, cut like the input (bool), for the saliency figures."""
    from medview.ai.nodule_input import mask_input

    m = mask_input(lambda j: crop.mask[j], crop.z_mm, crop.spacing_zyx[1:], click.k, (click.row, click.column),
                   geometry, 0.0)
    return m >= 0.5


def part_figures(scorer: Scorer, baseline: SizeBaseline, dataset, nodules, y) -> dict:
    crops = [data.load_crop(dataset, n) for n in nodules]
    figures = click_figures(scorer, baseline, crops, nodules, y, "centred")
    figures["patients"] = len({n.patient_id for n in nodules})
    figures["displaced_clicks"] = click_figures(scorer, baseline, crops, nodules, y, "displaced")
    figures["slabs"] = {}
    for slab_mm in SLABS_MM:  # the same network on thin and thick slabs, centred clicks
        slab = click_figures(scorer, baseline, crops, nodules, y, "centred", slab_mm, bootstrap=False)
        figures["slabs"][f"{slab_mm:g} mm"] = {k: slab[k] for k in ("auc", "balanced_accuracy", "n")}
    figures["saliency"] = saliency_figures(scorer, crops, nodules)
    return figures


def card_metrics(dataset, card: ModelCard, definition: str | None = None, network=None,
                 splits: tuple[str, ...] = ("val", "test"), limit: int | None = None) -> dict:
    """Validation and test figures of a nodule model (used by `medview train` for the card and by `evaluate`)."""
    definition = definition or card_definition(card)
    nodules = data.read_nodules(dataset)
    parts = card_parts(card)
    known = {n.patient_id for n in nodules}
    if not set().union(*parts.values()) <= known:
        raise MedviewError(f"{card.name} was not trained on {dataset}: its patients are not all there")
    scorer = Scorer(card, network)
    train_nodules, train_y = data.part_of(nodules, parts["train"], definition)
    baseline = SizeBaseline(train_nodules, train_y)
    from medview.ai.nodule_train import operating_threshold

    val_nodules, val_y = data.part_of(nodules, parts["val"], definition)
    rule = (card.raw.get("operating_point") or {}).get("rule", "sensitivity")
    baseline.threshold = operating_threshold(baseline.scores(val_nodules), val_y == 1, rule)
    out = {"label_definition": definition, "size_baseline_model": baseline.card()}
    names = {"val": "validation", "test": "test", "train": "train"}
    for part in splits:
        chosen, y = data.part_of(nodules, parts[part], definition)
        if limit:
            chosen, y = chosen[:limit], y[:limit]
        out[names[part]] = part_figures(scorer, baseline, dataset, chosen, y)
    out["note"] = ("choices (state, slab, temperature, threshold, the baseline's threshold) made on validation; "
                   "test scored once")
    return out


SIZE_STATEMENT = "Against the nodule's diameter alone"


def size_statement(figures: dict) -> str | None:
    """The card's plain sentence on how the model ranks nodules against the size-only baseline on the test
    patients (centred clicks), from the figures `card_metrics` wrote; None before the test part is scored.
    A reader must see it where the model is used: its balanced accuracy can be higher while its ranking is not
    shown better than the annotated diameter's."""
    test = figures.get("test") or {}
    versus = test.get("model_minus_size_baseline")
    if not versus:
        return None
    low, high = versus["ci95"]
    verdict = ("it ranks nodules better (the interval lies above 0)" if versus["above_zero"] else
               "it is not shown to rank nodules better (the interval reaches 0 or below)")
    return (f"{SIZE_STATEMENT} (a logistic regression on the annotated diameter, fitted on the training patients), "
            f"{verdict}: test AUC {test['auc']:.3f} against {test['size_baseline']['auc']:.3f}, difference "
            f"{versus['auc_difference']:+.3f}, 95 % CI {low:+.3f} to {high:+.3f} over {test.get('patients', '?')} "
            "patients.")


def evaluate_nodules(dataset: str | Path, card: ModelCard, definition: str | None = None,
                     split: str | None = None, limit: int | None = None) -> dict:
    """The report of `medview evaluate` for a nodule model: the test part's figures at the top level (or the
    part asked for), validation beside them."""
    started = time.perf_counter()
    if card.task != "nodule":
        raise MedviewError(f"{card.name} is a {card.task} model, not a nodule model")
    definition = definition or card_definition(card)
    part = {"validation": "val", None: "test"}.get(split, split)
    if part not in data.SPLITS:
        raise MedviewError("--split must be train, val or test for a nodule model")
    splits = (part,) if part == "val" else (part, "val")
    figures = card_metrics(dataset, card, definition, splits=splits, limit=limit)
    names = {"val": "validation", "test": "test", "train": "train"}
    report = {"model": {"name": card.name, "version": card.version, "sha256": card.weights_sha256},
              "dataset": str(dataset), "split": part, **figures.pop(names[part])}
    report.update(figures)
    report["label_definition"] = definition
    report["card_label_definition"] = card_definition(card)
    report["temperature"] = card.temperature
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def format_nodule_report(report: dict) -> str:
    def line(name: str, f: dict) -> str:
        b = f["size_baseline"]
        text = (f"{name}: n {f['n']} ({f['malignant']} malignant): AUC {f['auc']}, balanced accuracy "
                f"{f['balanced_accuracy']}, sensitivity {f['sensitivity']}, specificity {f['specificity']} at "
                f"{f['threshold']}; ECE {f['ece_before_calibration']} before, {f['ece_after_calibration']} after "
                f"scaling | size baseline AUC {b['auc']}, balanced accuracy {b['balanced_accuracy']}")
        if "model_minus_size_baseline" in f:
            d = f["model_minus_size_baseline"]
            text += f" | AUC difference {d['auc_difference']} (95 % CI {d['ci95'][0]} to {d['ci95'][1]})"
        return text

    lines = [f"{report['model']['name']} {report['model']['version']} (sha256 {report['model']['sha256'][:12]}) on "
             f"{report['dataset']}, {report['split']} patients, labels: {report['label_definition']}",
             line("centred clicks", report),
             line("displaced clicks", report["displaced_clicks"]) +
             f" (dropped {report['displaced_clicks']['dropped_clicks']['dropped']})",
             "slabs: " + ", ".join(f"{k} AUC {v['auc']}" for k, v in report["slabs"].items())]
    s = report["saliency"]
    lines.append(f"saliency, clicks just outside the nodule (n {s['n']}): peak in the mask dilated by 2 mm "
                 f"{s['peak_in_mask_dilated_2mm']} (click point {s['click_point_baseline']}); positive saliency "
                 f"inside it {s['positive_saliency_share_in_dilated_mask']} against its area share "
                 f"{s['dilated_mask_share_of_field_of_view']}")
    if "validation" in report:
        lines.append(line("validation, centred clicks", report["validation"]))
    return "\n".join(lines)
