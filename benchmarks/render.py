"""Render benchmark: the slice viewer on the 275-slice chest CT, beside pyqtgraph's bare ImageItem.

    QT_QPA_PLATFORM=offscreen python benchmarks/render.py [--steps 275]

Prints one table from one run:
- scroll step: `SliceView.set_slice` with every overlay on (corner texts, markers) and a synchronous repaint
  of the viewport (which also paints every other widget the step dirtied), against a bare pyqtgraph
  ImageItem.setImage of the same slices with the same levels and a repaint of a view of the same size (the
  reference, timed in the same run);
- sustained scroll: steps as fast as the event loop takes them, everything the steps post (the slice slider,
  which follows at display rate) paid inside the total;
- start-up: from process start to the main window shown, in a fresh process (imports included);
- GUI-thread stall: a 5 ms heartbeat QTimer while the CT is scanned and loaded in the workers; the longest
  gap between beats minus 5 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CT = ROOT.parent / "shared" / "data" / "samples" / "ct_chest_lidc_0314"

STARTUP_PROBE = r"""
import os, sys, time
import psutil
started = psutil.Process().create_time()
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QTimer
from medview.gui.main_window import MainWindow
app = QApplication(sys.argv[:1])
window = MainWindow()
window.resize(1200, 800)
window.show()
app.processEvents()
print(time.time() - started)
"""


def startup_seconds(repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", STARTUP_PROBE], capture_output=True, text=True, check=True,
                             cwd=ROOT, env={**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM",
                                                                                           "offscreen")})
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=275)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import pyqtgraph as pg
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from medview.gui.app import prepare_process
    from medview.gui.main_window import MainWindow

    prepare_process()  # as the app does: scan workers forked, GIL handed to the GUI thread every 1 ms
    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings = QSettings(str(Path("/tmp") / f"medview-bench-{os.getpid()}.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.resize(1400, 900)
    window.show()
    app.processEvents()

    # -- the GUI thread's longest stall while the series is scanned and loaded ------------------------------
    beats: list[float] = []
    heartbeat = QTimer()
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
    done = {"loaded": False}
    window.series_loaded.connect(lambda _i: done.update(loaded=True))
    heartbeat.start()
    load_started = time.perf_counter()
    window.open_path(str(CT), k=137)
    while not done["loaded"]:
        app.processEvents()
        time.sleep(0.001)
    load_seconds = time.perf_counter() - load_started
    heartbeat.stop()
    gaps = np.diff(beats) * 1000
    stall_ms = float(gaps.max() - 5) if len(gaps) else float("nan")

    view = window.view
    volume = window.shown.volume
    viewport = view.graphics.viewport()
    steps = min(args.steps, volume.n_slices)

    def timed_scroll() -> list[float]:
        times = []
        view.set_slice(0)
        for k in range(1, steps):
            start = time.perf_counter()
            view.set_slice(k)
            viewport.repaint()
            times.append(time.perf_counter() - start)
        return times

    # -- bare pyqtgraph ImageItem of the same slices, same levels, same viewport size ----------------------
    bare_view = pg.GraphicsView()
    box = pg.ViewBox(invertY=True, lockAspect=True)
    bare_view.setCentralItem(box)
    item = pg.ImageItem(axisOrder="row-major")
    box.addItem(item)
    bare_view.resize(viewport.width(), viewport.height())
    bare_view.show()
    item.setImage(volume.slice(0), autoLevels=False, levels=(view.window.low, view.window.high))
    box.autoRange()
    app.processEvents()
    levels = (view.window.low, view.window.high)

    def timed_bare() -> list[float]:
        times = []
        for k in range(1, steps):
            start = time.perf_counter()
            item.setImage(volume.slice(k), autoLevels=False, levels=levels)
            bare_view.viewport().repaint()
            times.append(time.perf_counter() - start)
        return times

    def sustained(step) -> float:
        """ms per step when steps come as fast as the event loop takes them: every posted repaint and timer
        (the slice slider follows at display rate) is paid inside the total."""
        start = time.perf_counter()
        for k in range(1, steps):
            step(k)
            app.processEvents()
        return (time.perf_counter() - start) * 1000 / (steps - 1)

    def step_ours(k: int) -> None:
        view.set_slice(k)
        viewport.update()

    def step_bare(k: int) -> None:
        item.setImage(volume.slice(k), autoLevels=False, levels=levels)

    timed_scroll(), timed_bare()  # warm up
    ours, bare = [], []
    for _ in range(3):  # interleaved rounds so both see the same machine
        ours += timed_scroll()
        bare += timed_bare()
    view.set_slice(0)
    app.processEvents()
    sustained_ours = float(np.median([sustained(step_ours) for _ in range(3)]))
    sustained_bare = float(np.median([sustained(step_bare) for _ in range(3)]))
    ours_ms = np.array(ours) * 1000
    bare_ms = np.array(bare) * 1000
    startup = startup_seconds()

    print(f"\nmedview render benchmark: {CT.name} ({volume.n_slices}×{volume.shape[1]}×{volume.shape[2]}, "
          f"{volume.voxels.dtype}), viewport {viewport.width()}×{viewport.height()}, "
          f"platform {app.platformName()}, {os.cpu_count()} cores\n")
    print("| figure                                   | medview      | reference (bare ImageItem) | ratio |")
    print("|------------------------------------------|--------------|----------------------------|-------|")
    for name, a, b in (("scroll step, median (ms)", np.median(ours_ms), np.median(bare_ms)),
                       ("scroll step, 95th percentile (ms)", np.percentile(ours_ms, 95), np.percentile(bare_ms, 95)),
                       ("scroll step, max (ms)", ours_ms.max(), bare_ms.max()),
                       ("sustained scroll, all repaints (ms/step)", sustained_ours, sustained_bare)):
        print(f"| {name:<40} | {a:>12.2f} | {b:>26.2f} | {a / b:>5.2f} |")
    print(f"| {'start-up to a shown window (s)':<40} | {startup:>12.2f} | {'':>26} | {'':>5} |")
    print(f"| {'series load while heartbeating (s)':<40} | {load_seconds:>12.2f} | {'':>26} | {'':>5} |")
    print(f"| {'longest GUI-thread stall (ms)':<40} | {stall_ms:>12.1f} | {'':>26} | {'':>5} |")
    print(f"\n{len(ours_ms)} scroll steps each (3 interleaved rounds), overlays on; {len(gaps)} heartbeats")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
