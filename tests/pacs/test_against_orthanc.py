"""Find, retrieve (C-GET, C-MOVE, WADO-RS) and send back against a real Orthanc; every retrieved image is
compared with the original file, pixel for pixel."""

from __future__ import annotations

import json
import time

import numpy as np
import pydicom
import pytest

from medview import cli
from medview.pacs.cache import Cache
from medview.pacs.query import StudyQuery
from medview.pacs.retrieve import InstanceArrived, SeriesResult, SeriesStarted, retrieve_study
from tests.pacs.conftest import drain, study_uid_of

CT = "samples/ct_chest"
MOSAIC = "mr_transfer_syntaxes_mosaic"


def node_flags(server) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(server.dicom_port), "--aet", "ORTHANC"]


def assert_identical_to_originals(files, originals) -> None:
    """Every file is an original's instance with the same pixels (values after decoding, and the stored
    bytes when it arrived in the original's transfer syntax) and the same identity and geometry."""
    assert files
    for path in files:
        got = pydicom.dcmread(path)
        original = pydicom.dcmread(originals[str(got.SOPInstanceUID)])
        assert np.array_equal(got.pixel_array, original.pixel_array), path
        if got.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID:
            assert got.PixelData == original.PixelData
        for keyword in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "ImagePositionPatient",
                        "ImageOrientationPatient", "PixelSpacing", "RescaleSlope", "RescaleIntercept"):
            assert got.get(keyword) == original.get(keyword), keyword


def test_echo_answers_over_dimse_and_dicomweb(dimse, web):
    assert dimse.echo() > 0
    assert web.echo() > 0


@pytest.mark.parametrize("protocol", ["dimse", "web"])
def test_find_by_patient_and_by_modality(protocol, dimse, web):
    client = dimse if protocol == "dimse" else web
    by_patient = client.find(StudyQuery(patient_id="PGBM-001"))
    assert [s.patient_id for s in by_patient] == ["PGBM-001"]
    assert [(s.modality, s.n_instances) for s in by_patient[0].series] == [("MR", 24)]
    by_name = client.find(StudyQuery(patient_name="Lung_Dx*"))
    assert [s.patient_id for s in by_name] == ["Lung_Dx-A0002"]
    ct = client.find(StudyQuery(modality="CT"))
    assert [s.patient_id for s in ct] == ["Lung_Dx-A0002"]
    assert ct[0].series[0].n_instances == 30 and ct[0].series[0].number == 3
    assert sorted(s.patient_id for s in client.find(StudyQuery(modality="MR"))) == sorted(
        {s.patient_id for s in client.find(StudyQuery()) if "MR" in s.modalities})
    assert client.find(StudyQuery(date_from="20070425", date_to="20070425"))[0].patient_id == "Lung_Dx-A0002"
    assert client.find(StudyQuery(patient_id="nobody")) == []


