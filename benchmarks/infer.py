"""Inference benchmark: the bundled detector on the bundled glioblastoma MRI and on a 120-slice 512² series.

    python benchmarks/infer.py [--models resources/models]

Prints one table from one run, medians of repeats: model load (checks + safetensors + network); one click
(input mapping, forward, calibration, Grad-CAM back on the slice's pixels) against the bare forward pass of
that one patch; the slice answer (the head check, the search over the slice, Grad-CAM of the place found);
whole series runs, as `medview classify --all-slices` makes them, against the bare batched forward pass of
the same number of patches (the network's own cost, the reference). The 120-slice 512² series is the bundled
24 × 320 × 260 series padded with air to 320 × 320 and resampled (scipy.ndimage.zoom, linear) to
120 × 512 × 512 at 0.43 mm pixels: a whole-head thin-slice series of the size the issue names, with real
anatomy and a real tumour. Also the slice model, when one is bundled.

The lung nodule model, when one is bundled: a click to its result (the body check, the slab, the input mapping,
forward, calibration, Grad-CAM back on the slice's pixels: what the panel's worker does) on the 1 mm LIDC chest
CT (k 159, column 184, row 243) and the 8 mm chest CT (k 14, column 160, row 305), against the bare forward
pass of that one input.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample" / "mr_brain_t1post_tcia_btp"


def median_ms(function, repeats: int = 10) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


@dataclass
class Series:
    """What a series run reads of a volume: slices, pixel spacing, modality."""

    voxels: np.ndarray
    pixel_spacing: tuple[float, float]
    info: object

    @property
    def n_slices(self) -> int:
        return len(self.voxels)

    def slice(self, k: int, t: int = 0) -> np.ndarray:
        return self.voxels[k]


def thin_series(volume, slices: int = 120, size: int = 512) -> Series:
    from scipy import ndimage

    voxels = volume.voxels.astype(np.float32)
    side = max(voxels.shape[1:])
    padded = np.zeros((len(voxels), side, side), np.float32)
    padded[:, :voxels.shape[1], :voxels.shape[2]] = voxels
    zoomed = ndimage.zoom(padded, (slices / len(voxels), size / side, size / side), order=1)
    spacing = volume.pixel_spacing[0] * side / size
    return Series(zoomed, (spacing, spacing), volume.info)


def series_run(classifier, series) -> tuple[float, int, int]:
    """Seconds for a whole series run, the patches it scored, and the slices flagged."""
    from medview.ai.detect import iter_series

    counted = {"patches": 0}
    original = classifier.probabilities

    def counting(inputs, batch: int = 128):
        counted["patches"] += len(inputs)
        return original(inputs, batch)

    classifier.probabilities = counting
    start = time.perf_counter()
    findings = list(iter_series(classifier, series))
    seconds = time.perf_counter() - start
    classifier.probabilities = original
    return seconds, counted["patches"], sum(f.flagged for f in findings)


def bare_batched_seconds(classifier, patches: int) -> float:
    """The network alone on `patches` inputs in batches of 128: the reference for a series run."""
    import torch

    batch = torch.rand(128, 1, classifier.card.size, classifier.card.size)
    with torch.no_grad():
        classifier.network(batch)
        start = time.perf_counter()
        for _ in range(max(1, patches // 128)):
            classifier.network(batch)
    return (time.perf_counter() - start) * patches / (max(1, patches // 128) * 128)


def print_table(what: str, rows) -> None:
    import torch

    print(f"\nmedview inference benchmark: {what}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")
    print("| figure | medview | reference | ratio |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


CHEST_CLICKS = (("ct_chest_lidc_0314", 159, (184.0, 243.0)), ("ct_chest", 14, (160.0, 305.0)))


def nodule_rows(cards, median_ms) -> list[tuple[str, str, str, str]]:
    """Click to result with the nodule model on the two chest CTs (see the module's docstring)."""
    import torch

    from medview.ai.infer import Classifier
    from medview.ai.nodule_input import NoduleGeometry, nodule_input
    from medview.io import load_volume

    card = next((c for c in cards if c.task == "nodule"), None)
    if card is None:
        return []
    classifier = Classifier(card)
    geometry = NoduleGeometry.from_card(card.input)
    rows = []
    for name, k, point in CHEST_CLICKS:
        volume = load_volume(ROOT.parent / "shared" / "data" / "samples" / name)
        z = volume.positions @ volume.normal
        x, _ = nodule_input(lambda j, v=volume: v.slice(j), z, volume.pixel_spacing, k, (point[1], point[0]),
                            geometry)
        tensor = torch.from_numpy(x[None, None].copy())

        def forward(t=tensor):
            with torch.no_grad():
                classifier.network(t)

        forward()
        classifier.classify_slice(volume, k, point)
        bare = median_ms(forward, 50)
        click = median_ms(lambda v=volume, kk=k, p=point: classifier.classify_slice(v, kk, p, saliency="gradcam"), 20)
        rows.append((f"{card.name}: click to result + Grad-CAM, {name} k {k}, ms", f"{click:.1f}",
                     f"{bare:.2f} (bare forward, 1 input)", f"{click / bare:.1f}"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=ROOT / "resources" / "models")
    parser.add_argument("--nodule-only", action="store_true", help="only the lung nodule model's clicks")
    args = parser.parse_args()

    import torch

    from medview.ai.infer import Classifier
    from medview.ai.registry import scan_models
    from medview.io import load_volume

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    volume = load_volume(SAMPLE)
    cards, problems = scan_models([args.models])
    for problem in problems:
        print(f"skipped {problem.folder.name}: {problem.reason}", file=sys.stderr)
    if args.nodule_only:
        print_table("lung nodule clicks", nodule_rows(cards, median_ms))
        return 0
    detector = next(c for c in cards if c.is_detector)
    loads = []
    for _ in range(3):
        start = time.perf_counter()
        classifier = Classifier(detector)
        loads.append((time.perf_counter() - start) * 1000)
    point = (175.0, 210.0)
    x, _ = classifier.model_input(volume.slice(17), volume.pixel_spacing, point)
    tensor = torch.from_numpy(x[None, None].copy())

    def forward():
        with torch.no_grad():
            classifier.network(tensor)

    forward()
    bare = median_ms(forward, 20)
    click = median_ms(lambda: classifier.classify_slice(volume, 17, point, saliency="gradcam"), 10)
    answer = median_ms(lambda: classifier.classify_slice(volume, 17, saliency="gradcam"), 5)
    rows = [("load the detector, ms", f"{statistics.median(loads):.0f}", "", ""),
            ("one click + Grad-CAM, ms", f"{click:.1f}", f"{bare:.1f} (bare forward, 1 patch)",
             f"{click / bare:.1f}"),
            ("slice answer (search + Grad-CAM), slice 18, ms", f"{answer:.0f}", "", "")]
    thin = thin_series(volume)
    for name, series in ((f"series {volume.n_slices}×{volume.shape[1]}×{volume.shape[2]}", volume),
                         (f"series {thin.n_slices}×512×512 (resampled)", thin)):
        seconds, patches, flagged = series_run(classifier, series)
        reference = bare_batched_seconds(classifier, patches)
        rows.append((f"{name}, s ({patches} patches, {flagged} slices flagged)", f"{seconds:.2f}",
                     f"{reference:.2f} (bare batched forward, same patches)", f"{seconds / reference:.2f}"))
    for card in cards:
        if card.task == "slice":
            slice_model = Classifier(card)
            ms = median_ms(lambda m=slice_model: m.classify_slice(volume, 17, saliency="gradcam"), 10)
            rows.append((f"{card.name}: one slice + Grad-CAM, ms", f"{ms:.1f}", "", ""))
    rows += nodule_rows(cards, median_ms)
    print_table(f"{detector.name} {detector.version}", rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory of this process (RSS high-water mark, imports and volumes included): {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
