"""Shared test set-up: Qt offscreen, and the real data folder beside the project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROJECT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def user_data_folder(tmp_path, monkeypatch) -> Path:
    """Each test's own user data folder: saved sessions never leak between tests or into the home folder."""
    folder = tmp_path / "user-data"
    monkeypatch.setenv("MEDVIEW_DATA", str(folder))
    return folder


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: tests fail (never skip) when it is missing."""
    assert SHARED_DATA.is_dir(), f"test data not found at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, shared_data) -> Path:
    """A slice and a patch model trained by `medview train` for two steps on a dozen images per split."""
    root = tmp_path_factory.mktemp("models")
    for task in ("slice", "patch"):
        done = subprocess.run(
            [sys.executable, "-m", "medview.cli", "train", str(shared_data / "brain_tumor_mri"), "--task", task,
             "--out", str(root / task), "--limit", "12", "--max-steps", "2", "--epochs", "1"],
            capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    return root


@pytest.fixture(scope="session")
def tiny_nodule_model(tmp_path_factory, shared_data) -> Path:
    """A lung nodule model trained by `medview train --task nodule` for two steps on 10 nodules per split."""
    folder = tmp_path_factory.mktemp("nodule-model") / "lung-nodule-tiny"
    done = subprocess.run(
        [sys.executable, "-m", "medview.cli", "train", str(shared_data / "ct_lung_nodule"), "--task", "nodule",
         "--out", str(folder), "--limit", "10", "--max-steps", "2", "--epochs", "1"],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return folder
