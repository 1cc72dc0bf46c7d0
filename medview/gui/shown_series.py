"""A series on screen: its geometry from the index at once, its slices as they land, then the whole volume.

The viewer draws from this object while the loader is still decoding: a slice that has not landed yet is
None (drawn as "loading"), never another slice's pixels.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from medview.core import geometry
from medview.core.session import ImageRef, SeriesKey
from medview.core.volume import Volume
from medview.io.index import VolumeSpec


class ShownSeries:
    def __init__(self, spec: VolumeSpec, index: int) -> None:
        self.spec = spec
        self.index = index
        self.volume: Volume | None = None
        self._landed: dict[tuple[int, int], np.ndarray] = {}
        self.key = SeriesKey(spec.info.series_instance_uid, spec.info.part)

    def ref(self, k: int, t: int = 0) -> ImageRef:
        """The session's name for slice k at time point t of this series."""
        return ImageRef(self.key, int(t), int(k))

    # -- filled by the loading worker ----------------------------------------------------------------------
    def land(self, t: int, k: int, pixels: np.ndarray) -> None:
        self._landed[(t, k)] = pixels

    def complete(self, volume: Volume) -> None:
        self.volume = volume
        self._landed.clear()

    @property
    def n_landed(self) -> int:
        """Slices decoded so far (all of them once the volume is complete)."""
        return self.n_slices * self.time_points if self.volume is not None else len(self._landed)

    @property
    def loaded(self) -> bool:
        return self.volume is not None

    def slice(self, k: int, t: int = 0) -> np.ndarray | None:
        if self.volume is not None:
            return self.volume.slice(k, t)
        return self._landed.get((t, k))

    def sample_values(self) -> np.ndarray | None:
        """Pixels to choose a default window from: the volume, or the slices landed so far."""
        if self.volume is not None:
            return self.volume.voxels
        if not self._landed:
            return None
        return np.stack(list(self._landed.values())[:8])

    # -- geometry (the index knows it before any pixel is decoded) -----------------------------------------
    @property
    def info(self):
        return self.spec.info

    @property
    def modality(self) -> str:
        return self.spec.info.modality

    @property
    def n_slices(self) -> int:
        return self.spec.n_slices

    @property
    def time_points(self) -> int:
        return self.spec.time_points

    @property
    def rows(self) -> int:
        return self.spec.rows

    @property
    def columns(self) -> int:
        return self.spec.columns

    @property
    def pixel_spacing(self) -> tuple[float, float]:
        return self.spec.pixel_spacing

    @property
    def row_cosine(self) -> np.ndarray:
        return self.spec.row_cosine

    @property
    def column_cosine(self) -> np.ndarray:
        return self.spec.column_cosine

    @functools.cached_property
    def normal(self) -> np.ndarray:
        return self.spec.normal

    @functools.cached_property
    def slice_positions_mm(self) -> np.ndarray:
        """Each slice's position along the normal (mm), for the overlay: computed once, not on every step."""
        return self.spec.positions @ self.normal

    @property
    def positions(self) -> np.ndarray:
        return self.spec.positions

    @property
    def has_geometry(self) -> bool:
        return self.spec.has_geometry

    @property
    def photometric(self) -> str:
        return self.volume.photometric if self.volume else self.spec.images[0][0].photometric

    @property
    def windows(self) -> tuple:
        """The scanner's windows (the default window and the first presets)."""
        return self.volume.windows if self.volume else self.spec.windows

    @property
    def value_unit(self) -> str:
        if self.volume is not None:
            return self.volume.value_unit
        return "HU" if self.modality == "CT" else ""

    def thickness(self, k: int) -> float:
        if self.spec.mosaic_tiles:
            value = self.spec.images[0][0].slice_thickness
        else:
            value = self.spec.images[0][k].slice_thickness
        return math.nan if value is None else float(value)

    def voxel_to_lps(self, k: int, r: float, c: float) -> np.ndarray:
        """The core's mapping, from the index's geometry (before any pixel is decoded)."""
        return geometry.voxel_to_lps(self.positions, self.row_cosine, self.column_cosine, self.pixel_spacing,
                                     k, r, c)

    def header_of(self, k: int, t: int = 0):
        """The ImageHeader of slice k (its file and frame) for the tag dock."""
        return self.spec.header_of(k, t)
