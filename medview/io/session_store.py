"""Reading sessions on disk: one JSON file per study in the user's data folder, readable by the user only.

A session holds identity (what was measured on whose images), so its files are mode 0600, written atomically,
and never put in the folder the images came from. The file is named by a hash of the StudyInstanceUID: the
same study opened again, from any folder, finds its work again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from medview.core.session import Session, merge_study, study_to_plain
from medview.errors import MedviewError
from medview.io import atomic


def data_folder() -> Path:
    """$MEDVIEW_DATA, else $XDG_DATA_HOME/medview, else ~/.local/share/medview."""
    if os.environ.get("MEDVIEW_DATA"):
        return Path(os.environ["MEDVIEW_DATA"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "medview"


def session_path(study_uid: str) -> Path:
    name = hashlib.sha256(study_uid.encode("utf-8")).hexdigest()[:32]
    return data_folder() / "sessions" / f"{name}.json"


def save_study(session: Session, study_uid: str) -> Path | None:
    """Write the study's session (or remove its file when nothing is left in it); returns the file written."""
    plain = study_to_plain(session, study_uid)
    path = session_path(study_uid)
    if not plain["images"]:
        path.unlink(missing_ok=True)
        return None
    folder = atomic.ensure_folder(path.parent)
    os.chmod(folder, 0o700)
    return atomic.write_bytes(path, json.dumps(plain).encode("utf-8"), mode=0o600)


def read_study_record(path: Path, key: str, study_uid: str, what: str) -> dict | None:
    """A JSON record kept for one study (a saved session, a cache manifest): None when there is none; a damaged
    file, or one that names another study under `key`, is an error that says which `what` it was."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise MedviewError(f"the {what} {path} could not be read: {error}") from error
    if not isinstance(data, dict) or data.get(key) != study_uid:
        raise MedviewError(f"the {what} {path} is not this study's")
    return data


def read_study(study_uid: str) -> dict | None:
    """The saved session of a study as plain data, None when there is none. A damaged file is an error."""
    return read_study_record(session_path(study_uid), "study_instance_uid", study_uid, "saved session")


def restore_study(session: Session, data: dict) -> int:
    try:
        return merge_study(session, data)
    except (KeyError, TypeError, ValueError) as error:
        raise MedviewError(f"a saved session could not be restored: {error}") from error
