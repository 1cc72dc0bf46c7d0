"""Volume checks itself at construction and maps voxels to patient space consistently inside and outside."""

from __future__ import annotations

import numpy as np
import pytest

from medview.core.volume import Volume


def _volume(n: int = 4, **kwargs) -> Volume:
    positions = [(0.0, 0.0, 2.0 * k) for k in range(n)]
    return Volume(voxels=np.zeros((n, 3, 3), dtype=np.int16), positions=positions, row_cosine=(1, 0, 0),
                  column_cosine=(0, 1, 0), pixel_spacing=(1.0, 1.0), **kwargs)


@pytest.mark.parametrize("k", [-2.0, -0.5, 0.0, 1.5, 3.0, 3.5, 5.0])
def test_voxel_to_lps_extrapolates_on_both_sides_and_round_trips(k):
    volume = _volume()
    point = volume.voxel_to_lps(k, 1.0, 2.0)
    assert point == pytest.approx((2.0, 1.0, 2.0 * k))
    assert volume.lps_to_voxel(point) == pytest.approx((k, 1.0, 2.0))


def test_a_volume_refuses_parts_that_disagree():
    with pytest.raises(ValueError, match="one slice thickness value per slice"):
        _volume(slice_thickness=(1.0, 1.0))
    with pytest.raises(ValueError, match="one sop instance uids value per slice"):
        _volume(sop_instance_uids=("1.2",))
    with pytest.raises(ValueError, match="RGB volume has 3 uint8 samples"):
        Volume(voxels=np.zeros((2, 3, 3, 3), dtype=np.int16), positions=[(0, 0, 0), (0, 0, 1)], row_cosine=(1, 0, 0),
               column_cosine=(0, 1, 0), pixel_spacing=(1, 1), photometric="RGB")
    with pytest.raises(ValueError):
        _volume(photometric="YBR_FULL")
