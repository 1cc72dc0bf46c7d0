"""The project's own fuzzing: seeded mutations of real DICOM files, and the hostile cases, through the loader.

Inputs are made from real files (pydicom's test files by name, a few files of every case in
../shared/data/dicom_cases) by the mutators of `tests.io.corrupt` and the ones here (headers, lengths,
transfer syntaxes, pixel data, truncation), plus the hostile folders (FIFO, device links, bombs). Each input
is a folder; a worker process opens and loads it (`open_folder`, then `assemble_volume` of every volume) and
says what happened. The parent gives each input a time limit: a worker that does not answer in time is a hang
(it is killed and replaced), a worker that dies is a crash, and an exception that is not medview's own is a
crash too. Every file of the input must come back loaded or named with a reason.

    python -m tests.io.fuzz --worker     (spoken to by `run`, one folder per line on stdin)
"""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
CASES = PROJECT.parent / "shared" / "data" / "dicom_cases"

#: pydicom test files used as seeds: grey and colour, every transfer syntax, multi-frame, odd headers.
PYDICOM_SEEDS = (
    "CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_bigendian.dcm",
    "MR_small_implicit.dcm", "MR_small_jpeg_ls_lossless.dcm", "emri_small.dcm", "emri_small_RLE.dcm",
    "emri_small_jpeg_2k_lossless.dcm", "JPEG2000.dcm", "JPGExtended.dcm", "SC_rgb.dcm", "SC_rgb_rle.dcm",
    "SC_rgb_rle_2frame.dcm", "SC_ybr_full_uncompressed.dcm", "SC_rgb_jpeg_dcmtk.dcm", "rtdose.dcm",
    "MR2_J2KR.dcm", "RG1_UNCI.dcm", "693_J2KR.dcm", "test-SR.dcm", "rtplan.dcm", "liver.dcm",
    "image_dfl.dcm", "MR_truncated.dcm", "no_meta.dcm",
)
#: Files taken from each real case (the first few, in name order): enough to cover its kind, small.
FILES_PER_CASE = 2
#: Seconds an input may take before it counts as a hang.
TIMEOUT_S = 20.0
#: Address space the worker may use beyond its idle size: a runaway allocation fails as a crash here.
CEILING_MIB = 2048

EXPLICIT_LE = b"1.2.840.10008.1.2.1\x00"
SAME_LENGTH_SYNTAXES = (b"1.2.840.10008.1.2.5\x00", b"1.2.840.10008.1.2.2\x00", b"1.2.840.10008.1.2\x00\x00\x00",
                        b"1.2.840.10008.1.2.4.50", b"1.2.840.10008.1.2.4.90")


def seed_paths() -> list[tuple[str, Path]]:
    """(name, path) of every seed file, in a fixed order."""
    from pydicom.data import get_testdata_file

    found = []
    for name in PYDICOM_SEEDS:
        path = get_testdata_file(name)
        if path is not None:
            found.append((name, Path(path)))
    for case in sorted(p for p in CASES.iterdir() if p.is_dir() and not p.name.startswith("_")):
        for path in sorted(p for p in case.iterdir() if p.is_file())[:FILES_PER_CASE]:
            found.append((f"{case.name}/{path.name}", path))
    return found


def seeds() -> list[tuple[str, bytes]]:
    """(name, bytes) of every seed file, in a fixed order."""
    return [(name, path.read_bytes()) for name, path in seed_paths()]


# -- byte mutators (each: bytes, rng -> bytes) -------------------------------------------------------------

def flip_any_bytes(data: bytes, rng: random.Random) -> bytes:
    damaged = bytearray(data)
    for _ in range(rng.randint(1, 64)):
        damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
    return bytes(damaged)


