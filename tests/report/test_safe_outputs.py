"""Safe outputs, tried as an attacker would: an invented identity planted in 39 places of a copy of the chest CT
is searched for in every byte of an anonymised export; burnt-in identity; file modes; numbers off the image."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import unicodedata
from pathlib import Path

import highdicom as hd
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from medview.ai.registry import BUNDLED
from medview.cli import main

MR = "mr_brain_t1post_tcia_btp"
MASS = "160,305"  # the right lower lobe mass of ct_chest, on k 14

BIRTH, STUDY = "19530817", "20190307"
PLANTED = {  # 35 attributes: names, ids, descriptions, dates and times, institution, physicians, addresses
    "PatientName": "Quintrell^Orsolya", "OtherPatientNames": "Quintrell^Orsi",
    "PatientMotherBirthName": "Haverbrook^Ilse", "PatientID": "ZQ-884213", "OtherPatientIDs": "ZQ-ALT-5521",
    "MedicalRecordLocator": "MRL-44120", "PatientBirthDate": BIRTH, "PatientBirthTime": "071500",
    "PatientAddress": "17 Larkspur Crescent, Wexbury", "PatientTelephoneNumbers": "+44 1632 960733",
    "PatientComments": "Quintrell allergic to iodine", "AdditionalPatientHistory": "Orsolya ex-smoker",
    "AccessionNumber": "ACC7731904", "StudyID": "STY66120", "StudyDescription": "Quintrell chest follow-up",
    "SeriesDescription": "Orsolya thorax 5mm", "ProtocolName": "Quintrell protocol",
    "ImageComments": "for Orsolya Quintrell ward 7", "StudyDate": STUDY, "SeriesDate": STUDY,
    "AcquisitionDate": STUDY, "ContentDate": STUDY, "StudyTime": "101530", "AcquisitionDateTime": "20190307101530",
    "InstitutionName": "Wexbury Royal Infirmary", "InstitutionAddress": "1 Infirmary Road, Wexbury",
    "InstitutionalDepartmentName": "Wexbury Thoracic Imaging", "StationName": "WEXBURYCT2",
    "DeviceSerialNumber": "SN-99817733", "ReferringPhysicianName": "Fenwhistle^Corin",
    "PerformingPhysicianName": "Dunmarrow^Aster", "NameOfPhysiciansReadingStudy": "Ravensholt^Bede",
    "OperatorsName": "Tamsworth^Lyle", "PhysiciansOfRecord": "Grisedale^Nell",
    "RequestingPhysician": "Pellinore^Vash",
}
PRIVATE = {0x10: "Quintrell^Orsolya", 0x11: "ZQ-884213-PRIV"}  # two private tags in group 0029
REQUEST = {"RequestedProcedureID": "RQP-55301", "ScheduledProcedureStepID": "SPS-77102"}  # inside a sequence


def _date_forms(yyyymmdd: str) -> list[str]:
    y, m, d = yyyymmdd[:4], yyyymmdd[4:6], yyyymmdd[6:]
    months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December"]
    month = months[int(m) - 1]
    return [yyyymmdd, f"{y}-{m}-{d}", f"{y}/{m}/{d}", f"{y}.{m}.{d}", f"{d}.{m}.{y}", f"{d}/{m}/{y}",
            f"{m}/{d}/{y}", f"{d}-{m}-{y}", f"{int(d)} {month} {y}", f"{month} {int(d)}, {y}", f"{d}-{month[:3]}-{y}",
            f"{d} {month[:3]} {y}"]


def _forbidden(source_uids: set[str]) -> list[str]:
    """Every planted string, its parts (name components, words of the descriptions), its date forms."""
    texts = set()
    for keyword, value in PLANTED.items():
        if keyword.endswith("Date"):
            texts |= set(_date_forms(value))
            continue
        texts.add(value)
        texts |= {part for part in re.split(r"[\^ ,]+", value) if len(part) >= 6 and not part.isdigit()}
    texts |= set(PRIVATE.values()) | set(REQUEST.values()) | {"101530", "10:15:30", "071500", "07:15:00"} | source_uids
    texts -= {"allergic", "follow-up", "protocol", "Infirmary", "Crescent", "Thoracic", "Imaging", "ex-smoker"}
    return sorted(texts)


def _plant(folder: Path) -> set[str]:
    uids = set()
    for path in folder.iterdir():
        if path.suffix != ".dcm":
            continue
        ds = pydicom.dcmread(path)
        for keyword, value in PLANTED.items():
            setattr(ds, keyword, value)
        request = Dataset()
        for keyword, value in REQUEST.items():
            setattr(request, keyword, value)
        ds.RequestAttributesSequence = [request]
        block = ds.private_block(0x0029, "MEDVIEW TEST", create=True)
        for offset, value in PRIVATE.items():
            block.add_new(offset, "LO", value)
        ds.save_as(path)
        uids |= {ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.FrameOfReferenceUID}
    return uids


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(path.name.encode() + (path.read_bytes() if path.is_file() else b""))
    return digest.hexdigest()


def _pdf_text(path: Path) -> str:
    """pdftotext's text, its ligatures (ﬁ, ﬀ) undone."""
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return unicodedata.normalize("NFKC", text)


