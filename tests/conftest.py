"""Shared test set-up: Qt offscreen, and the real data folder beside the project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROJECT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: tests fail (never skip) when it is missing."""
    assert SHARED_DATA.is_dir(), f"test data not found at {SHARED_DATA}"
    return SHARED_DATA
