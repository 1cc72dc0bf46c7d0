"""Fuzzing benchmark: ≥ 5,000 hostile and mutated inputs through the loader; prints one table.

    nice -n 15 python benchmarks/fuzz.py [--inputs 5000] [--seed 1] [--timeout 20]

Not a timing benchmark (it may run beside training). The inputs are the hostile folders of issue 25 (FIFO,
device links, link loop, RLE and JPEG 2000 bombs, a million frames, zero rows, damaged orientation) and
seeded mutations of real files (pydicom's test files and ../shared/data/dicom_cases): truncation, bit flips,
lengths, spliced chunks, pixel damage, other transfer syntaxes, lying headers. See tests/io/fuzz.py.

Columns: inputs; loaded (a volume came out); named (every file given a reason); crashes (an exception that is
not medview's own, or a dead worker); hangs (no answer within --timeout s); unaccounted (a file neither loaded
nor named); peak memory of the worker above its idle size (every seed read once, unmutated: codecs loaded and
Python's object heap grown as for any file of that kind), the largest volume read, and the
most one hostile case cost.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.io.fuzz import TIMEOUT_S, run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S)
    args = parser.parse_args()

    def progress(done: int, report) -> None:
        if done % 500 == 0:
            print(f"  {done} inputs, {len(report.crashes)} crashes, {len(report.hangs)} hangs", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="medview-fuzz-") as workdir:
        report = run(args.inputs, args.seed, Path(workdir), timeout=args.timeout, progress=progress)
    mib = 2**20
    print(f"\nmedview fuzzing: seed {args.seed}, {report.seconds:.0f} s, timeout {args.timeout:g} s per input\n")
    header = ("| inputs | loaded | named with a reason | crashes | hangs | unaccounted | peak memory above idle MiB "
              "| largest volume MiB | worst hostile case MiB |")
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    print(f"| {report.inputs:>6} | {report.loaded:>6} | {report.named:>19} | {len(report.crashes):>7} | "
          f"{len(report.hangs):>5} | {len(report.unaccounted):>11} | {report.peak_bytes / mib:>26.1f} | "
          f"{report.largest_volume_bytes / mib:>18.1f} | {report.peak_hostile_bytes / mib:>22.2f} |")
    print(f"\nidle worker (every seed file read once, unmutated): {report.idle_bytes / mib:.0f} MiB; "
          f"highest peak reached on: {report.peak_input}")
    print(f"per input: the most a mutated input cost beyond 1.3 × its own largest volume: "
          f"{report.worst_excess_bytes / mib:.1f} MiB ({report.worst_excess_input or 'none'}); the most the worker "
          f"held above idle before an input began (left resident by earlier inputs): "
          f"{report.retained_bytes / mib:.1f} MiB")
    print("inputs that cost the most (MiB above the RSS they started from, largest volume MiB, input):")
    for growth, largest, name in report.heaviest:
        print(f"    {growth / mib:7.1f}  {largest / mib:7.1f}  {name}")
    for kind, items in (("crash", report.crashes), ("hang", report.hangs), ("unaccounted", report.unaccounted)):
        for item in items:
            print(f"{kind}: {item}")
    return 1 if report.crashes or report.hangs or report.unaccounted else 0


if __name__ == "__main__":
    sys.exit(main())