def damage_a_length(data: bytes, rng: random.Random) -> bytes:
    """Overwrite a 2- or 4-byte little-endian word with a large or odd length."""
    damaged = bytearray(data)
    at = rng.randrange(132, max(133, len(data) - 4))
    value = rng.choice([0xFFFFFFFF, 0xFFFFFFF0, 0x7FFFFFFF, 0x10000, 0xFFFF, 1, 3, 0])
    size = rng.choice([2, 4])
    damaged[at: at + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
    return bytes(damaged)


def cut_and_splice(data: bytes, rng: random.Random) -> bytes:
    """Delete, duplicate or insert a chunk: a file damaged in transfer."""
    at = rng.randrange(132, max(133, len(data) - 1))
    size = rng.randint(1, 4096)
    kind = rng.randrange(3)
    if kind == 0:
        return data[:at] + data[at + size:]
    if kind == 1:
        return data[:at] + data[at: at + size] * rng.randint(2, 8) + data[at + size:]
    return data[:at] + rng.randbytes(size) + data[at:]


def damage_pixels(data: bytes, rng: random.Random) -> bytes:
    at = data.rfind(b"\xe0\x7f\x10\x00")
    if at < 0:
        return flip_any_bytes(data, rng)
    damaged = bytearray(data)
    for _ in range(rng.randint(1, 256)):
        position = rng.randrange(at, len(damaged))
        damaged[position] = rng.randrange(256)
    return bytes(damaged)


def other_syntax(data: bytes, rng: random.Random) -> bytes:
    from tests.io import corrupt

    if EXPLICIT_LE not in data:
        return flip_any_bytes(data, rng)
    uid = rng.choice(SAME_LENGTH_SYNTAXES)
    return corrupt.wrong_transfer_syntax(data, uid) if len(uid) == len(EXPLICIT_LE) else data.replace(
        EXPLICIT_LE, uid[: len(EXPLICIT_LE)], 1)


def _corrupt_mutators() -> list[Callable[[bytes, random.Random], bytes]]:
    from tests.io import corrupt

    return [
        corrupt.truncate, corrupt.flip_header_bytes, lambda d, r: corrupt.huge_pixel_length(d),
        lambda d, r: corrupt.huge_text_length(d) if b"\x08\x00\x60\x00" in d else d,
        lambda d, r: corrupt.deep_sequences(d, depth=r.choice([50, 2000])) if b"\x08\x00\x16\x00" in d else d,
    ]


def header_lies(data: bytes, rng: random.Random) -> bytes:
    """Rewrite the header with pydicom: dimensions, frames, bits, samples, photometric, orientation that lie."""
    import io

    import pydicom

    try:
        dataset = pydicom.dcmread(io.BytesIO(data), force=True)
        choice = rng.randrange(8)
        if choice == 0:
            dataset.Rows = rng.choice([0, 1, 7, 65535, int(dataset.get("Rows", 64)) * 2])
        elif choice == 1:
            dataset.Columns = rng.choice([0, 3, 65535, 30000])
        elif choice == 2:
            dataset.NumberOfFrames = rng.choice([0, 2, 1000, 1_000_000, -1])
        elif choice == 3:
            dataset.BitsAllocated = rng.choice([0, 1, 8, 12, 24, 32, 64])
            dataset.BitsStored = rng.choice([0, 1, 8, 12, 16, 40])
        elif choice == 4:
            dataset.SamplesPerPixel = rng.choice([0, 2, 3, 4])
        elif choice == 5:
            dataset.PhotometricInterpretation = rng.choice(
                ["RGB", "PALETTE COLOR", "YBR_FULL_422", "MONOCHROME1", "HSV", ""])
        elif choice == 6:
            dataset.ImageOrientationPatient = rng.choice(
                [[1, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0], [1, 0, 0, 0.7, 0.7, 0], [float("nan")] * 6])
        else:
            dataset.PixelRepresentation = rng.choice([0, 1, 2])
            dataset.RescaleSlope = rng.choice([0, -1, 0.5, 1e30])
        out = io.BytesIO()
        dataset.save_as(out, enforce_file_format=False)
        return out.getvalue()
    except Exception:  # noqa: BLE001 - a seed pydicom cannot rewrite is damaged by bytes instead
        return flip_any_bytes(data, rng)


def mutators() -> list[Callable[[bytes, random.Random], bytes]]:
    return [*_corrupt_mutators(), flip_any_bytes, damage_a_length, cut_and_splice, damage_pixels, other_syntax,
            header_lies, header_lies]


# -- hostile folders ----------------------------------------------------------------------------------------

def hostile_cases() -> list[tuple[str, Callable[[Path], None]]]:
    """(name, builder) for the hostile folders of issue 25: each builder fills an empty folder."""
    import pydicom
    from pydicom.data import get_testdata_file

    from tests.io import corrupt

    def save(dataset_maker, name):
        return lambda folder: dataset_maker().save_as(folder / name)

    def zero_rows(folder: Path) -> None:
        dataset = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
        dataset.Rows = 0
        dataset.save_as(folder / "zero.dcm")

    return [
        ("FIFO", lambda folder: os.mkfifo(folder / "p.dcm")),
        ("link to /dev/zero", lambda folder: (folder / "z.dcm").symlink_to("/dev/zero")),
        ("link to /dev/urandom", lambda folder: (folder / "u.dcm").symlink_to("/dev/urandom")),
        ("link loop", lambda folder: (folder / "loop").symlink_to(folder, target_is_directory=True)),
        ("RLE claiming 30000²", save(lambda: corrupt.claiming_size(30000, 30000), "rle.dcm")),
        ("JPEG 2000 16384² under 64×64", save(corrupt.jpeg2000_larger_than_header, "j2k.dcm")),
        ("NumberOfFrames 1,000,000 (RLE)", save(lambda: corrupt.claiming_size(64, 64, 1_000_000), "f.dcm")),
        ("NumberOfFrames 1,000,000 (native)",
         save(lambda: corrupt.claiming_size(64, 64, 1_000_000, "MR_small.dcm"), "n.dcm")),
        ("zero rows", zero_rows),
        ("deflate bomb (400 MiB of zeros)", lambda folder: corrupt.deflate_bomb(folder / "bomb.dcm", 400)),
        ("RLE segment offset past its frame", save(corrupt.rle_segment_past_the_frame, "rle_offset.dcm")),
        ("damaged ImageOrientationPatient", save(corrupt.skewed_orientation, "skew.dcm")),
    ]


# -- inputs ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FuzzInput:
    name: str
    build: Callable[[Path], None]
    hostile: bool = False


def inputs(count: int, seed: int) -> Iterator[FuzzInput]:
    """The hostile cases first, then `count` − those seeded mutations of the seed files."""
    rng = random.Random(seed)
    corpus = seeds()
    changes = mutators()
    hostile = hostile_cases()
    for name, build in hostile[:count]:
        yield FuzzInput(name, build, hostile=True)
    for index in range(max(0, count - len(hostile))):
        source, data = corpus[rng.randrange(len(corpus))]
        mutate = changes[rng.randrange(len(changes))]
        mutated_seed = rng.randrange(2**32)

        def build(folder: Path, data=data, mutate=mutate, mutated_seed=mutated_seed) -> None:
            (folder / "input.dcm").write_bytes(mutate(data, random.Random(mutated_seed)))

        yield FuzzInput(f"{index}: {getattr(mutate, '__name__', 'mutator')} of {source}", build)


# -- the worker: one folder per line in, one JSON line out -----------------------------------------------------

def _status(key: str) -> int:
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(key + ":"))


