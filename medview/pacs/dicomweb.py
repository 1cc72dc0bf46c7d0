"""DICOMweb with dicomweb-client: QIDO-RS to find, WADO-RS to retrieve, STOW-RS to send back.

The same questions as `dimse.DimseClient` (find, series, instances, a ping) with the same answers, so the
retrieve, the cache, `medview pacs` and the PACS dock do not care which protocol a node speaks. Instances are
asked for in the transfer syntax they are stored in (``application/dicom; transfer-syntax=*``): what arrives
is the PACS's own pixels, not a transcoded copy. Credentials go on the HTTP session and nowhere else.
"""

from __future__ import annotations

import io
import time
from collections.abc import Generator
from pathlib import Path

from medview.errors import MedviewError
from medview.pacs.credentials import Credentials, find_credentials
from medview.pacs.dimse import FetchEnd, StoreResult
from medview.pacs.errors import CacheFull, PacsError
from medview.pacs.nodes import WebNode
from medview.pacs.query import (
    InstanceMatch,
    SeriesMatch,
    StudyMatch,
    StudyQuery,
    checked_uid,
    matches_modality,
    to_int,
)

AS_STORED = (("application/dicom", "*"),)


def _value(item: dict, tag: str):
    values = (item.get(tag) or {}).get("Value") or []
    if not values:
        return ""
    first = values[0]
    if isinstance(first, dict):  # a person name
        return str(first.get("Alphabetic", ""))
    return first


def _values(item: dict, tag: str) -> list[str]:
    return [str(v) for v in ((item.get(tag) or {}).get("Value") or []) if v is not None]


def _wildcards_unescaped_session():
    """A requests session that sends QIDO wildcards as '*', not '%2A': '*' is allowed in a query (RFC 3986),
    and some servers (Orthanc's DICOMweb plugin 1.7) match '%2A' literally, so `DOE*` would find nobody."""
    import requests
    from requests.adapters import HTTPAdapter

    class Adapter(HTTPAdapter):
        def send(self, request, *args, **kwargs):
            if request.url and "%2A" in request.url:
                base, sep, query = request.url.partition("?")
                request.url = base + sep + query.replace("%2A", "*")
            return super().send(request, *args, **kwargs)

    session = requests.Session()
    session.mount("http://", Adapter())
    session.mount("https://", Adapter())
    return session


