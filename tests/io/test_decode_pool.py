"""A codec that hangs or crashes costs one file: its worker is stopped or replaced, the next file decodes."""

from __future__ import annotations

import mmap
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from medview.errors import DecodeError
from medview.io.decode import decode_stored
from medview.io.decode_pool import DecoderPool, decoded, isolated
from medview.io.headers import read_headers


def hanging_codec(header):
    time.sleep(600)


def crashing_codec(header):
    os.kill(os.getpid(), signal.SIGSEGV)  # what a codec's buffer overrun does to its process


@pytest.fixture()
def pool():
    decoders = DecoderPool(workers=2)
    yield decoders
    decoders.shutdown()


def decode_once(pool: DecoderPool, function, header, timeout: float | None = None) -> np.ndarray:
    with pool.lent(function, header, timeout) as values:
        return values.copy()


def _j2k_header():
    [header] = read_headers(get_testdata_file("MR_small_jp2klossless.dcm"))
    return header


def test_a_hanging_codec_is_stopped_and_named_and_the_next_frame_decodes(pool):
    header = _j2k_header()
    with pytest.raises(DecodeError, match="did not finish in 2 s; it was stopped"):
        decode_once(pool, hanging_codec, header, timeout=2)
    assert np.array_equal(decode_once(pool, decode_stored, header), decode_stored(header))


def test_a_crashing_codec_is_named_and_the_pool_replaced(pool):
    header = _j2k_header()
    with pytest.raises(DecodeError, match="the decoder crashed on this file"):
        decode_once(pool, crashing_codec, header)
    assert np.array_equal(decode_once(pool, decode_stored, header), decode_stored(header))


def test_a_frame_comes_back_through_a_shared_buffer_equal_to_the_in_process_decode(pool):
    header = _j2k_header()
    with pool.lent(decode_stored, header) as values:
        assert isinstance(values.base, mmap.mmap)  # a view of the lent buffer, not an unpickled copy
        assert np.array_equal(values, decode_stored(header))
    names = [Path("/dev/shm") / slot.name.lstrip("/") for slot in pool.slots._free]
    assert names and all(name.exists() for name in names)
    assert np.array_equal(decode_once(pool, decode_stored, header), decode_stored(header))  # the buffer reused
    pool.shutdown()
    assert not any(name.exists() for name in names)  # removed with the pool


def test_a_buffer_that_cannot_hold_the_frame_costs_a_retry_not_the_frame(pool):
    """A full /dev/shm: the worker writing its mapped buffer dies of SIGBUS (here the buffer's file is cut to 0
    bytes under a mapping the worker kept); the frame is decoded again and comes back pickled."""
    header = _j2k_header()
    with pool.lent(decode_stored, header):
        pass
    [slot] = pool.slots._free
    os.truncate(Path("/dev/shm") / slot.name.lstrip("/"), 0)
    with pool.lent(decode_stored, header) as values:
        assert not isinstance(values.base, mmap.mmap)
        assert np.array_equal(values, decode_stored(header))


def test_a_frame_larger_than_a_buffer_comes_back_pickled(pool, monkeypatch):
    import medview.io.decode_pool as decode_pool

    monkeypatch.setattr(decode_pool, "SLOT_BYTES", 1024)
    header = _j2k_header()
    with pool.lent(decode_stored, header) as values:
        assert not isinstance(values.base, mmap.mmap)
        assert np.array_equal(values, decode_stored(header))


def test_c_codecs_run_apart_and_native_and_rle_stay_in_the_process():
    assert isolated(_j2k_header())
    assert isolated(read_headers(get_testdata_file("JPGExtended.dcm"))[0])
    assert not isolated(read_headers(get_testdata_file("MR_small.dcm"))[0])
    assert not isolated(read_headers(get_testdata_file("MR_small_RLE.dcm"))[0])
    header = _j2k_header()
    with decoded(header) as values:
        assert np.array_equal(values, decode_stored(header))
