"""The one mapping from a CT series around a clicked point to the nodule model's input.

Training (crops of `../shared/data/ct_lung_nodule`) and inference (a DICOM series in the viewer or the CLI)
both call `nodule_input`; nothing else makes the network's input. It is 2D: an axial *slab* around the
clicked slice, so that thin (0.45–2.5 mm) and thick (5–8 mm) series give the network the same kind of image:

1. **Slab across slices.** Slices are weighted by how much of their thickness (the local slice step) overlaps
   a slab of `slab_mm` centred on the clicked slice's position, and averaged in HU. A slab never gets thinner
   than the clicked slice itself: on an 8 mm series a 5 mm slab is the clicked 8 mm slice alone (it is already
   a slab of its own thickness, with its own partial-volume blur); on 1 mm slices a 5 mm slab is the mean of
   five. A slab cut off by the end of the data (the edge of a training crop, the end of a series) keeps the
   slices it has: thinner, never padded.
2. **HU → a fixed window**: clip to [`hu_low`, `hu_high`] (−1000 to 400 HU: air to dense soft tissue) and
   scale to [0, 1]. The values must be HU (after RescaleSlope / Intercept).
3. **A fixed mm grid in-plane**: `size` × `size` pixels of `mm_per_pixel` mm centred on the click (linear
   interpolation from the series' own pixel spacing).
4. **A round field of view**: only the disc of radius `field_of_view_mm` around the click is kept; the rest of
   the square is air (0). The training crops are tight and their extent grows with the nodule, so a network
   that saw a crop's border could read the nodule's size from where the crop ends — a cue no DICOM series
   has. The disc lies inside every training crop (the nearest crop edge is at least 9.5 mm from the annotated
   centre; displaced clicks whose disc would leave the crop are counted and dropped, `disc_inside`), so the
   network never sees a border, and it sees exactly the same disc on a whole series.

Before the mapping, the viewer, the CLI and the evaluation choose the slice to read (`widest_section`): within
10 mm of the clicked slice, the widest section of the dense blob under the click, followed through the slices it
touches (or, with nothing under the click, the slice where a blob under it is largest). A click on a nodule's pole
(where it is a small dot) is read on its widest section, as a radiologist measures a nodule; the click's place in
the plane is kept. Training draws clicks on every slice that shows the nodule, poles included.

A mass larger than the disc (over 18 mm across) fills it: the network then sees solid tissue edge to edge,
which it learnt from the largest training nodules (up to 32.3 mm), but it cannot see the mass's margin.

`Placement` maps a saliency map on the input back onto the clicked slice's own pixels. numpy and scipy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from medview.ai.inputs import Placement


@dataclass(frozen=True)
class NoduleGeometry:
    """The input a nodule model was trained on; recorded in its card (`input`) and read back from it."""

    size: int = 36
    mm_per_pixel: float = 0.5
    field_of_view_mm: float = 9.0  # radius of the disc kept around the click
    slab_mm: float = 5.0  # the slab used at run time (training draws slabs from TRAINING_SLABS_MM)
    hu_low: float = -1000.0
    hu_high: float = 400.0
    #: training only: how far (mm) a field of view may reach past a training crop's edge into lung-like padding
    #: (`medview.ai.nodule_train.lung_padded`); a series needs none
    crop_padding_mm: float = 0.0

    def card_input(self) -> dict:
        return {"size": self.size, "mm_per_pixel": self.mm_per_pixel, "channels": 1,
                "field_of_view_radius_mm": self.field_of_view_mm, "slab_mm": self.slab_mm,
                "window_hu": [self.hu_low, self.hu_high], "training_crop_padding_mm": self.crop_padding_mm,
                "mapping": "medview.ai.nodule_input.nodule_input: axial slab of slab_mm around the clicked slice "
                           "(slices weighted by their overlap with it; never thinner than the clicked slice) in HU "
                           "-> clip to window_hu, scale to [0, 1] -> size x size at mm_per_pixel centred on the "
                           "click (linear) -> only the disc of field_of_view_radius_mm around the click kept, the "
                           "rest air (0)",
                "section": f"a click on slice k is read on medview.ai.nodule_input.widest_section: within "
                           f"{SECTION_REACH_MM:g} mm of k, the widest section of the tissue blob (> {SECTION_HU:g} "
                           "HU) under the click, followed through the slices it touches; with no blob under the "
                           "click on k, the slice where one under it is largest (k on ties or without one)"}

    @classmethod
    def from_card(cls, spec: dict) -> NoduleGeometry:
        low, high = spec.get("window_hu", (cls.hu_low, cls.hu_high))
        return cls(size=int(spec["size"]), mm_per_pixel=float(spec["mm_per_pixel"]),
                   field_of_view_mm=float(spec["field_of_view_radius_mm"]), slab_mm=float(spec["slab_mm"]),
                   hu_low=float(low), hu_high=float(high),
                   crop_padding_mm=float(spec.get("training_crop_padding_mm", 0.0)))


#: `widest_section`: how far from the clicked slice (mm) a wider section of the nodule is looked for, and the HU
#: above which a pixel counts as the nodule's tissue (solid and part-solid; lung is about -850). Chosen on the
#: validation patients with displaced clicks (AUC 0.878 -> 0.925; centred clicks unchanged, 0.938 -> 0.939).
SECTION_REACH_MM = 10.0
SECTION_HU = -300.0
#: the nearest tissue pixel must lie this close to the click (mm) for a blob to count as under it
SECTION_CLICK_MM = 3.0

#: Slab thicknesses drawn in training (0: the clicked slice alone), so one network reads thin and thick series.
TRAINING_SLABS_MM = (0.0, 2.0, 5.0, 8.0)


def slice_thicknesses(z_mm: np.ndarray) -> np.ndarray:
    """Each slice's share of the axis: half the step to each neighbour (one slice alone: 1 mm)."""
    z = np.asarray(z_mm, dtype=np.float64)
    if len(z) < 2:
        return np.ones(len(z))
    steps = np.abs(np.diff(z))
    left = np.concatenate([[steps[0]], steps])
    right = np.concatenate([steps, [steps[-1]]])
    return (left + right) / 2


