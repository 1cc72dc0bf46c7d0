"""The JPEG 2000 decoder workers (and their fork server) end with the viewer, however it ends: a viewer killed by
the desktop session or crashed leaves no idle decoder processes behind (orphaned ones were seen on this machine),
and none of the shared buffers the frames came back through."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.io.test_scan_workers_end_with_the_viewer import alive, left_after_killing

PROJECT = Path(__file__).resolve().parents[2]
VIEWER_LIKE = ("import time, multiprocessing.forkserver as fs, multiprocessing.resource_tracker as rt\n"
               "from pydicom.data import get_testdata_file\n"
               "from medview.io import load_volume\n"
               "from medview.io import decode_pool\n"
               "load_volume(get_testdata_file('MR_small_jp2klossless.dcm'))\n"
               "workers = list(decode_pool._shared._pool._processes)\n"
               "helpers = [fs._forkserver._forkserver_pid, rt._resource_tracker._pid]\n"
               "print(' '.join(str(p) for p in [*workers, *helpers]))\n"
               "print(' '.join(s.name for s in decode_pool._shared.slots._free), flush=True)\n"
               "time.sleep(600)\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_decoder_workers_end_when_the_viewer_is_killed(how):
    viewer = subprocess.Popen([sys.executable, "-c", VIEWER_LIKE], stdout=subprocess.PIPE, text=True, cwd=PROJECT)
    processes = [int(pid) for pid in viewer.stdout.readline().split()]
    buffers = [Path("/dev/shm") / name.lstrip("/") for name in viewer.stdout.readline().split()]
    assert len(processes) >= 3 and all(alive(pid) for pid in processes)
    assert buffers and all(buffer.exists() for buffer in buffers)  # the frame came back through one
    left = left_after_killing(viewer, processes, how)
    assert not left, f"decoder processes outlived the viewer: {left}"
    deadline = time.monotonic() + 10
    while any(buffer.exists() for buffer in buffers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [b for b in buffers if b.exists()], "shared frame buffers outlived the viewer"
