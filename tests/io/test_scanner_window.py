"""The scanner's windows (WindowCenter/WindowWidth with explanations, VOI LUTs) are read and become the default."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medview.core.window_level import CT_PRESETS, Window, default_window, presets_for
from medview.io import load_volume, open_folder
from medview.io.headers import read_headers


def test_every_window_pair_is_read_with_its_explanation(shared_data):
    volume = load_volume(shared_data / "samples" / "ct_chest")
    assert volume.windows == (Window(350, 40, "scanner: WINDOW1"), Window(1200, -600, "scanner: WINDOW2"))
    assert default_window("CT", volume.voxels, volume.windows) == volume.windows[0]
    presets = presets_for("CT", volume.voxels, volume.windows)
    assert presets[:2] == list(volume.windows) and presets[2:] == list(CT_PRESETS)


def test_a_window_stored_per_slice_gives_the_median_over_the_volume(shared_data):
    folder = shared_data / "samples" / "mr_brain_t1post_tcia_btp"
    datasets = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(folder.iterdir())]
    widths = [float(d.WindowWidth) for d in datasets]
    assert len(set(widths)) > 1, "the sample stores a window per slice"
    [spec] = open_folder(folder).volumes
    [window] = spec.windows
    assert window.width == pytest.approx(np.median(widths))
    assert window.level == pytest.approx(np.median([float(d.WindowCenter) for d in datasets]))
    assert window.name == f"scanner: {datasets[0].WindowCenterWidthExplanation}"


def test_a_voi_lut_sequence_is_a_window_over_its_input_range(tmp_path):
    dataset = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    del dataset.WindowCenter, dataset.WindowWidth
    item = pydicom.Dataset()
    item.LUTDescriptor = [4096, 0, 12]
    item.LUTExplanation = "SOFT"
    item.LUTData = np.arange(4096, dtype="<u2").tobytes()
    dataset.VOILUTSequence = [item]
    dataset.save_as(tmp_path / "voi.dcm")
    [header] = read_headers(str(tmp_path / "voi.dcm"))
    assert header.windows == ((4095.0, 2047.5, "SOFT (VOI LUT range)"),)
