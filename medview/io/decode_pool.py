"""Compressed frames decoded in worker processes: a codec that crashes or hangs costs one file, not medview.

JPEG, JPEG-LS, JPEG 2000 and HTJ2K go through C and C++ libraries (libjpeg, CharLS, OpenJPEG) that a hostile
codestream can crash or keep busy. Those frames are decoded in a pool of processes started by a fork server
(safe from a process that runs threads, as the viewer does); each decoding thread of the assembler waits on
one worker, so two threads still keep two cores busy. A frame that takes longer than its time limit has its
worker killed and is named; a worker that dies takes its frame with it (named) and the pool is replaced;
frames that were merely in flight on a broken pool are decoded again once.

A decoded frame comes back through shared memory, not through the pool's pipe: each decoding thread of the
viewer lends the worker a frame buffer (`FrameSlots`, POSIX shared memory that multiprocessing's resource
tracker removes even if the viewer is killed) and the worker copies its frame there. Pickled, a 512 × 512
frame cost ~1.3 ms of CPU on the way back (pickle, pipe, unpickle and their page faults): 0.35 s of a 275-slice
JPEG 2000 CT, on two cores the decoders need. A frame larger than its buffer comes back pickled.

Native pixels and RLE stay in the process: reading bytes cannot run away once io.limits has checked the
sizes, imagecodecs' RLE is given only frames whose segment offsets io.limits has checked (an offset past
the frame made it read outside its buffer: a segmentation fault the fuzzer found), and a process hop would
cost more than they take.
"""

from __future__ import annotations

import atexit
import mmap
import multiprocessing
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass

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


#: Frames up to this size come back through a shared buffer (larger ones, rare single images, pickled).
SLOT_BYTES = 8 << 20
#: Free buffers kept for the next frames (one per decoding thread and one spare; the smallest go first).
KEPT_SLOTS = 3
#: Shared-memory buffers a worker keeps mapped (the viewer's threads reuse theirs, so a few suffice).
WORKER_MAPPINGS = 4


class FrameSlots:
    """Frame buffers in shared memory, lent to one decode at a time and kept for the next ones."""

    def __init__(self) -> None:
        self._free: list = []
        self._lock = threading.Lock()
        self.usable = sys.platform.startswith("linux") and os.path.isdir("/dev/shm")

    @contextmanager
    def lend(self, nbytes: int) -> Iterator:
        """A SharedMemory of at least nbytes for this decode; None for a frame over SLOT_BYTES or when shared
        memory cannot be had (the frame then comes back pickled)."""
        slot = None
        if self.usable and 0 < nbytes <= SLOT_BYTES:
            with self._lock:
                slot = next((s for s in self._free if s.size >= nbytes), None)
                if slot is not None:
                    self._free.remove(slot)
            if slot is None:
                from multiprocessing import shared_memory

                try:
                    slot = shared_memory.SharedMemory(create=True, size=nbytes)
                except OSError:
                    slot = None
        try:
            yield slot
        finally:
            if slot is not None:
                with self._lock:
                    self._free.append(slot)
                    self._free.sort(key=lambda s: s.size)
                    spare = self._free[:-KEPT_SLOTS] if len(self._free) > KEPT_SLOTS else []
                    del self._free[:len(spare)]
                for free in spare:  # nobody holds a view of a free buffer
                    _remove(free)

    def close(self) -> None:
        with self._lock:
            free, self._free = self._free, []
        for slot in free:
            _remove(slot)


def _remove(slot) -> None:
    slot.close()
    try:
        slot.unlink()
    except FileNotFoundError:
        pass


@dataclass(frozen=True)
class InSlot:
    """What a worker returns for a frame it copied into the lent buffer."""

    shape: tuple[int, ...]
    dtype: str


_mapped: OrderedDict[str, mmap.mmap] = OrderedDict()


def _buffer(name: str, size: int) -> mmap.mmap:
    """The viewer's buffer `name`, mapped in this worker (kept for the next frames; the oldest unmapped)."""
    mapping = _mapped.get(name)
    if mapping is None or len(mapping) < size:
        # /dev/shm directly: multiprocessing's SharedMemory would register the buffer with a resource tracker
        # of the worker's as well (Python < 3.13), which removes it when the worker ends
        descriptor = os.open(f"/dev/shm/{name.lstrip('/')}", os.O_RDWR)
        try:
            mapping = mmap.mmap(descriptor, 0)
        finally:
            os.close(descriptor)
        _mapped[name] = mapping
        while len(_mapped) > WORKER_MAPPINGS:
            _mapped.popitem(last=False)[1].close()
    _mapped.move_to_end(name)
    return mapping


def decode_into(function: Callable[[ImageHeader], np.ndarray], header: ImageHeader, name: str | None,
                size: int):
    """In a worker: function(header), copied into the viewer's buffer when it fits (else returned pickled)."""
    values = np.ascontiguousarray(function(header))
    if name is None or values.nbytes > size:
        return values
    try:
        buffer = _buffer(name, size)
    except (OSError, ValueError):  # the buffer is gone or empty: the frame travels pickled
        return values
    target = np.ndarray(values.shape, dtype=values.dtype, buffer=buffer)
    target[...] = values
    return InSlot(values.shape, values.dtype.str)


def time_limit(header: ImageHeader) -> float:
    return TIMEOUT_BASE_S + TIMEOUT_PER_MPX_S * header.rows * header.columns * header.samples_per_pixel / 1e6


class DecoderPool:
    """A process pool that can lose a worker to a bad frame and carry on."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or min(2, os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self.slots = FrameSlots()

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

    @contextmanager
    def lent(self, function: Callable[[ImageHeader], np.ndarray], header: ImageHeader,
             timeout: float | None = None) -> Iterator[np.ndarray]:
        """function(header) in a worker (a hang or a crash becomes a DecodeError naming the file), the frame
        handed over in a shared buffer that is valid inside the `with` only: the assembler copies it into the
        volume there, and the buffer goes to the next frame."""
        timeout = time_limit(header) if timeout is None else timeout
        nbytes = header.rows * header.columns * max(1, header.samples_per_pixel) * max(1, header.bits_allocated // 8)
        with self.slots.lend(nbytes) as slot:
            name, size = (slot.name, slot.size) if slot is not None else (None, 0)
            result = self._submit(function, header, timeout, name, size)
            if isinstance(result, InSlot):
                result = np.ndarray(result.shape, dtype=np.dtype(result.dtype), buffer=slot.buf)
            yield result

    def _submit(self, function, header: ImageHeader, timeout: float, name: str | None, size: int):
        for attempt in range(2):
            pool = self._current()
            try:
                future = pool.submit(decode_into, function, header, name, size)
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
                name = None  # once more, pickled: a full /dev/shm kills a worker writing its buffer (SIGBUS)
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
        self.slots.close()


_shared = DecoderPool()
atexit.register(_shared.slots.close)  # the resource tracker would remove them too, with a warning


@contextmanager
def decoded(header: ImageHeader) -> Iterator[np.ndarray]:
    """Stored values of one frame, decoded in a worker process when its codec is a C/C++ one, valid inside the
    `with` only (from a worker they lie in a shared buffer that the next frame reuses): copy them out there, as
    the assembler does into the volume."""
    from medview.io.decode import decode_stored

    if not isolated(header):
        yield decode_stored(header)
        return
    with _shared.lent(decode_stored, header) as values:
        yield values
