"""Once the window is built, the objects of start-up are out of the garbage collector's walk: a full collection
(it holds the GIL, in whichever thread triggers it) once stopped the GUI thread for 160-230 ms during a load."""

from __future__ import annotations

import gc

from medview.gui.app import keep_the_collector_off_start_up
from tests.gui.helpers import shown_window


def test_start_up_objects_are_left_out_of_a_full_collection(qtbot, tmp_path):
    shown_window(qtbot, tmp_path)
    gc.collect()  # what earlier tests left to the collector goes first: only live objects are counted
    walked_before = len(gc.get_objects(generation=2))
    try:
        keep_the_collector_off_start_up()
        frozen = gc.get_freeze_count()
        assert frozen >= walked_before > 10_000  # Qt, pyqtgraph and medview's modules: tens of thousands
        assert len(gc.get_objects(generation=2)) < walked_before / 20
    finally:
        gc.unfreeze()