def slab_weights(z_mm: np.ndarray, k: int, slab_mm: float) -> np.ndarray:
    """Weight of every slice in the slab around slice k: its thickness's overlap with the slab, normalised."""
    z = np.asarray(z_mm, dtype=np.float64)
    thickness = slice_thicknesses(z)
    half = max(slab_mm, thickness[k]) / 2
    low, high = z - thickness / 2, z + thickness / 2
    overlap = np.clip(np.minimum(high, z[k] + half) - np.maximum(low, z[k] - half), 0, None)
    overlap[k] = max(overlap[k], 1e-6)
    return overlap / overlap.sum()


def slab(slices, z_mm: np.ndarray, k: int, slab_mm: float) -> np.ndarray:
    """The weighted mean (float32) of the slices in the slab around k. `slices(j)` returns slice j's 2D
    array (a volume's view, a crop's slice), so only the slab's slices are read."""
    weights = slab_weights(z_mm, k, slab_mm)
    out = None
    for j in np.flatnonzero(weights > 1e-9):
        part = np.asarray(slices(int(j)), dtype=np.float32) * np.float32(weights[j])
        out = part if out is None else out + part
    return out


def cut_square(image: np.ndarray, pixel_spacing: tuple[float, float], point_rc: tuple[float, float], size: int,
               mm_per_pixel: float, fill: float) -> tuple[np.ndarray, Placement]:
    """size × size samples at mm_per_pixel centred on point (row, column), linear, `fill` outside the image."""
    from scipy import ndimage

    offsets = (np.arange(size) - (size - 1) / 2) * mm_per_pixel
    rows = point_rc[0] + offsets / pixel_spacing[0]
    columns = point_rc[1] + offsets / pixel_spacing[1]
    grid = np.meshgrid(rows, columns, indexing="ij")
    out = ndimage.map_coordinates(np.asarray(image, dtype=np.float32), grid, order=1, mode="constant", cval=fill)
    extent = (size * mm_per_pixel / pixel_spacing[0], size * mm_per_pixel / pixel_spacing[1])
    return out.astype(np.float32), Placement((float(point_rc[0]), float(point_rc[1])), extent, size,
                                             tuple(np.shape(image)[:2]))


