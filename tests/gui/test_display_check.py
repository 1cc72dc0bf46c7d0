"""No screen, or a Qt platform plug-in that cannot start: one line that says what to do, exit 2, never Qt's abort.
Each case runs `medview` in its own process, as a user would start it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from medview.gui.display_check import display_problem

PROJECT = Path(__file__).resolve().parents[2]


def start_medview(environ: dict[str, str | None], code: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in environ}
    env.update({k: v for k, v in environ.items() if v is not None})
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "medview.cli",
                                                          "resources/sample/mr_brain_t1post_tcia_btp"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=PROJECT, env=env)


def one_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr)  # not -6 (SIGABRT) nor 134
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("medview: ")
    return lines[0]


def test_no_display_with_the_xcb_plugin_says_what_to_install():
    line = one_line(start_medview({"DISPLAY": None, "WAYLAND_DISPLAY": None, "QT_QPA_PLATFORM": "xcb"}))
    assert "DISPLAY is not set" in line and "apt install xvfb" in line


def test_no_display_and_no_platform_named_says_the_same():
    line = one_line(start_medview({"DISPLAY": None, "WAYLAND_DISPLAY": None, "QT_QPA_PLATFORM": None}))
    assert "DISPLAY is not set" in line


def test_a_display_with_no_x_server_behind_it_is_named():
    line = one_line(start_medview({"DISPLAY": ":71", "QT_QPA_PLATFORM": "xcb"}))
    assert "cannot open the X display ':71'" in line


def test_a_platform_plugin_that_does_not_exist_lists_those_that_do():
    line = one_line(start_medview({"QT_QPA_PLATFORM": "nosuchscreen"}))
    assert "'nosuchscreen' is not in this installation" in line and "offscreen" in line and "xcb" in line


def test_any_other_fatal_qt_start_becomes_one_line():
    code = textwrap.dedent("""
        from PySide6.QtCore import qFatal, qWarning
        from medview.gui.display_check import QtStartGuard
        with QtStartGuard():
            qWarning("qt.qpa.plugin: something it tried first")
            qFatal("This application failed to start because no Qt platform plugin could be initialized.")
        print("not reached")
    """)
    line = one_line(start_medview({"QT_QPA_PLATFORM": "xcb"}, code))
    assert "could not start its 'xcb' platform plug-in" in line and "apt install libxcb-cursor0" in line


@pytest.mark.parametrize(("missing", "package"), [("libxcb-cursor.so.0", "libxcb-cursor0"),
                                                   ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0")])
def test_a_library_the_xcb_plugin_needs_is_named_with_its_debian_package(tmp_path, missing, package):
    platforms = tmp_path / "platforms"
    platforms.mkdir()
    plugin = platforms / "libqxcb.so"
    plugin.write_bytes(b"")  # loading it fails: stands for the loader's error, checked by its wording below
    from medview.gui import display_check

    line = display_check._missing_library(f"{missing}: cannot open shared object file: No such file or directory")
    assert f"apt install {package}" in line and missing in line
    assert display_problem({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, platforms) is not None
