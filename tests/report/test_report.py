"""The annotated report, read back by independent readers: pdftotext/pdftoppm, pydicom and highdicom."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.sr.codedict import codes

from medview.cli import main

SAMPLE = "mr_brain_t1post_tcia_btp"
TUMOUR = "175,210"


def _folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def exported(tmp_path_factory, shared_data, tiny_models):
    """One report of the bundled MR sample: a click on the tumour, a length and an ellipse ROI, all outputs."""
    out = tmp_path_factory.mktemp("report")
    source = shared_data / "samples" / SAMPLE
    before = _folder_digest(source)
    code = main(["report", str(source), "--slice", "17", "--classify-at", TUMOUR, "--model",
                 str(tiny_models / "patch"), "--length", "150,200,200,220", "--ellipse", "160,195,190,225",
                 "--impression", "Enhancing mass in the left hemisphere.", "-o", str(out / "report.pdf"),
                 "--html", str(out / "report.html"), "--dicom-out", str(out / "dicom")])
    assert code == 0
    assert _folder_digest(source) == before, "the source folder was written to"
    return out


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def _squeezed(text: str) -> str:
    """Text without white space: table cells wrap long names over lines."""
    return "".join(text.split())


def _manifest(tiny_models) -> dict:
    import json

    return json.loads((tiny_models / "patch" / "manifest.json").read_text())


def test_pdf_text_holds_the_finding_model_version_measurements_and_disclaimer(exported, tiny_models):
    text = _pdf_text(exported / "report.pdf")
    card = _manifest(tiny_models)
    sr = hd.sr.srread(exported / "dicom" / "medview-report-SR.dcm")
    finding = sr.content.get_planar_roi_measurement_groups()[0]
    label = finding.finding_type.meaning
    assert label in text
    assert card["name"] in _squeezed(text) and card["version"] in text and card["weights"]["sha256"] in _squeezed(text)
    assert "AI generated, research use only, not for diagnosis" in text
    assert "length" in text and "mean" in text and "Enhancing mass in the left hemisphere." in text
    assert "PGBM-001" in text  # not anonymised: the header names the patient


def _warm_pixels_on_key_image_page(pdf: Path, folder: Path) -> int:
    """Saturated warm pixels (the inferno map's purples, oranges, yellows) on the page that holds the key
    image (a large dark area: the MR's background). Grey pixels are never warm."""
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(folder / "page")], check=True)
    counts = []
    for page in sorted(folder.glob("page*.png")):
        rgb = np.asarray(Image.open(page).convert("RGB")).astype(int)
        if (rgb.mean(axis=2) < 40).sum() > 5000:
            counts.append(int(((np.abs(rgb[..., 0] - rgb[..., 2]) > 60) & (rgb.max(axis=2) > 90)).sum()))
    assert counts, "no page shows a key image"
    return max(counts)


def test_pdf_page_shows_the_key_image_with_its_heatmap(shared_data, tiny_models, tmp_path):
    """The same key image exported with and without a classification: only the heatmap (and its one line of
    text) tells them apart, so the page with it must hold many more warm pixels. The bundled detector makes
    the heatmap: a two-step model's Grad-CAM can be a sliver."""
    source = shared_data / "samples" / SAMPLE
    warm = {}
    classify = ["--classify-at", TUMOUR, "--model", "brain-tumour-patch"]
    for name, extra in (("plain", []), ("classified", classify)):
        folder = tmp_path / name
        assert main(["report", str(source), "--slice", "17", *extra, "-o", str(folder / "report.pdf")]) == 0
        warm[name] = _warm_pixels_on_key_image_page(folder / "report.pdf", folder)
    # the overlay's one line of text and the click mark add about 300 warm pixels at 50 dpi; the heatmap more
    assert warm["classified"] - warm["plain"] > 600, warm