def _listed(folder: str) -> set[str]:
    found = set()
    for entry in Path(folder).rglob("*"):
        if entry.is_symlink() or not entry.is_dir():
            found.add(str(entry))
    return found


def _load(folder: str) -> dict:
    """Open and load one input; what it loaded is dropped before the next input is measured."""
    from medview.errors import MedviewError
    from medview.io import assemble_volume, open_folder

    outcome: dict = {"crash": None, "loaded": [], "named": {}}
    try:
        catalog = open_folder(folder)
        outcome["named"] = {s.path: s.reason for s in catalog.skipped}
        for spec in catalog.volumes:
            files = sorted({h.path for point in spec.images for h in point})
            try:
                volume = assemble_volume(spec)
                outcome["largest"] = max(outcome.get("largest", 0), volume.voxels.nbytes)
                outcome["loaded"].extend(files)
                del volume
            except MedviewError as error:
                outcome["named"].update({f: str(error) or "no reason" for f in files})
    except MedviewError as error:
        outcome["named"][folder] = str(error)
    except BaseException as error:  # noqa: BLE001 - anything not medview's own is what we are hunting
        outcome["crash"] = f"{type(error).__name__}: {str(error)[:200]}"
    outcome["unaccounted"] = sorted(_listed(folder) - set(outcome["loaded"]) - set(outcome["named"]) - {folder})
    return outcome


def worker() -> None:
    import ctypes
    import resource

    from medview.errors import MedviewError
    from medview.io import load_volume
    from medview.memory import give_back_large_buffers

    give_back_large_buffers()  # as medview's entry points do

    # The idle worker has read every seed once, unmutated, as a viewer that has opened such files has: every
    # codec's libraries are loaded and Python's object heap has grown to parse each kind of header (an enhanced
    # multi-frame header grows it by 3-4 MiB the first time; later files reuse it). An input's peak above this
    # idle size is then what its mutation costs.
    for _name, path in seed_paths():
        try:
            load_volume(path)
        except MedviewError:
            pass
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc_trim(0)
    idle = _status("VmRSS")
    limit = _status("VmSize") + CEILING_MIB * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    print(json.dumps({"ready": True, "idle": idle}), flush=True)
    for line in sys.stdin:
        folder = line.strip()
        libc.malloc_trim(0)  # what glibc keeps of earlier inputs is not this input's cost
        with open("/proc/self/clear_refs", "w") as refs:  # resets VmHWM: the peak of this input alone
            refs.write("5")
        before = _status("VmRSS")
        outcome = _load(folder)  # its volumes are freed on return
        outcome["peak_above_idle"] = max(0, _status("VmHWM") - idle)
        outcome["growth"] = max(0, _status("VmHWM") - before)
        print(json.dumps(outcome), flush=True)


