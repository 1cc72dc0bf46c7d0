"""Start-up to a shown window: the desktop bundle against the same medview run by Python from a venv.

    nice -n 10 python benchmarks/startup.py --bundle OUTDIR/medview/medview [--python VENV/bin/python] [--runs 5]

Each program runs under its own Xvfb screen (started here) with QT_QPA_PLATFORM=xcb and opens the bundled
sample, as a user starting it would. Columns, median (min) of --runs runs after one warm-up run each:
- shown: exec to the main window mapped on the X server (watched by one xev process, no polling);
- screenshot: the whole `PATH --screenshot FILE` run (window shown, the sample loaded, the PNG written, exit).
It refuses to run while /tmp/medview-training.lock exists (another process is training); --force runs anyway
and prints that the lock was there.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample" / "mr_brain_t1post_tcia_btp"
LOCK = Path("/tmp/medview-training.lock")


def start_xvfb() -> tuple[subprocess.Popen, str]:
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        display = ":" + pipe.readline().strip()
    return server, display


def time_to_shown(command: list[str], env: dict) -> float:
    """Exec to the first window mapped on the (otherwise empty) X screen: xev watches the root window's
    children and prints MapNotify when Qt maps the main window; one long-lived watcher, no polling."""
    watcher = subprocess.Popen(["xev", "-display", env["DISPLAY"], "-root", "-event", "substructure"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    time.sleep(1.0)  # xev connects and selects its events (outside the timing)
    started = time.perf_counter()
    process = subprocess.Popen([*command, str(SAMPLE)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for line in watcher.stdout:
            if line.startswith("MapNotify"):
                return time.perf_counter() - started
        raise RuntimeError(f"{command[0]}: the X watcher ended before a window was shown "
                           f"(xev: {watcher.stderr.read().strip()[:300]}; viewer exit {process.poll()})")
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the viewer and the header readers it forked
        process.wait(timeout=30)
        watcher.terminate()
        watcher.wait(timeout=30)


def time_screenshot(command: list[str], env: dict, png: Path) -> float:
    started = time.perf_counter()
    subprocess.run([*command, str(SAMPLE), "--screenshot", str(png)], env=env, check=True, timeout=300,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(name: str, command: list[str], runs: int, workdir: Path) -> list[str]:
    server, display = start_xvfb()
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "MEDVIEW_DATA": str(workdir / "data"),
           "XDG_CONFIG_HOME": str(workdir / "config")}
    try:
        time_to_shown(command, env)  # warm-up: the disk cache, as on a second start
        shown = [time_to_shown(command, env) for _ in range(runs)]
        png = workdir / f"{name}.png"
        time_screenshot(command, env, png)
        shot = [time_screenshot(command, env, png) for _ in range(runs)]
    finally:
        server.terminate()
        server.wait(timeout=30)
    return [name, f"{statistics.median(shown):.2f} ({min(shown):.2f})",
            f"{statistics.median(shot):.2f} ({min(shot):.2f})"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", required=True, help="OUTDIR/medview/medview")
    parser.add_argument("--python", default=sys.executable, help="the reference: this Python runs medview.cli")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--force", action="store_true", help="run even while the training lock exists")
    args = parser.parse_args()
    locked = LOCK.exists()
    if locked and not args.force:
        print(f"{LOCK} exists: someone is training; not timing now (--force to run anyway)", file=sys.stderr)
        return 2
    rows = [["program", "shown s, median (min)", "screenshot s, median (min)"]]
    with tempfile.TemporaryDirectory(prefix="medview-startup-") as folder:
        rows.append(measure("bundle", [args.bundle], args.runs, Path(folder)))
        rows.append(measure("venv python -m medview.cli", [args.python, "-m", "medview.cli"], args.runs,
                            Path(folder)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print(f"{args.runs} runs each after one warm-up, Xvfb 1600x1000, {os.cpu_count()} cores; "
          f"training lock {'PRESENT' if locked else 'absent'} during the run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
