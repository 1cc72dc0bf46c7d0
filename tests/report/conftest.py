"""Report tests: a QApplication exists before the PDF writer makes its own QGuiApplication, so the tests that
open a window (pytest-qt) can run in the same process in any order."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _qt_application(qapp):
    return qapp
