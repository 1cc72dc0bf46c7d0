"""The bundle's entry point: exactly `medview` (same arguments and subcommands), frozen by PyInstaller.

`freeze_support` lets the decode pool's fork server and any spawned worker start from the frozen executable.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from medview.cli import main

    sys.exit(main())
