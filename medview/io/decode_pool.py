"""Compressed frames decoded in worker processes: a codec that crashes or hangs costs one file, not medview.

JPEG, JPEG-LS, JPEG 2000 and HTJ2K go through C and C++ libraries (libjpeg, CharLS, OpenJPEG) that a hostile
codestream can crash or keep busy. Those frames are decoded in a pool of processes started by a fork server
(safe from a process that runs threads, as the viewer does); each decoding thread of the assembler waits on
one worker, so two threads still keep two cores busy. A frame that takes longer than its time limit has its
worker killed and is named; a worker that dies takes its frame with it (named) and the pool is replaced;
frames that were merely in flight on a broken pool are decoded again once.

Native pixels and RLE stay in the process: reading bytes cannot run away once io.limits has checked the
sizes, imagecodecs' RLE is given only frames whose segment offsets io.limits has checked (an offset past
the frame made it read outside its buffer: a segmentation fault the fuzzer found), and a process hop would
cost more than they take.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from medview.errors import DecodeError
from medview.io.codecs import Decoder, codec_for
from medview.io.headers import ImageHeader
from medview.io.worker_life import end_with_viewer

#: Seconds a frame may take at least, and more per megapixel (OpenJPEG decodes ~10 Mpx/s on one core).
TIMEOUT_BASE_S = 20.0
TIMEOUT_PER_MPX_S = 2.0
#: Set MEDVIEW_DECODE_IN_PROCESS=1 to decode everything in the process (for measuring the pool's cost).
IN_PROCESS = os.environ.get("MEDVIEW_DECODE_IN_PROCESS") == "1"


def isolated(header: ImageHeader) -> bool:
    """Whether this frame's codec runs in a worker process (compressed by a C/C++ codec)."""
    if IN_PROCESS or not header.transfer_syntax:
        return False
    codec = codec_for(header.transfer_syntax)
    if codec is None:
        return True  # unknown to the table: whatever pydicom finds for it runs apart
    return codec.decoder in (Decoder.IMAGECODECS_JPEG2000, Decoder.PYDICOM) and codec.packages != ()


def time_limit(header: ImageHeader) -> float:
    return TIMEOUT_BASE_S + TIMEOUT_PER_MPX_S * header.rows * header.columns * header.samples_per_pixel / 1e6


class DecoderPool:
    """A process pool that can lose a worker to a bad frame and carry on."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or min(2, os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # no preload: with one, the fork server would import the caller's __main__ (re-running a script)
                context = multiprocessing.get_context("forkserver")
                self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                                 initializer=end_with_viewer, initargs=(os.getpid(),))
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor, kill: bool) -> None:
        with self._lock:
            if self._pool is broken:
                self._pool = None
        if kill:
            for process in list((broken._processes or {}).values()):
                process.kill()
        broken.shutdown(wait=False, cancel_futures=True)

    def run(self, function: Callable[[ImageHeader], np.ndarray], header: ImageHeader,
            timeout: float | None = None) -> np.ndarray:
        """function(header) in a worker; a hang or a crash becomes a DecodeError naming the file."""
        timeout = time_limit(header) if timeout is None else timeout
        for attempt in range(2):
            pool = self._current()
            try:
                future = pool.submit(function, header)
            except (BrokenProcessPool, RuntimeError):
                self._replace(pool, kill=False)
                continue
            try:
                return future.result(timeout=timeout)
            except FutureTimeout:
                self._replace(pool, kill=True)
                raise DecodeError(f"{header.path}: the decoder did not finish in {timeout:.0f} s; "
                                  "it was stopped") from None
            except BrokenProcessPool:
                self._replace(pool, kill=False)
                if attempt == 1:
                    raise DecodeError(f"{header.path}: the decoder crashed on this file") from None
            finally:
                # the future holds the worker's exception, whose traceback holds this frame and the caller's
                # (the assembler's closure over the volume): a cycle that kept each failed volume alive until
                # the garbage collector happened to run (4 MiB a time in the fuzzer)
                del future
        raise DecodeError(f"{header.path}: the decoder could not be started")

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


_shared = DecoderPool()


def decode_isolated(header: ImageHeader) -> np.ndarray:
    """Stored values of one frame, in a worker process when its codec is a C/C++ one."""
    from medview.io.decode import decode_stored

    if not isolated(header):
        return decode_stored(header)
    return _shared.run(decode_stored, header)