def field_of_view(geometry: NoduleGeometry) -> np.ndarray:
    """The disc of the input that is kept (bool, size × size)."""
    offsets = (np.arange(geometry.size) - (geometry.size - 1) / 2) * geometry.mm_per_pixel
    return np.hypot(*np.meshgrid(offsets, offsets, indexing="ij")) <= geometry.field_of_view_mm


def window(hu: np.ndarray, geometry: NoduleGeometry) -> np.ndarray:
    return np.clip((hu - geometry.hu_low) / (geometry.hu_high - geometry.hu_low), 0.0, 1.0).astype(np.float32)


def nodule_input(slices, z_mm: np.ndarray, pixel_spacing: tuple[float, float], k: int,
                 point_rc: tuple[float, float], geometry: NoduleGeometry, slab_mm: float | None = None,
                 scale: float = 1.0, hu_offset: float = 0.0, hu_gain: float = 1.0
                 ) -> tuple[np.ndarray, Placement]:
    """THE mapping: a CT series (HU) around a click → the network input (size × size, [0, 1]) and where it lies.

    slices: `slices(j)` gives slice j (rows × columns, HU); z_mm: every slice's position along the normal (mm);
    pixel_spacing: (between rows, between columns) mm; k: the clicked slice; point_rc: the click (row, column)
    on it. slab_mm: the slab (default the card's run-time slab). scale, hu_offset, hu_gain: training's
    augmentation only (a slightly larger or smaller grid, HU jitter); inference leaves them at 1, 0, 1.
    """
    slab_mm = geometry.slab_mm if slab_mm is None else slab_mm
    hu = slab(slices, z_mm, k, slab_mm)
    if hu_gain != 1.0 or hu_offset != 0.0:
        hu = hu * np.float32(hu_gain) + np.float32(hu_offset)
    step = geometry.mm_per_pixel * scale
    values, placement = cut_square(window(hu, geometry), pixel_spacing, point_rc, geometry.size, step, 0.0)
    values[~field_of_view(geometry)] = 0.0  # the same disc in pixels at every scale: its edge is no cue
    return values, placement


def _disc_window(shape: tuple[int, ...], pixel_spacing: tuple[float, float], point_rc: tuple[float, float],
                 radius_mm: float):
    """The pixel window around the click that holds its disc of radius_mm, and each pixel's distance (mm) from
    the click; None when the window is empty. The same for every slice of a series."""
    row, column = point_rc
    reach_r, reach_c = radius_mm / pixel_spacing[0], radius_mm / pixel_spacing[1]
    r0, r1 = max(0, math.floor(row - reach_r)), min(shape[0], math.ceil(row + reach_r) + 1)
    c0, c1 = max(0, math.floor(column - reach_c)), min(shape[1], math.ceil(column + reach_c) + 1)
    if r0 >= r1 or c0 >= c1:
        return None
    rows, columns = np.mgrid[r0:r1, c0:c1]
    distance = np.hypot((rows - row) * pixel_spacing[0], (columns - column) * pixel_spacing[1])
    return (slice(r0, r1), slice(c0, c1)), distance


def blob_under(image: np.ndarray, pixel_spacing: tuple[float, float], point_rc: tuple[float, float],
               radius_mm: float, hu: float = SECTION_HU, touching: np.ndarray | None = None) -> np.ndarray | None:
    """The tissue blob (> hu) inside the disc of radius_mm around the click, as a mask of the disc's window: the
    connected blob nearest the click when it lies within SECTION_CLICK_MM of it, or, given `touching` (the blob
    on the neighbouring slice), every blob that shares a pixel with it. None when there is none."""
    from scipy import ndimage

    window = _disc_window(np.shape(image), pixel_spacing, point_rc, radius_mm)
    if window is None:
        return None
    cut, distance = window
    tissue = (np.asarray(image[cut]) > hu) & (distance <= radius_mm)
    labels, count = ndimage.label(tissue)
    if count == 0:
        return None
    if touching is not None:
        shared = np.unique(labels[touching & tissue])
        shared = shared[shared > 0]
        return np.isin(labels, shared) if len(shared) else None
    nearest = np.where(tissue, distance, np.inf)
    index = int(np.argmin(nearest))
    if nearest.flat[index] > SECTION_CLICK_MM:
        return None
    return labels == labels.flat[index]


