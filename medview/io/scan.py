"""Folder scan: find every DICOM image under a folder by reading headers only, on both cores.

Nothing is dropped silently: a file that is not an image (or not DICOM, or broken) is listed with the
reason. The scan never raises on a file's content, honours a cancel token between chunks and reports
progress as (files done, files in all).
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import stat
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

from medview.errors import Cancelled, GeometryError, ImageRefused, NotDicomError
from medview.io.headers import ImageHeader, read_headers
from medview.io.worker_life import end_with_viewer

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
    #: files read, with something the user should know (a DICOMDIR id that breaks PS3.10's rules)
    warnings: list[SkippedFile] = field(default_factory=list)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def describe_failure(path: str, error: BaseException) -> str:
    """A reason a radiologist can read for a file that gave no image."""
    if isinstance(error, OSError) and not isinstance(error, pydicom.errors.InvalidDicomError):
        return describe_os_error(error)
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
    if isinstance(error, (ImageRefused, GeometryError)):
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


#: What a path that is not a regular file is, for the skipped list.
FILE_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
              (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def not_a_regular_file(path: str) -> str | None:
    """Why `path` (links resolved) must not be read, or None for a regular file.

    Only regular files are read: a FIFO blocks for ever, /dev/zero and /dev/urandom never end.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "broken link (its target does not exist)" if os.path.islink(path) else "file vanished"
    except PermissionError:
        return "permission denied"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "link loop (a link that points back at itself)"
        return f"cannot be read: {_one_line(error)}"
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in FILE_KINDS if test(mode)), "not a file")
    extra = f" {os.path.realpath(path)}" if os.path.islink(path) else ""
    return f"not a regular file ({kind}{extra}): not read"


def list_files(root: Path) -> tuple[list[str], list[SkippedFile]]:
    """Every regular file under root, in a stable order, and every other path with why it is not read.

    Links the user made are followed, to files and to folders; a folder reached again through a link
    (a loop, or the same folder twice) is named once and not read again; unreadable folders are named.
    """
    skipped: list[SkippedFile] = []
    if not root.is_dir():
        reason = not_a_regular_file(str(root))
        return ([str(root)], []) if reason is None else ([], [SkippedFile(str(root), reason)])
    found: list[str] = []
    seen_folders: set[tuple[int, int]] = set()

    stack = [str(root)]  # depth first, in name order; a stack, not recursion: nesting has no limit
    while stack:
        folder = stack.pop()
        try:
            info = os.stat(folder)
        except OSError as error:
            skipped.append(SkippedFile(folder, describe_os_error(error, "folder")))
            continue
        identity = (info.st_dev, info.st_ino)
        if identity in seen_folders:
            skipped.append(SkippedFile(folder, "link loop: this folder was already read through another path"))
            continue
        seen_folders.add(identity)
        try:
            with os.scandir(folder) as entries:
                names = sorted(entry.name for entry in entries)
        except OSError as error:
            skipped.append(SkippedFile(folder, describe_os_error(error, "folder")))
            continue
        subfolders = []
        for name in names:
            path = os.path.join(folder, name)
            reason = not_a_regular_file(path)
            if reason is None:
                found.append(path)
            elif reason.startswith("not a regular file (a folder"):
                subfolders.append(path)
            else:
                skipped.append(SkippedFile(path, reason))
        stack.extend(reversed(subfolders))
    return found, skipped


def describe_os_error(error: OSError, what: str = "") -> str:
    """An operating-system error as a reason: 'permission denied (folder)' rather than errno text."""
    suffix = f" ({what})" if what else ""
    if isinstance(error, PermissionError):
        return f"permission denied{suffix}"
    return f"cannot be read{suffix}: {_one_line(error)}"


def _is_dicomdir(path: str) -> bool:
    """By name, as PS3.10 requires on media; a DICOMDIR under another name is reported as not an image."""
    return os.path.basename(path).upper() == "DICOMDIR"


@dataclass
class DicomdirReferences:
    files: list[str] = field(default_factory=list)
    refused: list[SkippedFile] = field(default_factory=list)
    warnings: list[SkippedFile] = field(default_factory=list)


#: Records of a DICOMDIR walked between two progress reports (and Cancel checks).
RECORDS_PER_STEP = 200


