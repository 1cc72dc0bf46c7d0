"""Window and level: presets, the command-line form, percentile windows for MR, and the grey mapping."""

from __future__ import annotations

import numpy as np
import pytest

from medview import cli_values
from medview.core.window_level import (
    CT_PRESETS,
    Window,
    default_window,
    grey,
    percentile_window,
    presets_for,
)
from medview.errors import MedviewError


def test_ct_presets_are_the_eight_named_windows_in_key_order():
    names = [preset.name for preset in presets_for("CT", np.zeros(4))]
    assert names == ["brain", "subdural", "stroke", "lung", "mediastinum", "abdomen", "liver", "bone"]
    by_name = {preset.name: preset for preset in CT_PRESETS}
    assert (by_name["brain"].width, by_name["brain"].level) == (80, 40)
    assert (by_name["lung"].width, by_name["lung"].level) == (1500, -600)
    assert by_name["bone"].level > 300 and by_name["bone"].width >= 1500


def test_window_edges_are_level_plus_or_minus_half_the_width():
    window = Window(400, 40)
    assert (window.low, window.high) == (-160, 240)


def test_window_from_the_command_line():
    window = cli_values.window("1500/-600")
    assert (window.width, window.level) == (1500, -600)
    for bad in ("400", "wide/40", "400/40/1", "0/40", "-10/40"):
        with pytest.raises(MedviewError):
            cli_values.window(bad)


def test_mr_presets_come_from_the_values_percentiles():
    values = np.arange(1001.0)
    presets = presets_for("MR", values)
    full, default = presets[0], presets[1]
    assert (full.low, full.high) == pytest.approx((0, 1000))
    assert (default.low, default.high) == pytest.approx((10, 990))
    assert default_window("MR", values) == Window(default.width, default.level, default.name)
    assert default_window("CT", values) == Window(400, 40, "soft tissue")


def test_percentile_window_of_a_big_volume_is_taken_from_a_subsample_and_still_right():
    values = np.random.default_rng(0).normal(500, 100, size=(40, 256, 256)).astype(np.float32)
    window = percentile_window(values, 1, 99)
    assert window.low == pytest.approx(500 - 2.326 * 100, abs=5)
    assert window.high == pytest.approx(500 + 2.326 * 100, abs=5)


def test_a_flat_image_still_gets_a_usable_window():
    window = percentile_window(np.full((8, 8), 7.0), 1, 99)
    assert window.width > 0 and window.low <= 7 <= window.high


def test_grey_is_black_below_white_above_and_linear_between():
    window = Window(200, 100)  # 0 → black, 200 → white
    values = np.array([-50, 0, 100, 200, 300], dtype=np.int16)
    assert grey(values, window).tolist() == [0, 0, 127, 255, 255]
    assert grey(values, window, inverted=True).tolist() == [255, 255, 127, 0, 0]
    assert values.tolist() == [-50, 0, 100, 200, 300], "the values are never changed"


def test_window_text_is_short():
    assert str(Window(1047.01, 523.505)) == "W 1047 / L 523.5"
    assert str(Window(400, -600)) == "W 400 / L -600"
    assert str(Window(0.0125, 0.003)) == "W 0.0125 / L 0.003"
