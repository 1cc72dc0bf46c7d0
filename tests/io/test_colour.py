"""Colour images (RGB, YBR, palette colour) load as colour volumes of R, G, B in 0–255, never an error."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medview.io import load_volume


def _colour_volume(name: str, tmp_path):
    shutil.copy(get_testdata_file(name), tmp_path / name)
    return load_volume(tmp_path)


def _reference_rgb() -> np.ndarray:
    return pydicom.dcmread(get_testdata_file("SC_rgb.dcm")).pixel_array


@pytest.mark.parametrize(("name", "tolerance"), [
    ("SC_rgb.dcm", 0), ("SC_rgb_rle.dcm", 0), ("SC_rgb_jpeg_gdcm.dcm", 0),
    # YBR → RGB rounds: within a few levels of the RGB original, and exactly what pydicom converts
    ("SC_ybr_full_uncompressed.dcm", 8), ("SC_ybr_full_422_uncompressed.dcm", 8),
])
def test_rgb_and_ybr_images_load_as_rgb_volumes(tmp_path, name, tolerance):
    volume = _colour_volume(name, tmp_path)
    assert volume.photometric == "RGB" and volume.is_colour
    assert volume.shape == (1, 100, 100) and volume.voxels.shape == (1, 100, 100, 3)
    assert volume.voxels.dtype == np.uint8
    assert np.array_equal(volume.slice(0), pydicom.dcmread(get_testdata_file(name)).pixel_array)
    difference = np.abs(volume.slice(0).astype(int) - _reference_rgb().astype(int))
    assert difference.max() <= tolerance
    # SC_rgb's first band is pure red
    assert tuple(volume.slice(0)[5, 50]) == pytest.approx((255, 0, 0), abs=tolerance)


def test_a_two_frame_rgb_file_gives_two_colour_slices(tmp_path):
    volume = _colour_volume("SC_rgb_rle_2frame.dcm", tmp_path)
    reference = pydicom.dcmread(get_testdata_file("SC_rgb_rle_2frame.dcm")).pixel_array
    assert volume.voxels.shape == (2, 100, 100, 3)
    assert np.array_equal(volume.voxels, reference)


def test_palette_colour_is_looked_up_into_rgb(tmp_path):
    volume = _colour_volume("OBXXXX1A.dcm", tmp_path)
    dataset = pydicom.dcmread(get_testdata_file("OBXXXX1A.dcm"))
    expected = pydicom.pixels.apply_color_lut(dataset.pixel_array, dataset)
    expected = (expected >> 8) if expected.dtype.itemsize > 1 else expected
    assert volume.voxels.shape == (1, 600, 800, 3)
    assert np.array_equal(volume.slice(0), expected.astype(np.uint8))
    assert len({tuple(v) for v in volume.slice(0)[::20, ::20].reshape(-1, 3)}) > 10  # colours, not grey


def test_planar_and_interleaved_rgb_give_the_same_colours(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    planar = _colour_volume("color-pl.dcm", tmp_path / "a")
    interleaved = _colour_volume("color-px.dcm", tmp_path / "b")
    assert np.array_equal(planar.voxels, interleaved.voxels)
