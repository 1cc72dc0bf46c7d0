"""The AI subcommands of `medview`: train, classify, evaluate. Nothing here imports torch at import time."""

from __future__ import annotations

import argparse
import shlex
import sys

from medview.errors import MedviewError


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="train a model on a labels.csv dataset and write its model folder")
    train.add_argument("dataset", help="a folder with labels.csv (the brain_tumor_mri format)")
    train.add_argument("--task", choices=("slice", "patch"), required=True)
    train.add_argument("--out", required=True, help="the model folder to write")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--patience", type=int, default=8, help="early stopping on the validation NLL")
    train.add_argument("--seed", type=int, default=7)
    train.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    train.add_argument("--name", help="model name (default brain-tumour-TASK)")
    train.add_argument("--version", default="1.0.0")
    train.add_argument("--limit", type=int, help="images per split (for quick checks)")
    train.add_argument("--max-steps", type=int, help="stop after this many optimiser steps (for quick checks)")
    train.set_defaults(run=_run_train)

    classify = subparsers.add_parser("classify", help="classify a slice, or a point on it, with a bundled CNN")
    classify.add_argument("path", help="a DICOM folder or file, or an image file (PNG/JPEG of the dataset)")
    classify.add_argument("--series", help="SeriesInstanceUID or index in `medview info`'s list")
    classify.add_argument("--slice", type=int, help="0-based slice index k (default: the middle slice)")
    classify.add_argument("--at", help="COL,ROW: classify the region at this pixel with the patch model")
    classify.add_argument("--model", help="a model name or model folder")
    classify.add_argument("--saliency", choices=("gradcam", "integrated_gradients", "none"), default="gradcam")
    classify.add_argument("--json", action="store_true")
    classify.set_defaults(run=_run_classify)

    evaluate = subparsers.add_parser("evaluate", help="a model's figures on a labels.csv dataset")
    evaluate.add_argument("dataset")
    evaluate.add_argument("--model", help="a model name or folder (default: the bundled one for these labels)")
    evaluate.add_argument("--split", choices=("train", "val", "test", "all"),
                          help="default: the card's test part on its own dataset, all rows elsewhere")
    evaluate.add_argument("--task", choices=("slice", "patch"), default="slice",
                          help="which bundled model to pick without --model")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(run=_run_evaluate)


def _run_train(args: argparse.Namespace) -> int:
    from medview.ai.train import train

    command = "medview " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    train(args.dataset, args.task, args.out, epochs=args.epochs, seed=args.seed, patience=args.patience,
          limit=args.limit, max_steps=args.max_steps, name=args.name, version=args.version, command=command,
          threads=args.threads)
    return 0


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _point(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        column, row = (float(v) for v in text.split(","))
    except ValueError:
        raise MedviewError(f"--at wants COL,ROW (two numbers), not {text!r}") from None
    return column, row


def _run_classify(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from medview.ai.infer import classifier_for
    from medview.ai.registry import find_model

    point = _point(args.at)
    task = "patch" if point is not None else "slice"
    saliency = None if args.saliency == "none" else args.saliency
    path = Path(args.path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        from medview.ai.dataset import load_png
        from medview.ai.inputs import DATASET_MM_PER_PIXEL, png_unit_range

        card = find_model(args.model, task=None if args.model else task, modality="MR", body_part="BRAIN")
        image = png_unit_range(load_png(path))
        prediction = classifier_for(card).classify(image, (DATASET_MM_PER_PIXEL,) * 2, point, saliency,
                                                   already_unit=True)
        where = f"{path.name}"
    else:
        from medview.io import load_volume

        volume = load_volume(path, args.series)
        card = find_model(args.model, task=None if args.model else task, modality=volume.info.modality,
                          body_part=volume.info.body_part)
        if not card.fits(volume.info.modality, volume.info.body_part):
            print(f"medview: warning: {card.name} is for {card.modality} {card.body_part}, this series is "
                  f"{volume.info.modality} {volume.info.body_part}", file=sys.stderr)
        k = volume.n_slices // 2 if args.slice is None else args.slice
        prediction = classifier_for(card).classify_slice(volume, k, point, saliency=saliency)
        where = f"slice {k} of {volume.n_slices}" + (f" at column {point[0]:g}, row {point[1]:g}" if point else "")
    if args.json:
        result = prediction.as_dict()
        if prediction.saliency is not None:
            r, c = divmod(int(prediction.saliency.argmax()), prediction.saliency.shape[1])
            result["saliency_peak"] = {"column": c, "row": r}
        print(json.dumps(result, indent=2))
        return 0
    print(f"{where}: {prediction.label}  ({prediction.model_name} {prediction.model_version}, "
          f"{prediction.elapsed_ms:.0f} ms)")
    if card.task == "slice":
        print("  tumour type, if this is a tumour (the slice model is not a detector)")
    for label, probability in sorted(prediction.probabilities.items(), key=lambda kv: -kv[1]):
        print(f"  {label:<14} {probability:6.3f}")
    if prediction.tumour_probability is not None:
        threshold = (card.operating_point or {}).get("threshold")
        print(f"  P(tumour) {prediction.tumour_probability:.3f}, operating point {threshold}: "
              f"{'flagged' if prediction.flagged else 'not flagged'}")
    print(f"  {prediction.disclaimer}")
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    import json

    from medview.ai.dataset import read_labels
    from medview.ai.evaluate import evaluate, format_report
    from medview.ai.registry import find_model

    labels = sorted({row.label for row in read_labels(args.dataset)})
    card = find_model(args.model, task=None if args.model else args.task, labels=None if args.model else labels)
    report = evaluate(args.dataset, card, args.split)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