# -- the parent -------------------------------------------------------------------------------------------------

@dataclass
class FuzzReport:
    inputs: int = 0
    loaded: int = 0
    named: int = 0
    crashes: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    unaccounted: list[str] = field(default_factory=list)
    peak_bytes: int = 0
    peak_hostile_bytes: int = 0
    largest_volume_bytes: int = 0
    idle_bytes: int = 0
    seconds: float = 0.0
    #: the inputs that cost the most memory: (bytes above idle, largest volume loaded, name)
    heaviest: list[tuple[int, int, str]] = field(default_factory=list)
    peak_input: str = ""
    #: the most an input cost beyond 1.3 × its own largest volume (its growth above the size it started at)
    worst_excess_bytes: float = 0.0
    worst_excess_input: str = ""
    #: the most the worker held above its idle size before an input began (what earlier inputs left resident)
    retained_bytes: int = 0


class _Worker:
    def __init__(self, nice: int) -> None:
        command = [sys.executable, "-m", "tests.io.fuzz", "--worker"]
        if nice:
            command = ["nice", "-n", str(nice), *command]
        # a Rust codec's panic (caught as a DecodeError) would symbolise a backtrace: tens of MiB a panic
        environment = {**os.environ, "RUST_BACKTRACE": "0"}
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, cwd=PROJECT, env=environment)
        self.idle = json.loads(self._line(60.0))["idle"]

    def _line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError
        line = self.process.stdout.readline()
        if not line:
            raise EOFError
        return line

    def ask(self, folder: Path, timeout: float) -> dict:
        self.process.stdin.write(f"{folder}\n")
        self.process.stdin.flush()
        return json.loads(self._line(timeout))

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def run(count: int, seed: int, workdir: Path, timeout: float = TIMEOUT_S, nice: int = 0,
        progress: Callable[[int, FuzzReport], None] | None = None) -> FuzzReport:
    """Feed `count` inputs to a worker process, replacing it after a hang or a crash."""
    report = FuzzReport()
    start = time.perf_counter()
    worker_process = _Worker(nice)
    report.idle_bytes = worker_process.idle
    try:
        for number, item in enumerate(inputs(count, seed)):
            folder = workdir / f"input_{number % 4}"
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            item.build(folder)
            report.inputs += 1
            try:
                outcome = worker_process.ask(folder, timeout)
            except TimeoutError:
                report.hangs.append(item.name)
                worker_process.stop()
                worker_process = _Worker(nice)
                continue
            except (EOFError, BrokenPipeError, json.JSONDecodeError):
                report.crashes.append(f"{item.name}: the worker process died")
                worker_process.stop()
                worker_process = _Worker(nice)
                continue
            if outcome["crash"]:
                report.crashes.append(f"{item.name}: {outcome['crash']}")
            elif outcome["loaded"]:
                report.loaded += 1
            else:
                report.named += 1
            if outcome["unaccounted"]:
                report.unaccounted.append(f"{item.name}: {outcome['unaccounted']}")
            if outcome["peak_above_idle"] > report.peak_bytes:
                report.peak_bytes, report.peak_input = outcome["peak_above_idle"], item.name
            report.heaviest = sorted([*report.heaviest, (outcome["growth"], outcome.get("largest", 0),
                                                         item.name)], reverse=True)[:5]
            report.largest_volume_bytes = max(report.largest_volume_bytes, outcome.get("largest", 0))
            excess = outcome["growth"] - 1.3 * outcome.get("largest", 0)
            if excess > report.worst_excess_bytes and not item.hostile:
                report.worst_excess_bytes, report.worst_excess_input = excess, item.name
            report.retained_bytes = max(report.retained_bytes, outcome["peak_above_idle"] - outcome["growth"])
            if item.hostile:
                report.peak_hostile_bytes = max(report.peak_hostile_bytes, outcome["growth"])
            if progress:
                progress(number + 1, report)
    finally:
        worker_process.stop()
    report.seconds = time.perf_counter() - start
    return report


if __name__ == "__main__" and "--worker" in sys.argv:
    worker()
