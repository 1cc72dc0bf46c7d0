"""The AI subcommands of `medview`: train, classify, evaluate. Nothing here imports torch at import time."""

from __future__ import annotations

import argparse
import shlex
import sys

from medview import cli_values
from medview.errors import MedviewError


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="train a model on a labels.csv dataset and write its model folder")
    train.add_argument("dataset", help="a folder with labels.csv (the brain_tumor_mri or ct_lung_nodule format)")
    train.add_argument("--task", choices=("slice", "patch", "nodule"), required=True,
                       help="nodule: lung nodule malignancy from a click on a chest CT (ct_lung_nodule)")
    train.add_argument("--labels", choices=("dataset", "rating"), default="dataset",
                       help="nodule: the dataset's label (default) or the malignancy rating (4-5 malignant, 1-2 "
                            "benign, 3 left out)")
    train.add_argument("--out", required=True, help="the model folder to write")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--patience", type=int, default=8, help="early stopping on the validation NLL")
    train.add_argument("--minutes", type=float,
                       help="a wall-clock budget: the epochs are planned after the first one to fit it")
    train.add_argument("--seed", type=int, default=7)
    train.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    train.add_argument("--name", help="model name (default brain-tumour-TASK, lung-nodule-malignancy)")
    train.add_argument("--version", default="1.0.0")
    train.add_argument("--limit", type=int, help="images (nodules) per split (for quick checks)")
    train.add_argument("--max-steps", type=int, help="stop after this many optimiser steps (for quick checks)")
    train.set_defaults(run=_run_train)

    classify = subparsers.add_parser(
        "classify", help="find a tumour on a slice or every slice, or classify a point, with a bundled CNN")
    classify.add_argument("path", help="a DICOM folder or file, or an image file (PNG/JPEG of the dataset)")
    classify.add_argument("--series", help="SeriesInstanceUID or index in `medview info`'s list")
    classify.add_argument("--slice", type=int,
                          help="0-based k; shown as slice k+1 (default: the middle slice)")
    classify.add_argument("--at", help="COL,ROW: classify the region at this pixel (0-based column, row)")
    classify.add_argument("--all-slices", action="store_true",
                          help="search every slice of the series (not with --slice or --at)")
    classify.add_argument("--run-anyway", action="store_true",
                          help="run on a series whose modality or body part the model is not for")
    classify.add_argument("--model", help="a model name or model folder")
    classify.add_argument("--saliency", choices=("gradcam", "integrated_gradients", "none"), default="gradcam")
    classify.add_argument("--json", action="store_true")
    classify.set_defaults(run=_run_classify)

    evaluate = subparsers.add_parser("evaluate", help="a model's figures on a labels.csv dataset")
    evaluate.add_argument("dataset")
    evaluate.add_argument("--model", help="a model name or folder (default: the bundled one for these labels)")
    evaluate.add_argument("--labels", choices=("dataset", "rating"),
                          help="nodule models: the label definition (default: the card's)")
    evaluate.add_argument("--limit", type=int, help="nodule models: nodules per part (for quick checks)")
    evaluate.add_argument("--split", choices=("train", "val", "test", "all"),
                          help="default: the card's test part on its own dataset, all rows elsewhere")
    evaluate.add_argument("--task", choices=("slice", "patch"), default="slice",
                          help="without --model: slice = the slice answer the app gives (default), patch = the "
                               "detector's patch figures")
    evaluate.add_argument("--slices", action="store_true",
                          help="score a detector given by --model on whole slices, as the app's slice answer")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(run=_run_evaluate)


def _run_train(args: argparse.Namespace) -> int:
    from medview.ai.train import train

    command = "medview " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if args.task == "nodule":
        from medview.ai.nodule_train import train_nodule

        train_nodule(args.dataset, args.out, definition=args.labels, epochs=args.epochs, seed=args.seed,
                     limit=args.limit, max_steps=args.max_steps, name=args.name, version=args.version,
                     command=command, threads=args.threads, minutes=args.minutes)
        return 0
    train(args.dataset, args.task, args.out, epochs=args.epochs, seed=args.seed, patience=args.patience,
          limit=args.limit, max_steps=args.max_steps, name=args.name, version=args.version, command=command,
          threads=args.threads, minutes=args.minutes)
    return 0


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _run_classify(args: argparse.Namespace) -> int:
    if args.all_slices and (args.slice is not None or args.at is not None):
        raise MedviewError("--all-slices searches every slice: give it without --slice or --at")
    point = None if args.at is None else cli_values.point(args.at, "--at")
    saliency = None if args.saliency == "none" else args.saliency
    path = cli_values.path(args.path)
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        return _classify_dataset_image(args, path, point, saliency)
    return _classify_series(args, path, point, saliency)


def _classify_dataset_image(args: argparse.Namespace, path, point, saliency) -> int:
    from medview.ai.dataset import load_png
    from medview.ai.infer import classifier_for
    from medview.ai.inputs import DATASET_MM_PER_PIXEL, png_unit_range
    from medview.ai.registry import find_model

    if args.all_slices:
        raise MedviewError("--all-slices needs a DICOM series, not one image")
    card = find_model(args.model, task=None if args.model else "patch", modality="MR", body_part="BRAIN")
    try:
        image = png_unit_range(load_png(path))
    except OSError as error:
        raise MedviewError(f"{path.name}: not an image medview can read ({error})") from None
    classifier = classifier_for(card)
    spacing = (DATASET_MM_PER_PIXEL,) * 2
    if point is None and card.is_detector:
        prediction = classifier.find(image, spacing, "MR", saliency)
    else:
        prediction = classifier.classify(image, spacing, point, saliency, already_unit=True)
    return _print_prediction(args, prediction, path.name, None)


