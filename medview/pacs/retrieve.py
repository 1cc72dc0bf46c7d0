"""Retrieving a study, series by series, whatever the protocol: list what the PACS holds, bring what is not
here yet, and say of every series whether it is complete, or partial and why.

`retrieve_study` is a generator (the GUI runs it in a worker, the CLI in a loop): it yields `SeriesStarted`,
each instance as it lands (`InstanceArrived`), and a `SeriesResult` per series; it returns a `StudyResult`.
A series is complete only when every instance the PACS counted (or listed) for it is on disk and the PACS
reported no failure; anything else is reported as partial with the reason (connection lost, cancelled, cache
full, instances the PACS failed to send). A retry lists the instances and asks only for what is missing.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from medview.errors import MedviewError
from medview.pacs.arrival import Arrived
from medview.pacs.contexts import CLASSES_PER_GET
from medview.pacs.errors import PacsError
from medview.pacs.query import SeriesMatch, StudyMatch, StudyQuery, checked_uid


@dataclass(frozen=True)
class SeriesStarted:
    study_uid: str
    series: SeriesMatch
    index: int          # 0-based, in the study's series order
    n_series: int
    expected: int       # instances the PACS listed
    already: int        # of those, already here (a retry brings only the rest)


@dataclass(frozen=True)
class InstanceArrived:
    series_uid: str
    arrived: Arrived
    done: int           # instances of this series here now (with those already here)
    expected: int


@dataclass(frozen=True)
class SeriesResult:
    study_uid: str
    series_uid: str
    description: str
    expected: int
    received: int       # instances of the series here now, of those listed
    folder: Path
    reason: str | None = None
    bytes_arrived: int = 0
    moved_to: str | None = None  # a C-MOVE to another AE: `received` counts what the PACS says it sent there

    @property
    def complete(self) -> bool:
        return self.reason is None and self.expected > 0 and self.received == self.expected

    def summary(self) -> str:
        state = "complete" if self.complete else "PARTIAL"
        why = "" if self.complete else f": {self.reason or 'instances missing'}"
        name = self.description or self.series_uid
        where = f" moved to {self.moved_to}" if self.moved_to else ""
        return f"series {name}: {self.received} of {self.expected} instances{where}, {state}{why}"


@dataclass
class StudyResult:
    study: StudyMatch
    folder: Path
    series: list[SeriesResult] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return bool(self.series) and all(s.complete for s in self.series)


def follow(transfer: Generator, on_event=None):
    """Run a retrieve (or any generator) to its end, handing each event to `on_event`; its returned value."""
    while True:
        try:
            event = next(transfer)
        except StopIteration as finished:
            return finished.value
        if on_event is not None:
            on_event(event)


def describe(series: SeriesMatch) -> str:
    number = f"{series.number} " if series.number is not None else ""
    return f"{number}{series.modality} {series.description!r}".strip()


def moves_elsewhere(client, method: str, move_to: str | None) -> bool:
    """A C-MOVE to another AE than medview's own storage SCP: nothing arrives here."""
    return method == "move" and bool(move_to) and move_to != getattr(client.node, "calling_aet", move_to)


def find_study(client, study_uid: str) -> StudyMatch:
    """The study as the PACS describes it, with its series; an error when the PACS does not hold it."""
    uid = checked_uid(study_uid, "--study")
    studies = [s for s in client.find(StudyQuery(study_uid=uid)) if s.study_uid == uid]
    if not studies:
        raise PacsError(f"{client.node} holds no study {uid}")
    return studies[0]


def retrieve_study(client, study_uid: str, sink, series_uids: list[str] | None = None, token=None,
                   method: str = "get", move_to: str | None = None) -> Generator:
    """Bring a study (or the series named in `series_uids`) into `sink`. `method`: "get" (C-GET, or WADO-RS for
    a DICOMweb client), "move" (C-MOVE). Yields progress; returns a `StudyResult`."""
    try:
        return (yield from _retrieve_study(client, study_uid, sink, series_uids, token, method, move_to))
    finally:
        client.close()  # the searches' association


