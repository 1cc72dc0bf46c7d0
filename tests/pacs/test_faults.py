"""Faults against a real Orthanc of its own: the server stopped in the middle of a retrieve (after the Nth
instance has arrived, not on a timer), and a retry after it is back."""

from __future__ import annotations

import pydicom
import pytest

from medview.pacs.cache import Cache
from medview.pacs.dimse import DimseClient
from medview.pacs.retrieve import retrieve_study
from tests.pacs.conftest import dicom_files, drain, node_of
from tests.pacs.orthanc_server import remove, start_orthanc

N = 7


class StopsTheServerAfter(Cache):
    """The real cache; when its Nth instance is on disk, the PACS is killed before it hears that it arrived."""

    def __init__(self, server, n: int) -> None:
        super().__init__()
        self.server, self.n, self.count = server, n, 0

    def store(self, data, expected_series=None):
        arrived = super().store(data, expected_series)
        self.count += 1
        if self.count == self.n:
            self.server.kill()
        return arrived


#: the study each protocol is stopped in: by WADO-RS a server may have written a whole small series into the
#: socket before it dies, so there it is the 275-slice CT (145 MB, more than any socket holds)
STUDY = {"get": "ct_chest", "move": "ct_chest", "wado": "ct_chest_lidc_0314"}


@pytest.fixture
def lonely_orthanc(request, shared_data):
    folder = shared_data / "samples" / STUDY[request.node.callspec.params["method"]]
    server = start_orthanc()
    try:
        server.upload(dicom_files(folder))
        yield server, folder
    finally:
        remove(server)


def client_for(method: str, server):
    if method == "wado":
        from medview.pacs.credentials import Credentials
        from medview.pacs.dicomweb import WebClient
        from medview.pacs.nodes import WebNode
        from tests.pacs.orthanc_server import PASSWORD, USER

        return WebClient(WebNode.checked(server.dicomweb, timeout=5.0), Credentials("test", user=USER,
                                                                                     password=PASSWORD))
    return DimseClient(node_of(server, timeout=5.0))


@pytest.mark.parametrize("method", ["get", "move", "wado"])
def test_server_stopped_mid_retrieve_gives_a_partial_series_then_a_retry_completes(method, lonely_orthanc,
                                                                                   shared_data):
    """The server is killed as the Nth instance is written. Instances already off the network by then (medview
    answers a C-STORE before its writer is done; WADO-RS parts already in the socket) are still written whole;
    the rest never arrives."""
    server, folder = lonely_orthanc
    n_files = len(dicom_files(folder))
    client = client_for(method, server)
    study_uid = str(pydicom.dcmread(dicom_files(folder)[0]).StudyInstanceUID)
    cache = StopsTheServerAfter(server, N)
    _events, result = drain(retrieve_study(client, study_uid, cache, method=method))

    series = result.series[0]
    received = series.received
    assert not result.complete and not series.complete and series.expected == n_files
    assert N <= received < n_files, series.summary()
    if method != "wado":
        assert "connection" in series.reason
    assert "PARTIAL" in series.summary()
    cached = Cache().find(study_uid)
    assert not cached.complete and cached.series[0].present == received
    assert cached.series[0].reason == series.reason
    files = sorted(result.folder.rglob("*"))
    assert not [p for p in files if p.suffix == ".part" or p.name.startswith(".")]  # nothing half-written
    for path in (p for p in files if p.is_file()):  # every file kept is whole
        dataset = pydicom.dcmread(path)
        assert len(dataset.PixelData) == dataset.Rows * dataset.Columns * dataset.BitsAllocated // 8

    server.start()  # back, same storage
    events, retry = drain(retrieve_study(client_for(method, server), study_uid, Cache(), method=method))
    assert retry.complete, [s.summary() for s in retry.series]
    assert events[0].already == received
    assert sum(1 for e in events if type(e).__name__ == "InstanceArrived") == n_files - received
    originals = {str(pydicom.dcmread(p).SOPInstanceUID): p for p in dicom_files(folder)}
    files = sorted(retry.folder.rglob("*.dcm"))
    assert len(files) == n_files
    for path in files:  # the stored pixels, byte for byte (both as stored: no transcoding on the way)
        got = pydicom.dcmread(path)
        original = pydicom.dcmread(originals[str(got.SOPInstanceUID)])
        assert got.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        assert got.PixelData == original.PixelData
    assert Cache().find(study_uid).complete