def _leaks(text: str, forbidden: list[str]) -> list[str]:
    """Forbidden strings in `text`, case-insensitively, also across line breaks (table cells wrap)."""
    lowered, squeezed = text.lower(), "".join(text.split()).lower()
    return [f for f in forbidden if f.lower() in lowered or "".join(f.split()).lower() in squeezed]


@pytest.fixture(scope="module")
def invented_identity(tmp_path_factory, shared_data):
    """A copy of ct_chest with an invented identity in 39 attributes (two private, two in a sequence), and an
    anonymised export of it: PDF, HTML, SR and SC, with an AI answer, a length, an ellipse and an impression."""
    root = tmp_path_factory.mktemp("identity")
    folder = root / "study"
    shutil.copytree(shared_data / "samples" / "ct_chest", folder)
    uids = _plant(folder)
    before = _digest(folder)
    out = root / "out"
    code = main(["report", str(folder), "--slice", "14", "--classify-at", MASS, "--model",
                 str(BUNDLED / "brain-tumour-patch"), "--length", "140,290,190,320", "--ellipse", "150,295,175,320",
                 "--impression", "Right lower lobe mass.", "--reader", "Test^Reader", "--anonymize",
                 "-o", str(out / "report.pdf"), "--html", str(out / "report.html"), "--dicom-out", str(out / "dicom")])
    assert code == 0
    assert _digest(folder) == before, "the source folder was written to"
    return out, uids


def test_no_planted_identity_in_any_byte_of_an_anonymised_export(invented_identity):
    out, uids = invented_identity
    forbidden = _forbidden(uids)
    assert len(PLANTED) + len(PRIVATE) + len(REQUEST) == 39 and len(forbidden) > 60
    dicom_files = sorted((out / "dicom").iterdir())
    assert [p.name for p in dicom_files] == ["medview-key-image-01-SC.dcm", "medview-report-SR.dcm"]
    for path in dicom_files:
        data = path.read_bytes().decode("latin-1")
        assert not _leaks(data, forbidden), f"{path.name} holds {_leaks(data, forbidden)}"
        assert "0001" + "0101" not in data, f"{path.name} shows a dummy date"
    pdf = _pdf_text(out / "report.pdf")
    html = (out / "report.html").read_text()
    assert not _leaks(pdf, forbidden), f"the PDF holds {_leaks(pdf, forbidden)}"
    assert not _leaks(html, forbidden), f"the HTML holds {_leaks(html, forbidden)}"
    for text in (pdf, html):
        assert "0001-01-01" not in text and "ANONYMIZED" not in text
        assert "Patient ID anonymised" in text and "Right lower lobe mass." in text


def test_the_anonymised_outputs_keep_what_is_not_identity(invented_identity):
    out, _ = invented_identity
    pdf = _pdf_text(out / "report.pdf")
    assert "CT" in pdf and "CHEST" in pdf and "length" in pdf and "Test^Reader" in pdf
    sr, sc = (pydicom.dcmread(out / "dicom" / name) for name in ("medview-report-SR.dcm",
                                                                 "medview-key-image-01-SC.dcm"))
    assert sr.PatientIdentityRemoved == "YES" and sc.PatientIdentityRemoved == "YES"
    assert sc.BurnedInAnnotation == "NO"  # a CT that does not say: written as before
    assert sr.StudyInstanceUID == sc.StudyInstanceUID and sr.get("StudyDate", "") == ""