def _retrieve_study(client, study_uid: str, sink, series_uids, token, method: str, move_to) -> Generator:
    study = find_study(client, study_uid)
    series = study.series
    if series_uids:
        wanted_uids = [checked_uid(uid, "--series") for uid in series_uids]
        unknown = [uid for uid in wanted_uids if uid not in {s.series_uid for s in series}]
        if unknown:
            raise PacsError(f"the study {study.study_uid} at {client.node} has no series {unknown[0]}")
        series = [s for s in series if s.series_uid in wanted_uids]
    elsewhere = moves_elsewhere(client, method, move_to)
    holding = ExitStack()  # the cache's hold on the study while it arrives (other medviews keep off it)
    if not elsewhere and hasattr(sink, "arriving"):
        holding.enter_context(sink.arriving(study.study_uid))
    result = StudyResult(study, sink.study_folder(study.study_uid))
    stopped: str | None = None
    try:
        started = getattr(sink, "study_started", None)
        if started and not elsewhere:
            started(study, str(client.node))
        for index, one in enumerate(series):
            if stopped:
                outcome = SeriesResult(study.study_uid, one.series_uid, describe(one), one.n_instances or 0, 0,
                                       result.folder, f"not retrieved: {stopped}")
                result.series.append(outcome)
                yield outcome
                continue
            outcome = yield from _retrieve_series(client, study, one, index, len(series), sink, token, method,
                                                  move_to)
            result.series.append(outcome)
            if not elsewhere:
                sink.series_finished(outcome)
            yield outcome
            if outcome.reason and not outcome.received and outcome.expected:
                stopped = outcome.reason  # nothing came: the next series would fare no better
            if token is not None and token.cancelled:
                stopped = "cancelled"
    finally:
        holding.close()
    return result


def _retrieve_series(client, study: StudyMatch, series: SeriesMatch, index: int, n_series: int, sink, token,
                     method: str, move_to: str | None) -> Generator:
    """One series. A first retrieve asks for the whole series at once, with the storage contexts of the SOP
    classes C-FIND gave for the study and the instance count it gave for the series (no instance-level
    C-FIND: on a PACS that reads its files to answer one, that costs as much as a quarter of the transfer).
    A retry, or a PACS that did not say, lists the instances first and asks only for those missing."""
    dimse = hasattr(client.node, "aet")
    elsewhere = moves_elsewhere(client, method, move_to)
    fresh = elsewhere or (bool(series.n_instances) and not sink.present(study.study_uid, series.series_uid) and
             (not dimse or 0 < len(study.sop_classes) <= CLASSES_PER_GET))
    if fresh:
        instances, wanted, here, expected = None, None, set(), series.n_instances or 0
        if not elsewhere:
            sink.series_started(study.study_uid, series, [])
    else:
        instances = client.instances_of(study.study_uid, series.series_uid)
        present = sink.present(study.study_uid, series.series_uid)
        here = {i.sop_uid for i in instances if i.sop_uid in present or
                sink.has(study.study_uid, series.series_uid, i.sop_uid)}
        wanted = [i for i in instances if i.sop_uid not in here]
        expected = len(instances)
        sink.series_started(study.study_uid, series, instances)
    yield SeriesStarted(study.study_uid, series, index, n_series, expected, len(here))
    listed = None if instances is None else {i.sop_uid for i in instances}
    done, arrived_bytes = set(here), 0
    reason, completed = None, 0
    if wanted is None or wanted:
        try:
            if method == "move":
                transfer = client.move(study.study_uid, series.series_uid, instances, wanted, sink, token, move_to,
                                       sop_classes=study.sop_classes)
            else:
                transfer = client.get(study.study_uid, series.series_uid, instances, wanted, sink, token,
                                      sop_classes=study.sop_classes)
            while True:
                try:
                    arrived = next(transfer)
                except StopIteration as finished:
                    reason, completed = finished.value.reason, getattr(finished.value, "completed", 0)
                    break
                if listed is None or arrived.sop_uid in listed:
                    done.add(arrived.sop_uid)
                arrived_bytes += arrived.size
                yield InstanceArrived(series.series_uid, arrived, len(done), expected)
        except MedviewError as error:
            reason = str(error)
    if elsewhere:
        # moved to another AE: nothing arrives here; the PACS's own count is what is known
        if reason is None and completed < expected:
            reason = f"the PACS moved {completed} of {expected} instances to {move_to}"
        return SeriesResult(study.study_uid, series.series_uid, describe(series), expected, min(completed, expected),
                            sink.study_folder(study.study_uid), reason, 0, moved_to=move_to)
    missing = expected - len(done) if listed is None else len(listed - done)
    if reason is None and missing > 0:
        reason = f"{missing} instance(s) the PACS listed did not arrive"
    if token is not None and token.cancelled:
        reason = "cancelled" if reason is None else reason
    received = len(done) if listed is None else len(done & listed)
    return SeriesResult(study.study_uid, series.series_uid, describe(series), expected, min(received, expected),
                        sink.study_folder(study.study_uid), reason, arrived_bytes)
