"""The JPEG 2000 decoder workers (and their fork server) end with the viewer, however it ends: a viewer killed by
the desktop session or crashed leaves no idle decoder processes behind (orphaned ones were seen on this machine)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.io.test_scan_workers_end_with_the_viewer import alive, left_after_killing

PROJECT = Path(__file__).resolve().parents[2]
VIEWER_LIKE = ("import time, multiprocessing.forkserver as fs\n"
               "from pydicom.data import get_testdata_file\n"
               "from medview.io import load_volume\n"
               "from medview.io import decode_pool\n"
               "load_volume(get_testdata_file('MR_small_jp2klossless.dcm'))\n"
               "workers = list(decode_pool._shared._pool._processes)\n"
               "print(' '.join(str(p) for p in [*workers, fs._forkserver._forkserver_pid]), flush=True)\n"
               "time.sleep(600)\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_decoder_workers_end_when_the_viewer_is_killed(how):
    viewer = subprocess.Popen([sys.executable, "-c", VIEWER_LIKE], stdout=subprocess.PIPE, text=True, cwd=PROJECT)
    processes = [int(pid) for pid in viewer.stdout.readline().split()]
    assert len(processes) >= 2 and all(alive(pid) for pid in processes)
    left = left_after_killing(viewer, processes, how)
    assert not left, f"decoder processes outlived the viewer: {left}"
