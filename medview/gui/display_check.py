"""Before Qt starts: is there a screen, and can Qt's platform plug-in load? If not, one line that says what to
do or to install, and exit 2, instead of Qt's abort ("could not connect to display", "no Qt platform plugin
could be initialized", a core dump).

`display_problem` checks what is known to fail (no DISPLAY, an X server that is not there, a plug-in that does
not exist, a library the xcb plug-in needs); `QtStartGuard` turns any other fatal message Qt gives while the
application starts into the same one line. Neither imports Qt's Python modules; the checks use ctypes.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import sys
from pathlib import Path

#: The Debian packages Qt's xcb plug-in needs (as tested here; /work/shared/docs/SETUP.md).
XCB_PACKAGES = ("libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 "
                "libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libegl1 libgl1 libfontconfig1 "
                "libdbus-1-3")
#: A shared library's file name → its Debian package.
PACKAGE_OF = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0", "libxcb-icccm.so.4": "libxcb-icccm4", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0", "libxcb-xkb.so.1": "libxcb-xkb1", "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1", "libX11.so.6": "libx11-6", "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0", "libGLX.so.0": "libglx0", "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6", "libdbus-1.so.3": "libdbus-1-3", "libglib-2.0.so.0": "libglib2.0-0",
    "libxcb-render.so.0": "libxcb-render0", "libxcb-shm.so.0": "libxcb-shm0", "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0", "libxcb-xinput.so.0": "libxcb-xinput0", "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
}
NO_SCREEN = ("run it on a desktop, or under a virtual screen (Debian: apt install xvfb, then "
             "xvfb-run medview ...), or with QT_QPA_PLATFORM=offscreen for --screenshot")


def platforms_folder() -> Path | None:
    """Qt's platform plug-ins of the PySide6 this medview runs with (found without importing it)."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms"
    return folder if folder.is_dir() else None


def requested_platforms(environ) -> list[str]:
    """The plug-ins Qt will try, in order: QT_QPA_PLATFORM ("name:options", ";" between fall-backs), else
    wayland on a Wayland session, then xcb."""
    configured = environ.get("QT_QPA_PLATFORM", "").strip()
    if configured:
        return [part.split(":", 1)[0].strip() for part in configured.split(";") if part.strip()]
    if environ.get("WAYLAND_DISPLAY") and environ.get("XDG_SESSION_TYPE", "").lower() == "wayland":
        return ["wayland", "xcb"]
    return ["xcb"]


def display_problem(environ=None, folder: Path | None = None) -> str | None:
    """Why the window cannot open here, in one line with what to do; None when it should (or when this is
    not Linux, where Qt's own defaults apply)."""
    environ = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return None
    folder = folder or platforms_folder()
    if folder is None:
        return None  # Qt will say; nothing better to add
    available = sorted(p.name[4:-3] for p in folder.glob("libq*.so"))
    reasons = []
    for name in requested_platforms(environ):
        if name not in available:
            reasons.append(f"the Qt platform plug-in {name!r} is not in this installation "
                           f"(available: {', '.join(available)})")
            continue
        problem = _xcb_problem(environ, folder) if name == "xcb" else _wayland_problem(environ, name)
        if problem is None:
            return None
        reasons.append(problem)
    return "; ".join(reasons) if reasons else None


def _wayland_problem(environ, name: str) -> str | None:
    if name == "wayland" and not environ.get("WAYLAND_DISPLAY"):
        return f"no Wayland display (WAYLAND_DISPLAY is not set): {NO_SCREEN}"
    return None


def _xcb_problem(environ, folder: Path) -> str | None:
    display = environ.get("DISPLAY", "")
    if not display:
        return f"no display (DISPLAY is not set): {NO_SCREEN}"
    try:
        ctypes.CDLL(str(folder / "libqxcb.so"))
    except OSError as error:
        return _missing_library(str(error))
    return _x_server_problem(display)


def _missing_library(message: str) -> str:
    """One line from a loader error: the library that is missing and the Debian package that has it."""
    missing = re.search(r"(lib[\w.+-]+\.so[\w.]*): cannot open shared object file", message)
    name = missing.group(1) if missing else ""
    package = PACKAGE_OF.get(name)
    if package:
        return f"Qt's xcb plug-in needs {name}: install it (Debian: apt install {package})"
    return (f"Qt's xcb plug-in cannot load ({message.strip()}); install the X11 libraries it needs "
            f"(Debian: apt install {XCB_PACKAGES})")


def _x_server_problem(display: str) -> str | None:
    """Connect to the X server as Qt will (libxcb); a display with no server behind it is said so."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return "Qt's xcb plug-in needs libxcb.so.1: install it (Debian: apt install libxcb1)"
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        if not connection or xcb.xcb_connection_has_error(connection):
            return f"cannot open the X display {display!r} (no X server there, or access refused): {NO_SCREEN}"
    finally:
        if connection:
            xcb.xcb_disconnect(connection)
    return None


class QtStartGuard:
    """While the QApplication is made: Qt's warnings are held back, and a fatal message (which Qt would follow
    with an abort) becomes one line on stderr and exit code 2. Afterwards Qt's messages go their usual way."""

    def __init__(self) -> None:
        self.held: list[str] = []
        self.previous = None

    def __enter__(self) -> QtStartGuard:
        from PySide6.QtCore import qInstallMessageHandler

        self.previous = qInstallMessageHandler(self._handle)
        return self

    def __exit__(self, *exc) -> None:
        from PySide6.QtCore import qInstallMessageHandler

        qInstallMessageHandler(self.previous)

    def _handle(self, kind, _context, message: str) -> None:
        from PySide6.QtCore import QtMsgType

        if kind != QtMsgType.QtFatalMsg:
            self.held.append(message)
            return
        said = " ".join(m.strip() for m in [*self.held, message] if m.strip())
        platform = requested_platforms(os.environ)[0]
        print(f"medview: Qt could not start its {platform!r} platform plug-in ({_first_sentence(said)}); "
              f"install what it needs (Debian: apt install {XCB_PACKAGES}) or {NO_SCREEN}", file=sys.stderr)
        sys.stderr.flush()
        import multiprocessing

        for child in multiprocessing.active_children():  # the header readers forked before Qt started
            child.kill()
        os._exit(2)


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    return text[:200] + ("…" if len(text) > 200 else "")
