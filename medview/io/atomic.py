"""Every file medview writes is written whole or not at all: to a temporary name beside the target, flushed
to disk, then renamed over it. A failure (unwritable folder, full disk, file-size limit) removes the temporary
file and raises an `ExportError` that says what happened in words.

Modes: a file that is replaced keeps its mode (a 0600 report stays 0600); a new file gets `0666 & ~umask`,
as `open()` would give it, so `umask 077` keeps a report private. The temporary file is made 0600 by mkstemp
and only given its final mode just before the rename.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from medview.errors import ExportError

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file is larger than this system allows",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "a part of the path is a file, not a folder",
    errno.EISDIR: "the target is a folder",
}


def reason(error: OSError) -> str:
    return _REASONS.get(error.errno, error.strerror or str(error))


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows (/proc), so that no other
    thread ever sees a umask of 0."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o077)  # the fallback: briefly the strictest mask, never a looser one
    os.umask(mask)
    return mask


def mode_for(target: Path) -> int:
    """The mode `target` is written with: its own mode when it exists, else 0666 & ~umask."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def _write_temporary(target: Path, data: bytes, mode: int | None = None) -> str:
    """`data` in a temporary file beside `target`, flushed, with the mode `target` will have; its name."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode_for(target) if mode is None else mode)
    except BaseException:
        _remove(temporary)
        raise
    return temporary


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_bytes(path: str | os.PathLike, data: bytes, mode: int | None = None) -> Path:
    """Write `data` to `path` atomically; returns the path. Raises ExportError, leaving no partial file.
    mode: the file's permissions (0o600 for what holds a patient's identity); default as `mode_for`."""
    return write_all([(Path(path), data)], mode)[0]


def write_all(outputs: list[tuple[Path, bytes]], mode: int | None = None) -> list[Path]:
    """Write several files as one export: every file is first written whole to a temporary name beside its
    target; only when all of them are on disk are they renamed, one after the other. A failure while writing
    leaves no file at all; a failure while renaming (rare: the folder changed under us) names in its message
    the files that were already in place."""
    temporaries: list[tuple[str, Path]] = []
    try:
        for path, data in outputs:
            target = Path(path)
            try:
                temporaries.append((_write_temporary(target, data, mode), target))
            except OSError as error:
                raise ExportError(f"could not write {target}: {reason(error)}; nothing was written") from error
        written: list[Path] = []
        for temporary, target in list(temporaries):
            try:
                os.replace(temporary, target)
            except OSError as error:
                done = ", ".join(str(p) for p in written) or "none"
                raise ExportError(f"could not write {target}: {reason(error)}; already written: {done}") from error
            temporaries.remove((temporary, target))
            written.append(target)
        return written
    finally:
        for temporary, _target in temporaries:
            _remove(temporary)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def ensure_folder(path: str | os.PathLike) -> Path:
    """Create an output folder (and parents); ExportError when that is impossible."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportError(f"could not create the folder {folder}: {reason(error)}") from error
    return folder
