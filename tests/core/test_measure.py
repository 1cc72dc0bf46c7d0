"""Measurement maths: lengths in mm from the pixel spacing, ROI statistics equal to numpy's on the same pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medview.core import measure
from medview.core.annotations import Annotation, measure_annotation
from medview.io import load_volume


@pytest.fixture(scope="module")
def chest_ct(shared_data):
    return load_volume(shared_data / "samples" / "ct_chest")


def test_a_length_across_known_pixels_is_the_pixel_spacing_times_their_count(chest_ct):
    row_mm, col_mm = chest_ct.pixel_spacing
    # centre of pixel (row 200, column 100) to centre of pixel (row 200, column 300): 200 columns
    across = measure.length_mm((100.5, 200.5), (300.5, 200.5), chest_ct.pixel_spacing)
    down = measure.length_mm((100.5, 50.5), (100.5, 170.5), chest_ct.pixel_spacing)
    assert across == pytest.approx(200 * col_mm, abs=1e-9)
    assert down == pytest.approx(120 * row_mm, abs=1e-9)


def test_a_diagonal_on_anisotropic_pixels_measures_in_mm_not_pixels():
    spacing = (2.0, 0.5)  # rows 2 mm apart, columns 0.5 mm apart
    assert measure.length_mm((0, 0), (40, 10), spacing) == pytest.approx(math.hypot(40 * 0.5, 10 * 2.0))
    # 45° on screen in pixels is not 45° in the patient: the angle is taken in mm
    assert measure.angle_degrees((10, 0), (0, 0), (10, 10), spacing) == pytest.approx(
        math.degrees(math.atan2(20, 5)))
    assert measure.angle_degrees((10, 0), (0, 0), (0, 10), spacing) == pytest.approx(90.0)


def test_rectangle_roi_on_the_chest_ct_gives_the_mean_and_sd_numpy_gives(chest_ct):
    k = chest_ct.n_slices // 2
    pixels = chest_ct.slice(k)
    annotation = Annotation("rectangle", ((100, 200), (140, 230)))
    values = {v.name: v for v in measure_annotation(annotation, pixels, chest_ct.pixel_spacing, chest_ct.value_unit)}
    expected = pixels[200:230, 100:140].astype(np.float64)  # the pixels whose centres lie inside
    assert values["mean"].value == pytest.approx(expected.mean(), abs=1e-9)
    assert values["SD"].value == pytest.approx(expected.std(ddof=1), abs=1e-9)
    assert values["min"].value == expected.min() and values["max"].value == expected.max()
    assert values["area"].value == pytest.approx(30 * 40 * chest_ct.pixel_spacing[0] * chest_ct.pixel_spacing[1])
    assert values["mean"].unit == "HU"


def test_ellipse_roi_holds_the_pixels_whose_centres_are_inside_the_ellipse(chest_ct):
    pixels = chest_ct.slice(chest_ct.n_slices // 2)
    values = {v.name: v.value for v in
              measure_annotation(Annotation("ellipse", ((200, 240), (260, 280))), pixels, chest_ct.pixel_spacing)}
    inside = [pixels[r, c] for r in range(pixels.shape[0]) for c in range(pixels.shape[1])
              if ((c + 0.5 - 230) / 30) ** 2 + ((r + 0.5 - 260) / 20) ** 2 <= 1]
    inside = np.array(inside, dtype=np.float64)
    assert values["mean"] == pytest.approx(inside.mean(), abs=1e-9)
    assert values["SD"] == pytest.approx(inside.std(ddof=1), abs=1e-9)
    assert values["area"] == pytest.approx(inside.size * np.prod(chest_ct.pixel_spacing))
    assert values["area"] == pytest.approx(math.pi * 30 * 20 * np.prod(chest_ct.pixel_spacing), rel=0.02)


def test_a_bidimensional_short_axis_is_made_perpendicular_to_the_long_axis_in_mm():
    from medview.core.annotations import bidimensional, measure_annotation

    spacing = (2.0, 0.5)  # rows 2 mm apart, columns 0.5 mm: perpendicular in mm is not in pixels
    long_a, long_b = (0.0, 0.0), (40.0, 10.0)  # 20 mm across, 20 mm down
    drawn = bidimensional((long_a, long_b, (22.0, 2.0), (18.0, 9.0)), spacing)
    a, b, c, d = (np.array([p[0] * 0.5, p[1] * 2.0]) for p in drawn.points)
    assert (b - a) @ (d - c) == pytest.approx(0.0, abs=1e-9)
    long_axis, short_axis = measure_annotation(drawn, None, spacing)
    assert long_axis.name == "long axis" and long_axis.value == pytest.approx(np.hypot(20, 20))
    assert short_axis.name == "short axis" and short_axis.value > 0
    # the middle of the short axis stays where the clicks put it along the long axis
    assert ((c + d) / 2 - a) @ (b - a) == pytest.approx(((np.array([11.0, 4.0]) + np.array([9.0, 18.0])) / 2 - a)
                                                         @ (b - a))
