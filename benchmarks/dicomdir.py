"""DICOMDIR benchmark: a CD index of 8,000 image records whose file ids differ in case from the names on disk.

    nice python benchmarks/dicomdir.py [--records 8000] [--keep DIR]

The CD is made with pydicom's own File-set writer from pydicom's MR_small (64 × 64) as 80 series of 100
slices (`written/`), then mirrored with hard links into `lower/`, where every file and folder name is in lower
case (as a CD copied by some systems is), so that no ReferencedFileID resolves as written. Prints one table
from one run, medians of 3:
- resolving the records of `lower/` (medview `dicomdir_references`: PS3.10 checks, escapes refused, case
  resolved, each folder listed once) against pydicom's own `FileSet` load of `written/`, where the ids match
  the names (the reference: pydicom does not resolve case);
- the whole folder opened: medview `open_folder` (records resolved, 8,000 headers read, indexed into series).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERIES_SLICES = 100


def make_cd(target: Path, records: int) -> tuple[Path, Path]:
    """DICOMDIRs of `records` images: as pydicom wrote them, and mirrored with every name in lower case."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.fileset import FileSet
    from pydicom.uid import generate_uid

    written, lower = target / "written", target / "lower"
    if (lower / "DICOMDIR").is_file():
        return written / "DICOMDIR", lower / "DICOMDIR"
    template = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    file_set = FileSet()
    study = generate_uid()
    for index in range(records):
        dataset = template.copy()
        series, k = divmod(index, SERIES_SLICES)
        dataset.StudyInstanceUID = study
        dataset.SeriesInstanceUID = f"1.2.826.0.1.3680043.10.1341.{series + 1}"
        dataset.SeriesNumber = series + 1
        dataset.InstanceNumber = k + 1
        dataset.SOPInstanceUID = generate_uid()
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.ImagePositionPatient = [0.0, 0.0, float(k)]
        file_set.add(dataset)
    file_set.write(written)
    for folder, _names, files in os.walk(written):
        mirror = lower / Path(folder).relative_to(written).as_posix().lower()
        mirror.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.link(Path(folder) / name, mirror / (name if name == "DICOMDIR" else name.lower()))
    return written / "DICOMDIR", lower / "DICOMDIR"


def median_time(function, repeats: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=8000)
    parser.add_argument("--keep", type=Path, help="make the CD here (reused if present)")
    args = parser.parse_args()

    import pydicom
    from pydicom.fileset import FileSet

    from medview.io import open_folder
    from medview.io.scan import dicomdir_references

    with tempfile.TemporaryDirectory(prefix="medview-dicomdir-") as temporary:
        base = args.keep or Path(temporary)
        base.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        written, dicomdir = make_cd(base, args.records)
        print(f"CD of {args.records} records made in {time.perf_counter() - start:.1f} s", file=sys.stderr)

        resolve_s, references = median_time(lambda: dicomdir_references(str(dicomdir)))
        pydicom_s, file_set = median_time(lambda: FileSet(pydicom.dcmread(written)))
        open_s, catalog = median_time(lambda: open_folder(dicomdir))

    found = sum(1 for name in references.files if Path(name).name == Path(name).name.lower())
    slices = sum(spec.n_slices for spec in catalog.volumes)
    print(f"\nmedview DICOMDIR benchmark: {args.records} image records, ids in upper case, names on disk in "
          f"lower case, {os.cpu_count()} cores, median of 3\n")
    print("| figure                                   | medview s | reference: pydicom FileSet s | ratio |")
    print("|------------------------------------------|-----------|------------------------------|-------|")
    print(f"| {'records resolved (case, escapes, PS3.10)':<40} | {resolve_s:>9.3f} | {pydicom_s:>28.3f} | "
          f"{resolve_s / pydicom_s:>5.2f} |")
    print(f"| {'whole CD opened (headers read, indexed)':<40} | {open_s:>9.3f} | {'':>28} | {'':>5} |")
    print(f"\nresolved to the lower-case names on disk: {found} of {len(references.files)}; pydicom FileSet: "
          f"{len(file_set)} instances; opened: {len(catalog.volumes)} series, {slices} slices, "
          f"{len(catalog.skipped)} skipped")
    return 0 if found == args.records and slices == args.records else 1


if __name__ == "__main__":
    sys.exit(main())
