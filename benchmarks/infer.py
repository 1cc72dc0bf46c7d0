"""Inference benchmark: the bundled models on the bundled 24-slice glioblastoma MRI, on this machine's cores.

    python benchmarks/infer.py [--models resources/models]

Prints one table from one run: model load time (checks + safetensors + network), the bare forward pass of
one slice (the reference), classify + Grad-CAM of one slice and of one clicked point (input mapping, forward,
calibration, saliency back on the slice's pixels), a whole 24-slice series (slice model on every slice;
patch model over the brain-tissue grid of every slice), and the process's peak memory. Medians of repeats.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample" / "mr_brain_t1post_tcia_btp"


def median_ms(function, repeats: int = 10) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(card, volume) -> tuple:
    """(name, load ms, bare forward ms, classify + Grad-CAM ms, + integrated gradients ms, series s, text)."""
    import torch

    from medview.ai.infer import Classifier
    from medview.ai.inputs import tissue_grid

    load_times = []
    for _ in range(3):
        start = time.perf_counter()
        classifier = Classifier(card)
        load_times.append((time.perf_counter() - start) * 1000)
    point = (175.0, 210.0) if card.task == "patch" else None
    x, _ = classifier.model_input(volume.slice(17), volume.pixel_spacing, point)
    tensor = torch.from_numpy(x[None, None].copy())

    def forward():
        with torch.no_grad():
            classifier.network(tensor)

    forward()
    bare = median_ms(forward, 20)
    classify = median_ms(lambda: classifier.classify_slice(volume, 17, point, saliency="gradcam"), 10)
    integrated = median_ms(lambda: classifier.classify_slice(volume, 17, point, saliency="integrated_gradients"), 3)
    start = time.perf_counter()
    if card.task == "slice":
        for k in range(volume.n_slices):
            classifier.classify_slice(volume, k, saliency="gradcam")
        text = f"{volume.n_slices} slices with Grad-CAM"
    else:
        n_points = 0
        for k in range(volume.n_slices):
            points = tissue_grid(volume.slice(k), volume.pixel_spacing)
            n_points += len(points)
            classifier.tumour_probabilities(volume.slice(k), volume.pixel_spacing, points)
        text = f"{volume.n_slices} slices, {n_points} grid points"
    series = time.perf_counter() - start
    return card.name, statistics.median(load_times), bare, classify, integrated, series, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=ROOT / "resources" / "models")
    args = parser.parse_args()

    import torch

    from medview.ai.registry import scan_models
    from medview.io import load_volume

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    volume = load_volume(SAMPLE)
    cards, problems = scan_models([args.models])
    for problem in problems:
        print(f"skipped {problem.folder.name}: {problem.reason}", file=sys.stderr)
    # the first model of each task in the registry's order: the one `medview classify` picks
    chosen = [next(c for c in cards if c.task == task) for task in ("slice", "patch") if any(
        c.task == task for c in cards)]
    rows = [measure(card, volume) for card in chosen]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nmedview inference benchmark: {SAMPLE.name} ({volume.n_slices}×{volume.shape[1]}×{volume.shape[2]}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores\n")
    print("| model | load ms | bare forward ms (reference) | classify + Grad-CAM ms | ratio | "
          "classify + integrated gradients ms | series s | series |")
    print("|---|---|---|---|---|---|---|---|")
    for name, load, bare, classify, integrated, series, text in rows:
        print(f"| {name} | {load:.0f} | {bare:.1f} | {classify:.1f} | {classify / bare:.1f} | {integrated:.0f} | "
              f"{series:.2f} | {text} |")
    print(f"\npeak memory of this process (RSS high-water mark, imports and volume included): {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
