"""The model registry: model folders in resources/models and in the user's folder, checked, filtered by fit.

Nothing outside a manifest is trusted. A folder that fails its checks is listed as a problem with its reason,
never silently dropped and never loaded. No torch here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from medview.ai.manifest import MANIFEST, ModelCard, read_card
from medview.errors import ModelError
from medview.resources import resource

BUNDLED = resource("models")


def user_folder() -> Path:
    """$MEDVIEW_MODELS, else ~/.local/share/medview/models."""
    configured = os.environ.get("MEDVIEW_MODELS")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "medview" / "models"


@dataclass(frozen=True)
class Problem:
    folder: Path
    reason: str


def _folders(root: Path) -> tuple[list[Path], list[Problem]]:
    """The model folders directly under `root` (those with a manifest), or the reason it cannot be listed."""
    try:
        if not root.is_dir():
            return [], []
        return sorted(p for p in root.iterdir() if p.is_dir() and os.path.lexists(p / MANIFEST)), []
    except OSError as error:
        return [], [Problem(root, f"the model folder cannot be listed ({error.strerror or error})")]


def scan_models(folders: list[Path] | None = None) -> tuple[list[ModelCard], list[Problem]]:
    """Every model folder under the given roots (default: bundled, then the user's), checked. Each folder is
    read on its own: whatever goes wrong in one (even an error no check foresaw) refuses that folder with its
    reason and never costs the others, the window or a command."""
    roots = folders if folders is not None else [BUNDLED, user_folder()]
    cards, problems = [], []
    for root in roots:
        found, unreadable = _folders(Path(root))
        problems += unreadable
        for folder in found:
            try:
                cards.append(read_card(folder))
            except ModelError as error:
                problems.append(Problem(folder, str(error)))
            except Exception as error:  # noqa: BLE001 - one hostile folder must not take the others down
                problems.append(Problem(folder, f"{folder / MANIFEST}: refused ({type(error).__name__}: {error})"))
    return cards, problems


#: models that answer a click: the brain tumour detector (patch) and the lung nodule model (nodule)
CLICK_TASKS = ("patch", "nodule")


def find_model(name_or_folder: str | Path | None = None, task: str | tuple[str, ...] | None = None,
               modality: str = "", body_part: str = "", labels: list[str] | None = None) -> ModelCard:
    """A model by folder path or name; without one, the first that fits the task (or one of the tasks), image
    and labels."""
    if name_or_folder is not None and Path(name_or_folder).is_dir():
        return read_card(name_or_folder)
    cards, problems = scan_models()
    if name_or_folder is not None:
        for card in cards:
            if card.name == str(name_or_folder):
                return card
        for problem in problems:
            if problem.folder.name == str(name_or_folder):
                raise ModelError(problem.reason)
        known = ", ".join(c.name for c in cards) or "none"
        raise ModelError(f"no model named {name_or_folder!r} (available: {known})")
    for card in cards:
        if task and card.task not in ((task,) if isinstance(task, str) else task):
            continue
        if not card.fits(modality, body_part):
            continue
        if labels is not None and [x for i, x in enumerate(card.labels) if i != card.negative_index] != sorted(labels):
            continue
        return card
    tasks = task if isinstance(task, str) or task is None else " or ".join(task)
    wanted = " ".join(x for x in (tasks, modality, body_part) if x) or "this image"
    raise ModelError(f"no model available for {wanted}")
