"""Load benchmark: medview's loader beside SimpleITK on the 275-slice chest CT, as stored, JPEG 2000 and RLE.

    PYTHONPATH=. python benchmarks/load.py [--repeats 3] [--keep DIR]     (from the project root)

Prints one table from one run. The CT (../shared/data/samples/ct_chest_lidc_0314, file names not in slice
order) is transcoded into a temporary folder to JPEG 2000 lossless and RLE with pydicom. Every time is the
median of --repeats warm runs (after one untimed run); SimpleITK is timed in the same run so the ratios hold
on a noisy machine.

Rows:
- header scan: medview's scan + index (headers only, both cores), files per second;
- first slice: from the folder to the first decoded slice in hand (scan, index, one slice);
- full volume: the pixels of the indexed series (medview `assemble_volume`) against SimpleITK
  `ImageSeriesReader.Execute` on the same file list; and folder to volume for both (medview scan + index +
  assemble against SimpleITK `GetGDCMSeriesFileNames` + `Execute`);
- peak memory: medview's load in a subprocess of its own: peak RSS above the process's idle size, plus each
  worker process above its own idle size, ÷ the volume's int16 bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CT = ROOT.parent / "shared" / "data" / "samples" / "ct_chest_lidc_0314"

MEMORY_PROBE = r"""
import json, sys
import psutil
import medview.io as mio
idle = psutil.Process().memory_info().rss
volume = mio.load_volume(sys.argv[1])
# VmHWM, not ru_maxrss: ru_maxrss survives fork + exec and would count the benchmark's own memory
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"idle": idle, "peak": peak, "volume_bytes": int(volume.voxels.size * 2),
                  "dtype": str(volume.voxels.dtype)}))
