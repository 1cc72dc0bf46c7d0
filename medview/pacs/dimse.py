"""DIMSE with pynetdicom: C-ECHO, C-FIND (study, then series, then the instances of a series), C-GET, C-MOVE to
medview's own storage SCP, and C-STORE to send files back.

Every association has the node's timeout on connecting, on the association and on each DIMSE message, so a
wrong port or a silent host is one clear line within it. Instances that arrive are written by a sink (the
cache or a folder) on the network thread, as they come; the retrieve generator hands each one to its caller
(progress, the first series shown) between the PACS's pending responses.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from medview.errors import MedviewError
from medview.pacs.contexts import MAX_CONTEXTS, GetBatch, plan_get, storage_contexts
from medview.pacs.errors import CacheFull, PacsError
from medview.pacs.nodes import DimseNode
from medview.pacs.query import (
    UID_PATTERN,
    InstanceMatch,
    SeriesMatch,
    StudyMatch,
    StudyQuery,
    checked_uid,
    matches_modality,
    to_int,
)

LOG = logging.getLogger("medview.pacs")

#: A-ASSOCIATE-RJ (source, reason) in words (PS3.8 9.3.4)
_REJECTIONS = {
    (1, 1): "no reason given (by the service user)",
    (1, 2): "application context name not supported (by the service user)",
    (1, 3): "Calling AE title not recognised (by the service user)",
    (1, 7): "Called AE title not recognised (by the service user)",
    (2, 1): "no reason given (by the service provider, ACSE)",
    (2, 2): "protocol version not supported (by the service provider, ACSE)",
    (3, 1): "temporary congestion (by the service provider, presentation)",
    (3, 2): "local limit exceeded (by the service provider, presentation)",
}

# the C-STORE status medview answers with once it takes no more (cancelled, cache full)
_OUT_OF_RESOURCES = 0xA700


class Arrivals:
    """Instances as they come off the network. The C-STORE handler hands the bytes over and answers at once;
    one writer thread checks and writes them through the sink, so the PACS sends the next instance while the
    last one is written (answering only after the write, the PACS waited about 4 ms per instance: a third of
    a loopback transfer). At most `limit` bytes wait; beyond that the handler waits. A write that fails
    (cache full, a truncated or foreign instance) is a problem of the transfer, which then ends partial; the
    instances written wait in `ready()` for the retrieve's caller; `finish` waits for the last write."""

    def __init__(self, sink, series_uid: str, problems: list, limit: int = 64 * 1024 * 1024) -> None:
        self.sink, self.series_uid, self.problems, self.limit = sink, series_uid, problems, limit
        self.queue: queue.Queue = queue.Queue()
        self.waiting: deque[bytes] = deque()
        self.waiting_bytes = 0
        self.closed = False
        self.stopped = False  # the cache is full: refuse the rest
        self.changed = threading.Condition()
        self.writer: threading.Thread | None = None

    def hand_over(self, data: bytes) -> None:
        """Called on the network thread: queue one instance for writing (waiting while `limit` bytes wait)."""
        with self.changed:
            self.changed.wait_for(lambda: self.waiting_bytes < self.limit or not self.waiting)
            self.waiting.append(data)
            self.waiting_bytes += len(data)
            self.changed.notify_all()
            if self.writer is None:
                self.writer = threading.Thread(target=self._write, name="medview-pacs-writer", daemon=True)
                self.writer.start()

    def _write(self) -> None:
        while True:
            with self.changed:
                self.changed.wait_for(lambda: self.waiting or self.closed)
                if not self.waiting:
                    return
                data = self.waiting.popleft()
            try:
                self.queue.put(self.sink.store(data, expected_series=self.series_uid))
            except CacheFull as error:
                self.stopped = True
                self.problems.append(str(error))
            except MedviewError as error:
                self.problems.append(str(error))
            except OSError as error:  # the sink's own errors are MedviewErrors; this is the unforeseen
                self.problems.append(f"an instance could not be written: {error}")
            finally:
                with self.changed:
                    self.waiting_bytes -= len(data)
                    self.changed.notify_all()

    def finish(self, timeout: float) -> None:
        """No more instances will come: let the writer write what waits, then stop."""
        with self.changed:
            self.closed = True
            self.changed.notify_all()
        if self.writer is not None:
            self.writer.join(timeout)

    def ready(self):
        while not self.queue.empty():
            yield self.queue.get()


