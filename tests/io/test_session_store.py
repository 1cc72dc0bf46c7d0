"""Saved sessions: one file per study, readable by the user only, round-tripped; a damaged file is one clear error."""

from __future__ import annotations

import numpy as np
import pytest

from medview.core.annotations import Annotation
from medview.core.reading import AiFinding
from medview.core.session import ImageRef, SeriesKey, Session
from medview.errors import MedviewError
from medview.io.session_store import read_study, restore_study, save_study, session_path

SERIES = SeriesKey("1.2.3.4", "echo 2")


def _session() -> Session:
    session = Session()
    session.studies[SERIES] = "9.8.7"
    ref = ImageRef(SERIES, 1, 5)
    session.add(ref, Annotation("ellipse", ((1, 2), (3, 4))))
    session.toggle_key_image(ref)
    finding = AiFinding(k=5, label="glioma", probability=0.9, probabilities={"glioma": 0.9, "normal brain": 0.1},
                        model_name="patch", model_version="1", model_sha256="ab" * 32, task="patch",
                        elapsed_ms=1.0, point=(3.0, 4.0), t=1)
    session.keep(session.add_answer(ref, finding, np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)))
    session.add_answer(ref, finding)  # not kept: not saved
    return session


def test_a_study_round_trips_with_its_kept_answers_only(user_data_folder):
    saved = _session()
    path = save_study(saved, "9.8.7")
    assert path == session_path("9.8.7") and path.stat().st_mode & 0o777 == 0o600
    assert str(user_data_folder) in str(path)
    again = Session()
    assert restore_study(again, read_study("9.8.7")) == 1
    ref = ImageRef(SERIES, 1, 5)
    assert again.on(ref) == saved.on(ref) and again.key_images == {ref}
    [kept] = again.answers_on(ref)
    assert kept.kept and kept.finding == saved.answers_on(ref)[0].finding
    assert np.array_equal(kept.saliency, saved.answers_on(ref)[0].saliency)
    assert again.marks[ref] == [(3, 4)]
    assert read_study("another study") is None


def test_a_damaged_session_file_is_one_clear_error(user_data_folder):
    save_study(_session(), "9.8.7")
    session_path("9.8.7").write_text("{not json")
    with pytest.raises(MedviewError, match="could not be read"):
        read_study("9.8.7")
