"""What the desktop bundle leaves out of what PyInstaller's hooks collect, and what that saves (read by
medview.spec; the build writes the measured sizes to OUTDIR/medview/LEFT-OUT.txt).

Only files the viewer never loads: every Python module stays, so every subcommand runs in the bundle (`train`
imports torch._dynamo and sympy; they stay). Qt keeps its xcb (a desktop) and offscreen (tests, screenshots)
platform plug-ins.
"""

import fnmatch
import importlib.util
import os

# Python packages never imported by medview (SimpleITK is a test and benchmark reference only).
EXCLUDED_MODULES = ["SimpleITK", "tkinter", "_tkinter", "IPython", "pytest", "torch.utils.tensorboard"]

# Kept whatever the patterns below say: torch runs its shared-memory manager's path check on import.
KEEP = ["torch/bin/torch_shm_manager", "PySide6/Qt/plugins/platforms/libqxcb.so",
        "PySide6/Qt/plugins/platforms/libqoffscreen.so"]

# (why, destination-path patterns) of files dropped from what PyInstaller's hooks collected.
LEAVE_OUT = [
    ("torch C++ headers and CMake files (for compiling extensions; medview compiles none)",
     ["torch/include/*", "torch/share/*", "*.a"]),
    ("torch C++ test programs and test libraries",
     ["torch/test/*", "torch/bin/*", "torch/lib/libjitbackend_test.so", "torch/lib/libtorchbind_test.so",
      "torch/lib/libbackend_with_compiler.so", "torch/lib/libaoti_custom_ops.so"]),
    ("Qt platform plug-ins but xcb (desktop) and offscreen (tests), what only they use, evdev/TUIO input",
     ["PySide6/Qt/plugins/platforms/libqeglfs.so", "PySide6/Qt/plugins/platforms/libqlinuxfb.so",
      "PySide6/Qt/plugins/platforms/libqminimal.so", "PySide6/Qt/plugins/platforms/libqminimalegl.so",
      "PySide6/Qt/plugins/platforms/libqvnc.so", "PySide6/Qt/plugins/platforms/libqvkkhrdisplay.so",
      "PySide6/Qt/plugins/platforms/libqwayland*.so", "PySide6/Qt/plugins/wayland-*",
      "PySide6/Qt/plugins/egldeviceintegrations/*", "PySide6/Qt/lib/libQt6Wayland*",
      "PySide6/Qt/lib/libQt6EglFS*", "PySide6/Qt/lib/libQt6WlShellIntegration*", "libwayland-*",
      "PySide6/Qt/plugins/generic/*"]),
    ("Qt plug-ins for networking, SQL, QML tooling and the designer (medview uses none)",
     ["PySide6/Qt/plugins/tls/*", "PySide6/Qt/plugins/networkinformation/*", "PySide6/Qt/plugins/sqldrivers/*",
      "PySide6/Qt/plugins/qmltooling/*", "PySide6/Qt/plugins/qmllint/*", "PySide6/Qt/plugins/designer/*"]),
    ("Qt's translations of its own dialogs (medview is in English)", ["PySide6/Qt/translations/*"]),
]


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def leave_out(toc, removed: dict):
    """The TOC without the LEAVE_OUT files; `removed` gets (count, bytes) per reason."""
    kept = []
    for entry in toc:
        dest, source = entry[0].replace(os.sep, "/"), entry[1]
        rule = next((why for why, patterns in LEAVE_OUT if any(fnmatch.fnmatch(dest, p) for p in patterns)), None)
        if rule is None or dest in KEEP:
            kept.append(entry)
            continue
        count, size = removed.get(rule, (0, 0))
        removed[rule] = (count + 1, size + _size(source))
    return kept


def package_size(name: str) -> int:
    """Bytes of an excluded package as installed in the build environment (0 when it is not installed)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return 0
    if spec is None:
        return 0
    folders = list(spec.submodule_search_locations or [])
    if not folders:
        return _size(spec.origin or "")
    return sum(_size(os.path.join(d, f)) for folder in folders for d, _, files in os.walk(folder) for f in files)


def left_out_table(removed: dict) -> str:
    """The measured sizes of what was left out, one reason a line, and the sum."""
    lines, total = [], 0
    for why, (count, size) in removed.items():
        lines.append(f"{size / 2**20:8.1f} MiB  {count:5d} files  {why}")
        total += size
    for name in EXCLUDED_MODULES:
        size = package_size(name)
        if size:
            lines.append(f"{size / 2**20:8.1f} MiB  package  {name} (not collected; its size in the build venv)")
            total += size
    lines.append(f"{total / 2**20:8.1f} MiB  in all")
    return "\n".join(lines) + "\n"
