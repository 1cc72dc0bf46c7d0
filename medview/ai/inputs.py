"""The one mapping from an image to the network's input, used by training and inference alike.

A model sees a square of `size` × `size` pixels at `mm_per_pixel`, cut from one 2D image:

1. values → [0, 1] by the image's own minimum and maximum over the whole slice (the dataset's PNGs were made
   exactly so: ``uint8(255 / (max - min) * (image - min))``); a dataset PNG is simply divided by 255;
2. the square of side ``size × mm_per_pixel`` mm centred on a point (the image centre for a slice model, the
   click for a patch model) is resampled with area averaging (Pillow's box filter) from the image's own pixel
   spacing; what lies outside the image is 0, like the dataset's black background.

`Placement` keeps where the square came from, so a saliency map made on the input goes back onto the
slice's own pixels (`Placement.to_source`). The dataset's PNGs are 256² at about 0.98 mm per pixel (512² at
0.49 mm, halved), which is recorded in each model card. numpy, scipy and Pillow only: no torch.
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
        from scipy import ndimage  # imported on use: the window imports this module at start-up

        rows, columns = self.source_shape
        r = (np.arange(rows) - self.center_rc[0]) * (self.size / self.extent_rc[0]) + (self.size - 1) / 2
        c = (np.arange(columns) - self.center_rc[1]) * (self.size / self.extent_rc[1]) + (self.size - 1) / 2
        grid = np.meshgrid(r, c, indexing="ij")
        # zero beyond half a model pixel outside the square, as the square's own edge pixels reach
        padded = np.pad(np.asarray(values, dtype=np.float32), 1)
        out = ndimage.map_coordinates(padded, [grid[0] + 1, grid[1] + 1], order=1, mode="constant", cval=0.0)
        return out.astype(np.float32)

    def to_input(self, row: float, column: float) -> tuple[float, float]:
        """Model-input pixel (row, column) of a source pixel."""
        return ((row - self.center_rc[0]) * self.size / self.extent_rc[0] + (self.size - 1) / 2,
                (column - self.center_rc[1]) * self.size / self.extent_rc[1] + (self.size - 1) / 2)


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


class SquareSampler:
    """Squares of size × size pixels at mm_per_pixel cut from one [0, 1] image, padded once for all of them.

    Area averaging (Pillow's box filter) from the image's own pixel spacing; 0 outside the image. A series run
    cuts a few hundred patches per slice from one sampler, so the slice is padded and wrapped only once.
    """

    def __init__(self, image01: np.ndarray, pixel_spacing: tuple[float, float], size: int,
                 mm_per_pixel: float) -> None:
        from PIL import Image

        row_mm, col_mm = pixel_spacing
        self.size = size
        self.extent_rc = (size * mm_per_pixel / row_mm, size * mm_per_pixel / col_mm)
        self.pad = int(math.ceil(max(self.extent_rc) / 2)) + 2
        self.shape = tuple(image01.shape)
        self._image = Image.fromarray(np.pad(np.asarray(image01, dtype=np.float32), self.pad), mode="F")

    def sample(self, center_rc: tuple[float, float]) -> tuple[np.ndarray, Placement]:
        from PIL import Image

        extent_r, extent_c = self.extent_rc
        # Pillow boxes are in pixel-edge coordinates: source pixel c spans [c, c + 1)
        x0 = center_rc[1] + 0.5 - extent_c / 2 + self.pad
        y0 = center_rc[0] + 0.5 - extent_r / 2 + self.pad
        square = self._image.resize((self.size, self.size), Image.Resampling.BOX,
                                    box=(x0, y0, x0 + extent_c, y0 + extent_r))
        placement = Placement((float(center_rc[0]), float(center_rc[1])), self.extent_rc, self.size, self.shape)
        return np.asarray(square, dtype=np.float32), placement


def sample_square(image01: np.ndarray, pixel_spacing: tuple[float, float], center_rc: tuple[float, float],
                  size: int, mm_per_pixel: float) -> tuple[np.ndarray, Placement]:
    """The size × size input at mm_per_pixel centred on center_rc, with area averaging; 0 outside the image."""
    return SquareSampler(image01, pixel_spacing, size, mm_per_pixel).sample(center_rc)


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


# -- masks in mm: the training's tumour margins -------------------------------------------------------------

def within_mm(mask: np.ndarray, pixel_spacing: tuple[float, float], margin_mm: float) -> np.ndarray:
    """The pixels within margin_mm of the mask (the mask dilated by a disc of that radius, in mm)."""
    from scipy import ndimage  # imported on use: the window imports this module at start-up

    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return mask.copy()
    return ndimage.distance_transform_edt(~mask, sampling=pixel_spacing) <= margin_mm


def inner_part(mask: np.ndarray, pixel_spacing: tuple[float, float], depth_mm: float,
               min_pixels: int = 4) -> np.ndarray:
    """The mask's pixels at least depth_mm inside its edge, or the whole mask when that leaves too few."""
    from scipy import ndimage  # imported on use: the window imports this module at start-up

    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return mask.copy()
    core = ndimage.distance_transform_edt(mask, sampling=pixel_spacing) > depth_mm
    return core if core.sum() >= min_pixels else mask
