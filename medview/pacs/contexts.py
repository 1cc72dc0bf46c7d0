"""Presentation contexts for C-GET: the PACS sends the instances back over our own association, so we must
propose, in the SCP role, a storage context for every SOP class the series holds, as C-FIND listed them.

An association carries at most 128 presentation contexts (PS3.8: context ids are the odd numbers 1 to 255),
and one of them is the C-GET context itself: 127 are left for storage. The acceptor takes one transfer syntax
per context, so one context per SOP class would make the PACS transcode every instance stored otherwise, and
a PACS that cannot (Orthanc cannot transcode from JPEG 2000) fails the whole C-GET. medview therefore proposes
per SOP class one context for the uncompressed syntaxes and one for each compressed syntax it decodes
(`AS_STORED`, 15 contexts), so every instance can come as stored: 8 SOP classes per association. Beyond that
the instances are fetched in several associations, each asking at IMAGE level for the instances of its SOP
classes. A SOP class no context was proposed for would come back as a failed sub-operation, never as a silent
gap: that is why the classes come from what C-FIND reported and not from a fixed list.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_CONTEXTS = 128
STORAGE_CONTEXTS_PER_GET = MAX_CONTEXTS - 1

UNCOMPRESSED = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")  # explicit, implicit VR little endian
#: one context each: the syntaxes an instance may be stored in and medview decodes
AS_STORED = (
    "1.2.840.10008.1.2.2",       # explicit VR big endian
    "1.2.840.10008.1.2.1.99",    # deflated explicit VR little endian
    "1.2.840.10008.1.2.4.50",    # JPEG baseline
    "1.2.840.10008.1.2.4.51",    # JPEG extended
    "1.2.840.10008.1.2.4.57",    # JPEG lossless
    "1.2.840.10008.1.2.4.70",    # JPEG lossless, first-order prediction
    "1.2.840.10008.1.2.4.80",    # JPEG-LS lossless
    "1.2.840.10008.1.2.4.81",    # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.90",    # JPEG 2000 lossless
    "1.2.840.10008.1.2.4.91",    # JPEG 2000
    "1.2.840.10008.1.2.4.201",   # HTJ2K lossless
    "1.2.840.10008.1.2.4.202",   # HTJ2K lossless RPCL
    "1.2.840.10008.1.2.4.203",   # HTJ2K
    "1.2.840.10008.1.2.5",       # RLE lossless
)
CONTEXTS_PER_CLASS = 1 + len(AS_STORED)
CLASSES_PER_GET = STORAGE_CONTEXTS_PER_GET // CONTEXTS_PER_CLASS


def storage_contexts(sop_class: str) -> list[tuple[str, tuple[str, ...]]]:
    """(abstract syntax, transfer syntaxes) of the contexts proposed for one SOP class."""
    return [(sop_class, UNCOMPRESSED)] + [(sop_class, (syntax,)) for syntax in AS_STORED]


@dataclass(frozen=True)
class GetBatch:
    """One C-GET association: the SOP classes it proposes and the instances it asks for."""

    sop_classes: tuple[str, ...]
    sop_uids: tuple[str, ...]


def plan_get(instances, per_association: int = CLASSES_PER_GET) -> list[GetBatch]:
    """Split `instances` (`InstanceMatch`es) into associations of at most `per_association` SOP classes each,
    classes in the order first seen, each class whole in one batch."""
    by_class: dict[str, list[str]] = {}
    for instance in instances:
        by_class.setdefault(instance.sop_class_uid, []).append(instance.sop_uid)
    classes = list(by_class)
    batches = []
    for start in range(0, len(classes), per_association):
        chosen = classes[start:start + per_association]
        batches.append(GetBatch(tuple(chosen), tuple(uid for c in chosen for uid in by_class[c])))
    return batches
