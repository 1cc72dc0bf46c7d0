"""The one mapping from an image to the network's input, used by training and inference alike.

A model sees a square of `size` × `size` pixels at `mm_per_pixel`, cut from one 2D image:

1. values → [0, 1] by the image's own minimum and maximum over the whole slice (the dataset's PNGs were made
   exactly so: ``uint8(255 / (max - min) * (image - min))``); a dataset PNG is simply divided by 255;
2. the square of side ``size × mm_per_pixel`` mm centred on a point (the image centre for a slice model, the
   click for a patch model) is resampled with area averaging (Pillow's box filter) from the image's own pixel
   spacing; what lies outside the image is 0, like the dataset's black background.

`Placement` keeps where the square came from, so a saliency map made on the input goes back onto the
slice's own pixels (`Placement.to_source`). The dataset's PNGs are 256² at about 0.98 mm per pixel (512² at
0.49 mm, halved), which is recorded in each model card. numpy and Pillow only: no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: mm per pixel of the dataset's 256² PNGs (0.49 mm at 512², averaged 2 × 2).
DATASET_MM_PER_PIXEL = 0.98


@dataclass(frozen=True)
class Placement:
    """Where a model input lies on its source image: its centre (row, column) and size in source pixels."""

    center_rc: tuple[float, float]
    extent_rc: tuple[float, float]  # rows and columns of the source covered by the square
    size: int
    source_shape: tuple[int, int]

    def to_source(self, values: np.ndarray) -> np.ndarray:
        """Resample a size × size map (saliency) onto the source image's pixel grid (bilinear, 0 outside)."""
        rows, columns = self.source_shape
        scale_r = self.size / self.extent_rc[0]
        scale_c = self.size / self.extent_rc[1]
        # model pixel coordinates (centre-based) of every source pixel centre
        r = (np.arange(rows) - self.center_rc[0]) * scale_r + (self.size - 1) / 2
        c = (np.arange(columns) - self.center_rc[1]) * scale_c + (self.size - 1) / 2
        return _bilinear(np.asarray(values, dtype=np.float32), r, c)

    def to_input(self, row: float, column: float) -> tuple[float, float]:
        """Model-input pixel (row, column) of a source pixel."""
        return ((row - self.center_rc[0]) * self.size / self.extent_rc[0] + (self.size - 1) / 2,
                (column - self.center_rc[1]) * self.size / self.extent_rc[1] + (self.size - 1) / 2)


