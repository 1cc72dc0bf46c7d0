"""Siemens CSA image header (0029,1010): the few entries a loader needs, read from its documented layout.

Only the "SV10" (CSA2) layout is read: "SV10", 4 unused bytes, the number of entries, 4 unused bytes; then per
entry a 64-byte name, VM, 4-byte VR, syngo type, number of items and 4 unused bytes, followed by its items
(4 int32 of which the first is the item's length, then the value padded to 4 bytes). A header that does not
parse gives no entries, never an exception.
"""

from __future__ import annotations

import struct

CSA_IMAGE_HEADER = (0x0029, 0x1010)


def parse_csa(data: bytes) -> dict[str, list[str]]:
    """Entry name → its non-empty item strings; {} when the header is not SV10 or is damaged."""
    if not isinstance(data, (bytes, bytearray)) or data[:4] != b"SV10" or len(data) < 16:
        return {}
    try:
        (count,) = struct.unpack_from("<I", data, 8)
        offset = 16
        entries: dict[str, list[str]] = {}
        for _ in range(min(count, 1000)):
            name = data[offset:offset + 64].split(b"\x00", 1)[0].decode("ascii", "replace")
            (n_items,) = struct.unpack_from("<i", data, offset + 76)
            offset += 84
            items = []
            for _ in range(max(0, min(n_items, 10_000))):
                (length,) = struct.unpack_from("<i", data, offset)
                offset += 16
                if length < 0 or offset + length > len(data):
                    return entries
                value = data[offset:offset + length].split(b"\x00", 1)[0].decode("ascii", "replace").strip()
                if value:
                    items.append(value)
                offset += (length + 3) // 4 * 4
            entries[name] = items
        return entries
    except struct.error:
        return {}


def slice_normal(data: bytes) -> tuple[float, float, float] | None:
    """SliceNormalVector: the direction in which a mosaic's tiles are stacked (LPS)."""
    items = parse_csa(data).get("SliceNormalVector", [])
    try:
        vector = tuple(float(v) for v in items[:3])
    except ValueError:
        return None
    return vector if len(vector) == 3 else None
