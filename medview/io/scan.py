"""Folder scan: find every DICOM image under a folder by reading headers only, on both cores.

Nothing is dropped silently: a file that is not an image (or not DICOM, or broken) is listed with the
reason. The scan never raises on a file's content, honours a cancel token between chunks and reports
progress as (files done, files in all).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

from medview.errors import Cancelled, NotDicomError
from medview.io.headers import ImageHeader, read_headers

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
#: Files read per task: large enough to amortise the hop to a worker process, small enough for progress.
CHUNK = 24
#: Below this many files one process is faster than starting a pool.
POOL_THRESHOLD = 96

Progress = Callable[[int, int], None]


class CancelToken:
    """Set by the user (Cancel), checked by long operations between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass
class ScanResult:
    root: str
    images: list[ImageHeader] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    #: DICOMDIR files found, with the number of image files each references
    dicomdirs: dict[str, int] = field(default_factory=dict)
    n_files: int = 0


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def describe_failure(path: str, error: BaseException) -> str:
    """A reason a radiologist can read for a file that gave no image."""
    try:
        size = os.path.getsize(path)
    except OSError as os_error:
        return f"cannot be read: {_one_line(os_error)}"
    if size == 0:
        return "empty file (0 bytes)"
    if isinstance(error, pydicom.errors.InvalidDicomError):
        return "not a DICOM file (no DICM marker and no DICOM header)"
    if isinstance(error, RecursionError):
        return "damaged DICOM header: sequences nested too deeply"
    if isinstance(error, MemoryError):
        return "damaged DICOM header: an element claims an impossible length"
    if isinstance(error, (ValueError, NotDicomError)) and str(error).startswith(
            ("not an image", "no image", "1-bit", "truncated", "pixel data is shorter")):
        return _one_line(error)
    return f"damaged DICOM header: {_one_line(error)}"


def read_file(path: str) -> tuple[str, list[ImageHeader] | None, str | None]:
    """(path, headers, None) for an image file, (path, None, reason) otherwise. Never raises."""
    try:
        return path, read_headers(path), None
    except BaseException as error:  # noqa: BLE001 - a file's content must never stop the scan
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        return path, None, describe_failure(path, error)


def _read_chunk(paths: list[str]) -> list[tuple[str, list[ImageHeader] | None, str | None]]:
    return [read_file(path) for path in paths]


def list_files(root: Path) -> list[str]:
    """Every regular file under root (recursive), in a stable order; hidden files are kept too."""
    if root.is_file():
        return [str(root)]
    found = []
    for folder, _dirs, files in os.walk(root):
        _dirs.sort()
        for name in sorted(files):
            found.append(os.path.join(folder, name))
    return found


def _is_dicomdir(path: str) -> bool:
    """By name, as PS3.10 requires on media; a DICOMDIR under another name is reported as not an image."""
    return os.path.basename(path).upper() == "DICOMDIR"


def dicomdir_references(path: str) -> list[str]:
    """The image files a DICOMDIR references, as paths; raises on a broken DICOMDIR."""
    dicomdir = pydicom.dcmread(path)
    base = Path(path).parent
    referenced = []
    for record in dicomdir.get("DirectoryRecordSequence", []):
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else list(file_id)
        referenced.append(str(_resolve_case(base, parts)))
    return referenced


def _resolve_case(base: Path, parts: list[str]) -> Path:
    """CD file names are upper case in the DICOMDIR but may not be on disk: match case-insensitively."""
    current = base
    for part in parts:
        candidate = current / part
        if not candidate.exists() and current.is_dir():
            matches = [p for p in current.iterdir() if p.name.upper() == part.upper()]
            candidate = matches[0] if matches else candidate
        current = candidate
    return current


_warm_pool: ProcessPoolExecutor | None = None


def _fork_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))


def start_scan_workers(workers: int | None = None) -> bool:
    """Fork the header-reading workers now, while this process runs one thread, and keep them.

    The GUI calls this at start-up: forking later, from a process that runs other threads, could inherit
    locks those threads hold. Returns whether a warm pool is ready.
    """
    global _warm_pool
    if _warm_pool is None and threading.active_count() == 1 and os.name == "posix":
        workers = workers or min(2, os.cpu_count() or 1)
        _warm_pool = _fork_pool(workers)
        for future in [_warm_pool.submit(os.getpid) for _ in range(workers)]:
            future.result()
    return _warm_pool is not None


