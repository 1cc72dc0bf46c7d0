"""`medview --install-desktop-entry`: medview in the desktop's menu, offered for DICOM files and folders.

Writes, for the current user only, the desktop entry (`packaging/linux/medview.desktop`, its Exec pointing at
this medview: the bundle's executable or the installed command) to $XDG_DATA_HOME/applications and the icon
(SVG and PNG sizes) to $XDG_DATA_HOME/icons/hicolor, all as one atomic write (nothing, or every file). No root,
nothing outside XDG_DATA_HOME (default ~/.local/share). Linux desktops (freedesktop.org) only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from medview.errors import ExportError
from medview.io.atomic import ensure_folder, write_all
from medview.resources import resource_root

ENTRY = "medview.desktop"
_RESERVED = set(' \t\n"\'\\><~|&;$*?#()`')


def source_folder() -> Path:
    """packaging/linux: in the source tree, or inside the bundle (put there by packaging/medview.spec)."""
    return resource_root().parent / "packaging" / "linux"


def data_home() -> Path:
    configured = os.environ.get("XDG_DATA_HOME", "")
    return Path(configured) if os.path.isabs(configured) else Path.home() / ".local" / "share"


def launch_command() -> list[str]:
    """How the desktop starts this medview: the bundle's executable, else the `medview` command, else this
    Python running medview's CLI."""
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).resolve())]
    found = shutil.which("medview")
    if found:
        return [str(Path(found).resolve())]
    return [str(Path(sys.executable).resolve()), "-m", "medview.cli"]


def _quote(argument: str) -> str:
    """An Exec argument, quoted as the Desktop Entry Specification asks when it holds a reserved character."""
    if not _RESERVED.intersection(argument):
        return argument
    escaped = "".join("\\" + ch if ch in '"`$\\' else ch for ch in argument)
    return f'"{escaped}"'


def entry_text(template: str, command: list[str]) -> str:
    """The template with Exec (and TryExec) pointing at `command`; `%` in a path is doubled as the spec asks."""
    exec_line = " ".join(_quote(part.replace("%", "%%")) for part in command) + " %f"
    lines = []
    for line in template.splitlines():
        if line.startswith("Exec="):
            line = f"Exec={exec_line}"
        elif line.startswith("TryExec="):
            line = f"TryExec={command[0]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def install(target: Path | None = None, command: list[str] | None = None) -> list[Path]:
    """Write the entry and the icons under `target` (default $XDG_DATA_HOME); the files written."""
    root = Path(target) if target is not None else data_home()
    source = source_folder()
    try:
        template = (source / ENTRY).read_text(encoding="utf-8")
        outputs = [(root / "icons" / "hicolor" / "scalable" / "apps" / "medview.svg",
                    (source / "medview.svg").read_bytes())]
        for png in sorted((source / "icons").glob("*/medview.png")):
            outputs.append((root / "icons" / "hicolor" / png.parent.name / "apps" / "medview.png", png.read_bytes()))
    except OSError as error:
        raise ExportError(f"the desktop entry's files are missing from {source} ({error.strerror or error})") \
            from error
    outputs.append((root / "applications" / ENTRY, entry_text(template, command or launch_command()).encode()))
    for path, _data in outputs:
        ensure_folder(path.parent)
    written = write_all(outputs, mode=0o644)
    _refresh_caches(root)
    return written


def _refresh_caches(root: Path) -> None:
    """Tell the desktop (where its tools are installed): the MIME types of the entry, the icon theme."""
    for tool, folder in (("update-desktop-database", root / "applications"),
                         ("gtk-update-icon-cache", root / "icons" / "hicolor")):
        if shutil.which(tool):
            args = [tool, "-q", str(folder)] if tool == "update-desktop-database" else [tool, "-q", "-t", str(folder)]
            subprocess.run(args, check=False, capture_output=True, timeout=60)


def main() -> int:
    written = install()
    print(f"medview: desktop entry installed: {written[-1]} (and {len(written) - 1} icon files)")
    return 0
