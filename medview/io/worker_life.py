"""Worker processes end with the viewer, however it ends.

A desktop app is killed by its session (SIGTERM) or crashes (SIGKILL, abort) without running any clean-up, so
its worker processes must not rely on being told. Linux's parent-death signal kills a worker when the process
that started it dies, which serves the forked header readers (their parent is the viewer). The decoder pool's
workers are children of multiprocessing's fork server, which does not end with the viewer (its workers hold its
liveness pipe open, and they wait on a queue whose write end they hold themselves): they watch the viewer's
process through a pidfd instead, and once they are gone the fork server ends too.
"""

from __future__ import annotations

import os
import sys


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def end_with_viewer(viewer: int) -> None:
    """Pool initializer: ask for SIGKILL when this worker's parent dies; leave now if the viewer is already gone."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1 or not _alive(viewer):  # it died before the signal was asked for
        os._exit(0)
    if os.getppid() != viewer:
        _watch(viewer)


def _watch(viewer: int) -> None:
    """Leave as soon as the viewer's process ends (a pidfd becomes readable then)."""
    import select
    import threading

    try:
        handle = os.pidfd_open(viewer)
    except (AttributeError, OSError):
        return

    def wait_for_the_viewer() -> None:
        select.select([handle], [], [])
        os._exit(0)

    threading.Thread(target=wait_for_the_viewer, name="ends with the viewer", daemon=True).start()
