"""The local cache of retrieved studies, in the user's data folder (never in a folder the user opened).

    <data folder>/pacs-cache/studies/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm
    <data folder>/pacs-cache/manifests/<StudyInstanceUID>.json

Each instance is written atomically as it arrives (whole or not at all); the study's manifest (what the PACS
said the study holds, which series are complete, which are partial and why, when it was last used) is kept
beside the images, not among them, so the viewer opens a study folder that holds DICOM files only. A study
whose series are complete opens from here without the network. The cache has a size limit: the studies used
least recently are forgotten first, never the one arriving; a study larger than the limit stops with a
message. Files hold patients' identity: folders are 0700, files 0600.

Several medview processes may share the cache: a study arriving holds an advisory lock (`flock`) on a file
beside its manifest, so that no other process forgets it, evicts it or fills it at the same time; the kernel
drops the lock when the process ends, however it ends.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from medview.errors import MedviewError
from medview.io import atomic
from medview.io.session_store import data_folder, read_study_record
from medview.pacs.arrival import Arrived, read_uids
from medview.pacs.errors import CacheFull, PacsError
from medview.pacs.query import checked_uid

DEFAULT_LIMIT_GB = 20.0
STALE_PART_SECONDS = 3600


def default_limit_bytes() -> int:
    """$MEDVIEW_PACS_CACHE_GB (a number of GB), else 20 GB."""
    text = os.environ.get("MEDVIEW_PACS_CACHE_GB", "")
    try:
        gigabytes = float(text) if text else DEFAULT_LIMIT_GB
    except ValueError:
        raise MedviewError(f"MEDVIEW_PACS_CACHE_GB={text!r} is not a number of gigabytes") from None
    if not gigabytes > 0:
        raise MedviewError(f"MEDVIEW_PACS_CACHE_GB={text!r} must be greater than 0")
    return int(gigabytes * 1024**3)


@dataclass(frozen=True)
class CachedSeries:
    series_uid: str
    modality: str
    number: int | None
    description: str
    expected: int
    present: int
    complete: bool
    reason: str


@dataclass(frozen=True)
class CachedStudy:
    study_uid: str
    folder: Path
    patient_id: str
    patient_name: str
    date: str
    description: str
    node: str
    last_used: str
    series: tuple[CachedSeries, ...]
    size: int

    @property
    def complete(self) -> bool:
        return bool(self.series) and all(s.complete for s in self.series)


def _megabytes(size: int) -> str:
    return f"{size / 1024**2:,.0f} MB"


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def _folder_size(folder: Path) -> int:
    total = 0
    for base, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(base, name)).st_size
            except OSError:
                pass
    return total


class Cache:
    """The cache as a place instances arrive (`store`) and as a list of studies (`studies`, `forget`)."""

    def __init__(self, root: str | Path | None = None, limit_bytes: int | None = None) -> None:
        self.root = Path(root) if root is not None else data_folder() / "pacs-cache"
        self.limit = default_limit_bytes() if limit_bytes is None else int(limit_bytes)
        self.lock = threading.RLock()
        self.busy: set[str] = set()  # studies arriving now in this process: never evicted
        self._size: int | None = None
        self._made: set[Path] = set()  # folders already made (and made private) in this session

    # -- places -------------------------------------------------------------------------------------------
    def _ensure(self, folder: Path) -> Path:
        if folder in self._made and folder.is_dir():
            return folder
        atomic.ensure_folder(folder)
        for path in (self.root, self.root / "studies", self.root / "manifests"):
            if path.is_dir():
                os.chmod(path, 0o700)
        self._made.add(folder)
        return folder

    def study_folder(self, study_uid: str) -> Path:
        return self.root / "studies" / checked_uid(study_uid, "StudyInstanceUID")

    def series_folder(self, study_uid: str, series_uid: str) -> Path:
        return self.study_folder(study_uid) / checked_uid(series_uid, "SeriesInstanceUID")

    def path_of(self, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        return self.series_folder(study_uid, series_uid) / f"{checked_uid(sop_uid, 'SOPInstanceUID')}.dcm"

    def _arrival_lock_path(self, study_uid: str) -> Path:
        return self.root / "manifests" / f"{checked_uid(study_uid, 'StudyInstanceUID')}.arriving"

    @contextmanager
    def arriving(self, study_uid: str) -> Iterator[None]:
        """Hold the study while it arrives: no medview process forgets it, evicts it or retrieves it at once."""
        path = self._arrival_lock_path(study_uid)
        self._ensure(path.parent)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PacsError("this study is being retrieved by another medview now: wait until it has "
                                "arrived, then open it from the cache") from None
            self.busy.add(study_uid)
            try:
                yield
            finally:
                self.busy.discard(study_uid)
        finally:
            os.close(handle)  # the lock goes with the descriptor

    def arriving_elsewhere(self, study_uid: str) -> bool:
        """Whether another medview process holds this study while it arrives."""
        try:
            handle = os.open(self._arrival_lock_path(study_uid), os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(handle)
        return False

    def manifest_path(self, study_uid: str) -> Path:
        return self.root / "manifests" / f"{checked_uid(study_uid, 'StudyInstanceUID')}.json"

    def check_outside(self, opened: str | os.PathLike | None) -> None:
        """The cache is never inside a folder the user opened (medview never writes there)."""
        if not opened:
            return
        folder = Path(opened)
        folder = folder if folder.is_dir() else folder.parent
        try:
            self.root.resolve().relative_to(folder.resolve())
        except ValueError:
            return
        raise MedviewError(f"the PACS cache {self.root} lies inside the folder you opened ({folder}), which "
                           "medview never writes to: set MEDVIEW_DATA to another place")

    # -- arriving instances ---------------------------------------------------------------------------------
    def has(self, study_uid: str, series_uid: str, sop_uid: str) -> bool:
        return self.path_of(study_uid, series_uid, sop_uid).is_file()

    def size(self) -> int:
        with self.lock:
            if self._size is None:
                self._size = _folder_size(self.root / "studies") if (self.root / "studies").is_dir() else 0
            return self._size

    def store(self, data: bytes, expected_series: str | None = None) -> Arrived:
        """Write one arrived instance (called from the network thread). Makes room first; CacheFull when even
        forgetting every other study leaves no room."""
        study, series, sop, sop_class = read_uids(data, expected_series)
        path = self.path_of(study, series, sop)
        with self.lock:
            try:
                existed = os.stat(path).st_size
            except OSError:
                existed = 0
            self._make_room(len(data) - existed, keep=study)
            self._ensure(path.parent)
            atomic.write_bytes(path, data, mode=0o600)
            self._size = self.size() + len(data) - existed
        return Arrived(study, series, sop, sop_class, path, len(data))

    def _make_room(self, incoming: int, keep: str) -> None:
        if self.size() + incoming <= self.limit:
            return
        for study_uid in self._least_recently_used():
            if study_uid == keep or study_uid in self.busy or self.arriving_elsewhere(study_uid):
                continue
            self.forget(study_uid)
            if self.size() + incoming <= self.limit:
                return
        raise CacheFull(f"the PACS cache is full ({_megabytes(self.size())} of {_megabytes(self.limit)} with this "
                        "study alone): raise the limit (MEDVIEW_PACS_CACHE_GB, or the PACS dock's setting) or "
                        "retrieve into a folder with --out")

    def _least_recently_used(self) -> list[str]:
        """Every study folder, the least recently used first (by its manifest, else by the folder's time)."""
        folder = self.root / "studies"
        found = []
        for path in folder.iterdir() if folder.is_dir() else []:
            try:
                uid = checked_uid(path.name)
                manifest = self.read_manifest(uid) or {}
            except MedviewError:
                continue
            used = manifest.get("last_used") or _dt.datetime.fromtimestamp(path.stat().st_mtime).isoformat()
            found.append((str(used), uid))
        return [uid for _used, uid in sorted(found)]

    # -- the manifest ---------------------------------------------------------------------------------------
    def read_manifest(self, study_uid: str) -> dict | None:
        return read_study_record(self.manifest_path(study_uid), "study_uid", study_uid, "cache manifest")

    def _write_manifest(self, data: dict) -> None:
        data["last_used"] = _now()
        path = self.manifest_path(data["study_uid"])
        self._ensure(path.parent)
        atomic.write_bytes(path, json.dumps(data, indent=1).encode("utf-8"), mode=0o600)

    def study_started(self, study, node: str) -> None:
        """Record what the PACS says of a study before its instances arrive (`study`: a `StudyMatch`)."""
        with self.lock:
            data = self.read_manifest(study.study_uid) or {"study_uid": study.study_uid, "series": {}}
            data.update(node=node, patient_id=study.patient_id, patient_name=study.patient_name,
                        date=study.date, description=study.description, accession=study.accession)
            self._write_manifest(data)

    def series_started(self, study_uid: str, series, instances) -> None:
        """`series`: a `SeriesMatch`; `instances`: the `InstanceMatch`es the PACS listed for it."""
        with self.lock:
            data = self.read_manifest(study_uid) or {"study_uid": study_uid, "series": {}}
            entry = data["series"].get(series.series_uid, {})
            entry.update(modality=series.modality, number=series.number, description=series.description,
                         count=series.n_instances, complete=False, reason=entry.get("reason") or "retrieving")
            if instances:  # listed one by one (else only counted: known once all have arrived)
                entry["expected"] = sorted(i.sop_uid for i in instances)
            data["series"][series.series_uid] = entry
            self._write_manifest(data)

    def series_finished(self, result) -> None:
        """`result`: a `retrieve.SeriesResult`. Complete only when every listed instance is on disk."""
        with self.lock:
            data = self.read_manifest(result.study_uid) or {"study_uid": result.study_uid, "series": {}}
            entry = data["series"].setdefault(result.series_uid, {"expected": []})
            present = self._present(result.study_uid, result.series_uid)
            expected = set(entry.get("expected") or [])
            if not expected and result.complete:  # counted, not listed: what arrived is the series
                expected = present
                entry["expected"] = sorted(present)
            entry["complete"] = bool(expected) and expected <= present and result.complete
            entry["reason"] = "" if entry["complete"] else (result.reason or "incomplete")
            self._write_manifest(data)

    def touch(self, study_uid: str) -> None:
        """The study was used (opened): it is the last to be forgotten when room is needed."""
        with self.lock:
            data = self.read_manifest(study_uid)
            if data is not None:
                self._write_manifest(data)

    def present(self, study_uid: str, series_uid: str) -> set[str]:
        """SOPInstanceUIDs of the series on disk."""
        return self._present(study_uid, series_uid)

    def _present(self, study_uid: str, series_uid: str) -> set[str]:
        folder = self.series_folder(study_uid, series_uid)
        if not folder.is_dir():
            return set()
        return {p.name[:-4] for p in folder.iterdir() if p.name.endswith(".dcm") and not p.name.startswith(".")}

    # -- the list, and forgetting ---------------------------------------------------------------------------
    def studies(self) -> list[CachedStudy]:
        """Every study in the cache, from its manifest and what is on disk."""
        folder = self.root / "manifests"
        found = []
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            uid = path.stem
            try:
                data = self.read_manifest(checked_uid(uid))
            except MedviewError:
                continue  # a damaged manifest: the study is still forgettable by its folder
            series = []
            for series_uid, entry in sorted(data.get("series", {}).items()):
                present = self._present(uid, series_uid)
                expected = set(entry.get("expected") or [])
                count = len(expected) or int(entry.get("count") or 0)
                series.append(CachedSeries(series_uid, str(entry.get("modality") or ""), entry.get("number"),
                                           str(entry.get("description") or ""), count,
                                           len(present & expected) if expected else len(present),
                                           bool(entry.get("complete")) and expected <= present,
                                           str(entry.get("reason") or "")))
            study_folder = self.study_folder(uid)
            found.append(CachedStudy(uid, study_folder, str(data.get("patient_id") or ""),
                                     str(data.get("patient_name") or ""), str(data.get("date") or ""),
                                     str(data.get("description") or ""), str(data.get("node") or ""),
                                     str(data.get("last_used") or ""), tuple(series),
                                     _folder_size(study_folder) if study_folder.is_dir() else 0))
        return found

    def find(self, study_uid: str) -> CachedStudy | None:
        return next((s for s in self.studies() if s.study_uid == study_uid), None)

    def forget(self, study_uid: str) -> None:
        """"Forget this study": its images and its manifest go from the cache."""
        with self.lock:
            if study_uid in self.busy or self.arriving_elsewhere(study_uid):
                raise MedviewError("this study is arriving now: cancel the retrieve first, then forget it")
            folder = self.study_folder(study_uid)
            if folder.is_dir():
                shutil.rmtree(folder)
            self.manifest_path(study_uid).unlink(missing_ok=True)
            self._arrival_lock_path(study_uid).unlink(missing_ok=True)
            self._size = None

    def remove_stale_parts(self) -> int:
        """Temporary files of a medview that died while writing (an hour old): removed; their count."""
        removed = 0
        now = time.time()
        for path in (self.root / "studies").rglob(".*.part") if (self.root / "studies").is_dir() else []:
            try:
                if now - path.stat().st_mtime > STALE_PART_SECONDS:
                    path.unlink()
                    removed += 1
            except OSError:
                pass
        return removed
