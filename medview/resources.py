"""Where the bundled sample study and models are: the source tree's `resources/`, or the desktop bundle's.

One function, because a frozen application (PyInstaller's one-folder bundle) has no source tree: there the
files lie under `sys._MEIPASS` (the bundle's `_internal` folder), where `packaging/medview.spec` puts them.
"""

from __future__ import annotations

import sys
from pathlib import Path


def resource_root() -> Path:
    """The `resources/` folder: inside the bundle when frozen, else beside the `medview` package."""
    bundle = getattr(sys, "_MEIPASS", None) if getattr(sys, "frozen", False) else None
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def resource(*parts: str) -> Path:
    """A path under `resources/`, e.g. ``resource("models")``."""
    return resource_root().joinpath(*parts)
