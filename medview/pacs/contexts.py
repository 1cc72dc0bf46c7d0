"""Presentation contexts for C-GET: the PACS sends the instances back over our own association, so we must
propose, in the SCP role, a storage context for every SOP class the study holds, as C-FIND listed them.

An association carries at most 128 presentation contexts (PS3.8: context ids are the odd numbers 1 to 255),
and one of them is the C-GET context itself, so 127 SOP classes fit. Beyond that the instances are fetched in
several associations, each asking at IMAGE level for the instances of at most 127 SOP classes. A SOP class
no context was proposed for would come back as a failed sub-operation, never as a silent gap: that is why
the classes come from what C-FIND reported and not from a fixed list.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_CONTEXTS = 128
STORAGE_CONTEXTS_PER_GET = MAX_CONTEXTS - 1


@dataclass(frozen=True)
class GetBatch:
    """One C-GET association: the SOP classes it proposes and the instances it asks for."""

    sop_classes: tuple[str, ...]
    sop_uids: tuple[str, ...]


def plan_get(instances, per_association: int = STORAGE_CONTEXTS_PER_GET) -> list[GetBatch]:
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
