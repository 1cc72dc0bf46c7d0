"""Import torch from a worker thread without freezing the GUI thread.

`import torch` loads ~0.5 GB of shared libraries; Python's import machinery (and `ctypes.CDLL`) calls dlopen
with the GIL held, so the GUI thread stood still for ≈ 0.2 s on the first click. A ctypes *foreign call*
releases the GIL: calling libc's dlopen through it maps and relocates torch's libraries while the GUI keeps
running, and the `import torch` that follows finds them loaded. Elsewhere than Linux it is a plain import.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading

_LIBRARIES = ("libc10.so", "libtorch_cpu.so", "libtorch.so", "libtorch_python.so")
_LOCK = threading.Lock()


def _preload_libraries() -> None:
    import ctypes

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return
    folder = os.path.join(spec.submodule_search_locations[0], "lib")
    libc = ctypes.CDLL(None)
    dlopen = libc.dlopen
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    for name in _LIBRARIES:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            dlopen(path.encode(), os.RTLD_NOW | os.RTLD_GLOBAL)  # kept loaded: torch needs them for good


def import_torch():
    """`import torch`, with its shared libraries mapped first without holding the GIL (Linux)."""
    with _LOCK:
        if "torch" not in sys.modules and sys.platform.startswith("linux"):
            try:
                _preload_libraries()
            except (OSError, AttributeError):
                pass  # the plain import below still works, it just holds the GIL longer
        import torch

        return torch
