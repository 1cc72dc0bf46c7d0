"""The desktop bundle, built by packaging/build.sh in a clean environment and run as a radiologist would.

Slow (the build takes minutes and a few GB of downloads' worth of disk), so left out of the default run:

    QT_QPA_PLATFORM=offscreen python -m pytest -m slow tests/packaging/test_bundle.py

MEDVIEW_BUNDLE=OUTDIR/medview/medview tests a bundle already built instead of building one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]  # the build takes minutes

PROJECT = Path(__file__).resolve().parents[2]
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    if os.environ.get("MEDVIEW_BUNDLE"):
        return Path(os.environ["MEDVIEW_BUNDLE"])
    out = tmp_path_factory.mktemp("bundle")
    clean = {"HOME": os.environ.get("HOME", "/root"), "PATH": CLEAN_PATH, "LANG": "C.UTF-8"}  # no venv on PATH
    done = subprocess.run(["nice", "-n", "10", str(PROJECT / "packaging" / "build.sh"), str(out)], env=clean,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out / "medview" / "medview"


def run(bundle: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {"HOME": os.environ.get("HOME", "/root"), "PATH": CLEAN_PATH, "LANG": "C.UTF-8", **env}
    return subprocess.run([str(bundle), *args], capture_output=True, text=True, timeout=600, env=environ,
                          cwd=bundle.parent)


def sample(bundle: Path) -> Path:
    """The sample inside the bundle, not the source tree's."""
    return bundle.parent / "_internal" / "resources" / "sample" / "mr_brain_t1post_tcia_btp"


def test_bundle_holds_the_sample_every_model_folder_and_their_licences(bundle):
    inside = bundle.parent / "_internal" / "resources"
    for folder in sorted((PROJECT / "resources" / "models").iterdir()):
        if folder.is_dir():
            assert sorted(p.name for p in (inside / "models" / folder.name).iterdir()) == \
                sorted(p.name for p in folder.iterdir())
    assert (inside / "sample" / "CITATION.md").is_file() and len(list(sample(bundle).glob("*.dcm"))) == 24


def test_bundle_version_names_the_models(bundle):
    done = run(bundle, "--version")
    assert done.returncode == 0 and "model brain-tumour-patch" in done.stdout


def test_bundle_opens_its_sample_and_saves_a_screenshot(bundle, tmp_path):
    png = tmp_path / "bundle.png"
    display = {}
    server = None
    if shutil.which("Xvfb"):
        read, write = os.pipe()
        server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24", "-nolisten",
                                   "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as pipe:
            display = {"DISPLAY": ":" + pipe.readline().strip(), "QT_QPA_PLATFORM": "xcb"}
    try:
        done = run(bundle, "--screenshot", str(png), "--slice", "17", MEDVIEW_DATA=str(tmp_path / "data"),
                   XDG_CONFIG_HOME=str(tmp_path / "config"), **(display or {"QT_QPA_PLATFORM": "offscreen"}))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    assert done.returncode == 0, done.stderr[-2000:]
    with Image.open(png) as shot:
        pixels = np.asarray(shot.convert("L"))
    assert shot.size == (1400, 900) and pixels.std() > 20  # a window with an image in it, not a blank


def test_bundle_info_and_classify_json(bundle):
    info = run(bundle, "info", str(sample(bundle)), "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["volumes"][0]["shape"]["slices"] == 24
    classify = run(bundle, "classify", str(sample(bundle)), "--slice", "17", "--json")
    assert classify.returncode == 0, classify.stderr
    answer = json.loads(classify.stdout)
    assert answer["model"]["name"] == "brain-tumour-patch" and answer["label"] == "glioma"
    assert "research use only" in answer["disclaimer"]
