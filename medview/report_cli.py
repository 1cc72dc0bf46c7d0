"""`medview report`: the annotated report without a window: the same Reading, renderer and writers as the
report dialog. Imports torch only when --classify-at asks for a model."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from medview import cli_values
from medview.errors import MedviewError


def register(subparsers) -> None:
    report = subparsers.add_parser("report", help="export an annotated report (PDF/HTML, DICOM SR and SC)")
    report.add_argument("path", help="a DICOM folder (searched recursively), a DICOMDIR or a file")
    report.add_argument("-o", "--output", help="the PDF to write")
    report.add_argument("--html", help="also write a self-contained HTML file")
    report.add_argument("--dicom-out", help="a folder for the DICOM SR and the key images (Secondary Capture)")
    report.add_argument("--anonymize", action="store_true", help="remove the patient's identity from every output")
    report.add_argument("--series", help="SeriesInstanceUID or index in `medview info`'s list")
    report.add_argument("--slice", type=int, help="0-based k; shown as slice k+1 (default: the middle slice)")
    report.add_argument("--classify-at", help="COL,ROW: classify the region there with the detector")
    report.add_argument("--classify-slice", action="store_true",
                        help="the slice answer: the detector searched over the slice, then the type")
    report.add_argument("--model", help="a model name or folder for --classify-at")
    report.add_argument("--window", help="WIDTH/LEVEL of the key image (default: the series' default window)")
    report.add_argument("--length", action="append", default=[], metavar="C0,R0,C1,R1", help="a length to measure")
    report.add_argument("--ellipse", action="append", default=[], metavar="C0,R0,C1,R1", help="an ellipse ROI")
    report.add_argument("--rectangle", action="append", default=[], metavar="C0,R0,C1,R1", help="a rectangle ROI")
    report.add_argument("--impression", default="", help="the free-text impression")
    report.add_argument("--reader", default="", help="the reader's name, printed with the time of signing")
    report.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    from medview.core.annotations import Annotation, measure_annotation
    from medview.core.numbering import slice_text_cli
    from medview.core.reading import KeyImage, Measurement, Reading, check_points
    from medview.core.session import describe_finding
    from medview.core.window_level import default_window
    from medview.io import assemble_volume, open_folder
    from medview.report.export import Targets, export_report, source_of

    if not (args.output or args.html or args.dicom_out):
        raise MedviewError("nothing to write: give -o report.pdf, --html FILE or --dicom-out DIR")
    chosen_window = cli_values.window(args.window) if args.window is not None else None
    segments = {option: [cli_values.segment(text, f"--{option}") for text in getattr(args, option)]
                for option in ("length", "ellipse", "rectangle")}
    point = cli_values.point(args.classify_at, "--classify-at") if args.classify_at is not None else None
    spec = open_folder(cli_values.path(args.path)).find(args.series)
    k = cli_values.slice_index(args.slice, spec.n_slices)
    volume = assemble_volume(spec)
    k = volume.n_slices // 2 if k is None else k
    pixels = volume.slice(k)
    window = chosen_window or default_window(volume.info.modality, pixels)
    reading = Reading.of(volume, anonymised=args.anonymize, impression=args.impression, reader=args.reader)
    annotations = []
    for kind, ends in segments.items():
        for pair in ends:
            check_points(list(pair), pixels.shape, f"--{kind}")
            annotations.append(Annotation(kind, pair))
    for annotation in annotations:
        values = measure_annotation(annotation, pixels, volume.pixel_spacing, volume.value_unit)
        reading.measurements.append(Measurement(k, annotation, values))
    saliency, saliency_of, marks = None, "", ()
    jobs = [("patch", None, args.model)] if args.classify_slice else []
    if point is not None:
        from medview.ai.registry import CLICK_TASKS

        jobs.append((CLICK_TASKS, point, args.model))  # the first click model that fits: a nodule model on a chest CT
    if jobs:
        from medview.ai.fit import check_fit
        from medview.ai.infer import classifier_for
        from medview.ai.registry import find_model

    for task, point, model in jobs:
        card = find_model(model, task=None if model else task, modality=volume.info.modality,
                          body_part=volume.info.body_part)
        prediction = classifier_for(card).classify_slice(volume, k, point, saliency="gradcam")
        if not prediction.answered:
            print(f"medview: {prediction.label} at column {point[0]:g}, row {point[1]:g}: nothing goes into the "
                  "report", file=sys.stderr)
            continue
        misfits = check_fit(card, volume.info, volume.photometric).reasons
        reading.findings.append(replace(prediction.as_finding(k), fits=not misfits, does_not_fit=tuple(misfits)))
        saliency, saliency_of = prediction.saliency, describe_finding(reading.findings[-1])
        if point is not None:
            marks = (point,)
    reading.key_images.append(KeyImage(k=k, pixels=pixels, window=(window.width, window.level),
                                       annotations=tuple(annotations), marks=marks, saliency=saliency,
                                       saliency_of=saliency_of))
    sources = {k: source_of(spec, k)}
    targets = Targets(pdf=Path(args.output) if args.output else None, html=Path(args.html) if args.html else None,
                      dicom_folder=Path(args.dicom_out) if args.dicom_out else None)
    notes: list[str] = []
    for path in export_report(reading, sources, targets, source_folder=args.path, notes=notes):
        print(path)
    for note in notes:
        print(f"medview: warning: {note}", file=sys.stderr)
    for finding in reading.findings:
        where = slice_text_cli(finding.k, volume.n_slices, spec.instance_number(finding.k))
        unfit = "" if finding.fits else f" - the model does not fit this series: {'; '.join(finding.does_not_fit)}"
        print(f"{where}: {finding.label} {finding.probability:.3f} ({finding.model_name} "
              f"{finding.model_version}) - AI generated, research use only{unfit}", file=sys.stderr)
    return 0

