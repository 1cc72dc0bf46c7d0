"""The one worker abstraction: an error or a Cancel is the job's to handle, never raised again on the GUI thread."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from medview.errors import Cancelled, DecodeError
from medview.gui.workers import Job


def _failing(error: Exception, token):
    yield "started"
    raise error


def test_a_worker_error_reaches_the_job_and_is_not_raised_again(qtbot):
    errors = []
    job = Job(_failing, DecodeError("slice 3 could not be decoded"), owner=QWidget(), on_error=errors.append)
    with qtbot.waitSignal(job.worker.finished, timeout=10_000):
        job.start()
    qtbot.wait(50)  # pytest-qt fails the test on an exception raised in the event loop
    assert [str(e) for e in errors] == ["slice 3 could not be decoded"]


def test_a_cancel_ends_quietly(qtbot):
    errors = []
    job = Job(_failing, Cancelled("cancelled"), owner=QWidget(), on_error=errors.append)
    with qtbot.waitSignal(job.worker.finished, timeout=10_000):
        job.start()
    qtbot.wait(50)
    assert errors == []


def test_a_job_whose_owner_was_deleted_calls_nothing_of_it(qtbot):
    owner = QWidget()
    said = []
    job = Job(_failing, DecodeError("late"), owner=owner, on_yield=said.append, on_error=said.append,
              on_finished=lambda: said.append("finished"))
    owner.deleteLater()
    qtbot.waitUntil(lambda: not __import__("shiboken6").isValid(owner), timeout=5_000)
    with qtbot.waitSignal(job.worker.finished, timeout=10_000):
        job.start()
    qtbot.wait(50)
    assert said == []
