"""`medview --version` (the version and every bundled model's, without torch or Qt) and
`medview --install-desktop-entry` (into $XDG_DATA_HOME, whole or not at all)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import medview.about as about
from medview import __version__
from medview.desktop_entry import entry_text, install

PROJECT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "PySide6", "pyqtgraph", "captum")


def run_medview(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medview.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=PROJECT, env={**os.environ, **env})


def test_version_prints_medview_and_the_bundled_models_versions_without_torch_or_qt():
    done = run_medview("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"medview {__version__}", "model brain-tumour-patch 2.0.0",
                                        "model lung-nodule-malignancy 1.3.0"]
    probe = ("import io, contextlib, sys\nfrom medview.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n    main(['--version'])\n"
             "print(' '.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=PROJECT).stdout.split()
    assert not [m for m in loaded if m.split(".")[0] in HEAVY]


def test_every_model_folder_is_listed_and_a_damaged_card_is_named(tmp_path, monkeypatch):
    models = tmp_path / "resources" / "models"
    shutil.copytree(PROJECT / "resources" / "models" / "brain-tumour-patch", models / "brain-tumour-patch")
    (models / "ct-second").mkdir()
    (models / "ct-second" / "manifest.json").write_text('{"name": "ct-nodule", "version": "0.3.0"}')
    (models / "torn").mkdir()
    (models / "torn" / "manifest.json").write_text('{"name": ')
    monkeypatch.setattr(about, "resource", lambda *parts: tmp_path.joinpath("resources", *parts))
    assert about.version_text().splitlines() == [
        f"medview {__version__}", "model brain-tumour-patch 2.0.0", "model ct-nodule 0.3.0",
        "model torn unreadable card (JSONDecodeError)"]


def test_desktop_entry_and_icons_install_into_xdg_data_home(tmp_path):
    data_home = tmp_path / "xdg data"
    done = run_medview("--install-desktop-entry", XDG_DATA_HOME=str(data_home))
    assert done.returncode == 0, done.stderr
    entry = data_home / "applications" / "medview.desktop"
    text = entry.read_text()
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert exec_line.endswith(" %f") and os.path.isabs(exec_line[5:].strip('"').split()[0].strip('"'))
    assert (data_home / "icons" / "hicolor" / "scalable" / "apps" / "medview.svg").is_file()
    for size in (16, 22, 24, 32, 48, 64, 128, 256):
        with Image.open(data_home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "medview.png") as icon:
            assert icon.size == (size, size)
    assert not list(data_home.rglob("*.part"))
    if shutil.which("desktop-file-validate"):
        checked = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        assert checked.returncode == 0 and "error" not in checked.stdout, checked.stdout
    again = run_medview("--install-desktop-entry", XDG_DATA_HOME=str(data_home))
    assert again.returncode == 0 and entry.read_text() == text


def test_an_unwritable_target_is_one_line_and_leaves_nothing(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    done = run_medview("--install-desktop-entry", XDG_DATA_HOME=str(blocker))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("medview: ")
    assert blocker.read_text() == "a file where the data folder should be"


@pytest.mark.parametrize("path", ["/opt/med view/medview", "/opt/100%/medview", '/opt/a"b/medview'])
def test_exec_paths_with_spaces_and_specials_are_quoted_as_the_spec_asks(path):
    exec_line = next(line for line in entry_text("Exec=medview %f\n", [path]).splitlines())
    if " " in path or '"' in path:
        assert exec_line.startswith('Exec="') and exec_line.endswith('" %f')
    assert "%%" in exec_line if "%" in path else "%%" not in exec_line
    assert '\\"' in exec_line if '"' in path else True


def test_install_writes_every_file_or_none(tmp_path, monkeypatch):
    written = install(tmp_path / "share", ["/usr/bin/medview"])
    assert {p.name for p in written} == {"medview.desktop", "medview.svg", "medview.png"}
    assert len(written) == 10


def test_a_subcommands_own_version_option_is_not_the_programs():
    from medview.cli import build_parser

    args = build_parser().parse_args(["train", "data", "--task", "patch", "--out", "m", "--version", "3.0.0"])
    assert args.print_version is False and args.version == "3.0.0"
