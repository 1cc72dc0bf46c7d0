"""Decoding one image's stored pixel values: a plain function of a header, safe to run in any thread.

The path is chosen from the one codec table (io/codecs.py); each gives exactly the pixels pydicom gives
(the tests compare them on every transfer syntax we have):
- native little endian: the bytes are read straight from the file at the offset the scan recorded;
- JPEG 2000 and RLE: imagecodecs, which releases the GIL so that two threads decode on two cores,
  used only where its output type matches the header (anything else falls through);
- everything else (big endian, JPEG, JPEG-LS, deflate, odd bit depths): pydicom with the pylibjpeg plug-ins;
- colour (RGB, YBR, palette): pydicom, converted to R, G, B.
"""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.encaps import generate_frames, get_frame
from pydicom.uid import UID

from medview.errors import DecodeError, ImageRefused
from medview.io import limits
from medview.io.codecs import Decoder, codec_for
from medview.io.headers import ImageHeader


def stored_dtype(header: ImageHeader) -> np.dtype:
    """The numpy type of stored values: unsigned or signed by PixelRepresentation, sized by BitsAllocated."""
    size = {8: 1, 16: 2, 32: 4}.get(header.bits_allocated)
    if size is None:
        raise DecodeError(f"{header.path}: {header.bits_allocated}-bit pixels are not supported")
    kind = "i" if header.pixel_representation == 1 else "u"
    return np.dtype(f"<{kind}{size}")


def frame_shape(header: ImageHeader) -> tuple[int, ...]:
    if header.samples_per_pixel > 1:
        return (header.rows, header.columns, header.samples_per_pixel)
    return (header.rows, header.columns)


