"""Orientation markers: the patient direction each screen edge faces, from the direction cosines (LPS) and the
view's rotation and flips. Cases are the data's own cosines (../shared/data/README.md)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from medview.core.orientation import direction_letters, edge_markers, screen_directions

AXIAL = ((1, 0, 0), (0, 1, 0))
CORONAL = ((1, 0, 0), (0, 0, -1))
SAGITTAL = ((0, 1, 0), (0, 0, -1))  # mr_siemens_sagittal: direction [0 0 -1; 1 0 0; 0 -1 0]
TILTED = ((1, 0, 0), (0, 0.948, -0.317))  # ct_head_ge_gantry_tilt, 18.5°


def test_axial_in_stored_order_reads_radiologically():
    assert edge_markers(*AXIAL) == {"left": "R", "right": "L", "top": "A", "bottom": "P"}


def test_coronal_and_sagittal():
    assert edge_markers(*CORONAL) == {"left": "R", "right": "L", "top": "S", "bottom": "I"}
    assert edge_markers(*SAGITTAL) == {"left": "A", "right": "P", "top": "S", "bottom": "I"}


def test_oblique_edges_name_the_second_direction_too():
    markers = edge_markers(*TILTED)
    assert markers["top"] == "AS" and markers["bottom"] == "PI"
    assert markers["left"] == "R" and markers["right"] == "L"
    # the brain sample, 10.2° off axial, is close enough to say one letter
    tilt = np.radians(10.2)
    assert edge_markers((1, 0, 0), (0, np.cos(tilt), -np.sin(tilt)))["bottom"] == "P"


def test_direction_letters_dominant_first():
    assert direction_letters((0.8, -0.6, 0.0)) == "LA"
    assert direction_letters((0.0, 0.0, -1.0)) == "I"
    assert direction_letters((-0.58, 0.58, 0.58)) in {"RPS", "RSP", "PRS", "PSR", "SRP", "SPR"}


def test_a_clockwise_quarter_turn_brings_the_left_edge_to_the_top():
    assert edge_markers(*AXIAL, rotation=1) == {"top": "R", "right": "A", "bottom": "L", "left": "P"}
    assert edge_markers(*AXIAL, rotation=4) == edge_markers(*AXIAL)


def test_flips_swap_opposite_edges():
    assert edge_markers(*AXIAL, flip_horizontal=True)["right"] == "R"
    assert edge_markers(*AXIAL, flip_vertical=True)["top"] == "P"
    # a half turn is both flips
    assert edge_markers(*SAGITTAL, rotation=2) == edge_markers(*SAGITTAL, flip_horizontal=True,
                                                              flip_vertical=True)


@pytest.mark.parametrize("rotation, flip_h, flip_v", list(itertools.product(range(4), (False, True), (False, True))))
def test_screen_directions_stay_a_right_handed_or_mirrored_frame(rotation, flip_h, flip_v):
    right, down = screen_directions(*TILTED, rotation, flip_h, flip_v)
    assert abs(right @ down) < 1e-9 and np.linalg.norm(right) == pytest.approx(1, abs=1e-3)
    normal = np.cross(TILTED[0], TILTED[1])
    mirrored = flip_h != flip_v
    assert np.cross(right, down) @ normal == pytest.approx(-1 if mirrored else 1, abs=1e-3)