@dataclass(frozen=True)
class StoreResult:
    """What the PACS answered for one file sent: success, warning or failure, with its status and why."""

    path: str
    sop_uid: str
    outcome: str  # "success" | "warning" | "failure"
    status: int | None
    message: str

    def as_json(self) -> dict:
        return {"path": self.path, "SOPInstanceUID": self.sop_uid, "outcome": self.outcome,
                "status": None if self.status is None else f"0x{self.status:04X}", "message": self.message}


@dataclass(frozen=True)
class FetchEnd:
    """How a transfer of one series ended: None when the PACS said it was done, else why it stopped."""

    reason: str | None = None
    failed: int = 0
    completed: int = 0  # sub-operations the PACS reported completed (for a C-MOVE to another AE: all we know)


def _text(value) -> str:
    if value is None:
        return ""
    return str(value).strip().rstrip("\x00")


def _status_text(code: int, table: dict | None = None) -> str:
    from pynetdicom import status

    if code == 0x0000:
        return "0x0000 Success"
    entry = (table or status.GENERAL_STATUS).get(code) or status.GENERAL_STATUS.get(code)
    return f"0x{code:04X} {entry[1]}" if entry else f"0x{code:04X}"


class DimseClient:
    def __init__(self, node: DimseNode) -> None:
        self.node = node
        self._finder = None  # one association for the C-FINDs of a search or a retrieve, closed by close()
        self._message_id = 0

    def close(self) -> None:
        """Release the association the searches kept open."""
        finder, self._finder = self._finder, None
        if finder is not None:
            self._end(finder)

    def __enter__(self) -> DimseClient:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # -- associations --------------------------------------------------------------------------------------
    def _ae(self):
        from pynetdicom import AE

        ae = AE(ae_title=self.node.calling_aet)
        timeout = self.node.timeout
        ae.connection_timeout = timeout
        ae.acse_timeout = timeout
        ae.dimse_timeout = timeout
        ae.network_timeout = timeout
        ae.maximum_pdu_size = 0  # no limit of ours: the PACS's own PDU size rules
        return ae

    def _associate(self, ae, handlers: list | None = None, roles: list | None = None):
        from pynetdicom import evt

        rejections: list[str] = []

        def on_acse(event) -> None:
            primitive = event.primitive
            if getattr(primitive, "result", None) in (0x01, 0x02):
                rejections.append(f"{primitive.reason_str} (by the {primitive.source_str})")

        def on_data(event) -> None:
            """The A-ASSOCIATE-RJ PDU as it came off the wire: its reason is kept even when the peer's close
            reaches pynetdicom's state machine before the rejection does."""
            data = event.data
            if data[:1] == b"\x03" and len(data) >= 10 and not rejections:
                rejections.append(_REJECTIONS.get((data[8], data[9]), f"rejected (source {data[8]}, reason "
                                                                      f"{data[9]})"))

        started = time.monotonic()
        for _attempt in range(2):
            assoc = ae.associate(self.node.host, self.node.port, ae_title=self.node.aet, ext_neg=roles or None,
                                 evt_handlers=[(evt.EVT_ACSE_RECV, on_acse), (evt.EVT_DATA_RECV, on_data)] +
                                 list(handlers or []))
            if assoc.is_established:
                return assoc
            if rejections or assoc.is_rejected or time.monotonic() - started >= self.node.timeout:
                break
            # a peer that rejects and closes at once can beat pynetdicom to its own rejection: ask once more
        if rejections or assoc.is_rejected:
            reason = rejections[0] if rejections else "rejected"
            raise PacsError(f"{self.node} refused the association: {reason}; check the PACS's AE title "
                            f"(--aet {self.node.aet}) and that it knows medview's ({self.node.calling_aet})")
        raise PacsError(self._why_unreachable(time.monotonic() - started))

    def _why_unreachable(self, waited: float) -> str:
        node, timeout = self.node, self.node.timeout
        try:
            with socket.create_connection((node.host, node.port), timeout=timeout):
                pass
        except socket.gaierror:
            return f"the host {node.host!r} was not found (name lookup failed)"
        except ConnectionRefusedError:
            return f"nothing listens on {node.host}:{node.port} (connection refused): check the port and that " \
                   "the PACS is running"
        except TimeoutError:
            return f"{node.host}:{node.port} did not answer within {timeout:g} s"
        except OSError as error:
            return f"{node.host}:{node.port} cannot be reached: {error.strerror or error}"
        if waited >= timeout:
            return (f"{node.host}:{node.port} accepts connections but gave no DICOM association within {timeout:g} s: "
                    "is it the PACS's DICOM port?")
        return (f"{node.host}:{node.port} accepts connections but did not accept a DICOM association: check the "
                f"PACS's AE title (--aet {node.aet}), that it knows medview's ({node.calling_aet}), and that "
                f"{node.port} is its DICOM port")

    # -- C-ECHO -----------------------------------------------------------------------------------------------
    def echo(self) -> float:
        """C-ECHO round trip in milliseconds (association included)."""
        from pynetdicom.sop_class import Verification

        ae = self._ae()
        ae.add_requested_context(Verification)
        started = time.perf_counter()
        assoc = self._associate(ae)
        try:
            status = assoc.send_c_echo()
        finally:
            self._end(assoc)
        code = status.get("Status") if status else None
        if code is None:
            raise PacsError(f"{self.node} did not answer the C-ECHO within {self.node.timeout:g} s")
        if code != 0x0000:
            raise PacsError(f"{self.node} answered the C-ECHO with {_status_text(code)}")
        return (time.perf_counter() - started) * 1000

    @staticmethod
    def _end(assoc) -> None:
        if assoc.is_established:
            assoc.release()

    # -- C-FIND -----------------------------------------------------------------------------------------------
    def _find(self, identifier: Dataset, again: bool = True) -> list[Dataset]:
        """One C-FIND on the association the searches share (opened on first use, kept until `close`)."""
        from pynetdicom import status as statuses
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

        reused = self._finder is not None and self._finder.is_established
        if not reused:
            self.close()
            ae = self._ae()
            ae.add_requested_context(FIND)
            self._finder = self._associate(ae)
        self._message_id = self._message_id % 65535 + 1
        answers = []
        try:
            for status, found in self._finder.send_c_find(identifier, FIND, msg_id=self._message_id):
                code = status.get("Status") if status else None
                if code is None:
                    raise PacsError(f"{self.node} stopped answering the search (no response within "
                                    f"{self.node.timeout:g} s, or the connection was lost)")
                if code in (0xFF00, 0xFF01):
                    if found is not None:
                        answers.append(found)
                elif code != 0x0000:
                    raise PacsError(f"{self.node} refused the search: "
                                    f"{_status_text(code, statuses.QR_FIND_SERVICE_CLASS_STATUS)}")
        except PacsError:
            self.close()
            if reused and again:  # the PACS may have closed an idle association: once more, on a new one
                return self._find(identifier, again=False)
            raise
        return answers

    def _identified(self, identifier: Dataset, *keys: str):
        """(answer, its UIDs under `keys`) of a C-FIND; an answer without a valid UID for each key is left out,
        with a warning (a PACS's hostile or damaged answer never names a file or a folder)."""
        for found in self._find(identifier):
            try:
                yield found, [checked_uid(found.get(key), key) for key in keys]
            except MedviewError:
                LOG.warning("a C-FIND answer without a valid %s was left out", " or ".join(keys))

    def find(self, query: StudyQuery) -> list[StudyMatch]:
        """Studies matching `query`, each with its series (study level, then series level)."""
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "STUDY"
        identifier.StudyInstanceUID = query.study_uid
        identifier.PatientID = query.patient_id
        identifier.PatientName = query.patient_name
        identifier.StudyDate = query.date_range
        identifier.ModalitiesInStudy = query.modality
        identifier.AccessionNumber = query.accession
        identifier.StudyDescription = ""
        identifier.NumberOfStudyRelatedSeries = ""
        identifier.SOPClassesInStudy = ""
        studies = []
        for found, (uid,) in self._identified(identifier, "StudyInstanceUID"):
            modalities = found.get("ModalitiesInStudy") or []
            modalities = [modalities] if isinstance(modalities, str) else [_text(m) for m in modalities]
            classes = found.get("SOPClassesInStudy") or []
            classes = [classes] if isinstance(classes, str) else list(classes)
            studies.append(StudyMatch(uid, _text(found.get("PatientID")), _text(found.get("PatientName")),
                                      _text(found.get("StudyDate")), [m for m in modalities if m],
                                      _text(found.get("AccessionNumber")), _text(found.get("StudyDescription")),
                                      sop_classes=[c for c in map(_text, classes) if UID_PATTERN.fullmatch(c)]))
        for study in studies:
            study.series = self.series_of(study.study_uid)
        return [s for s in studies if matches_modality(s, query.modality)]

    def series_of(self, study_uid: str) -> list[SeriesMatch]:
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "SERIES"
        identifier.StudyInstanceUID = study_uid
        identifier.SeriesInstanceUID = ""
        identifier.Modality = ""
        identifier.SeriesNumber = ""
        identifier.SeriesDescription = ""
        identifier.NumberOfSeriesRelatedInstances = ""
        series = []
        for found, (uid,) in self._identified(identifier, "SeriesInstanceUID"):
            series.append(SeriesMatch(uid, _text(found.get("Modality")), to_int(found.get("SeriesNumber")),
                                      _text(found.get("SeriesDescription")),
                                      to_int(found.get("NumberOfSeriesRelatedInstances"))))
        return sorted(series, key=lambda s: (s.number is None, s.number or 0, s.series_uid))

    def instances_of(self, study_uid: str, series_uid: str) -> list[InstanceMatch]:
        """Every instance of a series with its SOP class (IMAGE level): what a retrieve must bring, and the
        storage contexts C-GET must propose."""
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "IMAGE"
        identifier.StudyInstanceUID = study_uid
        identifier.SeriesInstanceUID = series_uid
        identifier.SOPInstanceUID = ""
        identifier.SOPClassUID = ""
        identifier.InstanceNumber = ""
        instances = {}
        for found, (uid, sop_class) in self._identified(identifier, "SOPInstanceUID", "SOPClassUID"):
            instances[uid] = InstanceMatch(uid, sop_class, to_int(found.get("InstanceNumber")))
        return sorted(instances.values(), key=lambda i: (i.number is None, i.number or 0, i.sop_uid))

    # -- retrieving ------------------------------------------------------------------------------------------
    @staticmethod
    def _store_handler(arrivals: Arrivals, token):
        """The C-STORE handler: hand the instance to the writer and answer at once (the writer checks that it
        belongs to the series asked for and is whole)."""

        def on_store(event) -> int:
            if (token is not None and token.cancelled) or arrivals.stopped:
                return _OUT_OF_RESOURCES
            arrivals.hand_over(event.encoded_dataset(include_meta=True))
            return 0x0000

        return on_store

    @staticmethod
    def _identifier(study_uid: str, series_uid: str, sop_uids: Iterable[str] | None) -> Dataset:
        identifier = Dataset()
        identifier.StudyInstanceUID = study_uid
        identifier.SeriesInstanceUID = series_uid
        if sop_uids is None:
            identifier.QueryRetrieveLevel = "SERIES"
        else:
            identifier.QueryRetrieveLevel = "IMAGE"
            identifier.SOPInstanceUID = list(sop_uids)
        return identifier

    def get(self, study_uid: str, series_uid: str, instances: list[InstanceMatch] | None,
            wanted: list[InstanceMatch] | None, sink, token=None, sop_classes: list[str] | None = None) -> Generator:
        """C-GET the `wanted` instances of a series (all of them: one SERIES-level request); yields each
        `Arrived`; returns a `FetchEnd`. Storage contexts (SCP role) come from the SOP classes of `wanted`,
        15 contexts per class so that each instance can come as stored, 8 classes per association (see
        `contexts`)."""
        if instances is None:  # the whole series, its SOP classes as C-FIND gave them for the study
            batches, whole = [GetBatch(tuple(sop_classes or ()), ())], True
        else:
            batches = plan_get(wanted)
            whole = len(batches) == 1 and len(wanted) == len(instances)
        failed, reason = 0, None
        for batch in batches:
            end = yield from self._get_batch(study_uid, series_uid, batch, None if whole else batch.sop_uids,
                                             sink, token)
            failed += end.failed
            if end.reason:
                reason = end.reason
                break
        return FetchEnd(reason, failed)

    def _get_batch(self, study_uid, series_uid, batch, sop_uids, sink, token) -> Generator:
        from pynetdicom import build_role, evt
        from pynetdicom.presentation import build_context
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET

        ae = self._ae()
        contexts = [build_context(GET)] + [build_context(abstract, list(syntaxes))
                                           for sop_class in batch.sop_classes
                                           for abstract, syntaxes in storage_contexts(sop_class)]
        if len(contexts) > MAX_CONTEXTS:
            raise PacsError(f"{len(contexts)} presentation contexts do not fit one association ({MAX_CONTEXTS})")
        ae.requested_contexts = contexts
        roles = [build_role(sop_class, scp_role=True) for sop_class in batch.sop_classes]
        problems: list[str] = []
        arrivals = Arrivals(sink, series_uid, problems)
        handler = self._store_handler(arrivals, token)
        assoc = self._associate(ae, handlers=[(evt.EVT_C_STORE, handler)], roles=roles)
        responses = assoc.send_c_get(self._identifier(study_uid, series_uid, sop_uids), GET)
        return (yield from self._follow(assoc, responses, arrivals, problems, token, "C-GET"))

    def move(self, study_uid: str, series_uid: str, instances: list[InstanceMatch] | None,
             wanted: list[InstanceMatch] | None, sink, token=None, move_to: str | None = None,
             sop_classes: list[str] | None = None) -> Generator:
        """C-MOVE the `wanted` instances to `move_to` (default: medview's own storage SCP, which listens on
        `scp_port` as `calling_aet` while the move runs and writes what arrives through `sink`)."""
        from pynetdicom import ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MOVE

        destination = move_to or self.node.calling_aet
        ours = destination == self.node.calling_aet
        problems: list[str] = []
        arrivals = Arrivals(sink, series_uid, problems)
        server = None
        if ours:
            scp = self._ae()
            scp.network_timeout = self.node.timeout
            classes = dict.fromkeys([c.abstract_syntax for c in AllStoragePresentationContexts] +
                                    [i.sop_class_uid for i in wanted or []] + list(sop_classes or []))
            for sop_class in classes:
                scp.add_supported_context(sop_class, ALL_TRANSFER_SYNTAXES)
            handler = self._store_handler(arrivals, token)
            try:
                server = scp.start_server(("", self.node.scp_port), block=False, ae_title=self.node.calling_aet,
                                          evt_handlers=[(evt.EVT_C_STORE, handler)])
            except OSError as error:
                raise PacsError(f"medview's storage SCP cannot listen on port {self.node.scp_port}: "
                                f"{error.strerror or error}; choose another with --scp-port") from error
        try:
            ae = self._ae()
            ae.add_requested_context(MOVE)
            assoc = self._associate(ae)
            whole = instances is None or len(wanted) == len(instances)
            responses = assoc.send_c_move(self._identifier(study_uid, series_uid,
                                                           None if whole else [i.sop_uid for i in wanted]),
                                          destination, MOVE)
            return (yield from self._follow(assoc, responses, arrivals, problems, token, "C-MOVE"))
        finally:
            if server is not None:
                server.shutdown()

    def _follow(self, assoc, responses, arrivals: Arrivals, problems: list, token, service: str) -> Generator:
        """Follow a C-GET / C-MOVE's responses, handing over what arrived after each one; returns a FetchEnd."""
        from pynetdicom import status as statuses

        table = statuses.QR_GET_SERVICE_CLASS_STATUS if service == "C-GET" else \
            statuses.QR_MOVE_SERVICE_CLASS_STATUS
        reason, failed, completed = None, 0, 0
        try:
            for status, _identifier in responses:
                yield from arrivals.ready()
                if token is not None and token.cancelled:
                    assoc.abort()
                    reason = "cancelled"
                    break
                code = status.get("Status") if status else None
                if code is None:
                    reason = (f"the connection to {self.node} was lost, or it stopped answering for "
                              f"{self.node.timeout:g} s")
                    break
                failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
                completed = int(status.get("NumberOfCompletedSuboperations", 0) or 0)
                if code in (0xFF00, 0xFF01):
                    continue
                if code == 0xFE00:
                    reason = f"{self.node} cancelled the {service}"
                elif code not in (0x0000, 0xB000):
                    reason = f"{self.node} answered the {service} with {_status_text(code, table)}"
                elif code == 0xB000 or failed:
                    reason = f"{failed} instance(s) failed to arrive ({self.node} reported {_status_text(code, table)})"
        finally:
            if assoc.is_established:
                assoc.release()
            assoc.join(self.node.timeout)
        arrivals.finish(self.node.timeout)  # the writer may still be writing the last instances
        yield from arrivals.ready()
        if problems:
            reason = problems[0] if reason is None else f"{reason}; {problems[0]}"
        return FetchEnd(reason, failed, completed)

    # -- C-STORE ------------------------------------------------------------------------------------------------
    def send(self, files: list[str | Path]) -> list[StoreResult]:
        """Send DICOM files with C-STORE; one result per file (a file that is not DICOM is a failure, unsent)."""
        import pydicom
        from pynetdicom import status as statuses
        from pynetdicom.presentation import build_context

        results: dict[str, StoreResult] = {}
        plan: list[tuple[str, str, str, str]] = []  # path, SOP instance, class, transfer syntax
        for path in map(str, files):
            try:
                header = pydicom.dcmread(path, stop_before_pixels=True)
                plan.append((path, _text(header.SOPInstanceUID), _text(header.SOPClassUID),
                             _text(header.file_meta.TransferSyntaxUID)))
            except Exception as error:  # noqa: BLE001 - a hostile file is one failure line
                results[path] = StoreResult(path, "", "failure", None, f"not a DICOM file medview can send: {error}")
        syntaxes: dict[str, list[str]] = {}
        for _path, _sop, sop_class, syntax in plan:
            wanted = syntaxes.setdefault(sop_class, [])
            for uid in (syntax, "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"):
                if uid and uid not in wanted:
                    wanted.append(uid)
        classes = list(syntaxes)
        for start in range(0, len(classes), 128):
            chosen = set(classes[start:start + 128])
            ae = self._ae()
            ae.requested_contexts = [build_context(c, syntaxes[c]) for c in classes[start:start + 128]]
            batch = [item for item in plan if item[2] in chosen]
            assoc = self._associate(ae)
            try:
                for path, sop, _sop_class, _syntax in batch:
                    results[path] = self._store_one(assoc, path, sop, statuses)
            finally:
                self._end(assoc)
        return [results[str(path)] for path in files]

    def _store_one(self, assoc, path: str, sop: str, statuses) -> StoreResult:
        if not assoc.is_established:
            return StoreResult(path, sop, "failure", None, f"not sent: the association with {self.node} was lost")
        try:
            status = assoc.send_c_store(path)
        except (ValueError, AttributeError, RuntimeError) as error:
            return StoreResult(path, sop, "failure", None, f"not sent: {error}")
        code = status.get("Status") if status else None
        if code is None:
            return StoreResult(path, sop, "failure", None, f"no answer from {self.node} (connection lost or "
                                                           f"{self.node.timeout:g} s without a response)")
        category = statuses.code_to_category(code)
        outcome = {"Success": "success", "Warning": "warning"}.get(category, "failure")
        text = _status_text(code, statuses.STORAGE_SERVICE_CLASS_STATUS)
        comment = _text(status.get("ErrorComment"))
        return StoreResult(path, sop, outcome, code, text + (f": {comment}" if comment else ""))
