"""GUI latency with the CNN at work: the window must never freeze, a click must answer fast.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_latency.py

One table from one run on the bundled 24-slice glioblastoma MRI with the bundled models:
- longest GUI-thread stall (a 5 ms heartbeat QTimer) during a click on the tumour (first click: torch
  imported and the model loaded in the worker) and during a whole-series run;
- click-to-result once the model is loaded (the prediction and the overlay drawn), beside the headless
  classify of the same point (the reference), medians of repeated clicks on fresh points;
- start-up to a shown window with and without the inference panel (fresh processes; torch stays unloaded).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample" / "mr_brain_t1post_tcia_btp"

STARTUP = r"""
import os, sys, time
import psutil
started = psutil.Process().create_time()
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QSettings
from medview.gui.main_window import MainWindow
app = QApplication(sys.argv[:1])
window = MainWindow(QSettings("/tmp/medview-startup.ini", QSettings.Format.IniFormat), with_inference=WITH)
window.resize(1300, 850)
window.show()
app.processEvents()
print(time.time() - started, "torch" in sys.modules)
"""


def startup(with_inference: bool, repeats: int = 3) -> tuple[float, bool]:
    values, torch_loaded = [], False
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", STARTUP.replace("WITH", str(with_inference))],
                             capture_output=True, text=True, check=True, cwd=ROOT,
                             env={**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")})
        seconds, loaded = out.stdout.split()[-2:]
        values.append(float(seconds))
        torch_loaded |= loaded == "True"
    return statistics.median(values), torch_loaded


class Heartbeat:
    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.beats: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(lambda: self.beats.append(time.perf_counter()))

    def __enter__(self):
        self.beats.clear()
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.stop()

    @property
    def stall_ms(self) -> float:
        gaps = np.diff(self.beats) * 1000
        return float(gaps.max() - 5) if len(gaps) else float("nan")


def wait_for(app, signal, timeout: float = 300.0):
    box = {}
    signal.connect(lambda *args: box.setdefault("args", args))
    deadline = time.perf_counter() + timeout
    while "args" not in box:
        app.processEvents()
        time.sleep(0.0005)
        if time.perf_counter() > deadline:
            raise TimeoutError("no answer")
    return box["args"]


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from medview.gui.app import prepare_process
    from medview.gui.main_window import MainWindow

    prepare_process()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(QSettings(f"/tmp/medview-latency-{os.getpid()}.ini", QSettings.Format.IniFormat))
    window.resize(1300, 850)
    window.show()
    app.processEvents()
    window.open_path(str(SAMPLE), k=17)
    wait_for(app, window.series_loaded)
    panel = window.inference

    with Heartbeat() as first_click:
        started = time.perf_counter()
        panel.classify_point(175, 210)
        wait_for(app, panel.result_drawn)
        first_seconds = time.perf_counter() - started

    clicks, headless = [], []
    from medview.ai.infer import classifier_for

    classifier = classifier_for(panel.card_for("patch"))
    volume = window.shown.volume
    with Heartbeat() as click_beat:
        for offset in range(8):
            point = (170.0 + offset, 205.0 + offset)  # fresh points: no cache hits
            drawn = {}
            panel.result_drawn.connect(lambda prediction, box=drawn: box.setdefault("p", prediction))
            started = time.perf_counter()
            panel.classify_point(*point)
            while "p" not in drawn:
                app.processEvents()
                time.sleep(0.0005)
            clicks.append((time.perf_counter() - started) * 1000)
            panel.result_drawn.disconnect()
    for offset in range(8):
        started = time.perf_counter()
        classifier.classify_slice(volume, 17, (170.0 + offset, 205.0 + offset))
        headless.append((time.perf_counter() - started) * 1000)

    with Heartbeat() as series_beat:
        started = time.perf_counter()
        panel.classify_series()
        wait_for(app, panel.series_finished, timeout=900)
        series_seconds = time.perf_counter() - started

    with_panel, torch_with = startup(True)
    without_panel, torch_without = startup(False)
    print(f"\nmedview GUI latency: {SAMPLE.name}, models {panel.card_for('patch').name} / "
          f"{panel.card_for('slice').name}, platform {app.platformName()}, {os.cpu_count()} cores\n")
    print("| figure | value | reference |")
    print("|---|---|---|")
    print(f"| first click (torch import + model load + classify + overlay), s | {first_seconds:.2f} | |")
    print(f"| longest GUI stall during the first click, ms | {first_click.stall_ms:.1f} | target ≤ 50 |")
    print(f"| click-to-result, model loaded, median of 8, ms | {statistics.median(clicks):.0f} | "
          f"headless classify + Grad-CAM {statistics.median(headless):.0f} ms |")
    print(f"| longest GUI stall during those clicks, ms | {click_beat.stall_ms:.1f} | target ≤ 50 |")
    print(f"| series run (24 slices, patch grid), s | {series_seconds:.1f} | |")
    print(f"| longest GUI stall during the series run, ms | {series_beat.stall_ms:.1f} | target ≤ 50 |")
    print(f"| start-up to a shown window with the AI panel, s | {with_panel:.2f} | torch imported: {torch_with} |")
    print(f"| start-up to a shown window without the panel, s | {without_panel:.2f} | "
          f"torch imported: {torch_without} |")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
