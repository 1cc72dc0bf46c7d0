"""Once the window is built, the objects of start-up are out of the garbage collector's walk: a full collection
(it holds the GIL, in whichever thread triggers it) once stopped the GUI thread for 160-230 ms during a load."""

from __future__ import annotations

import gc

from medview.gui.app import keep_the_collector_off_start_up
from tests.gui.helpers import shown_window


def test_start_up_objects_are_left_out_of_a_full_collection(qtbot, tmp_path):
    shown_window(qtbot, tmp_path)
    try:
        keep_the_collector_off_start_up()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # Qt, pyqtgraph and medview's modules: tens of thousands of objects
        assert len(gc.get_objects(generation=2)) < frozen / 20  # what a full collection still walks
    finally:
        gc.unfreeze()
