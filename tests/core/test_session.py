"""The session model: everything is filed under the image it was made on, with undo and redo."""

from __future__ import annotations

import numpy as np

from medview.core.annotations import Annotation
from medview.core.reading import AiFinding
from medview.core.session import ImageRef, SeriesKey, SeriesRun, Session, SliceFinding

ECHO_1, ECHO_2 = SeriesKey("1.2.3", "echo 1"), SeriesKey("1.2.3", "echo 2")


def _finding(label: str, probabilities: dict, point=None) -> AiFinding:
    return AiFinding(k=5, label=label, probability=probabilities.get(label, 0.0), probabilities=probabilities,
                     model_name="patch", model_version="1", model_sha256="ab" * 32, task="patch", elapsed_ms=3.0,
                     point=point)


def test_annotations_are_kept_per_image_and_undo_and_redo_walk_the_history():
    session = Session()
    k5, k6 = ImageRef(ECHO_1, 0, 5), ImageRef(ECHO_1, 0, 6)
    first = Annotation("length", ((0, 0), (3, 4)))
    session.add(k5, first)
    session.add(k6, Annotation("text", ((1, 1),), "cyst"))
    session.replace(k5, first, first.moved(1, 1))
    assert session.on(k5) == [first.moved(1, 1)]
    assert session.on(ImageRef(ECHO_2, 0, 5)) == [] and session.on(ImageRef(ECHO_1, 1, 5)) == []
    assert session.refs_of(ECHO_1) == [k5, k6]
    session.undo()
    assert session.on(k5) == [first]
    session.redo()
    assert session.on(k5) == [first.moved(1, 1)]
    session.undo()
    session.remove(k5, first)
    assert session.on(k5) == [] and not session.redo()  # a new edit ends the redo history
    assert session.toggle_key_image(k5) and k5 in session.key_images
    session.undo()
    session.undo()
    assert session.on(k5) == [first] and not session.key_images


def test_the_points_of_one_measurement_come_from_one_image():
    session = Session()
    k17, k5 = ImageRef(ECHO_1, 0, 17), ImageRef(ECHO_1, 0, 5)
    assert session.click(k17, "length", (1, 1)) is None
    assert session.click(k5, "length", (2, 2)) is None  # another image: the length starts again there
    assert session.drawing_on(k17) == [] and session.drawing_on(k5) == [(2.0, 2.0)]
    assert session.click(k5, "length", (3, 3)) == ((2.0, 2.0), (3.0, 3.0))


def test_an_answer_that_says_nothing_is_never_kept_and_keeping_is_undone():
    session = Session()
    ref = ImageRef(ECHO_1, 0, 5)
    air = session.add_answer(ref, _finding("outside the head: no answer", {}, (1.0, 1.0)))
    tumour = session.add_answer(ref, _finding("glioma", {"glioma": 0.8, "normal brain": 0.2}, (175.0, 210.0)),
                                np.zeros((4, 4)))
    assert not session.keep(air) and not air.kept
    assert session.keep(tumour) and session.kept_answers(ECHO_1) == [tumour]
    assert session.kept_answers(ECHO_2) == []
    assert "glioma" in tumour.describe() and "(175, 210)" in tumour.describe()
    session.undo()
    assert not tumour.kept


def test_mpr_refs_of_the_same_plane_compare_equal_after_rounding():
    a = ImageRef.mpr(ECHO_1, 0, (0, 0, 1.000001), (1, 0, 0), 12.3449)
    b = ImageRef.mpr(ECHO_1, 0, (0, 0, 1.0), (1, 0, 0.00001), 12.3401)
    assert a == b and a.plane != "acquired"


def test_a_series_run_files_one_finding_per_slice():
    run = SeriesRun("patch", 0.5, 3)
    for finding in (SliceFinding(1, 0.7, True, (2.0, 3.0)), SliceFinding(0, None, False),
                    SliceFinding(1, 0.6, True, (2.0, 3.0))):
        run.add(finding)
    assert [(f.k, f.score) for f in run.findings] == [(0, None), (1, 0.6)]
