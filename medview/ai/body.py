"""Inside the body: where a model may answer at all.

A click on the air around the head has no tumour to find and no normal tissue to call normal, so it gets no
answer; the series run and the slice answer look only at places inside the body. One check per modality, the
same for click, slice and series, and stated in the model card (`DESCRIPTION`):

- MR: the head is the signal above a noise floor (a share of the slice's bright end), closed over thin dark
  gaps (skull, sinus walls), its holes filled (sinuses, ventricles, air cells count as inside), and the
  connected parts that are not specks kept.
- CT: the body is everything denser than −500 HU, with its holes filled, so the lungs count as inside.

numpy and scipy only.
"""

from __future__ import annotations

import math

import numpy as np

#: What the model card says of the check, per modality.
DESCRIPTION = {
    "MR": "head = signal above 10 % of the slice's 99th percentile, closed over 3 mm gaps, holes filled, parts "
          "under 1 % of the largest dropped; a click outside it gets no answer, series and slice runs look only "
          "inside it",
    "CT": "body = denser than -500 HU, holes filled (the lungs count as inside), parts under 1 % of the largest "
          "dropped; a click outside it gets no answer",
}
MR_FLOOR = 0.10  # of the 99th percentile: MR air is noise well below this, fat, muscle, brain above it
CT_FLOOR_HU = -500.0
CLOSING_MM = 3.0
SPECK_SHARE = 0.01


def body_mask(image: np.ndarray, pixel_spacing: tuple[float, float], modality: str = "MR") -> np.ndarray:
    """The pixels of one slice (values after the modality LUT) that lie inside the body."""
    from scipy import ndimage  # imported on use: the window imports this module at start-up

    image = np.asarray(image, dtype=np.float32)
    finite = np.isfinite(image)
    if not finite.any():
        return np.zeros(image.shape, dtype=bool)
    if modality.upper() == "CT":
        tissue = finite & (image > CT_FLOOR_HU)
    else:
        low = float(np.min(image[finite]))
        bright = float(np.percentile(image[finite], 99)) - low
        if bright <= 0:
            return np.zeros(image.shape, dtype=bool)
        tissue = finite & (image - low > MR_FLOOR * bright)
    radius = (max(1, round(CLOSING_MM / pixel_spacing[0])), max(1, round(CLOSING_MM / pixel_spacing[1])))
    structure = np.ones((2 * radius[0] + 1, 2 * radius[1] + 1), dtype=bool)
    padded = np.pad(tissue, [(radius[0], radius[0]), (radius[1], radius[1])])
    closed = ndimage.binary_closing(padded, structure)[radius[0]:-radius[0], radius[1]:-radius[1]]
    filled = ndimage.binary_fill_holes(closed | tissue)
    labels, count = ndimage.label(filled)
    if count == 0:
        return filled
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.flatnonzero(sizes >= SPECK_SHARE * sizes.max()) + 1
    return np.isin(labels, keep)


def inside(mask: np.ndarray, point: tuple[float, float]) -> bool:
    """Whether the pixel under a (column, row) point lies inside the body mask."""
    column, row = point
    if not (math.isfinite(column) and math.isfinite(row)):
        return False
    r, c = int(math.floor(row)), int(math.floor(column))
    return 0 <= r < mask.shape[0] and 0 <= c < mask.shape[1] and bool(mask[r, c])
