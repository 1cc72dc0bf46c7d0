"""The reader's own W/L presets (a preference): in place of the built-in CT list, before the MR percentiles;
the scanner's windows stay first."""

import numpy as np

from medview.core.window_level import CT_PRESETS, MR_PERCENTILES, Window, presets_for

SCANNER = (Window(90, 35, "scanner: brain"),)
MINE = (Window(60, 35, "narrow brain"), Window(1500, -600, "lung"))


def test_ct_presets_of_the_reader_replace_the_built_in_list_after_the_scanners():
    assert presets_for("CT", np.zeros(4), SCANNER, MINE) == [*SCANNER, *MINE]
    assert presets_for("CT", np.zeros(4), SCANNER, None) == [*SCANNER, *CT_PRESETS]
    assert presets_for("CT", np.zeros(4), (), ()) == []  # the reader emptied the list on purpose


def test_mr_presets_of_the_reader_come_before_the_percentile_windows():
    values = np.arange(1000, dtype=np.float32)
    presets = presets_for("MR", values, SCANNER, MINE)
    assert presets[:3] == [*SCANNER, *MINE]
    assert [p.name for p in presets[3:]] == [name for name, _low, _high in MR_PERCENTILES]
