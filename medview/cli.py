"""The ``medview`` command. Subcommands import what they need when they run, so ``medview info`` and
``medview --help`` stay free of torch and Qt."""

from __future__ import annotations

import argparse
import sys

from medview.errors import MedviewError
from medview.memory import give_back_large_buffers

#: Flags the command itself answers (everything else that is not a subcommand opens the viewer).
OWN_FLAGS = ("-h", "--help", "--version", "--install-desktop-entry")


def build_parser() -> argparse.ArgumentParser:
    from medview.gui.app import build_viewer_parser  # the window's flags (no Qt imported for them)

    viewer = build_viewer_parser()
    parser = argparse.ArgumentParser(
        prog="medview",
        description="DICOM viewer for CT and MRI with a CNN at hand (research use only).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The viewer: medview [PATH] [flags]\n\n" + viewer.format_help().split("\n", 1)[1].strip()
        .split("\n\n", 1)[-1],
    )
    parser.add_argument("--version", action="store_true", dest="print_version",  # `train --version` is the model's
                        help="print medview's version and its bundled models' versions")
    parser.add_argument("--install-desktop-entry", action="store_true", dest="desktop_entry",
                        help="put medview in this user's desktop menu (Linux; $XDG_DATA_HOME/applications)")
    sub = parser.add_subparsers(dest="command")

    info = sub.add_parser("info", help="list the volumes of a DICOM folder, their geometry and warnings")
    info.add_argument("path", help="a folder (searched recursively), a DICOMDIR or a DICOM file")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(run=_run_info)

    from medview.ai.commands import register as register_ai

    register_ai(sub)
    from medview.report_cli import register as register_report

    register_report(sub)
    from medview.pacs_cli import register as register_pacs

    register_pacs(sub)
    parser.subcommand_names = set(sub.choices)
    return parser


def _open_viewer(argv: list[str]) -> int:
    """The window: Qt is imported only here, never for a headless command."""
    try:
        from medview.gui.app import main as viewer_main
    except ImportError as error:
        print(f"medview: the viewer is not available ({error})", file=sys.stderr)
        return 2
    try:
        return viewer_main(argv)
    except MedviewError as error:
        print(f"medview: {error}", file=sys.stderr)
        return 2


def _run_info(args: argparse.Namespace) -> int:
    from medview import cli_values
    from medview.info import run_info

    return run_info(str(cli_values.path(args.path)), as_json=args.json)


def _install_desktop_entry(_args: argparse.Namespace) -> int:
    from medview.desktop_entry import main as install

    return install()


def main(argv: list[str] | None = None) -> int:
    """`medview SUBCOMMAND ...` runs a headless command; `medview [PATH] [viewer flags]` opens the viewer."""
    from medview.cli_values import join_values

    argv = join_values(sys.argv[1:] if argv is None else list(argv))  # the one pre-pass (--window, --crosshair)
    give_back_large_buffers()
    parser = build_parser()
    if not argv or (argv[0] not in parser.subcommand_names and argv[0] not in OWN_FLAGS):
        return _open_viewer(argv)
    args = parser.parse_args(argv)
    if args.print_version:
        from medview.about import version_text

        print(version_text())
        return 0
    if args.desktop_entry:
        args.run = _install_desktop_entry
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
    except BrokenPipeError:  # `medview info | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