"""


def measure_memory(folder: Path) -> dict:
    """Run the load in a process of its own; watch its worker processes from outside (no extra thread)."""
    import psutil

    process = subprocess.Popen([sys.executable, "-c", MEMORY_PROBE, str(folder)], stdout=subprocess.PIPE,
                               text=True, cwd=ROOT)
    watched = psutil.Process(process.pid)
    workers: dict[int, tuple[int, int]] = {}
    while process.poll() is None:
        try:
            children = watched.children(recursive=True)
        except psutil.Error:
            break
        for child in children:
            try:
                rss = child.memory_info().rss
            except psutil.Error:
                continue
            first, peak = workers.get(child.pid, (rss, rss))
            workers[child.pid] = (first, max(peak, rss))
        time.sleep(0.002)
    result = json.loads(process.communicate()[0])
    result["workers"] = sum(peak - first for first, peak in workers.values())
    result["n_workers"] = len(workers)
    return result


def _transcode_one(args: tuple[str, str, str]) -> None:
    import pydicom
    from pydicom.uid import JPEG2000Lossless, RLELossless

    source, target, kind = args
    dataset = pydicom.dcmread(source)
    if kind == "jpeg2000":
        dataset.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    else:
        dataset.compress(RLELossless, encoding_plugin="pylibjpeg")
    dataset.save_as(target)


def transcode(source: Path, target: Path, kind: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    jobs = [(str(p), str(target / p.name), kind) for p in sorted(source.iterdir()) if p.is_file()]
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(_transcode_one, jobs, chunksize=8))


MULTIFRAME_FRAMES = 600


def multiframe_rle(target: Path) -> Path:
    """One RLE file of 600 real 512×512 CT frames (the CT's first 50 slices, cycled), made with pydicom."""
    import pydicom
    from pydicom.uid import RLELossless

    path = target / "multiframe_rle.dcm"
    if path.is_file():
        return path
    sources = sorted(p for p in CT.iterdir() if p.is_file())[:50]
    slices = np.stack([pydicom.dcmread(p).pixel_array for p in sources])
    frames = np.concatenate([slices] * (MULTIFRAME_FRAMES // len(slices) + 1))[:MULTIFRAME_FRAMES]
    dataset = pydicom.dcmread(sources[0])
    dataset.NumberOfFrames = MULTIFRAME_FRAMES
    dataset.PixelData = frames.tobytes()
    dataset.compress(RLELossless, frames, encoding_plugin="pylibjpeg")
    target.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path)
    return path


def bench_multiframe(path: Path, repeats: int) -> dict:
    """Folder to volume for one 600-frame RLE file, beside pydicom's own pixel_array of the file."""
    import pydicom

    import medview.io as mio

    load_s, volume = median_time(lambda: mio.load_volume(path.parent), repeats)
    pydicom_s, reference = median_time(lambda: pydicom.dcmread(path).pixel_array, 1)
    dataset = pydicom.dcmread(path, stop_before_pixels=True)
    hounsfield = reference * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
    return {"load_s": load_s, "pydicom_s": pydicom_s, "shape": volume.shape,
            "same": bool(np.array_equal(volume.voxels, hounsfield))}


def median_time(function, repeats: int) -> tuple[float, object]:
    """Median of `repeats` timed runs after one untimed run (the first run of a path pays page faults on a
    fresh volume and lazy imports, medview's and SimpleITK's alike)."""
    result = function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench_folder(folder: Path, repeats: int) -> dict:
    import SimpleITK as sitk

    import medview.io as mio

    n_files = sum(1 for p in folder.iterdir() if p.is_file())
    # warm the page cache and the imports once
    catalog = mio.open_folder(folder)
    [spec] = catalog.volumes
    scan_s, _ = median_time(lambda: mio.open_folder(folder), repeats)

    def first_slice():
        [s] = mio.open_folder(folder).volumes
        generator = mio.iter_assemble(s)
        image = next(generator)[2]
        generator.close()
        return image

    first_s, _ = median_time(first_slice, repeats)
    assemble_s, volume = median_time(lambda: mio.assemble_volume(spec), repeats)
    from medview.io import decode_pool

    decode_pool.IN_PROCESS = True  # the same decoders in this process: what the worker processes cost
    in_process_s, _ = median_time(lambda: mio.assemble_volume(spec), repeats)
    decode_pool.IN_PROCESS = False
    end_to_end_s, _ = median_time(lambda: mio.assemble_volume(mio.open_folder(folder).volumes[0]), repeats)

    names = [h.path for h in spec.images[0]]
    reader = sitk.ImageSeriesReader()

    def simpleitk_read():
        reader.SetFileNames(names)
        return reader.Execute()

    def simpleitk_folder():
        r = sitk.ImageSeriesReader()
        r.SetFileNames(r.GetGDCMSeriesFileNames(str(folder)))
        return r.Execute()

    sitk_s, image = median_time(simpleitk_read, repeats)
    sitk_folder_s, _ = median_time(simpleitk_folder, repeats)
    same = bool(np.array_equal(volume.voxels, sitk.GetArrayViewFromImage(image)))

    bytes_s, _ = median_time(lambda: [Path(n).read_bytes() for n in names], repeats)
    memory = measure_memory(folder)
    return {
        "files": n_files, "scan_s": scan_s, "first_s": first_s, "assemble_s": assemble_s,
        "end_to_end_s": end_to_end_s, "in_process_s": in_process_s, "sitk_s": sitk_s, "sitk_folder_s": sitk_folder_s,
        "bytes_s": bytes_s,
        "same_as_sitk": same, "memory": memory,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the transcoded folders here (reused if present)")
    args = parser.parse_args()
    if not CT.is_dir():
        print(f"benchmark data not found: {CT}", file=sys.stderr)
        return 1
    # as the viewer does at start-up: the header readers are forked now, while this process runs one thread.
    # Without them, every scan after the first JPEG 2000 load ran in this process alone (the decoder pool's
    # threads forbid a later fork), and "folder -> volume" timed a one-core scan the viewer never does.
    from medview.io.scan import start_scan_workers

    start_scan_workers()

    with tempfile.TemporaryDirectory(prefix="medview-bench-") as temporary:
        base = args.keep or Path(temporary)
        folders = {"as stored (implicit VR LE)": CT}
        for kind, label in (("jpeg2000", "JPEG 2000 lossless"), ("rle", "RLE lossless")):
            target = base / kind
            if not target.is_dir() or not any(target.iterdir()):
                start = time.perf_counter()
                transcode(CT, target, kind)
                print(f"transcoded to {label} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
            folders[label] = target
        results = {label: bench_folder(folder, args.repeats) for label, folder in folders.items()}
        multiframe = bench_multiframe(multiframe_rle(base / "multiframe"), args.repeats)

    import imagecodecs
    import pydicom
    import SimpleITK as sitk

    print(f"\nmedview load benchmark: {CT.name}, 275 slices 512×512, median of {args.repeats} warm runs, "
          f"{os.cpu_count()} cores")
    print(f"(pydicom {pydicom.__version__}, SimpleITK {sitk.Version_VersionString()}, "
          f"imagecodecs {imagecodecs.__version__}, numpy {np.__version__})\n")
    header = (f"| {'series':<26} | {'scan files/s':>12} | {'first slice s':>13} | {'medview s':>9} | "
              f"{'SimpleITK s':>11} | {'ratio':>5} | {'folder→vol medview s':>20} | {'folder→vol SimpleITK s':>22} "
              f"| {'ratio':>5} | {'same voxels':>11} | {'peak mem ×vol':>13} |")
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for label, r in results.items():
        m = r["memory"]
        peak = (m["peak"] - m["idle"] + m["workers"]) / m["volume_bytes"]
        print(f"| {label:<26} | {r['files'] / r['scan_s']:>12.0f} | {r['first_s']:>13.3f} | "
              f"{r['assemble_s']:>9.3f} | {r['sitk_s']:>11.3f} | {r['assemble_s'] / r['sitk_s']:>5.2f} | "
              f"{r['end_to_end_s']:>20.3f} | {r['sitk_folder_s']:>22.3f} | "
              f"{r['end_to_end_s'] / r['sitk_folder_s']:>5.2f} | {str(r['same_as_sitk']):>11} | {peak:>13.2f} |")
    stored = results["as stored (implicit VR LE)"]
    print(f"\nreference: reading the file bytes alone takes {stored['bytes_s']:.3f} s "
          f"({stored['bytes_s'] / stored['sitk_s']:.2f} × SimpleITK)")
    for label, r in results.items():
        print(f"decoding, {label}: {r['assemble_s']:.3f} s as medview loads (C codecs in worker processes), "
              f"{r['in_process_s']:.3f} s with every decoder in the process")
    for label, r in results.items():
        m = r["memory"]
        print(f"memory, {label}: main process {(m['peak'] - m['idle']) / 2**20:.0f} MiB above idle, "
              f"{m['n_workers']} worker processes {m['workers'] / 2**20:.0f} MiB above theirs, "
              f"volume {m['volume_bytes'] / 2**20:.0f} MiB (int16 bytes; loaded as {m['dtype']})")
    print(f"\n{MULTIFRAME_FRAMES}-frame RLE file ({' × '.join(map(str, multiframe['shape']))}, real CT frames): "
          f"folder to volume {multiframe['load_s']:.3f} s (median of {args.repeats}); pydicom pixel_array "
          f"{multiframe['pydicom_s']:.3f} s; same voxels {multiframe['same']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