def _bilinear(values: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    size_r, size_c = values.shape
    r0 = np.floor(r).astype(int)
    c0 = np.floor(c).astype(int)
    fr = (r - r0)[:, None]
    fc = (c - c0)[None, :]
    padded = np.pad(values, 1)  # zero outside
    r0p = np.clip(r0 + 1, 0, size_r + 1)
    r1p = np.clip(r0 + 2, 0, size_r + 1)
    c0p = np.clip(c0 + 1, 0, size_c + 1)
    c1p = np.clip(c0 + 2, 0, size_c + 1)
    top = padded[r0p][:, c0p] * (1 - fc) + padded[r0p][:, c1p] * fc
    bottom = padded[r1p][:, c0p] * (1 - fc) + padded[r1p][:, c1p] * fc
    out = top * (1 - fr) + bottom * fr
    outside = ((r < -1) | (r > size_r))[:, None] | ((c < -1) | (c > size_c))[None, :]
    out[outside] = 0
    return out.astype(np.float32)


def unit_range(image: np.ndarray) -> np.ndarray:
    """Per-image min–max scaling to [0, 1], as the dataset's PNGs were made (a flat image gives zeros)."""
    image = np.asarray(image, dtype=np.float32)
    low, high = float(image.min()), float(image.max())
    if not math.isfinite(low) or not math.isfinite(high) or high <= low:
        return np.zeros_like(image, dtype=np.float32)
    return (image - low) / (high - low)


def png_unit_range(image: np.ndarray) -> np.ndarray:
    """A dataset PNG (already min–max scaled to 0–255) on the same [0, 1] scale."""
    return np.asarray(image, dtype=np.float32) / 255.0


def sample_square(image01: np.ndarray, pixel_spacing: tuple[float, float], center_rc: tuple[float, float],
                  size: int, mm_per_pixel: float) -> tuple[np.ndarray, Placement]:
    """The size × size input at mm_per_pixel centred on center_rc, with area averaging; 0 outside the image."""
    from PIL import Image

    row_mm, col_mm = pixel_spacing
    extent_r = size * mm_per_pixel / row_mm
    extent_c = size * mm_per_pixel / col_mm
    pad = int(math.ceil(max(extent_r, extent_c) / 2)) + 2
    padded = np.pad(np.asarray(image01, dtype=np.float32), pad)
    # Pillow boxes are in pixel-edge coordinates: source pixel c spans [c, c + 1)
    x0 = center_rc[1] + 0.5 - extent_c / 2 + pad
    y0 = center_rc[0] + 0.5 - extent_r / 2 + pad
    square = Image.fromarray(padded, mode="F").resize(
        (size, size), Image.Resampling.BOX, box=(x0, y0, x0 + extent_c, y0 + extent_r))
    placement = Placement((float(center_rc[0]), float(center_rc[1])), (extent_r, extent_c), size,
                          tuple(image01.shape))
    return np.asarray(square, dtype=np.float32), placement


def slice_input(image: np.ndarray, pixel_spacing: tuple[float, float], size: int, mm_per_pixel: float,
                already_unit: bool = False) -> tuple[np.ndarray, Placement]:
    """A whole slice as a slice model sees it: centred square of size × mm_per_pixel mm."""
    image01 = image if already_unit else unit_range(image)
    center = ((image01.shape[0] - 1) / 2, (image01.shape[1] - 1) / 2)
    return sample_square(image01, pixel_spacing, center, size, mm_per_pixel)


def patch_input(image: np.ndarray, pixel_spacing: tuple[float, float], center_rc: tuple[float, float],
                size: int, mm_per_pixel: float, already_unit: bool = False) -> tuple[np.ndarray, Placement]:
    """A patch centred on a point (row, column) of the slice, as a patch model sees it."""
    image01 = image if already_unit else unit_range(image)
    return sample_square(image01, pixel_spacing, center_rc, size, mm_per_pixel)


# -- where brain tissue is: for normal-tissue patches in training and the series grid at inference ----------

def _box_sum(mask: np.ndarray, radius: int) -> np.ndarray:
    padded = np.pad(mask.astype(np.int32), radius + 1)
    summed = padded.cumsum(0).cumsum(1)
    w = 2 * radius + 1
    return (summed[w:, w:] - summed[:-w, w:] - summed[w:, :-w] + summed[:-w, :-w])[:mask.shape[0], :mask.shape[1]]


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    return _box_sum(mask, radius) > 0 if radius > 0 else mask.astype(bool)


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    return _box_sum(mask, radius) == (2 * radius + 1) ** 2 if radius > 0 else mask.astype(bool)


def _fill_rows_and_columns(mask: np.ndarray) -> np.ndarray:
    """Fill the inside of a head outline: a pixel between head pixels in its row and in its column."""
    def fill(m: np.ndarray) -> np.ndarray:
        has = m.any(1)
        first = np.where(has, m.argmax(1), m.shape[1])
        last = np.where(has, m.shape[1] - 1 - m[:, ::-1].argmax(1), -1)
        columns = np.arange(m.shape[1])[None, :]
        return (columns >= first[:, None]) & (columns <= last[:, None])
    return fill(mask) & fill(mask.T).T


def brain_mask(image01: np.ndarray, pixel_spacing: tuple[float, float], skull_mm: float = 12.0,
               threshold: float = 0.08) -> np.ndarray:
    """Brain tissue, roughly: inside the head outline, `skull_mm` in from its edge, and not dark (CSF, air)."""
    head = _fill_rows_and_columns(erode(dilate(image01 > threshold, 2), 2))
    inner = erode(head, max(1, int(round(skull_mm / min(pixel_spacing)))))
    return inner & (image01 > threshold * 1.5)


def tissue_grid(image: np.ndarray, pixel_spacing: tuple[float, float], step_mm: float = 12.0
                ) -> list[tuple[float, float]]:
    """(column, row) points every `step_mm` over the brain tissue of a slice: where a series run looks."""
    image01 = unit_range(image)
    tissue = brain_mask(image01, pixel_spacing)
    row_step = max(1, int(round(step_mm / pixel_spacing[0])))
    column_step = max(1, int(round(step_mm / pixel_spacing[1])))
    rows, columns = np.nonzero(tissue[::row_step, ::column_step])
    return [(float(c * column_step), float(r * row_step)) for r, c in zip(rows, columns, strict=True)]