def _pool(workers: int) -> tuple[Executor | None, bool]:
    """(pool, owned): the warm pool, or a fresh forked one in a one-thread process, or none (read here)."""
    if _warm_pool is not None:
        return _warm_pool, False
    if threading.active_count() == 1 and os.name == "posix":
        return _fork_pool(workers), True
    return None, False


def _forget_warm_pool() -> None:
    global _warm_pool
    if _warm_pool is not None:
        _warm_pool.shutdown(wait=False, cancel_futures=True)
    _warm_pool = None


def _read_in_pool(to_read: list[str], workers: int, outcomes: list, progress: Progress | None,
                  cancel: CancelToken | None) -> int:
    """Read headers on `workers` processes into `outcomes`; returns files done. Stops early on a broken pool."""
    total, done = len(to_read), 0
    size = max(CHUNK, min(256, total // (workers * 4) + 1))
    try:
        pool, owned = _pool(workers)
    except (OSError, RuntimeError, ValueError):
        return done
    if pool is None:
        return done
    try:
        pending = {pool.submit(_read_chunk, chunk) for chunk in _chunks(to_read, size)}
        while pending:
            finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            if cancel:
                cancel.raise_if_cancelled()
            for future in finished:
                chunk_outcomes = future.result()
                outcomes.extend(chunk_outcomes)
                done += len(chunk_outcomes)
            if finished and progress:
                progress(done, total)
    except (BrokenProcessPool, RuntimeError, OSError):
        if not owned:
            _forget_warm_pool()
    except BaseException:
        for future in pending:
            future.cancel()
        raise
    finally:
        if owned:
            pool.shutdown(wait=True, cancel_futures=True)
    return done


def _chunks(paths: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(paths), size):
        yield paths[start:start + size]


def scan_folder(
    path: str | os.PathLike,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    workers: int | None = None,
) -> ScanResult:
    """Read the headers of every file under `path` (a folder, a DICOMDIR or one file)."""
    root = Path(path)
    if not root.exists():
        raise NotDicomError(f"{root} does not exist")
    files = list_files(root)
    result = ScanResult(root=str(root))

    to_read: list[str] = []
    seen: set[str] = set()
    for file in files:
        if _is_dicomdir(file):
            try:
                references = dicomdir_references(file)
            except Exception as error:  # noqa: BLE001
                result.skipped.append(SkippedFile(file, f"broken DICOMDIR: {_one_line(error)}"))
                continue
            result.dicomdirs[file] = len(references)
            for referenced in references:
                if not os.path.isfile(referenced):
                    result.skipped.append(SkippedFile(referenced, f"referenced by {file} but missing"))
                elif referenced not in seen:
                    seen.add(referenced)
                    to_read.append(referenced)
        elif file not in seen:
            seen.add(file)
            to_read.append(file)
    result.n_files = len(to_read)

    total = len(to_read)
    done = 0
    if progress:
        progress(0, total)
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    outcomes: list[tuple[str, list[ImageHeader] | None, str | None]] = []
    if workers > 1 and total >= POOL_THRESHOLD:
        done = _read_in_pool(to_read, workers, outcomes, progress, cancel)
    # what the pool did not read (few files, or a pool that could not start or broke) is read here:
    # a broken pool costs speed, never files
    finished = {outcome[0] for outcome in outcomes}
    for chunk in _chunks([p for p in to_read if p not in finished], CHUNK):
        if cancel:
            cancel.raise_if_cancelled()
        outcomes.extend(_read_chunk(chunk))
        done += len(chunk)
        if progress:
            progress(done, total)
    order = {p: i for i, p in enumerate(to_read)}
    outcomes.sort(key=lambda outcome: order[outcome[0]])
    for file, headers, reason in outcomes:
        if headers:
            result.images.extend(headers)
        else:
            result.skipped.append(SkippedFile(file, reason or "no image"))
    return result
