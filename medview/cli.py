"""The ``medview`` command. Subcommands import what they need when they run, so ``medview info`` and
``medview --help`` stay free of torch and Qt."""

from __future__ import annotations

import argparse
import sys

from medview import __version__
from medview.errors import MedviewError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medview",
        description="DICOM viewer for CT and MRI with a CNN at hand (research use only).",
    )
    parser.add_argument("--version", action="version", version=f"medview {__version__}")
    sub = parser.add_subparsers(dest="command")

    info = sub.add_parser("info", help="list the volumes of a DICOM folder, their geometry and warnings")
    info.add_argument("path", help="a folder (searched recursively), a DICOMDIR or a DICOM file")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(run=_run_info)
    return parser


def _run_info(args: argparse.Namespace) -> int:
    from medview.info import run_info

    return run_info(args.path, as_json=args.json)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except MedviewError as error:
        print(f"medview: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