class WebClient:
    def __init__(self, node: WebNode, credentials: Credentials | None = None) -> None:
        from dicomweb_client.api import DICOMwebClient

        self.node = node
        self.credentials = credentials if credentials is not None else find_credentials(node.url)
        session = _wildcards_unescaped_session()
        self.credentials.apply(session)
        self.session = session
        self.client = DICOMwebClient(node.url, session=session, timeout=node.timeout)
        self.client.set_http_retry_params(retry=False)  # a stopped server is said at once, not after 5 tries

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> WebClient:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _say(self, error: Exception, doing: str) -> PacsError:
        """One line for an HTTP failure (the URL and status, never a credential)."""
        import requests

        if isinstance(error, requests.HTTPError) and error.response is not None:
            code = error.response.status_code
            if code in (401, 403):
                return PacsError(f"{self.node} refused {doing} ({code}): check the credentials "
                                 f"(from {self.credentials.source})")
            return PacsError(f"{self.node} answered {doing} with HTTP {code} {error.response.reason}")
        if isinstance(error, requests.ConnectionError):
            return PacsError(f"{self.node} cannot be reached for {doing}: connection refused or lost")
        if isinstance(error, requests.Timeout):
            return PacsError(f"{self.node} did not answer {doing} within {self.node.timeout:g} s")
        return PacsError(f"{doing} at {self.node} failed: {type(error).__name__}")

    def _call(self, doing: str, function, *args, **kwargs):
        import requests

        try:
            return function(*args, **kwargs)
        except (requests.RequestException, OSError) as error:
            raise self._say(error, doing) from error

    # -- QIDO-RS ------------------------------------------------------------------------------------------
    def echo(self) -> float:
        """A QIDO-RS search for one study: the round trip in milliseconds."""
        started = time.perf_counter()
        self._call("a search", self.client.search_for_studies, limit=1)
        return (time.perf_counter() - started) * 1000

    def find(self, query: StudyQuery) -> list[StudyMatch]:
        filters = {"PatientID": query.patient_id, "PatientName": query.patient_name,
                   "StudyDate": query.date_range, "ModalitiesInStudy": query.modality,
                   "AccessionNumber": query.accession, "StudyInstanceUID": query.study_uid}
        found = self._call("the study search", self.client.search_for_studies,
                           search_filters={k: v for k, v in filters.items() if v},
                           fields=["StudyDescription", "ModalitiesInStudy", "AccessionNumber"])
        studies = []
        for item in found or []:
            try:
                uid = checked_uid(_value(item, "0020000D"), "StudyInstanceUID")
            except MedviewError:
                continue
            studies.append(StudyMatch(uid, str(_value(item, "00100020")), str(_value(item, "00100010")),
                                      str(_value(item, "00080020")), _values(item, "00080061"),
                                      str(_value(item, "00080050")), str(_value(item, "00081030"))))
        for study in studies:
            study.series = self.series_of(study.study_uid)
        return [s for s in studies if matches_modality(s, query.modality)]

    def series_of(self, study_uid: str) -> list[SeriesMatch]:
        found = self._call("the series search", self.client.search_for_series, study_uid,
                           fields=["SeriesDescription", "NumberOfSeriesRelatedInstances"])
        series = []
        for item in found or []:
            try:
                uid = checked_uid(_value(item, "0020000E"), "SeriesInstanceUID")
            except MedviewError:
                continue
            series.append(SeriesMatch(uid, str(_value(item, "00080060")), to_int(_value(item, "00200011")),
                                      str(_value(item, "0008103E")), to_int(_value(item, "00201209"))))
        return sorted(series, key=lambda s: (s.number is None, s.number or 0, s.series_uid))

    def instances_of(self, study_uid: str, series_uid: str) -> list[InstanceMatch]:
        found = self._call("the instance search", self.client.search_for_instances, study_uid, series_uid,
                           fields=["SOPClassUID", "InstanceNumber"], get_remaining=True)
        instances = {}
        for item in found or []:
            try:
                uid = checked_uid(_value(item, "00080018"), "SOPInstanceUID")
                sop_class = checked_uid(_value(item, "00080016"), "SOPClassUID")
            except MedviewError:
                continue
            instances[uid] = InstanceMatch(uid, sop_class, to_int(_value(item, "00200013")))
        return sorted(instances.values(), key=lambda i: (i.number is None, i.number or 0, i.sop_uid))

    # -- WADO-RS ------------------------------------------------------------------------------------------
    def get(self, study_uid: str, series_uid: str, instances: list[InstanceMatch] | None,
            wanted: list[InstanceMatch] | None, sink, token=None, sop_classes=None) -> Generator:
        """WADO-RS: the whole series as one multipart stream (when half of it or more is wanted), or the wanted
        instances one by one; yields each `Arrived` as its part is read; returns a `FetchEnd`."""
        import requests
        import urllib3

        skip: set[str] = set()
        if instances is None or 2 * len(wanted) >= len(instances):
            # the whole series as one stream (one request), the instances already here passed over unwritten
            stream = self.client.iter_series(study_uid, series_uid, media_types=AS_STORED)
            if instances is not None:
                skip = {i.sop_uid for i in instances} - {i.sop_uid for i in wanted}
        else:
            stream = (self.client.retrieve_instance(study_uid, series_uid, i.sop_uid, media_types=AS_STORED)
                      for i in wanted)
        try:
            while True:
                if token is not None and token.cancelled:
                    return FetchEnd("cancelled")
                try:
                    dataset = next(stream)
                except StopIteration:
                    return FetchEnd(None)
                if str(dataset.get("SOPInstanceUID", "")) in skip:
                    continue
                buffer = io.BytesIO()
                dataset.save_as(buffer, enforce_file_format=True)
                try:
                    yield sink.store(buffer.getvalue(), expected_series=series_uid)
                except CacheFull as error:
                    return FetchEnd(str(error))
                except MedviewError as error:
                    return FetchEnd(f"an instance was refused: {error}")
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            return FetchEnd(f"the transfer from {self.node} stopped: {self._say(error, 'the retrieve')}")
        except Exception as error:  # noqa: BLE001 - a broken multipart body from the server
            return FetchEnd(f"the transfer from {self.node} stopped: {type(error).__name__}: {error}")
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()

    # -- STOW-RS ------------------------------------------------------------------------------------------
    def send(self, files: list[str | Path]) -> list[StoreResult]:
        """STOW-RS, one request for all files; one result per file from the server's answer."""
        import pydicom
        import requests

        results: dict[str, StoreResult] = {}
        datasets, by_uid = [], {}
        for path in map(str, files):
            try:
                dataset = pydicom.dcmread(path)
                by_uid[str(dataset.SOPInstanceUID)] = path
                datasets.append(dataset)
            except Exception as error:  # noqa: BLE001 - a hostile file is one failure line
                results[path] = StoreResult(path, "", "failure", None, f"not a DICOM file medview can send: {error}")
        if datasets:
            try:
                answer = self.client.store_instances(datasets)
            except requests.HTTPError as error:
                answer = None
                problem = self._say(error, "the STOW-RS request")
                try:
                    answer = pydicom.Dataset.from_json(error.response.json())
                except Exception:  # noqa: BLE001 - no DICOM answer in the body: every file failed alike
                    for uid, path in by_uid.items():
                        results[path] = StoreResult(path, uid, "failure", error.response.status_code, str(problem))
            except (requests.RequestException, OSError) as error:
                raise self._say(error, "the STOW-RS request") from error
            if answer is not None:
                self._read_stow_answer(answer, by_uid, results)
        for uid, path in by_uid.items():
            results.setdefault(path, StoreResult(path, uid, "failure", None, "the server's answer does not name it"))
        return [results[str(path)] for path in files]

    @staticmethod
    def _read_stow_answer(answer, by_uid: dict, results: dict) -> None:
        for item in answer.get("ReferencedSOPSequence", []) or []:
            uid = str(item.get("ReferencedSOPInstanceUID", ""))
            if uid in by_uid:
                warning = item.get("WarningReason")
                results[by_uid[uid]] = StoreResult(by_uid[uid], uid, "warning" if warning else "success",
                                                   int(warning) if warning else 0x0000,
                                                   f"stored with warning 0x{int(warning):04X}" if warning else "stored")
        for item in answer.get("FailedSOPSequence", []) or []:
            uid = str(item.get("ReferencedSOPInstanceUID", ""))
            if uid in by_uid:
                reason = item.get("FailureReason")
                results[by_uid[uid]] = StoreResult(by_uid[uid], uid, "failure", int(reason) if reason else None,
                                                   f"refused (failure reason 0x{int(reason):04X})" if reason
                                                   else "refused")
