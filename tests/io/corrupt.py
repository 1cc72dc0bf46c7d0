"""A seeded mutator that damages real DICOM files the way disks, networks and bad exporters do.

Each function takes the bytes of a good file and returns damaged bytes; the same seed gives the same damage.
"""

from __future__ import annotations

import random
import struct

PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"
EXPLICIT_LE = b"1.2.840.10008.1.2.1\x00"


def truncate(data: bytes, rng: random.Random) -> bytes:
    """Cut the file somewhere after the preamble: inside the header or inside the pixels."""
    return data[: rng.randrange(132, len(data) - 1)]


def flip_header_bytes(data: bytes, rng: random.Random, count: int = 24) -> bytes:
    """Flip random bits in the header (before the pixel data)."""
    end = data.find(PIXEL_DATA_TAG)
    end = end if end > 200 else min(len(data), 2048)
    damaged = bytearray(data)
    for _ in range(count):
        position = rng.randrange(132, end)
        damaged[position] ^= 1 << rng.randrange(8)
    return bytes(damaged)


def huge_pixel_length(data: bytes) -> bytes:
    """PixelData claims nearly 4 GiB (explicit VR: tag, OW, 2 reserved bytes, 4-byte length)."""
    at = data.rfind(PIXEL_DATA_TAG)
    damaged = bytearray(data)
    damaged[at + 8: at + 12] = struct.pack("<I", 0xFFFFFFF0)
    return bytes(damaged)


def huge_text_length(data: bytes) -> bytes:
    """A short text element (2-byte length in explicit VR) claims 65535 bytes: the header runs into pixels."""
    at = data.find(b"\x08\x00\x60\x00")  # Modality (0008,0060) CS
    damaged = bytearray(data)
    damaged[at + 6: at + 8] = b"\xff\xff"
    return bytes(damaged)


def deep_sequences(data: bytes, depth: int = 20000) -> bytes:
    """Replace everything after the header's first element group with sequences nested `depth` deep."""
    at = data.find(b"\x08\x00\x16\x00")  # SOPClassUID: keep the preamble and file meta before it
    nested = (b"\x08\x00\x15\x11SQ\x00\x00\xff\xff\xff\xff"  # ReferencedSeriesSequence, undefined length
              b"\xfe\xff\x00\xe0\xff\xff\xff\xff") * depth   # an item of undefined length
    return data[:at] + nested


def wrong_transfer_syntax(data: bytes, uid: bytes) -> bytes:
    """The file meta says another transfer syntax than the data set is written in (same UID length)."""
    assert len(uid) == len(EXPLICIT_LE)
    return data.replace(EXPLICIT_LE, uid, 1)


# -- hostile files: headers that lie about their size, geometry or kind ---------------------------------
# Each returns a pydicom Dataset made from a real file of pydicom's test corpus; the caller saves it.


def _testdata(name: str):
    import pydicom
    from pydicom.data import get_testdata_file

    return pydicom.dcmread(get_testdata_file(name))


def claiming_size(rows: int, columns: int, frames: int | None = None, name: str = "MR_small_RLE.dcm"):
    """A small real file whose header claims rows × columns (× frames): an RLE bomb."""
    dataset = _testdata(name)
    dataset.Rows, dataset.Columns = rows, columns
    if frames is not None:
        dataset.NumberOfFrames = frames
    return dataset


def jpeg2000_larger_than_header(size: int = 16384):
    """A real 64×64 JPEG 2000 file whose codestream's SIZ says size × size in one tile."""
    dataset = _testdata("MR_small_jp2klossless.dcm")
    data = bytearray(dataset.PixelData)
    siz = data.find(b"\xff\x4f\xff\x51") + 2  # SOC, then the SIZ marker
    # marker, Lsiz, Rsiz, then Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz (big-endian 32-bit)
    data[siz + 6: siz + 14] = struct.pack(">II", size, size)
    data[siz + 22: siz + 30] = struct.pack(">II", size, size)
    dataset.PixelData = bytes(data)
    return dataset


def skewed_orientation():
    """ImageOrientationPatient whose row and column directions are 45° apart, not perpendicular."""
    dataset = _testdata("MR_small.dcm")
    dataset.ImageOrientationPatient = [1, 0, 0, 0.70710678, 0.70710678, 0]
    dataset.SeriesInstanceUID = dataset.SeriesInstanceUID + ".9"
    return dataset


def rle_segment_past_the_frame(frame: int = 5):
    """A real 10-frame RLE file whose frame `frame` says its second segment starts 10 MB past its end."""
    import pydicom
    from pydicom.encaps import encapsulate, generate_frames

    dataset = _testdata("emri_small_RLE.dcm")
    frames = [bytearray(f) for f in generate_frames(dataset.PixelData, number_of_frames=dataset.NumberOfFrames)]
    frames[frame][8:12] = struct.pack("<I", 10_289_522)
    dataset.PixelData = encapsulate([bytes(f) for f in frames])
    return pydicom.dcmread(pydicom.filebase.DicomBytesIO(_saved(dataset)))


def _saved(dataset) -> bytes:
    from pydicom.filebase import DicomBytesIO

    out = DicomBytesIO()
    dataset.save_as(out)
    return out.getvalue()


def deflate_bomb(path, inflated_mib: int = 600) -> None:
    """A real header (MR_small) in the deflated transfer syntax, with a private element of `inflated_mib` MiB
    of zeros: well under a MiB on disk."""
    import zlib

    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    dataset = _testdata("MR_small.dcm")
    del dataset.PixelData
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, dataset)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [deflate.compress(body.getvalue()),
             deflate.compress(b"\x09\x00\x00\x10OB\x00\x00" + struct.pack("<I", inflated_mib * 2**20))]
    zeros = bytes(2**20)
    parts += [deflate.compress(zeros) for _ in range(inflated_mib)]
    parts.append(deflate.flush())
    meta = DicomBytesIO()
    dataset.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    write_file_meta_info(meta, dataset.file_meta)
    with open(path, "wb") as file:
        file.write(b"\x00" * 128 + b"DICM" + meta.getvalue() + b"".join(parts))
