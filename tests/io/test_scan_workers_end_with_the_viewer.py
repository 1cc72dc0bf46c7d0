"""The header readers the viewer forks at start-up end with it, however it ends: a desktop app killed by the
session (SIGTERM), or one that crashed (SIGKILL, abort), leaves no idle medview processes behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
VIEWER_LIKE = ("import os, sys, time, multiprocessing\n"
               "from medview.io.scan import start_scan_workers\n"
               "assert start_scan_workers(2)\n"
               "print(' '.join(str(p.pid) for p in multiprocessing.active_children()), flush=True)\n"
               "time.sleep(600)\n")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def left_after_killing(viewer: subprocess.Popen, processes: list[int], how: int) -> list[int]:
    """Kill the viewer-like process; the processes still alive 10 s later (killed too, so none is left)."""
    os.kill(viewer.pid, how)
    viewer.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in processes if alive(pid)]
    for pid in left:  # do not leave them to the machine when the test fails
        os.kill(pid, signal.SIGKILL)
    return left


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_forked_header_readers_end_when_the_viewer_is_killed(how):
    viewer = subprocess.Popen([sys.executable, "-c", VIEWER_LIKE], stdout=subprocess.PIPE, text=True, cwd=PROJECT)
    workers = [int(pid) for pid in viewer.stdout.readline().split()]
    assert len(workers) == 2 and all(alive(pid) for pid in workers)
    left = left_after_killing(viewer, workers, how)
    assert not left, f"header readers outlived the viewer: {left}"
