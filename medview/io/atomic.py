"""Every file medview writes is written whole or not at all: to a temporary name beside the target, flushed
to disk, then renamed over it. A failure (unwritable folder, full disk, file-size limit) removes the temporary
file and raises an `ExportError` that says what happened in words."""

from __future__ import annotations

import errno
import os
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


def write_bytes(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> Path:
    """Write `data` to `path` atomically with permissions `mode` (0o600 for what holds a patient's identity);
    returns the path. Raises ExportError, leaving no partial file."""
    target = Path(path)
    temporary = None
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
        temporary = None
    except OSError as error:
        raise ExportError(f"could not write {target}: {reason(error)}") from error
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass
    return target


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
