"""Orientation markers: which patient direction each edge of the displayed image faces.

From the direction cosines (LPS) of the image's rows and columns and the view's rotation and flips. A
direction is named by its dominant axes, strongest first, so an oblique edge reads e.g. "LA" or "SP".
"""

from __future__ import annotations

import numpy as np

#: letter for +x, +y, +z and for −x, −y, −z in LPS
POSITIVE = ("L", "P", "S")
NEGATIVE = ("R", "A", "I")
#: an axis contributes its letter when its share of the direction is above this
SECONDARY = 0.25


def direction_letters(vector) -> str:
    """'L', 'RA', 'SP' ...: the patient directions a unit vector points to, dominant first."""
    v = np.asarray(vector, dtype=np.float64)
    order = np.argsort(-np.abs(v))
    letters = []
    for axis in order:
        if abs(v[axis]) < SECONDARY and letters:
            break
        letters.append(POSITIVE[axis] if v[axis] > 0 else NEGATIVE[axis])
        if len(letters) == 3:
            break
    return "".join(letters)


def screen_directions(row_cosine, column_cosine, rotation: int = 0, flip_horizontal: bool = False,
                      flip_vertical: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """LPS directions of screen-right and screen-down after the view's transform.

    Without a transform, screen-right is the direction of increasing column (the row cosine) and screen-down
    that of increasing row (the column cosine). `rotation` is clockwise, in quarter turns; flips apply after.
    """
    right = np.asarray(row_cosine, dtype=np.float64)
    down = np.asarray(column_cosine, dtype=np.float64)
    for _ in range(rotation % 4):  # a clockwise quarter turn: old up becomes right, old right becomes down
        right, down = -down, right
    if flip_horizontal:
        right = -right
    if flip_vertical:
        down = -down
    return right, down


def edge_markers(row_cosine, column_cosine, rotation: int = 0, flip_horizontal: bool = False,
                 flip_vertical: bool = False) -> dict[str, str]:
    """{'left', 'right', 'top', 'bottom'} → the patient direction that edge faces."""
    right, down = screen_directions(row_cosine, column_cosine, rotation, flip_horizontal, flip_vertical)
    return {"right": direction_letters(right), "left": direction_letters(-right),
            "bottom": direction_letters(down), "top": direction_letters(-down)}
