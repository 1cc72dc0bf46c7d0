"""The packaging files are sound without building the bundle (that is tests/packaging/test_bundle.py, slow)."""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

from PIL import Image

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"


def leave_out_rules():
    spec = importlib.util.spec_from_file_location("leave_out", PACKAGING / "leave_out.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_script_is_valid_bash_and_installs_torch_first_and_alone():
    script = PACKAGING / "build.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    torch_at = text.index('install torch==2.13.0\n')
    assert torch_at < text.index('install "$ROOT"') < text.index("requirements-build.txt\"")
    assert "/usr/bin/python3" in text


def test_build_requirements_are_pinned():
    lines = [line for line in (PACKAGING / "requirements-build.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines and all("==" in line for line in lines)


def test_spec_is_python_and_collects_the_whole_resources_folder():
    source = (PACKAGING / "medview.spec").read_text()
    ast.parse(source)
    assert '(str(ROOT / "resources"), "resources")' in source  # every model folder, whatever its name
    assert '(str(ROOT / "packaging" / "linux"), "packaging/linux")' in source


def test_left_out_never_touches_the_xcb_and_offscreen_plugins_nor_python_modules():
    rules = leave_out_rules()
    kept = [("PySide6/Qt/plugins/platforms/libqxcb.so", "x", "BINARY"),
            ("PySide6/Qt/plugins/platforms/libqoffscreen.so", "x", "BINARY"),
            ("PySide6/Qt/lib/libQt6XcbQpa.so.6", "x", "BINARY"), ("torch/lib/libtorch_cpu.so", "x", "BINARY"),
            ("resources/models/brain-tumour-patch/model.safetensors", "x", "DATA")]
    dropped = [("PySide6/Qt/plugins/platforms/libqwayland.so", "x", "BINARY"),
               ("torch/include/ATen/ATen.h", "x", "DATA"), ("PySide6/Qt/translations/qt_de.qm", "x", "DATA")]
    removed = {}
    assert rules.leave_out(kept + dropped, removed) == kept
    assert sum(count for count, _size in removed.values()) == len(dropped)
    for pattern in (p for _why, patterns in rules.LEAVE_OUT for p in patterns):
        assert not fnmatch.fnmatch("medview/cli.py", pattern)


def test_desktop_entry_is_valid():
    entry = PACKAGING / "linux" / "medview.desktop"
    text = entry.read_text()
    assert "Exec=medview %f" in text and "Icon=medview" in text and "inode/directory" in text
    if shutil.which("desktop-file-validate"):
        done = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        assert done.returncode == 0 and not done.stdout.strip(), done.stdout


def test_icon_comes_as_svg_and_every_png_size_it_is_named_for():
    assert (PACKAGING / "linux" / "medview.svg").read_text().lstrip().startswith("<?xml")
    sizes = []
    for png in sorted((PACKAGING / "linux" / "icons").glob("*/medview.png")):
        width, height = (int(x) for x in png.parent.name.split("x"))
        with Image.open(png) as icon:
            assert icon.size == (width, height) and icon.mode == "RGBA"
        sizes.append(width)
    assert {16, 32, 48, 64, 128, 256} <= set(sizes)
