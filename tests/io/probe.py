"""Open and load a folder in a process of its own, optionally under a memory ceiling, and say what happened.

    python -m tests.io.probe FOLDER [--ceiling-mib N]

Prints one JSON line: the files that loaded, the volumes that failed (with why), the skipped files (with
why), the idle resident size and the peak (VmHWM) in bytes. The ceiling is RLIMIT_AS: the address space
the process has when it starts loading plus N MiB, so a header that makes the loader allocate fails here.
"""

from __future__ import annotations

import argparse
import json
import resource


def status(key: str) -> int:
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(key + ":"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--ceiling-mib", type=int, default=0)
    args = parser.parse_args()

    from medview.errors import MedviewError
    from medview.io import assemble_volume, open_folder

    idle = status("VmRSS")
    if args.ceiling_mib:
        limit = status("VmSize") + args.ceiling_mib * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    catalog = open_folder(args.folder)
    loaded, failed = [], {}
    for spec in catalog.volumes:
        files = sorted({h.path for point in spec.images for h in point})
        try:
            assemble_volume(spec)
        except MedviewError as error:
            failed.update({f: str(error) for f in files})
            continue
        loaded.extend(files)
    print(json.dumps({"loaded": loaded, "failed": failed, "idle": idle, "peak": status("VmHWM"),
                      "skipped": {s.path: s.reason for s in catalog.skipped}}))


if __name__ == "__main__":
    main()
