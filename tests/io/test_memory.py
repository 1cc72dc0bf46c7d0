"""What a load costs in memory: the volume, and little beside it (issue 25: peak ≤ idle + 1.3 × the volume)."""

from __future__ import annotations

import shutil
import tracemalloc

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medview.io import assemble_volume, load_volume, open_folder


def _peak_of_assembly(folder) -> tuple[int, int]:
    """(peak bytes numpy and Python allocated while the volume was assembled, the volume's bytes)."""
    [spec] = open_folder(folder).volumes
    tracemalloc.start()
    try:
        volume = assemble_volume(spec)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, volume.voxels.nbytes


def test_a_single_large_image_costs_its_volume_not_twice_it(tmp_path):
    # a 1955 × 1841 radiograph, 16-bit native: read straight into the volume, not into a buffer of its own
    shutil.copy(get_testdata_file("RG1_UNCI.dcm"), tmp_path / "radiograph.dcm")
    peak, volume_bytes = _peak_of_assembly(tmp_path)
    assert volume_bytes > 6 * 2**20
    assert peak <= 1.3 * volume_bytes


def test_a_ct_series_costs_its_volume_and_a_few_slices(shared_data):
    # 275 slices of 512 × 512 (uint16 stored, HU out): two decoding threads, a few slices in flight at most
    peak, volume_bytes = _peak_of_assembly(shared_data / "samples" / "ct_chest_lidc_0314")
    assert peak <= 1.05 * volume_bytes


@pytest.mark.parametrize(("slope", "intercept", "dtype"), [(0.5, -3.25, np.float32), (-1, 100, np.int16),
                                                          (1, -1024, np.int16), (3, -1000, np.int32)])
def test_a_rescaled_large_image_is_made_in_its_volumes_memory_with_the_right_values(tmp_path, slope, intercept,
                                                                                   dtype):
    # the fuzzer's worst input: this radiograph with a lying RescaleSlope made a float or int32 copy of itself
    dataset = pydicom.dcmread(get_testdata_file("RG1_UNCI.dcm"))
    dataset.RescaleSlope, dataset.RescaleIntercept = slope, intercept
    dataset.save_as(tmp_path / "radiograph.dcm")
    peak, volume_bytes = _peak_of_assembly(tmp_path)
    volume = load_volume(tmp_path)
    expected = dataset.pixel_array.astype(np.float64) * slope + intercept
    assert volume.voxels.dtype == dtype and np.array_equal(volume.voxels[0], expected.astype(dtype))
    assert peak <= 1.3 * volume_bytes


def test_a_volume_that_fails_in_the_decoder_pool_is_freed_at_once(tmp_path):
    """The worker's exception, held by its future, held the frames that failed it (and so the volume being
    assembled): freed only when the garbage collector happened to run (4 MiB a time in the fuzzer)."""
    import gc
    import types

    from medview.errors import DecodeError

    data = open(get_testdata_file("MR2_J2KR.dcm"), "rb").read()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) * 2 // 3])  # the codestream ends early
    [spec] = open_folder(tmp_path).volumes
    gc.collect()
    gc.disable()
    try:
        with pytest.raises(DecodeError, match="could not be decoded"):
            assemble_volume(spec)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        held = [o.f_code.co_name for o in gc.garbage if isinstance(o, types.FrameType)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert "decode" not in held and "iter_assemble" not in held
