"""The bundle's entry point: exactly `medview` (same arguments and subcommands), frozen by PyInstaller.

`freeze_support` lets the decode pool's fork server and any spawned worker start from the frozen executable.
A process started with no locale at all gets C.UTF-8, as Qt would pick with a warning on stderr.
"""

import multiprocessing
import os
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    if not any(os.environ.get(name) for name in ("LC_ALL", "LC_CTYPE", "LANG")):
        os.environ["LANG"] = "C.UTF-8"  # started with no locale at all (env -i, some launchers): Qt wants UTF-8
    from medview.cli import main

    sys.exit(main())