def test_html_is_self_contained_and_holds_the_same_report(exported):
    html = (exported / "report.html").read_text()
    assert "data:image/png;base64," in html and "src='http" not in html
    assert "AI generated, research use only, not for diagnosis" in html
    assert "Enhancing mass in the left hemisphere." in html


def test_sr_read_back_gives_the_same_findings_and_measurements(exported, tiny_models):
    sr = hd.sr.srread(exported / "dicom" / "medview-report-SR.dcm")
    card = _manifest(tiny_models)
    groups = sr.content.get_planar_roi_measurement_groups()
    assert len(groups) == 3  # the AI finding at the click, the length, the ellipse
    ai, length, ellipse = groups
    content = ai[0].ContentSequence
    assert content.find(codes.DCM.AlgorithmName)[0].TextValue == card["name"]
    assert content.find(codes.DCM.AlgorithmVersion)[0].TextValue == card["version"]
    parameters = [item.TextValue for item in content.find(codes.DCM.AlgorithmParameters)]
    assert f"sha256={card['weights']['sha256']}" in parameters
    probability = ai.get_measurements(name=codes.DCM.Probability)[0].value
    assert 0.0 <= probability <= 1.0 and ai.finding_type.scheme_designator == "99MEDVIEW"
    assert np.allclose(ai.roi.value, [[175.5, 210.5]])  # the centre of the pixel --classify-at 175,210 names
    measured = length.get_measurements(name=codes.SCT.Length)[0]
    assert measured.unit == codes.UCUM.Millimeter
    row_mm, col_mm = pydicom.dcmread(sorted((Path(__file__).parents[3] / "shared" / "data" / "samples" / SAMPLE)
                                            .iterdir())[0]).PixelSpacing
    assert float(measured.value) == pytest.approx(np.hypot(50 * float(col_mm), 20 * float(row_mm)), abs=1e-3)
    names = {m.name.meaning for m in ellipse.get_measurements()}
    assert {"Mean", "Standard Deviation", "Area"} <= names
    assert ellipse.roi.graphic_type == hd.sr.GraphicTypeValues.ELLIPSE


def test_key_image_is_a_secondary_capture_of_the_same_study_pointing_at_its_source(exported, shared_data):
    sc = pydicom.dcmread(exported / "dicom" / "medview-key-image-01-SC.dcm")
    sr = pydicom.dcmread(exported / "dicom" / "medview-report-SR.dcm")
    source_files = sorted((shared_data / "samples" / SAMPLE).iterdir())
    source_uids = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in source_files}
    assert sc.SOPClassUID == pydicom.uid.SecondaryCaptureImageStorage
    assert sc.PhotometricInterpretation == "RGB" and sc.pixel_array.shape[2] == 3
    assert sc.StudyInstanceUID == sr.StudyInstanceUID == pydicom.dcmread(source_files[0]).StudyInstanceUID
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID in source_uids


IDENTITY = {"name": "Quimby^Rosalind", "id": "QX-5561", "birth": "19530817", "accession": "ACCN99881",
            "institution": "Saint Elsewhere Infirmary", "physician": "Kildare^James", "study_date": "20190307"}


@pytest.fixture(scope="module")
def identified_copy(tmp_path_factory, shared_data):
    """A copy of the MR sample given an invented identity, a private tag holding the name included."""
    folder = tmp_path_factory.mktemp("identified") / "study"
    shutil.copytree(shared_data / "samples" / SAMPLE, folder)
    uids = set()
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        ds.PatientName, ds.PatientID = IDENTITY["name"], IDENTITY["id"]
        ds.PatientBirthDate, ds.AccessionNumber = IDENTITY["birth"], IDENTITY["accession"]
        ds.InstitutionName, ds.ReferringPhysicianName = IDENTITY["institution"], IDENTITY["physician"]
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = IDENTITY["study_date"]
        ds.private_block(0x0029, "MEDVIEW TEST", create=True).add_new(0x10, "LO", IDENTITY["name"])
        ds.save_as(path)
        uids |= {ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.FrameOfReferenceUID}
    return folder, uids


