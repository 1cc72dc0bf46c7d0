"""GUI fixtures: a real main window on the bundled sample, with tiny models trained for the session."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QSettings

import medview.ai.registry as registry
from medview.gui.app import SAMPLE
from tests.gui.helpers import open_and_wait, shown_window


@pytest.fixture(autouse=True)
def settings_kept_away(tmp_path):
    """QSettings made without a file (QSettings("medview", "medview")) write under the test's folder, never
    into the user's real preferences."""
    for kind in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(kind, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))


@pytest.fixture()
def models(tmp_path, tiny_models, monkeypatch):
    folder = tmp_path / "models"
    shutil.copytree(tiny_models, folder)
    monkeypatch.setattr(registry, "BUNDLED", tmp_path / "no-bundled-models")
    monkeypatch.setenv("MEDVIEW_MODELS", str(folder))
    return folder


@pytest.fixture()
def window(qtbot, tmp_path, models):
    main = shown_window(qtbot, tmp_path)
    open_and_wait(qtbot, main, SAMPLE, k=17)
    yield main
    main.inference.cancel_series()
    main.cancel_loading()