def test_find_json_prints_the_issue_shape(orthanc, capsys):
    assert cli.main(["pacs", "find", *node_flags(orthanc), "--modality", "CT", "--date-from", "2007-04-01",
                     "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    study = printed["studies"][0]
    assert set(study) == {"StudyInstanceUID", "PatientID", "PatientName", "StudyDate", "ModalitiesInStudy",
                          "AccessionNumber", "series"}
    assert study["ModalitiesInStudy"] == ["CT"] and study["StudyDate"] == "20070425"
    assert set(study["series"][0]) == {"SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription",
                                       "NumberOfSeriesRelatedInstances"}
    assert study["series"][0]["NumberOfSeriesRelatedInstances"] == 30


@pytest.mark.parametrize("method", ["get", "move", "wado"])
def test_retrieve_is_pixel_identical_to_the_originals(method, dimse, web, originals):
    client = web if method == "wado" else dimse
    cache = Cache()
    events, result = drain(retrieve_study(client, study_uid_of(originals, CT), cache,
                                          method="move" if method == "move" else "get"))
    assert result.complete, [s.summary() for s in result.series]
    assert isinstance(events[0], SeriesStarted) and events[0].expected == 30
    arrived = [e for e in events if isinstance(e, InstanceArrived)]
    assert [e.done for e in arrived] == list(range(1, 31))  # progress per instance, per series
    assert isinstance(events[-1], SeriesResult) and events[-1].complete
    files = sorted(result.folder.rglob("*.dcm"))
    assert len(files) == 30 and all(p.stem == str(pydicom.dcmread(p).SOPInstanceUID) for p in files)
    assert_identical_to_originals(files, originals)
    assert not list(cache.root.rglob("*.part"))
    assert cache.find(result.study.study_uid).complete


@pytest.mark.parametrize("method", ["get", "wado"])
def test_nine_transfer_syntaxes_arrive_as_stored(method, dimse, web, originals):
    """One series stored in nine transfer syntaxes (JPEG 2000, JPEG-LS, RLE...): C-GET proposes a context per
    syntax, so the PACS need not transcode (Orthanc cannot transcode JPEG 2000 and would fail the C-GET)."""
    client = web if method == "wado" else dimse
    _events, result = drain(retrieve_study(client, study_uid_of(originals, MOSAIC), Cache()))
    assert result.complete, [s.summary() for s in result.series]
    files = sorted(result.folder.rglob("*.dcm"))
    assert len(files) == 9
    assert_identical_to_originals(files, originals)
    syntaxes = {pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID for p in files}
    assert {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.5"} <= syntaxes


def test_cli_get_writes_one_file_per_sop_instance_into_out(orthanc, originals, tmp_path, capsys):
    out = tmp_path / "retrieved"
    study = study_uid_of(originals, "mr_brain")
    assert cli.main(["pacs", "get", *node_flags(orthanc), "--scp-port", str(orthanc.scp_port), "--study", study,
                     "--out", str(out)]) == 0
    assert "complete" in capsys.readouterr().out
    files = sorted(out.iterdir())
    assert len(files) == 24 and {p.name for p in files} == {f"{uid}.dcm" for uid, path in originals.items()
                                                            if "mr_brain" in str(path)}
    assert_identical_to_originals(files, originals)


def test_cli_wado_get_with_credentials_from_the_environment(web_environment, originals, capsys):
    study = study_uid_of(originals, "mr_brain")
    assert cli.main(["pacs", "get", "--url", web_environment.dicomweb, "--study", study]) == 0
    assert "24 of 24 instances, complete" in capsys.readouterr().out
    assert Cache().find(study).complete


def test_a_cached_study_opens_without_the_network(orthanc, originals, capsys):
    study = study_uid_of(originals, "mr_brain")
    assert cli.main(["pacs", "get", *node_flags(orthanc), "--study", study]) == 0
    capsys.readouterr()
    nowhere = ["--host", "127.0.0.1", "--port", "9", "--aet", "GONE"]  # nothing listens there
    assert cli.main(["pacs", "get", *nowhere, "--study", study]) == 0
    assert "already in the cache (no network used)" in capsys.readouterr().out
    Cache().forget(study)
    assert Cache().find(study) is None
    assert cli.main(["pacs", "get", *nowhere, "--timeout", "2", "--study", study]) == 2


@pytest.fixture(scope="module")
def report_files(tmp_path_factory, shared_data):
    """The report's DICOM outputs (SR and Secondary Capture) made by `medview report` on the CT sample."""
    out = tmp_path_factory.mktemp("report") / "dicom"
    assert cli.main(["report", str(shared_data / CT), "--dicom-out", str(out), "--slice", "14",
                     "--length", "150,300,180,310", "--impression", "sent back to the PACS"]) == 0
    files = sorted(out.glob("*.dcm"))
    assert {pydicom.dcmread(p).Modality for p in files} == {"SR", "OT"}
    return files


def sr_series_at_pacs(client, study: str, sr_file) -> list:
    sr = pydicom.dcmread(sr_file)
    return [s for s in client.series_of(study) if s.series_uid == sr.SeriesInstanceUID and s.modality == "SR"]


@pytest.mark.parametrize("protocol", ["dimse", "web"])
def test_send_the_report_back_and_find_its_sr(protocol, dimse, web, report_files, capsys, orthanc):
    client = dimse if protocol == "dimse" else web
    results = client.send(report_files)
    assert [r.outcome for r in results] == ["success"] * len(report_files), results
    study = str(pydicom.dcmread(report_files[0]).StudyInstanceUID)
    sr_file = next(p for p in report_files if p.name.endswith("SR.dcm"))
    found = sr_series_at_pacs(dimse, study, sr_file)
    assert len(found) == 1 and found[0].n_instances == 1
    instance = dimse.instances_of(study, found[0].series_uid)[0]
    assert instance.sop_uid == pydicom.dcmread(sr_file).SOPInstanceUID
    assert instance.sop_class_uid == pydicom.dcmread(sr_file).SOPClassUID  # Comprehensive 3D SR


def test_cli_send_reports_every_instance(orthanc, report_files, tmp_path, capsys):
    not_dicom = tmp_path / "notes.txt"
    not_dicom.write_text("not an image")
    code = cli.main(["pacs", "send", *node_flags(orthanc), *map(str, report_files), str(not_dicom), "--json"])
    results = json.loads(capsys.readouterr().out)["results"]
    assert code == 1  # one file could not be sent
    assert [r["outcome"] for r in results] == ["success"] * len(report_files) + ["failure"]
    assert results[0]["status"] == "0x0000" and results[0]["message"] == "0x0000 Success"
    assert "not a DICOM file" in results[-1]["message"]


def test_wrong_ae_title_or_port_is_a_clear_message_within_the_timeout(orthanc, capsys):
    cases = {
        "--aet NOT_ORTHANC": ["--aet", "NOT_ORTHANC", "--port", str(orthanc.dicom_port)],
        "nothing listens on 127.0.0.1:": ["--aet", "ORTHANC", "--port", "9"],
        "did not accept a DICOM association": ["--aet", "ORTHANC", "--port", str(orthanc.http_port)],
    }
    for expected, flags in cases.items():
        started = time.monotonic()
        assert cli.main(["pacs", "echo", "--host", "127.0.0.1", *flags, "--timeout", "3"]) == 2
        assert time.monotonic() - started < 3 + 1
        message = capsys.readouterr().err.strip()
        assert expected in message and message.count("\n") == 0, message
        if "NOT_ORTHANC" in flags:  # the reason when pynetdicom read the rejection before the close
            assert "Called AE title not recognised" in message or "did not accept a DICOM association" in message


def test_c_move_to_another_workstation_is_counted_not_cached(orthanc, originals, capsys):
    """`--move-to ELSEWHERE`: the PACS sends the series to another AE (a plain pynetdicom storage SCP here);
    medview reports the PACS's count and keeps nothing; an AE the PACS does not know is one clear failure."""
    from pynetdicom import AE, AllStoragePresentationContexts, evt

    received = []

    def on_store(event):
        received.append(event.request.AffectedSOPInstanceUID)
        return 0x0000

    workstation = AE(ae_title="ELSEWHERE")
    workstation.supported_contexts = AllStoragePresentationContexts
    server = workstation.start_server(("127.0.0.1", orthanc.elsewhere_port), block=False,
                                      evt_handlers=[(evt.EVT_C_STORE, on_store)])
    try:
        study = study_uid_of(originals, "mr_brain")
        assert cli.main(["pacs", "get", *node_flags(orthanc), "--study", study, "--move-to", "ELSEWHERE"]) == 0
        printed = capsys.readouterr().out
        assert "24 of 24 instances moved to ELSEWHERE, complete" in printed
        assert printed.strip().endswith("complete: moved to ELSEWHERE")
        assert len(set(received)) == 24 and Cache().find(study) is None
        assert cli.main(["pacs", "get", *node_flags(orthanc), "--study", study, "--move-to", "NOWHERE"]) == 1
        printed = capsys.readouterr().out
        assert "0 of 24 instances moved to NOWHERE, PARTIAL" in printed and "answered the C-MOVE with 0x" in printed
        assert printed.strip().endswith("PARTIAL: moved to NOWHERE")
    finally:
        server.shutdown()