def widest_section(slices, z_mm: np.ndarray, k: int, pixel_spacing: tuple[float, float],
                   point_rc: tuple[float, float], radius_mm: float, reach_mm: float = SECTION_REACH_MM) -> int:
    """The slice to read for a click on slice k, within reach_mm of it; k itself on ties and when nothing is found.

    When tissue lies under the click on slice k, its blob is followed slice by slice up and down (on each slice,
    the blobs touching the one on the slice before) and its widest section is read: a wider structure that does
    not touch it (a vessel crossing the plane above a nodule) is never read in its place. When nothing lies under
    the click on slice k (a click beside a nodule's pole, where it is a small dot), the slice with the largest
    blob under the click is read."""
    z_mm = np.asarray(z_mm, dtype=np.float64)
    near = [j for j in range(len(z_mm)) if abs(z_mm[j] - z_mm[k]) <= reach_mm + 1e-6]
    start = blob_under(slices(k), pixel_spacing, point_rc, radius_mm)
    sections = {k: 0 if start is None else int(np.count_nonzero(start))}
    if start is None:
        for j in (j for j in near if j != k):
            blob = blob_under(slices(j), pixel_spacing, point_rc, radius_mm)
            sections[j] = 0 if blob is None else int(np.count_nonzero(blob))
    else:
        for step in (-1, 1):
            blob, j = start, k + step
            while j in near:
                blob = blob_under(slices(j), pixel_spacing, point_rc, radius_mm, touching=blob)
                if blob is None:
                    break
                sections[j] = int(np.count_nonzero(blob))
                j += step
    return min(sections, key=lambda j: (-sections[j], abs(j - k), j))


def slices_read(z_mm: np.ndarray, k: int, slab_mm: float, reach_mm: float = SECTION_REACH_MM) -> np.ndarray:
    """Every slice a click on slice k may read: the slices `widest_section` looks at, and the slab around each of
    them (the viewer hands over just these)."""
    z_mm = np.asarray(z_mm, dtype=np.float64)
    candidates = np.flatnonzero(np.abs(z_mm - z_mm[k]) <= reach_mm + 1e-6)
    needed = set(int(j) for j in candidates)
    for j in candidates:
        needed.update(int(i) for i in np.flatnonzero(slab_weights(z_mm, int(j), slab_mm) > 1e-9))
    return np.array(sorted(needed), dtype=np.int64)


def mask_input(mask_slices, z_mm: np.ndarray, pixel_spacing: tuple[float, float], k: int,
               point_rc: tuple[float, float], geometry: NoduleGeometry, slab_mm: float, scale: float = 1.0
               ) -> np.ndarray:
    """A nodule mask cut exactly as `nodule_input` cuts the image (share of the slab inside the nodule)."""
    step = geometry.mm_per_pixel * scale
    values, _ = cut_square(slab(mask_slices, z_mm, k, slab_mm), pixel_spacing, point_rc, geometry.size, step, 0.0)
    values[~field_of_view(geometry)] = 0.0
    return np.clip(values, 0, 1)


def disc_inside(shape_rc: tuple[int, int], pixel_spacing: tuple[float, float], point_rc: tuple[float, float],
                radius_mm: float) -> bool:
    """Whether the disc of radius_mm around point (row, column) lies inside an image (a crop) of this shape;
    pixel centres at 0 … n−1, each covering half a pixel either side."""
    row, column = point_rc
    rows, columns = shape_rc
    return (min(row + 0.5, rows - 0.5 - row) * pixel_spacing[0] >= radius_mm
            and min(column + 0.5, columns - 0.5 - column) * pixel_spacing[1] >= radius_mm
            and math.isfinite(row) and math.isfinite(column))
