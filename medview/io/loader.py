"""One call from a folder to volumes: scan, index, assemble. For the CLI, the AI layer and tests."""

from __future__ import annotations

import os

from medview.core.volume import Volume
from medview.errors import NothingLoadedError
from medview.io.assemble import PHILIPS_DISPLAYED, assemble_volume
from medview.io.index import Catalog, index_volumes
from medview.io.scan import CancelToken, Progress, scan_folder


def open_folder(path: str | os.PathLike, progress: Progress | None = None,
                cancel: CancelToken | None = None) -> Catalog:
    """Scan a folder and index its volumes (headers only, no pixels decoded)."""
    return index_volumes(scan_folder(path, progress=progress, cancel=cancel))


def load_volume(path: str | os.PathLike, series: str | int | None = None,
                philips_values: str = PHILIPS_DISPLAYED) -> Volume:
    """The volume `series` (an index in the fixed order, or a SeriesInstanceUID; default the first)."""
    return assemble_volume(open_folder(path).find(series), philips_values=philips_values)


def load_volumes(path: str | os.PathLike, philips_values: str = PHILIPS_DISPLAYED) -> list[Volume]:
    catalog = open_folder(path)
    if not catalog.volumes:
        raise NothingLoadedError(f"no image could be loaded from {path}")
    return [assemble_volume(spec, philips_values=philips_values) for spec in catalog.volumes]