def test_the_report_and_the_sr_say_the_model_does_not_fit_the_series(invented_identity):
    out, _ = invented_identity
    pdf = " ".join(_pdf_text(out / "report.pdf").split())
    assert "does not fit this series" in pdf and "the series is CT, the model is for MR" in pdf
    assert "does not fit this series" in (out / "report.html").read_text()
    sr = hd.sr.srread(out / "dicom" / "medview-report-SR.dcm")
    finding = sr.content.get_planar_roi_measurement_groups()[0]
    fit = [item for item in finding[0].ContentSequence if item.ConceptNameCodeSequence[0].CodeValue == "MODEL-FIT"]
    assert fit[0].ConceptCodeSequence[0].CodeMeaning == "model does not fit this series"
    parameters = [item.TextValue for item in finding[0].ContentSequence.find(codes.DCM.AlgorithmParameters)]
    assert any("the series is CT, the model is for MR" in p for p in parameters)


def test_the_impression_is_tid_1500_text_in_the_sr(invented_identity):
    out, _ = invented_identity
    sr = pydicom.dcmread(out / "dicom" / "medview-report-SR.dcm")
    evaluations = [item for item in sr.ContentSequence
                   if item.ConceptNameCodeSequence[0].CodeMeaning == "Qualitative Evaluations"]
    text = evaluations[0].ContentSequence[0]
    assert text.ConceptNameCodeSequence[0].CodeValue == "121073" and text.TextValue == "Right lower lobe mass."


# -- burned-in annotation ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mr_copy(tmp_path_factory, shared_data):
    folder = tmp_path_factory.mktemp("mr") / "study"
    shutil.copytree(shared_data / "samples" / MR, folder)
    return folder


def _set_header(folder: Path, modality: str, burned_in: str | None) -> None:
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        ds.Modality = modality
        if burned_in is None:
            ds.pop("BurnedInAnnotation", None)
        else:
            ds.BurnedInAnnotation = burned_in
        ds.save_as(path)


@pytest.mark.parametrize("modality, stated", [("MR", "YES"), ("US", None), ("OT", None)])
def test_a_burnt_in_source_leaves_its_key_image_out_of_an_anonymised_export(mr_copy, tmp_path, capsys, modality,
                                                                           stated):
    _set_header(mr_copy, modality, stated)
    out = tmp_path / "out"
    code = main(["report", str(mr_copy), "--slice", "17", "--length", "150,200,200,220", "--anonymize",
                 "-o", str(out / "report.pdf"), "--html", str(out / "report.html"), "--dicom-out", str(out / "dicom")])
    assert code == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "burned-in annotation" in line]
    assert len(warnings) == 1 and "slice 18" in warnings[0]
    assert [p.name for p in (out / "dicom").iterdir()] == ["medview-report-SR.dcm"]  # no Secondary Capture
    html = (out / "report.html").read_text()
    assert "burned-in annotation" in html and "data:image/png" not in html
    assert "burned-in annotation" in " ".join(_pdf_text(out / "report.pdf").split())


@pytest.mark.parametrize("modality, stated, written", [("MR", "YES", "YES"), ("US", None, "YES"),
                                                       ("MR", None, "NO"), ("MR", "NO", "NO")])
def test_the_key_image_is_never_marked_clean_when_its_source_may_not_be(mr_copy, tmp_path, modality, stated,
                                                                        written):
    _set_header(mr_copy, modality, stated)
    assert main(["report", str(mr_copy), "--slice", "17", "--dicom-out", str(tmp_path / "dicom")]) == 0
    assert pydicom.dcmread(tmp_path / "dicom" / "medview-key-image-01-SC.dcm").BurnedInAnnotation == written


# -- file modes and partial exports ------------------------------------------------------------------------

def test_new_outputs_follow_the_umask_and_replaced_ones_keep_their_mode(shared_data, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("old")
    os.chmod(out / "report.html", 0o640)
    previous = os.umask(0o077)
    try:
        assert main(["report", str(shared_data / "samples" / MR), "--slice", "3", "-o", str(out / "report.pdf"),
                     "--html", str(out / "report.html"), "--dicom-out", str(out / "dicom")]) == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE((out / "report.pdf").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "dicom" / "medview-key-image-01-SC.dcm").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "report.html").stat().st_mode) == 0o640