def _classify_series(args: argparse.Namespace, path, point, saliency) -> int:
    import json

    from medview.ai.detect import false_flag_words, iter_series, series_answer
    from medview.ai.fit import check_fit
    from medview.ai.infer import classifier_for
    from medview.ai.registry import find_model
    from medview.core.numbering import slice_text_cli
    from medview.io import assemble_volume, open_folder

    spec = open_folder(path).find(args.series)
    k = cli_values.slice_index(args.slice, spec.n_slices)
    volume = assemble_volume(spec)

    def where(k: int) -> str:
        return slice_text_cli(k, volume.n_slices, spec.instance_number(k))

    card = find_model(args.model) if args.model else _default_model(volume, click=point is not None)
    fit = check_fit(card, volume.info, volume.photometric)
    if fit.refused and not args.run_anyway:
        raise MedviewError(f"{card.name} does not fit this series ({'; '.join(fit.reasons)}); "
                           "--run-anyway runs it all the same")
    if not fit.fits or fit.not_stated:
        print(f"medview: {card.name}: {fit.summary()}", file=sys.stderr)
    classifier = classifier_for(card)
    if args.all_slices:
        if not card.is_detector or card.slice_threshold is None:
            raise MedviewError(f"{card.name} is not a detector with a slice operating point: it cannot search "
                               "a series")
        findings = list(iter_series(classifier, volume))
        answer = series_answer(classifier, findings, fit)
        if args.json:
            print(json.dumps(answer, indent=2))
            return 0
        flagged = [f for f in findings if f.flagged]
        print(f"{card.name} {card.version} over {volume.n_slices} slices: {len(flagged)} flagged at the slice "
              f"operating point {card.slice_threshold:.3f} ({false_flag_words(card.slice_false_flag_rate)})")
        for finding in flagged:
            print(f"  {where(finding.k)}: {finding.label} {finding.probability:.2f} at "
                  f"({finding.point[0]:g}, {finding.point[1]:g}), P(tumour) {finding.score:.2f}")
        print(f"  {answer['disclaimer']}")
        return 0
    k = volume.n_slices // 2 if k is None else k
    prediction = classifier.classify_slice(volume, k, point, saliency=saliency)
    at = f" at column {point[0]:g}, row {point[1]:g}" if point else ""
    return _print_prediction(args, prediction, where(k) + at, fit)


def _default_model(volume, click: bool = False):
    """The first click model (the brain detector or the lung nodule model) that fits the series' modality and
    body part; without a click, the first detector that fits. Else the first of them (its fit is then said, or
    refused)."""
    from medview.ai.registry import CLICK_TASKS, find_model

    tasks = CLICK_TASKS if click else "patch"
    try:
        return find_model(None, task=tasks, modality=volume.info.modality, body_part=volume.info.body_part)
    except MedviewError:
        return find_model(None, task=tasks)


def _print_prediction(args: argparse.Namespace, prediction, where: str, fit) -> int:
    import json

    if args.json:
        result = prediction.as_dict()
        if fit is not None:
            result.update({"fits": fit.fits, "does_not_fit": list(fit.reasons), "not_stated": list(fit.not_stated)})
        if prediction.saliency is not None:
            r, c = divmod(int(prediction.saliency.argmax()), prediction.saliency.shape[1])
            result["saliency_peak"] = {"column": c, "row": r}
        print(json.dumps(result, indent=2))
        return 0
    print(f"{where}: {prediction.headline()}  ({prediction.model_name} {prediction.model_version}, "
          f"{prediction.elapsed_ms:.0f} ms)")
    if prediction.flagged is not False or prediction.kind != "slice":  # a slice with no tumour found has no type
        for label, probability in sorted(prediction.probabilities.items(), key=lambda kv: -kv[1]):
            print(f"  {label:<14} {probability:6.3f}")
    print(f"  {prediction.disclaimer}")
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    import json

    from medview.ai.dataset import read_labels
    from medview.ai.evaluate import evaluate, evaluate_slice_answer, format_report, format_slice_answer
    from medview.ai.nodule_data import is_nodule_dataset
    from medview.ai.registry import find_model

    if is_nodule_dataset(args.dataset):
        from medview.ai.nodule_data import LABELS
        from medview.ai.nodule_eval import evaluate_nodules, format_nodule_report

        card = find_model(args.model, task=None if args.model else "nodule",
                          labels=None if args.model else list(LABELS))
        report = evaluate_nodules(args.dataset, card, args.labels, args.split, args.limit)
        print(json.dumps(report, indent=2) if args.json else format_nodule_report(report))
        return 0
    labels = sorted({row.label for row in read_labels(args.dataset)})
    card = find_model(args.model, task=None if args.model else "patch", labels=None if args.model else labels)
    if (args.model is None and args.task == "slice") or args.slices:
        report = evaluate_slice_answer(args.dataset, card, args.split)
        print(json.dumps(report, indent=2) if args.json else format_slice_answer(report))
        return 0
    report = evaluate(args.dataset, card, args.split)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
