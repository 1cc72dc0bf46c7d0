"""Limits checked before anything is allocated, in one place: a lying header is refused, never obeyed.

What a header claims (rows × columns × samples × frames × bytes) is checked against what the file can hold:
the pixel bytes present for uncompressed data, the fragments present for encapsulated data (a frame needs
one at least), the best ratio a codec can reach (RLE: 64), and a JPEG or JPEG 2000 codestream's own frame
header (its SIZ or SOF, read before decoding). A whole volume, with the decode buffers of the workers, is
checked against the memory this process may actually use: its address-space and data limits, its cgroup's
limit and the memory the kernel says is available. A refusal is an `ImageRefused` (a skipped-file reason)
or a `DecodeError` (a volume's reason), never a MemoryError.
"""

from __future__ import annotations

import math
import os
import resource
import struct
import zlib

from medview.errors import DecodeError, ImageRefused

#: Most bytes RLE can decode from one byte (a 2-byte replicate run gives 128 bytes; the 64-byte header is extra).
RLE_MAX_RATIO = 64
#: A frame of encapsulated data is at least one item: an 8-byte item header and its value.
ITEM_HEADER_BYTES = 8
#: Bits per sample medview decodes.
BITS_ALLOCATED = (8, 16, 32)
#: Workers decode at once; each holds its compressed frame, the codec's output and a typed copy.
DECODE_BUFFERS_PER_WORKER = 3


def image_bytes(rows: int, columns: int, samples: int, bits_allocated: int, frames: int = 1) -> int:
    return rows * columns * samples * frames * max(1, bits_allocated // 8)


def check_claims(rows: int, columns: int, samples: int, bits_allocated: int, bits_stored: int,
                 frames: int) -> None:
    """What no file can be: no pixels, unknown sample sizes, more stored bits than allocated."""
    if rows <= 0 or columns <= 0:
        raise ImageRefused(f"no image in this file: {rows} rows × {columns} columns")
    if frames <= 0:
        raise ImageRefused(f"no image in this file: NumberOfFrames is {frames}")
    if samples not in (1, 3):
        raise ImageRefused(f"{samples} samples per pixel: only 1 (grey) or 3 (colour) are images")
    if bits_allocated not in BITS_ALLOCATED:
        raise ImageRefused(f"{bits_allocated}-bit pixels are not supported")
    if not 0 < bits_stored <= bits_allocated:
        raise ImageRefused(f"damaged header: BitsStored {bits_stored} with BitsAllocated {bits_allocated}")


def check_native(needed: int, present: int) -> None:
    """Uncompressed pixels: the bytes the header claims must be in the file."""
    if present < needed:
        raise ImageRefused(f"pixel data is shorter than the image: {present} of {needed} bytes")


def check_encapsulated(rows: int, columns: int, frames: int, needed: int, pixel_bytes: int, fragments: int,
                       is_rle: bool) -> None:
    """Compressed pixels: a fragment per frame at least, and RLE no denser than its best ratio."""
    if frames > fragments:
        raise ImageRefused(f"header claims {frames} frames, the pixel data holds {fragments} fragment"
                           f"{'s' if fragments != 1 else ''}: refused")
    if is_rle and needed > RLE_MAX_RATIO * pixel_bytes:
        raise ImageRefused(f"header claims {rows}×{columns} × {frames} frame{'s' if frames != 1 else ''} "
                           f"({needed / 2**20:.0f} MiB), more than {pixel_bytes} bytes of RLE can hold: refused")


def codestream_size(data: bytes) -> tuple[int, int, int] | None:
    """(columns, rows, components) from a JPEG 2000 SIZ or a JPEG / JPEG-LS SOF marker; None if neither."""
    if data[:4] == b"\xff\x4f\xff\x51" and len(data) >= 42:  # J2K: SOC, SIZ
        columns, rows, x0, y0 = struct.unpack(">IIII", data[8:24])
        components = struct.unpack(">H", data[40:42])[0]
        return columns - x0, rows - y0, components
    if data[:2] == b"\xff\xd8":  # JPEG: markers until the first start of frame
        at = 2
        while at + 4 <= len(data) and data[at] == 0xFF:
            marker = data[at + 1]
            length = struct.unpack(">H", data[at + 2: at + 4])[0]
            is_sof = (0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)) or marker == 0xF7
            if is_sof and at + 10 <= len(data):
                rows, columns = struct.unpack(">HH", data[at + 5: at + 9])
                return columns, rows, data[at + 9]
            at += 2 + length
    return None


def check_codestream(data: bytes, rows: int, columns: int, samples: int) -> None:
    """A codestream must decode to the size its header says: a 16384² codestream under 64×64 is refused, and
    so is a header claiming more than its codestream holds (the output would be allocated for nothing)."""
    size = codestream_size(data[:65536])
    if size is None:
        return
    got_columns, got_rows, components = size
    if (got_rows, got_columns) != (rows, columns):
        raise ImageRefused(f"the codestream is {got_columns}×{got_rows}, the header says {columns}×{rows}: "
                           "refused before decoding")
    if components > max(samples, 4):
        raise ImageRefused(f"the codestream has {components} components, the header says {samples}: refused")