def _forbidden(uids) -> list[str]:
    name_parts = IDENTITY["name"].split("^") + IDENTITY["physician"].split("^")
    dates = [IDENTITY["birth"], IDENTITY["study_date"], "2019-03-07", "1953-08-17"]
    return [IDENTITY["id"], IDENTITY["accession"], IDENTITY["institution"], *name_parts, *dates, *uids]


def test_anonymised_export_holds_no_identity_and_maps_uids_consistently(identified_copy, tiny_models, tmp_path):
    folder, source_uids = identified_copy
    out = tmp_path / "anon"
    code = main(["report", str(folder), "--slice", "17", "--classify-at", TUMOUR, "--model",
                 str(tiny_models / "patch"), "--ellipse", "160,195,190,225", "--anonymize",
                 "-o", str(out / "report.pdf"), "--html", str(out / "report.html"), "--dicom-out", str(out / "dicom")])
    assert code == 0
    forbidden = _forbidden(source_uids)
    dicom_files = sorted((out / "dicom").iterdir())
    assert len(dicom_files) == 2
    for path in dicom_files:
        data = path.read_bytes()
        leaks = [text for text in forbidden if text.encode() in data]
        assert not leaks, f"{path.name} holds {leaks}"
    pdf_text = _pdf_text(out / "report.pdf")
    html = (out / "report.html").read_text()
    for text in forbidden:
        assert text not in pdf_text, f"the PDF holds {text}"
        assert text not in html, f"the HTML holds {text}"
    assert "anonymised" in pdf_text and "anonymised" in html
    sr, sc = (pydicom.dcmread(out / "dicom" / name) for name in
              ("medview-report-SR.dcm", "medview-key-image-01-SC.dcm"))
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == sr.StudyInstanceUID == sc.StudyInstanceUID
    referenced = evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == referenced
    assert sr.PatientIdentityRemoved == "YES" and sc.PatientIdentityRemoved == "YES"


def test_an_unwritable_target_gives_a_clear_message_and_no_partial_file(shared_data, tmp_path, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    code = main(["report", str(shared_data / "samples" / SAMPLE), "--slice", "3",
                 "-o", str(blocker / "report.pdf")])
    assert code != 0
    message = capsys.readouterr().err
    assert "could not" in message and "not a folder" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]


def test_a_full_disk_leaves_no_partial_file(shared_data, tmp_path):
    """A real write failure from the kernel: the file-size limit stops the PDF half-way (EFBIG)."""
    script = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
              "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)); "
              "from medview.cli import main; sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", script, "report", str(shared_data / "samples" / SAMPLE),
                           "--slice", "3", "-o", str(tmp_path / "report.pdf")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode != 0
    assert "could not write" in done.stderr and "larger than this system allows" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_source_folder_is_never_a_target(identified_copy, tmp_path, capsys):
    folder, _ = identified_copy
    before = _folder_digest(folder)
    code = main(["report", str(folder), "--slice", "3", "-o", str(folder / "report.pdf")])
    assert code != 0
    assert "never writes into a folder it reads" in capsys.readouterr().err
    assert _folder_digest(folder) == before


def test_the_real_folder_behind_a_linked_series_is_never_a_target(identified_copy, tmp_path, capsys):
    """A folder opened through a link: the guard compares the target with the real folder of the files read,
    not only with the path given."""
    folder, _ = identified_copy
    opened = tmp_path / "opened"
    opened.mkdir()
    (opened / "series").symlink_to(folder, target_is_directory=True)
    before = _folder_digest(folder)
    code = main(["report", str(opened), "--slice", "3", "-o", str(folder / "report.pdf")])
    assert code != 0
    assert "never writes into a folder it reads" in capsys.readouterr().err
    assert _folder_digest(folder) == before
