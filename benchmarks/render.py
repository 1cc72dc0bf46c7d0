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
  gap between beats minus 5 ms;
- MPR update (`mpr_figures`, alone with --mpr-only): the crosshair moved along a random walk in all three
  directions, so that all three planes are reformatted (in the layout's worker) and drawn, each update timed
  from the move to the third viewport repainted; printed as `MPR update <volume>: <median> ms` per volume,
  with the core's reformat alone, and the references timed in the same run on the same planes: plain
  `scipy.ndimage.map_coordinates` (order 1, coordinates from the volume's regular-grid affine) and SimpleITK's
  linear `Resample` of a regular-grid image (both as fast as the regular-grid shortcut allows: neither follows
  the per-slice positions).
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


MPR_VOLUMES = (ROOT.parent / "shared" / "data" / "samples" / "ct_chest", CT)


def _random_walk(volume, centre, moves: int, seed: int = 0) -> list[np.ndarray]:
    """Crosshair positions of a drag: steps of 1 to 4 mm in all three directions, kept inside the volume."""
    from medview.core import planes

    rng = np.random.default_rng(seed)
    points, point = [], np.array(centre, dtype=np.float64)
    for _ in range(moves):
        step = rng.uniform(1.0, 4.0, 3) * rng.choice((-1.0, 1.0), 3)
        candidate = point + step
        point = candidate if planes.inside(volume, candidate) else np.array(centre, dtype=np.float64)
        points.append(point)
    return points


def _reference_map_coordinates(volume, plane_list) -> None:
    """The plain path: voxel coordinates from the regular-grid affine, then map_coordinates (order 1)."""
    from scipy.ndimage import map_coordinates

    spacing = np.array([float(np.median(volume.slice_steps)), *volume.pixel_spacing])
    axes = np.array([volume.normal, volume.column_cosine, volume.row_cosine])  # k, r, c
    for plane in plane_list:
        rows, columns = plane.shape
        points = plane.pixel_to_lps(np.arange(rows)[:, None], np.arange(columns)[None, :])
        coordinates = ((points - volume.origin) @ axes.T / spacing).transpose(2, 0, 1)
        map_coordinates(volume.voxels, coordinates, order=1, mode="constant", cval=np.nan, output=np.float32,
                        prefilter=False)


def _simpleitk_image(volume):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(volume.voxels)
    image.SetSpacing((volume.pixel_spacing[1], volume.pixel_spacing[0], float(np.median(volume.slice_steps))))
    image.SetOrigin(tuple(float(v) for v in volume.origin))
    image.SetDirection(tuple(float(v) for v in volume.direction.flatten()))
    return image


def _reference_simpleitk(image, plane_list) -> None:
    """SimpleITK's linear Resample onto each plane (a one-voxel-thick output grid)."""
    import SimpleITK as sitk

    for plane in plane_list:
        rows, columns = plane.shape
        direction = np.column_stack([plane.right, plane.down, plane.normal])
        sitk.Resample(image, (columns, rows, 1), sitk.Transform(), sitk.sitkLinear,
                      tuple(float(v) for v in plane.origin), (plane.spacing[1], plane.spacing[0], 1.0),
                      tuple(float(v) for v in direction.flatten()), -2000.0, sitk.sitkFloat32)


def mpr_figures(app, moves: int = 60) -> list[str]:
    """`MPR update <volume>: <median> ms` per volume, and the reference lines of the same run."""
    from medview.core import planes
    from medview.core.reformat import reformat
    from medview.core.session import SeriesKey
    from medview.core.window_level import Window
    from medview.gui.mpr_layout import MprLayout
    from medview.io import load_volume

    lines = []
    layout = MprLayout()
    layout.resize(1500, 700)
    layout.show()
    app.processEvents()
    for folder in MPR_VOLUMES:
        volume = load_volume(folder)
        layout.set_volume(volume, SeriesKey(folder.name), Window(1500, -600))
        _wait(app, layout)
        _idle(app, layout)
        centre = planes.volume_centre(volume)
        walk = _random_walk(volume, centre, moves)
        viewports = [layout.views[name].graphics.viewport() for name in planes.ANATOMICAL]
        ours, core, mapped, itk = [], [], [], []
        image = _simpleitk_image(volume)
        for point in walk:  # interleaved: every figure sees the same machine at the same time
            start = time.perf_counter()
            layout.set_point(point)
            _wait(app, layout)
            for viewport in viewports:
                viewport.repaint()
            ours.append(time.perf_counter() - start)
            _idle(app, layout)  # the crosshair's value lands, the worker ends: the next move starts afresh
            plane_list = [planes.moved_to(volume, layout.planes[name], point) for name in planes.ANATOMICAL]
            start = time.perf_counter()
            for plane in plane_list:
                reformat(volume, plane)
            core.append(time.perf_counter() - start)
            start = time.perf_counter()
            _reference_map_coordinates(volume, plane_list)
            mapped.append(time.perf_counter() - start)
            start = time.perf_counter()
            _reference_simpleitk(image, plane_list)
            itk.append(time.perf_counter() - start)
        sizes = " + ".join(f"{p.shape[0]}×{p.shape[1]}" for p in plane_list)
        name = folder.name
        lines.append(f"MPR update {name}: {np.median(ours) * 1000:.1f} ms")
        lines.append(f"  {name}: {len(walk)} crosshair moves, all three planes ({sizes} pixels) reformatted in the "
                     f"worker and drawn; 95th percentile {np.percentile(ours, 95) * 1000:.1f} ms")
        lines.append(f"  core reformat of the three planes alone, {name}: median {np.median(core) * 1000:.1f} ms")
        lines.append(f"  reference scipy.ndimage.map_coordinates (order 1, regular grid), {name}: median "
                     f"{np.median(mapped) * 1000:.1f} ms")
        lines.append(f"  reference SimpleITK Resample (linear, regular grid), {name}: median "
                     f"{np.median(itk) * 1000:.1f} ms")
    layout.cancel()
    layout.close()
    return lines


def _wait(app, layout) -> None:
    """Until every shown view holds the image of the layout's current planes: the GUI thread waits in Qt's
    event loop, as in the app (a busy loop here would take the GIL from the worker)."""
    from PySide6.QtCore import QEventLoop, QTimer

    def drawn() -> bool:
        return layout.pending is None and not any(
            layout.views[n].plane is None or not _same(layout.views[n].plane, layout.planes[n])
            for n in layout.shown_views())

    while not drawn():
        loop = QEventLoop()
        layout.drawn.connect(loop.quit)
        QTimer.singleShot(50, loop.quit)  # and look again now and then
        loop.exec()
        layout.drawn.disconnect(loop.quit)


def _idle(app, layout) -> None:
    """Until the layout's worker has ended (it hands over the value at the crosshair after the planes)."""
    while layout.job is not None and layout.job.running:
        app.processEvents()
        time.sleep(0.001)


def _same(a, b) -> bool:
    return a.same_orientation(b) and a.shape == b.shape and np.allclose(a.origin, b.origin, atol=1e-6)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=275)
    parser.add_argument("--mpr-only", action="store_true", help="only the MPR update figures")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if Path("/tmp/medview-training.lock").exists():
        print("a model is training on this machine (/tmp/medview-training.lock): measure once it has ended",
              file=sys.stderr)
        return 2
    if args.mpr_only:
        from PySide6.QtWidgets import QApplication

        sys.setswitchinterval(0.001)  # as the app sets it (gui.app.prepare_process)
        app = QApplication.instance() or QApplication(sys.argv[:1])
        print("\n".join(mpr_figures(app)))
        print(f"\nplatform {app.platformName()}, {os.cpu_count()} cores")
        return 0

    import pyqtgraph as pg
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from medview.gui.app import keep_the_collector_off_start_up, prepare_process
    from medview.gui.main_window import MainWindow

    prepare_process()  # as the app does: scan workers forked, GIL handed to the GUI thread every 1 ms
    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings = QSettings(str(Path("/tmp") / f"medview-bench-{os.getpid()}.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    keep_the_collector_off_start_up()  # as the app does once its window is shown

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
    print()
    print("\n".join(mpr_figures(app)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