def check_rle_header(data: bytes, segments: int) -> None:
    """An RLE frame's header (PS3.5 G.3.1): its segment count, and offsets that rise inside the frame.

    imagecodecs trusts the offsets: one past the end of the frame reads outside its buffer (a crash).
    """
    if len(data) < 64:
        raise ImageRefused(f"RLE frame of {len(data)} bytes is shorter than its 64-byte header")
    count, *offsets = struct.unpack("<16I", data[:64])
    if count != segments:
        raise ImageRefused(f"RLE frame has {count} segments, the header needs {segments}")
    used = offsets[:count]
    if used[0] != 64 or any(b <= a for a, b in zip(used, used[1:], strict=False)) or used[-1] >= len(data):
        raise ImageRefused(f"damaged RLE frame: segment offsets {used} do not rise inside its {len(data)} bytes")


DEFLATED_SYNTAX = b"1.2.840.10008.1.2.1.99"
#: A deflated data set may inflate to at most this (and an eighth of the memory available): deflate is used
#: for small objects; a larger image is stored uncompressed or in an image codec.
MAX_INFLATED_BYTES = 256 * 2**20


def check_deflated(fp, head: bytes) -> int | None:
    """A deflated data set is inflated by counting, chunk by chunk, before pydicom inflates it whole.

    A few MiB of deflated zeros inflate to GiB (a zip bomb); refused past the limit. Returns the inflated
    size (what the pixels a header claims must fit in), None when the file is not deflated. `fp` is rewound.
    """
    if DEFLATED_SYNTAX not in head or head[128:132] != b"DICM" or head[132:136] != b"\x02\x00\x00\x00":
        return None
    meta_end = 144 + struct.unpack("<I", head[140:144])[0]
    # pydicom holds the inflated data set and its elements at once: allow an eighth of what is free
    limit = min(MAX_INFLATED_BYTES, memory_available() // 8)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    fp.seek(meta_end)
    try:
        while not inflater.eof:
            chunk = inflater.unconsumed_tail or fp.read(1 << 20)
            if not chunk:
                break
            total += len(inflater.decompress(chunk, 1 << 20))  # 1 MiB at a time: counting costs 1 MiB
            if total > limit:
                raise ImageRefused(f"the deflated data set inflates beyond {limit / 2**20:.0f} MiB: refused")
    except zlib.error:
        pass  # damaged: pydicom says how
    finally:
        fp.seek(0)
    return total


# -- memory --------------------------------------------------------------------------------------------

def _status(key: str) -> int | None:
    try:
        with open("/proc/self/status") as lines:
            for line in lines:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _read_int(path: str) -> int | None:
    try:
        with open(path) as file:
            text = file.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cgroup_left() -> int | None:
    """Bytes left under this process's cgroup memory limit (v2, then v1), None when unlimited."""
    try:
        with open("/proc/self/cgroup") as lines:
            entries = [line.strip().split(":", 2) for line in lines]
    except OSError:
        return None
    for _, controllers, path in entries:
        if controllers == "":  # cgroup v2
            limit = _read_int(f"/sys/fs/cgroup{path}/memory.max")
            used = _read_int(f"/sys/fs/cgroup{path}/memory.current")
        elif "memory" in controllers.split(","):
            limit = _read_int(f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")
            used = _read_int(f"/sys/fs/cgroup/memory{path}/memory.usage_in_bytes")
        else:
            continue
        if limit is not None and limit < 2**60 and used is not None:
            return max(0, limit - used)
    return None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as lines:
            for line in lines:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def memory_limits() -> dict[str, int]:
    """Bytes this process may still allocate, by what limits it (only the limits that apply)."""
    found: dict[str, int] = {}
    for name, limit, used in (("address-space limit", resource.RLIMIT_AS, "VmSize"),
                              ("data limit", resource.RLIMIT_DATA, "VmData")):
        soft = resource.getrlimit(limit)[0]
        in_use = _status(used)
        if soft != resource.RLIM_INFINITY and in_use is not None:
            found[name] = max(0, soft - in_use)
    cgroup = _cgroup_left()
    if cgroup is not None:
        found["cgroup memory limit"] = cgroup
    available = _meminfo_available()
    if available is None:
        try:
            available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            available = None
    if available is not None:
        found["free memory"] = available
    return found


def memory_available() -> int:
    """The fewest bytes any limit leaves this process (RLIMIT_AS, RLIMIT_DATA, cgroup, MemAvailable)."""
    limits = memory_limits()
    return min(limits.values()) if limits else 2**62


def check_volume_fits(label: str, shape: tuple[int, ...], itemsize: int, frame_bytes: int, workers: int) -> None:
    """The volume plus every worker's decode buffers must fit in the memory actually available."""
    volume = math.prod(shape) * itemsize
    needed = volume + workers * DECODE_BUFFERS_PER_WORKER * frame_bytes
    limits = memory_limits()
    if not limits:
        return
    name, left = min(limits.items(), key=lambda item: item[1])
    if needed > left:
        raise DecodeError(f"{label}: {' × '.join(map(str, shape))} voxels need {needed / 2**20:.0f} MiB with the "
                          f"decode buffers, only {left / 2**20:.0f} MiB available ({name}): not loaded")
