"""Command-line values, checked once for every command: a bad value is one line a reader can act on.

Each function takes the text the user typed and returns the value, or raises `MedviewError` with one line that
names the option and says what was expected. `medview` (the viewer), `medview report` and `medview classify`
use these, so `--window 1500/-600` means the same everywhere.

Options whose value may start with a minus sign (`--window -400/40`, `--crosshair -57.4,131.2,-520.4`) go through
one argv pre-pass, `join_values`, before any parser sees them: argparse would otherwise take the value for an
option of its own.
"""

from __future__ import annotations

import math

from medview.errors import MedviewError

#: options whose value may begin with "-" (a negative number): joined to their value by the pre-pass
SIGNED_VALUE_OPTIONS = ("--window", "--crosshair")


def join_values(argv: list[str], options: tuple[str, ...] = SIGNED_VALUE_OPTIONS) -> list[str]:
    """The one argv pre-pass: `--crosshair -57.4,131.2,-520.4` becomes `--crosshair=-57.4,131.2,-520.4`, so a
    value beginning with a minus sign is read as the value (with or without `=` the same). A following
    `--option` is never taken as a value: the option is then missing its value, as the parser says."""
    joined: list[str] = []
    index = 0
    argv = list(argv)
    while index < len(argv):
        item = argv[index]
        if item == "--":
            joined.extend(argv[index:])
            break
        if item in options and index + 1 < len(argv) and not argv[index + 1].startswith("--"):
            joined.append(f"{item}={argv[index + 1]}")
            index += 2
            continue
        joined.append(item)
        index += 1
    return joined


def _finite_numbers(text: str, count: int, option: str, example: str) -> list[float]:
    parts = str(text).split(",")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != count:
        raise MedviewError(f"{option} wants {count} numbers separated by commas (e.g. {example}), not {text!r}")
    if not all(math.isfinite(v) for v in values):
        raise MedviewError(f"{option} {text}: a value is not a finite number (e.g. {example})")
    return values


def window(text: str, option: str = "--window"):
    """'WIDTH/LEVEL' in the volume's values (HU for CT): width > 0, both finite (`1500/-600` is lung)."""
    from medview.core.window_level import Window

    parts = str(text).split("/")
    try:
        width, level = (float(part) for part in parts)
    except ValueError:
        raise MedviewError(f"{option} is WIDTH/LEVEL, e.g. 400/40 or 1500/-600, not {text!r}") from None
    if not (math.isfinite(width) and math.isfinite(level)):
        raise MedviewError(f"{option} wants finite numbers, not {text!r}")
    if width <= 0:
        raise MedviewError(f"{option}: the width must be greater than 0, not {width:g} (in {text!r})")
    return Window(width, level, "custom")


def crosshair(text: str, option: str = "--crosshair") -> tuple[float, float, float]:
    """'X,Y,Z': a patient position in LPS mm (e.g. -57.4,131.2,-520.4)."""
    x, y, z = _finite_numbers(text, 3, option, "-57.4,131.2,-520.4")
    return x, y, z


#: the viewer's layouts on the command line: `single` (the slice view) or `mpr` (axial, coronal, sagittal)
LAYOUTS = ("single", "mpr")


def layout(text: str, option: str = "--layout") -> str:
    """'single' or 'mpr'."""
    if str(text) not in LAYOUTS:
        raise MedviewError(f"{option} is single or mpr (the three planes, 1×3), not {text!r}")
    return str(text)


def point(text: str, option: str = "--at") -> tuple[float, float]:
    """'COL,ROW': a pixel of the slice (0-based column, row)."""
    column, row = _finite_numbers(text, 2, option, "175,210")
    return column, row


def segment(text: str, option: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """'C0,R0,C1,R1': the two ends of a length, or two opposite corners of an ROI, in pixels."""
    c0, r0, c1, r1 = _finite_numbers(text, 4, option, "150,200,200,220")
    return (c0, r0), (c1, r1)


def slice_index(k: int | None, n_slices: int, option: str = "--slice") -> int | None:
    """A 0-based slice index k within the series (None stays None: the caller's default)."""
    if k is None:
        return None
    if not 0 <= k < n_slices:
        raise MedviewError(f"{option} {k} is outside this series: k is 0-based, 0 to {n_slices - 1} "
                           f"(slices 1 to {n_slices})")
    return k


def path(text: str, option: str = "PATH"):
    """A file or folder that exists (an empty text is refused: it would mean the working folder)."""
    from pathlib import Path

    if not str(text).strip():
        raise MedviewError(f"{option} is empty: give a DICOM folder, DICOMDIR or file")
    found = Path(text)
    if not found.exists():
        raise MedviewError(f"{found} does not exist")
    return found


def size(text: str, option: str = "--size") -> tuple[int, int]:
    """'WIDTHxHEIGHT' of a window, in screen pixels."""
    try:
        width, height = (int(part) for part in str(text).lower().split("x"))
    except ValueError:
        width = height = 0
    if not (100 <= width <= 10000 and 100 <= height <= 10000):
        raise MedviewError(f"{option} is WIDTHxHEIGHT in pixels, each 100 to 10000, e.g. 1400x900, not {text!r}")
    return width, height
