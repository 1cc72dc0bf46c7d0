"""Every bad command-line value is one line on stderr and a non-zero exit: never a traceback, never a hang."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from medview import cli_values
from medview.errors import MedviewError
from medview.gui.app import SAMPLE

PROJECT = Path(__file__).resolve().parents[1]


def _medview(*argv: str, cwd=None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(PROJECT)}
    return subprocess.run([sys.executable, "-m", "medview.cli", *argv], capture_output=True, text=True,
                          timeout=90, cwd=cwd, env=environment)


def _one_line_refusal(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    # the offscreen platform's own chatter is Qt's, not medview's
    lines = [line for line in done.stderr.strip().splitlines() if "propagateSizeHints" not in line]
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("value", ["400", "0/40", "-400/40", "abc/40", "nan/40", "400/inf"])
def test_a_bad_window_is_one_line_in_the_viewer(tmp_path, value):
    done = _medview(str(SAMPLE), f"--window={value}", "--screenshot", str(tmp_path / "x.png"))
    _one_line_refusal(done, "--window")
    assert not (tmp_path / "x.png").exists()


def test_a_bad_window_is_one_line_in_the_report(tmp_path):
    _one_line_refusal(_medview("report", str(SAMPLE), "-o", str(tmp_path / "r.pdf"), "--window", "40"), "--window")


def test_a_bad_point_is_one_line_and_the_viewer_does_not_hang(tmp_path):
    done = _medview(str(SAMPLE), "--classify-at", "abc", "--screenshot", str(tmp_path / "x.png"))
    _one_line_refusal(done, "--classify-at")


def test_a_slice_outside_the_series_is_one_line(tmp_path):
    done = _medview(str(SAMPLE), "--slice", "99", "--screenshot", str(tmp_path / "x.png"))
    _one_line_refusal(done, "--slice 99", "0 to 23")
    assert not (tmp_path / "x.png").exists()


def test_an_empty_path_is_refused_not_read_as_the_working_folder(tmp_path):
    _one_line_refusal(_medview("info", "", cwd=tmp_path), "empty")


@pytest.mark.parametrize("text", ["1500/-600", "400/40", "0.0125/0.5"])
def test_a_window_with_a_negative_level_or_a_narrow_width_is_read(text):
    width, level = (float(v) for v in text.split("/"))
    window = cli_values.window(text)
    assert (window.width, window.level) == (width, level)


def test_the_value_parsers_refuse_with_one_line():
    for call in (lambda: cli_values.point("1,nan"), lambda: cli_values.point("1"),
                 lambda: cli_values.segment("1,2,3", "--length"), lambda: cli_values.slice_index(24, 24),
                 lambda: cli_values.slice_index(-1, 24), lambda: cli_values.size("0x0")):
        with pytest.raises(MedviewError) as refused:
            call()
        assert "\n" not in str(refused.value)
    assert cli_values.point("175,210") == (175.0, 210.0)
    assert cli_values.slice_index(23, 24) == 23
