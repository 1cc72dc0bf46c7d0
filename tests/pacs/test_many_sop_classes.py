"""C-GET beyond one association's contexts: a series of ten SOP classes needs 151 storage contexts, more than
the 128 an association may carry; medview fetches it in two associations (8 classes, then 2) at IMAGE level."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from medview.pacs.cache import Cache
from medview.pacs.contexts import CLASSES_PER_GET
from medview.pacs.dimse import DimseClient
from medview.pacs.retrieve import retrieve_study
from tests.pacs.conftest import dicom_files, drain, node_of
from tests.pacs.orthanc_server import remove, start_orthanc

# ten image storage SOP classes (CT, MR, CR, DX, MG, US, SC, XA, PET, NM)
CLASSES = ["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.1",
           "1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.1.2", "1.2.840.10008.5.1.4.1.1.6.1",
           "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.12.1", "1.2.840.10008.5.1.4.1.1.128",
           "1.2.840.10008.5.1.4.1.1.20"]


@pytest.fixture
def ten_class_series(shared_data, tmp_path):
    """Ten slices of the CT sample, each relabelled with another SOP class, as one new study and series."""
    study, series = generate_uid(), generate_uid()
    files = []
    for path, sop_class in zip(dicom_files(shared_data / "samples" / "ct_chest"), CLASSES, strict=False):
        dataset = pydicom.dcmread(path)
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study, series
        dataset.PatientID = "MANY-CLASSES"
        dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = sop_class
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        files.append(tmp_path / f"{len(files)}.dcm")
        dataset.save_as(files[-1])
    server = start_orthanc()
    try:
        server.upload(files)
        yield server, study, files
    finally:
        remove(server)


def test_a_series_of_more_sop_classes_than_one_association_holds_arrives_whole(ten_class_series, monkeypatch):
    server, study, files = ten_class_series
    assert len(CLASSES) > CLASSES_PER_GET
    client = DimseClient(node_of(server))
    batches = []
    real = DimseClient._get_batch

    def watched(self, study_uid, series_uid, batch, sop_uids, sink, token):
        batches.append((len(batch.sop_classes), len(sop_uids or ())))
        return real(self, study_uid, series_uid, batch, sop_uids, sink, token)

    monkeypatch.setattr(DimseClient, "_get_batch", watched)
    _events, result = drain(retrieve_study(client, study, Cache()))
    assert batches == [(8, 8), (2, 2)]  # two associations, each asking at IMAGE level for its instances
    assert result.complete, [s.summary() for s in result.series]
    originals = {str(pydicom.dcmread(p).SOPInstanceUID): p for p in files}
    got = sorted(result.folder.rglob("*.dcm"))
    assert len(got) == 10
    for path in got:
        dataset = pydicom.dcmread(path)
        original = pydicom.dcmread(originals[str(dataset.SOPInstanceUID)])
        assert dataset.SOPClassUID == original.SOPClassUID
        assert np.array_equal(dataset.pixel_array, original.pixel_array)
    assert sorted(str(pydicom.dcmread(p).SOPClassUID) for p in got) == sorted(CLASSES)
