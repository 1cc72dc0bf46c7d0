"""One codec table: transfer syntax → decoder → the packages it needs. Dispatch and `medview info` read it.

Modelled on pydicom's decoder plug-ins: each row names the syntaxes it handles, how medview decodes them and
which packages must be importable for that; `available` checks them without importing anything heavy.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from enum import StrEnum


class Decoder(StrEnum):
    """How stored pixels are turned into values."""

    NATIVE = "medview native reader"  # read straight from the file at the offset the scan recorded
    IMAGECODECS_RLE = "imagecodecs RLE (releases the GIL: both cores)"
    IMAGECODECS_JPEG2000 = "imagecodecs OpenJPEG (releases the GIL: both cores)"
    PYDICOM = "pydicom pixel handlers"


@dataclass(frozen=True)
class Codec:
    name: str
    transfer_syntaxes: frozenset[str]
    decoder: Decoder
    #: importable module names, any of which decodes these syntaxes (empty: always available)
    packages: tuple[str, ...] = ()
    #: what decodes when the fast path does not apply (colour, odd bit depths)
    fallback: str = "pydicom"

    @property
    def available(self) -> bool:
        return not self.packages or any(importlib.util.find_spec(name) is not None for name in self.packages)

    @property
    def decoder_text(self) -> str:
        if self.decoder == Decoder.PYDICOM:
            return f"pydicom with {' / '.join(self.packages)}" if self.packages else "pydicom"
        return str(self.decoder)


CODECS: tuple[Codec, ...] = (
    Codec("Implicit/Explicit VR Little Endian", frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}),
          Decoder.NATIVE),
    Codec("Explicit VR Big Endian, Deflated", frozenset({"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}),
          Decoder.PYDICOM),
    Codec("RLE Lossless", frozenset({"1.2.840.10008.1.2.5"}), Decoder.IMAGECODECS_RLE, ("imagecodecs", "rle")),
    Codec("JPEG Baseline/Extended/Lossless", frozenset({
        "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"}),
        Decoder.PYDICOM, ("libjpeg",)),
    Codec("JPEG-LS", frozenset({"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"}), Decoder.PYDICOM,
          ("libjpeg", "jpeg_ls")),
    Codec("JPEG 2000", frozenset({"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"}),
          Decoder.IMAGECODECS_JPEG2000, ("imagecodecs", "openjpeg")),
    Codec("High-Throughput JPEG 2000 (HTJ2K)", frozenset({
        "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"}),
        Decoder.IMAGECODECS_JPEG2000, ("imagecodecs", "openjpeg")),
)

_BY_SYNTAX = {syntax: codec for codec in CODECS for syntax in codec.transfer_syntaxes}


def codec_for(transfer_syntax: str) -> Codec | None:
    """The table's row for a transfer syntax, None for one medview does not know (pydicom is tried)."""
    return _BY_SYNTAX.get(transfer_syntax)
