"""A real Orthanc for the PACS tests (Debian packages `orthanc` and `orthanc-dicomweb`; `.ci/run` installs them),
holding the CT and MR samples and the nine-transfer-syntax MR series, uploaded through Orthanc's REST API."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from medview.pacs.credentials import Credentials
from medview.pacs.dicomweb import WebClient
from medview.pacs.dimse import DimseClient
from medview.pacs.nodes import DimseNode, WebNode
from tests.pacs.orthanc_server import PASSWORD, USER, remove, start_orthanc

SAMPLES = ("samples/ct_chest", "samples/mr_brain_t1post_tcia_btp", "dicom_cases/mr_transfer_syntaxes_mosaic")


def dicom_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.dcm") if p.is_file())


@pytest.fixture(scope="session")
def originals(shared_data) -> dict[str, Path]:
    """SOPInstanceUID → the original file, for every file uploaded."""
    found = {}
    for name in SAMPLES:
        for path in dicom_files(shared_data / name):
            found[str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)] = path
    return found


@pytest.fixture(scope="session")
def orthanc(originals):
    server = start_orthanc()
    try:
        server.upload(sorted(originals.values()))
        yield server
    finally:
        remove(server)


def node_of(server, **changes) -> DimseNode:
    settings = dict(host="127.0.0.1", port=server.dicom_port, aet="ORTHANC", calling_aet=server.calling_aet,
                    scp_port=server.scp_port, timeout=5.0)
    settings.update(changes)
    return DimseNode(**settings)


@pytest.fixture
def dimse(orthanc) -> DimseClient:
    return DimseClient(node_of(orthanc))


@pytest.fixture
def web(orthanc) -> WebClient:
    return WebClient(WebNode.checked(orthanc.dicomweb, timeout=10), Credentials("test", user=USER, password=PASSWORD))


@pytest.fixture
def web_environment(orthanc, monkeypatch):
    """The DICOMweb credentials as a user gives them: in the environment."""
    monkeypatch.setenv("MEDVIEW_DICOMWEB_USER", USER)
    monkeypatch.setenv("MEDVIEW_DICOMWEB_PASSWORD", PASSWORD)
    monkeypatch.delenv("MEDVIEW_DICOMWEB_TOKEN", raising=False)
    return orthanc


def drain(generator):
    """Run a retrieve to its end: (the events it yielded, the result it returned)."""
    from medview.pacs.retrieve import follow

    events: list = []
    return events, follow(generator, events.append)


def study_uid_of(originals: dict, folder_name: str) -> str:
    path = next(p for p in originals.values() if folder_name in str(p))
    return str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)
