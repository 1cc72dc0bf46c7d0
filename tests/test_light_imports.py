"""``import medview`` and ``medview info`` must not import torch or Qt: start-up stays fast."""

import subprocess
import sys

HEAVY = ("torch", "PySide6", "pyqtgraph", "captum")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_medview_imports_neither_torch_nor_qt():
    loaded = _modules_after("import medview, medview.cli, medview.errors")
    assert not [m for m in loaded if m.split(".")[0] in HEAVY]


def test_medview_help_imports_neither_torch_nor_qt():
    code = "from medview.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    loaded = _modules_after(code)
    assert not [m for m in loaded if m.split(".")[0] in HEAVY]


def test_medview_info_imports_neither_torch_nor_qt(shared_data):
    folder = shared_data / "samples" / "mr_brain_t1post_tcia_btp"
    code = ("import io, contextlib\nfrom medview.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['info', {str(folder)!r}]) == 0")
    loaded = _modules_after(code)
    assert "medview.info" in loaded and "medview.io.assemble" in loaded
    assert not [m for m in loaded if m.split(".")[0] in HEAVY]