def dicomdir_references(path: str, progress: Progress | None = None,
                        cancel: CancelToken | None = None) -> DicomdirReferences:
    """The files a DICOMDIR references, each checked by pydicom's File-set rules; raises on a broken DICOMDIR.

    An id that leads outside the DICOMDIR's folder (`..`, an absolute path, a link) is refused with a
    reason; an id that breaks PS3.10's naming rules but stays inside is read, with a warning. A CD of
    thousands of records takes seconds before its first file is read: progress is (records, all records).
    """
    from pydicom.fileset import RecordNode, is_conformant_file_id

    if os.path.getsize(path) > MAX_DICOMDIR_BYTES:
        raise ValueError(f"{os.path.getsize(path) / 2**20:.0f} MiB is too large for a DICOMDIR")
    dicomdir = pydicom.dcmread(path)
    base = Path(path).resolve().parent
    listing = _CaseInsensitiveFolders()
    found = DicomdirReferences()
    records = dicomdir.get("DirectoryRecordSequence", [])
    for number, record in enumerate(records):
        if number % RECORDS_PER_STEP == 0:
            if cancel:
                cancel.raise_if_cancelled()
            if progress:
                progress(number, len(records))
        if not record.get("ReferencedFileID"):
            continue
        try:
            file_id = RecordNode(record).file_id_path(base)
        except PermissionError:
            found.refused.append(SkippedFile(
                str(record.ReferencedFileID), f"refused: a file id of {path} leads outside the DICOMDIR's folder"))
            continue
        if file_id is None:
            continue
        resolved = listing.resolve(base, file_id.parts)
        if not is_conformant_file_id(file_id):
            found.warnings.append(SkippedFile(
                str(resolved), f"read with a warning: {file_id} is not a PS3.10 file id (A-Z, 0-9, _)"))
        found.files.append(str(resolved))
    if progress:
        progress(len(records), len(records))
    return found


#: A DICOMDIR larger than this is not an index of a CD or a PACS export.
MAX_DICOMDIR_BYTES = 256 * 2**20


class _CaseInsensitiveFolders:
    """CD file names are upper case in the DICOMDIR but may not be on disk: each folder is listed once."""

    def __init__(self) -> None:
        self._names: dict[Path, dict[str, str]] = {}

    def _listing(self, folder: Path) -> dict[str, str]:
        if folder not in self._names:
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                names = []
            self._names[folder] = {}
            for name in names:
                self._names[folder].setdefault(name.upper(), name)
        return self._names[folder]

    def resolve(self, base: Path, parts: tuple[str, ...]) -> Path:
        current = base
        for part in parts:
            candidate = current / part
            if not candidate.exists():
                candidate = current / self._listing(current).get(part.upper(), part)
            current = candidate
        return current


_warm_pool: ProcessPoolExecutor | None = None


def _fork_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=end_with_viewer, initargs=(os.getpid(),))


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
    files, not_read = list_files(root)
    result = ScanResult(root=str(root), skipped=not_read)

    to_read: list[str] = []
    # a file referenced by a DICOMDIR and found in its folder is read once: beside a DICOMDIR files are known by
    # their real paths (its references are resolved; the folder may have been opened by a relative path or a link)
    known_by = os.path.realpath if any(_is_dicomdir(file) for file in files) else str
    seen: set[str] = set()

    def first_time(file: str) -> bool:
        real = known_by(file)
        if real in seen:
            return False
        seen.add(real)
        return True

    for file in files:
        if _is_dicomdir(file):
            try:
                references = dicomdir_references(file, progress, cancel)
            except Cancelled:
                raise
            except Exception as error:  # noqa: BLE001
                result.skipped.append(SkippedFile(file, f"broken DICOMDIR: {_one_line(error)}"))
                continue
            result.dicomdirs[file] = len(references.files)
            result.skipped.extend(references.refused)
            result.warnings.extend(references.warnings)
            for referenced in references.files:
                reason = not_a_regular_file(referenced)
                if reason is not None:
                    reason = "missing" if reason in ("file vanished", "broken link (its target does not exist)") \
                        else reason
                    result.skipped.append(SkippedFile(referenced, f"referenced by {file} but {reason}"))
                elif first_time(referenced):
                    to_read.append(referenced)
        elif first_time(file):
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