def test_an_export_that_fails_while_writing_leaves_no_file_at_all(shared_data, tmp_path):
    """A real write failure part way (the file-size limit stops the key image after the SR was written to its
    temporary file): every file is written before any is renamed, so none is left, and the message says so."""
    script = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
              "resource.setrlimit(resource.RLIMIT_FSIZE, (60000, 60000)); "
              "from medview.cli import main; sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", script, "report", str(shared_data / "samples" / MR), "--slice", "3",
                           "--length", "150,200,200,220", "--dicom-out", str(tmp_path / "dicom"), "--html",
                           str(tmp_path / "r.html"), "-o", str(tmp_path / "r.pdf")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "larger than this system allows" in done.stderr and "nothing was written" in done.stderr
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_an_export_that_fails_while_renaming_names_the_files_already_written(shared_data, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "report.pdf").mkdir(parents=True)  # a folder where the PDF should go: found only at the rename
    code = main(["report", str(shared_data / "samples" / MR), "--slice", "3", "--html", str(out / "r.html"),
                 "--dicom-out", str(out / "dicom"), "-o", str(out / "report.pdf")])
    assert code != 0
    message = capsys.readouterr().err
    assert "the target is a folder" in message and "already written" in message
    written = sorted(p for p in out.rglob("*") if p.is_file())
    assert written and all(str(p) in message for p in written)
    assert not [p for p in out.rglob("*.part")]


# -- numbers off the image ---------------------------------------------------------------------------------

@pytest.mark.parametrize("option, value, reason", [
    ("--length", "nan,nan,nan,nan", "not a finite number"),
    ("--length", "10,10,inf,20", "not a finite number"),
    ("--rectangle", "-1e308,-1e308,1e308,1e308", "lies outside the image"),
    ("--ellipse", "300,400,320,420", "lies outside the image"),
])
def test_a_measurement_not_finite_or_off_the_image_is_refused_in_one_line(shared_data, tmp_path, capsys, option,
                                                                          value, reason):
    code = main(["report", str(shared_data / "samples" / MR), "--slice", "3", f"{option}={value}",
                 "--dicom-out", str(tmp_path / "dicom")])
    assert code != 0
    err = capsys.readouterr().err.strip()
    assert reason in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "dicom").exists()


def test_the_report_build_refuses_points_off_the_image_whoever_made_them(shared_data, tmp_path):
    """The dialog's path: a Reading made in code, checked by the export itself."""
    from medview.core.annotations import Annotation
    from medview.core.reading import Measurement, Reading
    from medview.errors import MedviewError
    from medview.io import open_folder
    from medview.io.loader import load_volume
    from medview.report.export import Targets, export_report, source_of

    folder = shared_data / "samples" / MR
    volume = load_volume(folder)
    reading = Reading.of(volume)
    reading.measurements.append(Measurement(3, Annotation("ellipse", ((250.0, 300.0), (270.0, 330.0))), ()))
    spec = open_folder(folder).find(None)
    with pytest.raises(MedviewError, match=r"outside the image \(260×320 pixels\)"):
        export_report(reading, {3: source_of(spec, 3)}, Targets(html=tmp_path / "r.html"))
    assert not (tmp_path / "r.html").exists()


# -- the dialog --------------------------------------------------------------------------------------------

def test_the_dialog_shows_the_burned_in_annotation_warning(qtbot, mr_copy, tmp_path):
    from PySide6.QtCore import QSettings, Qt

    from medview.gui.main_window import MainWindow

    _set_header(mr_copy, "MR", "YES")
    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                        with_inference=False)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.series_loaded, timeout=120_000):
        window.open_path(str(mr_copy), k=17)
    dialog = window.open_report()
    qtbot.addWidget(dialog)
    dialog.anonymise.setChecked(True)
    dialog.reader.setText("Test^Reader")
    dialog.pdf_path.setText("")
    dialog.html_path.setText(str(tmp_path / "out" / "report.html"))
    dialog.dicom_box.setChecked(False)
    with qtbot.waitSignal(dialog.exported, timeout=120_000):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert "burned-in annotation" in dialog.status.text()
    assert window.settings.value("report/reader") == "Test^Reader"
    window.cancel_loading()
