"""What the nodule model sees at run time against what it saw in training: HU histograms of the inputs.

Not a timing: a check that the one mapping (`medview.ai.nodule_input.nodule_input`) gives the network the same
kind of values on a DICOM series as on the training crops. Inside the field of view, the input's values are
turned back into HU (window −1000 to 400 HU) and counted in 100 HU bins:

- run time: the clicks of the issue on the sample series (the LIDC nodule at k 159, column 184, row 243 of
  `samples/ct_chest_lidc_0314`, 1 mm slices; the lung cancer at k 14, column 160, row 305 of `samples/ct_chest`,
  8 mm slices), read on the nodule's widest section (`widest_section`) through the card's slab, as the viewer
  reads them;
- training: centred clicks on every training nodule of the card's split, through the same slab, and on those
  of 20 mm and more alone (what a mass that fills the field of view is compared with).

    python benchmarks/nodule_inputs.py [--model FOLDER]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from medview.ai import nodule_data as data
from medview.ai.manifest import read_card
from medview.ai.nodule_input import NoduleGeometry, field_of_view, nodule_input, widest_section
from medview.ai.nodule_train import centred_click, crop_input, read_click
from medview.ai.registry import find_model
from medview.io import assemble_volume, open_folder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CLICKS = (("ct_chest_lidc_0314", 159, 184, 243), ("ct_chest", 14, 160, 305))
BINS = np.arange(-1000, 401, 100)
LARGE_MM = 20.0


def to_hu(x: np.ndarray, geometry: NoduleGeometry) -> np.ndarray:
    return geometry.hu_low + x * (geometry.hu_high - geometry.hu_low)


def shares(values: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(np.clip(values, BINS[0], BINS[-1] - 1e-3), BINS)
    return counts / max(1, counts.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a nodule model folder (default: the bundled one)")
    args = parser.parse_args()
    card = read_card(args.model) if args.model else find_model(None, task="nodule")
    geometry = NoduleGeometry.from_card(card.input)
    disc = field_of_view(geometry)
    columns = {}
    for name, k, column, row in CLICKS:
        volume = assemble_volume(open_folder(DATA / "samples" / name).find(None))
        z_mm = volume.positions @ volume.normal
        read = widest_section(volume.slice, z_mm, k, volume.pixel_spacing, (row, column), geometry.field_of_view_mm)
        x, _ = nodule_input(volume.slice, z_mm, volume.pixel_spacing, read, (row, column), geometry)
        columns[f"{name} k{k} (read on k{read})"] = to_hu(x[disc], geometry)
    nodules = data.read_nodules(DATA / "ct_lung_nodule")
    patients = set(card.raw["training_data"]["split"]["patients"]["train"])
    chosen, _ = data.part_of(nodules, patients, card.raw.get("label_definition", {}).get("name", "dataset"))
    training, large = [], []
    for nodule in chosen:
        crop = data.load_crop(DATA / "ct_lung_nodule", nodule)
        click = read_click(crop, centred_click(nodule, crop), geometry)
        values = to_hu(crop_input(crop, click, geometry)[0][disc], geometry)
        training.append(values)
        if nodule.diameter_mm >= LARGE_MM:
            large.append(values)
    columns[f"training ({len(chosen)} nodules)"] = np.concatenate(training)
    columns[f"training, {len(large)} nodules >= {LARGE_MM:g} mm"] = np.concatenate(large)
    print(f"# {card.name} {card.version}: slab {geometry.slab_mm:g} mm, window {geometry.hu_low:g} to "
          f"{geometry.hu_high:g} HU, field of view radius {geometry.field_of_view_mm:g} mm")
    print("| HU bin | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    table = {name: shares(values) for name, values in columns.items()}
    for i in range(len(BINS) - 1):
        print(f"| {BINS[i]:.0f} to {BINS[i + 1]:.0f} | " + " | ".join(f"{table[n][i]:.3f}" for n in columns) + " |")
    print("| median HU | " + " | ".join(f"{np.median(v):.0f}" for v in columns.values()) + " |")


if __name__ == "__main__":
    main()