def decode_stored(header: ImageHeader) -> np.ndarray:
    """The stored values of one image (one frame), before the modality LUT."""
    if header.pixel_problem:
        raise DecodeError(f"{header.path}: {header.pixel_problem}")
    try:
        if header.is_colour:
            return decode_colour(header)
        codec = codec_for(header.transfer_syntax)
        decoder = codec.decoder if codec is not None else Decoder.PYDICOM
        if decoder == Decoder.NATIVE and header.is_native_little_endian and header.samples_per_pixel == 1:
            return _read_native(header)
        if decoder in (Decoder.IMAGECODECS_RLE, Decoder.IMAGECODECS_JPEG2000) and header.samples_per_pixel == 1:
            decoded = _decode_with_imagecodecs(header)
            if decoded is not None:
                return decoded
        return _decode_with_pydicom(header)
    except DecodeError:
        raise
    except ImageRefused as refused:
        raise DecodeError(f"{header.path}: {refused}") from refused
    except BaseException as error:  # noqa: BLE001 - every codec failure (a Rust panic too) becomes one message
        if isinstance(error, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        name = UID(header.transfer_syntax).name if header.transfer_syntax else "unknown transfer syntax"
        raise DecodeError(f"{header.path}: pixel data could not be decoded ({name}): {error}") from error


def _fix_bits(values: np.ndarray, header: ImageHeader) -> np.ndarray:
    """Sign-extend signed values stored in fewer bits than allocated, as pydicom does."""
    unused = header.bits_allocated - header.bits_stored
    if header.pixel_representation == 1 and 0 < unused < header.bits_allocated:
        np.left_shift(values, unused, out=values)
        np.right_shift(values, unused, out=values)
    return values


def _read_native(header: ImageHeader) -> np.ndarray:
    return read_native_into(header, np.empty((header.rows, header.columns), dtype=stored_dtype(header)))


def reads_natively(header: ImageHeader) -> bool:
    """Whether this frame's stored values are plain little-endian grey samples at a known offset."""
    codec = codec_for(header.transfer_syntax)
    return (codec is not None and codec.decoder == Decoder.NATIVE and header.is_native_little_endian
            and header.samples_per_pixel == 1 and not header.is_colour)


def read_native_into(header: ImageHeader, out: np.ndarray) -> np.ndarray:
    """Read one native frame's stored values into `out` (rows × columns, C order, stored dtype): the
    assembler passes the volume's own slice, so a frame costs no buffer of its own."""
    dtype = stored_dtype(header)
    count = header.rows * header.columns
    if out.dtype != dtype or out.size != count or not out.flags.c_contiguous:
        raise ValueError("the buffer does not fit the frame")
    offset = header.pixel_offset + header.frame * count * dtype.itemsize
    if header.pixel_length is not None and (header.frame + 1) * count * dtype.itemsize > header.pixel_length:
        raise DecodeError(f"{header.path}: pixel data is shorter than {header.rows}×{header.columns} pixels")
    with open(header.path, "rb", buffering=0) as file:
        file.seek(offset)
        got = file.readinto(memoryview(out.reshape(-1)).cast("B"))
    if got != out.nbytes:
        raise DecodeError(f"{header.path}: file ends inside the pixel data (truncated)")
    return _fix_bits(out.reshape(header.rows, header.columns), header)


def _encapsulated_frame(header: ImageHeader) -> bytes:
    """One frame's codestream, read at the fragment offsets the scan recorded (one read per frame, not the
    whole file per frame); pydicom finds the frame where the scan could not tell the fragments apart."""
    with open(header.path, "rb") as file:
        if header.fragments is not None:
            parts = []
            for offset, length in header.fragments:
                file.seek(offset)
                parts.append(file.read(length))
            data = b"".join(parts)
        elif header.pixel_offset is not None:
            file.seek(header.pixel_offset)
            data = get_frame(file, header.frame, number_of_frames=header.n_frames)
        else:
            data = _frame_from_dataset(header)
    limits.check_codestream(data, header.rows, header.columns, header.samples_per_pixel)
    return data


def _frame_from_dataset(header: ImageHeader) -> bytes:
    dataset = pydicom.dcmread(header.path)
    frames = generate_frames(dataset.PixelData, number_of_frames=header.n_frames)
    for index, frame in enumerate(frames):
        if index == header.frame:
            return frame
    raise DecodeError(f"{header.path}: frame {header.frame + 1} is missing from the pixel data")


def _decode_with_imagecodecs(header: ImageHeader) -> np.ndarray | None:
    try:
        import imagecodecs
    except ImportError:
        return None
    expected = stored_dtype(header)
    data = _encapsulated_frame(header)
    if codec_for(header.transfer_syntax).decoder == Decoder.IMAGECODECS_RLE:
        limits.check_rle_header(data, header.samples_per_pixel * expected.itemsize)
        decoded = imagecodecs.dicomrle_decode(data, expected.str)
        if len(decoded) != header.rows * header.columns * expected.itemsize:
            return None
        values = np.frombuffer(decoded, dtype=expected).reshape(header.rows, header.columns).copy()
        return _fix_bits(values, header)
    values = imagecodecs.jpeg2k_decode(data)
    if values.shape != (header.rows, header.columns) or values.dtype.itemsize != expected.itemsize:
        return None
    if values.dtype.kind != expected.kind:
        return None  # signedness of the codestream disagrees with PixelRepresentation: pydicom corrects it
    return _fix_bits(np.ascontiguousarray(values, dtype=expected), header)


def decode_colour(header: ImageHeader) -> np.ndarray:
    """One colour image as (rows, columns, 3) uint8 R, G, B: YBR converted and palette colour looked up by pydicom.

    16-bit samples or palette entries keep their top 8 bits: colour is for display, never measured.
    """
    if UID(header.transfer_syntax).is_encapsulated:
        _encapsulated_frame(header)  # the codestream's own size is checked before pydicom decodes it
    index = header.frame if header.n_frames > 1 else None
    values = pydicom.pixels.pixel_array(_source(header), index=index)  # raw=False: YBR becomes RGB
    if header.n_frames > 1 and values.ndim == 4:
        values = values[0]
    bits = header.bits_stored
    if header.photometric.strip().upper() == "PALETTE COLOR":
        values = pydicom.pixels.apply_color_lut(values, pydicom.dcmread(header.path, stop_before_pixels=True))
        bits = 8 * values.dtype.itemsize
    if values.shape != (header.rows, header.columns, 3):
        raise DecodeError(f"{header.path}: colour image is {values.shape}, expected {header.rows}×{header.columns}×3")
    if values.dtype.itemsize > 1:
        values = np.right_shift(values, max(0, bits - 8))
    return np.ascontiguousarray(values, dtype=np.uint8)


def _source(header: ImageHeader):
    """What pydicom decodes from: the path (it reads only the frame), or the data set of a deflated file,
    which pydicom's frame reader cannot walk (io.limits has checked what it inflates to)."""
    if UID(header.transfer_syntax).is_deflated:
        return pydicom.dcmread(header.path)
    return header.path


def _decode_with_pydicom(header: ImageHeader) -> np.ndarray:
    if UID(header.transfer_syntax).is_encapsulated:
        _encapsulated_frame(header)  # the codestream's own size is checked before pydicom decodes it
    values = pydicom.pixels.pixel_array(_source(header), index=header.frame if header.n_frames > 1 else None,
                                        raw=True)
    if header.n_frames > 1 and values.ndim > len(frame_shape(header)):
        values = values[0]
    return values
