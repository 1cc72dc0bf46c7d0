"""One rule for slice numbers, everywhere a person reads them (overlay, status bar, plot, list, report, CLI).

k is the 0-based index in slice order (as `--slice`); a person reads slice k + 1 of N, with the image's DICOM
InstanceNumber beside it, so a number on screen can be found on the scanner's console too. The CLI also names k,
never right after the word "slice".
"""

from __future__ import annotations


def _instance(instance: int | None) -> str:
    return "" if instance is None else f"im {instance}"


def slice_text(k: int, n_slices: int, instance: int | None = None) -> str:
    """'slice 18/24 · im 18' (the instance number left out when the image has none)."""
    text = f"slice {k + 1}/{n_slices}"
    return f"{text} · {_instance(instance)}" if instance is not None else text


def slice_text_cli(k: int, n_slices: int, instance: int | None = None) -> str:
    """'slice 18/24 (k 17, im 18)': as on screen, with the k that `--slice` takes."""
    extra = f", {_instance(instance)}" if instance is not None else ""
    return f"slice {k + 1}/{n_slices} (k {k}{extra})"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 volume', '2 volumes' ('1 series', '2 series' with plural='series')."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"
