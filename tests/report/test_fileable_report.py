"""A fileable report (issue 24): identity and study date on every page, page numbers, the reader and the time
of signing, no heading alone at the foot of a page; read back with pdftotext."""

from __future__ import annotations

import subprocess
import unicodedata

import pytest

from medview.core.annotations import Annotation
from medview.core.reading import Measurement, Reading
from medview.io import load_volume

MR = "mr_brain_t1post_tcia_btp"
HEADINGS = ("AI findings", "Measurements", "Key images", "Impression")


@pytest.fixture(scope="module")
def volume(shared_data):
    return load_volume(shared_data / "samples" / MR)


def _reading(volume, n_measurements: int, **fields) -> Reading:
    reading = Reading.of(volume, impression="Nothing else.", **fields)
    for i in range(n_measurements):
        reading.measurements.append(Measurement(17, Annotation("length", ((10.0, 10.0 + i), (40.0, 12.0 + i))), ()))
    return reading


@pytest.mark.parametrize("with_key_image", [False, True])
def test_no_heading_stands_alone_at_the_foot_of_a_page(volume, with_key_image):
    """Reports of 0 to 69 measurements: every heading lands at some height of a page, the foot included."""
    from PySide6.QtCore import QSizeF

    from medview.core.reading import KeyImage
    from medview.report.pdf import _application, report_document, stranded_headings
    from medview.report.render import png_bytes, render_key_image

    _application()
    body = QSizeF(680, 900)
    key = KeyImage(k=17, pixels=volume.slice(17), window=(600.0, 300.0))
    pngs = [png_bytes(render_key_image(_reading(volume, 0), key))] if with_key_image else []
    stranded_without = 0
    for n in range(0, 70, 1 if not with_key_image else 2):
        reading = _reading(volume, n)
        reading.key_images = [key] if with_key_image else []
        assert stranded_headings(report_document(reading, pngs, body)) == [], n
        stranded_without += bool(stranded_headings(report_document(reading, pngs, body, keep_headings=False)))
    assert stranded_without > 0, "the sweep never put a heading at the foot of a page: it proves nothing"


def _pages(pdf) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return [unicodedata.normalize("NFKC", page) for page in text.split("\f") if page.strip()]


@pytest.mark.parametrize("anonymised", [False, True])
def test_every_page_carries_the_patient_id_the_study_date_and_its_number(volume, tmp_path, anonymised):
    from medview.core.reading import KeyImage
    from medview.report.pdf import report_pdf
    from medview.report.render import png_bytes, render_key_image

    reading = _reading(volume, 70, anonymised=anonymised, reader="Ada Reader", signed="2026-12-01 16:30")
    reading.key_images = [KeyImage(k=17, pixels=volume.slice(17), window=(600.0, 300.0))]
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(report_pdf(reading, [png_bytes(render_key_image(reading, reading.key_images[0]))]))
    pages = _pages(pdf)
    assert len(pages) >= 3
    for number, page in enumerate(pages, 1):
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        if anonymised:
            assert lines[0].startswith("Patient ID anonymised") and "study" not in lines[0]
        else:
            assert lines[0].startswith(f"Patient ID {volume.info.patient_id} · study "
                                       f"{volume.info.study_date[:4]}-{volume.info.study_date[4:6]}")
        assert "Read by Ada Reader · signed 2026-12-01 16:30" in lines[-1]
        assert lines[-1].endswith(f"page {number} of {len(pages)}")
    text = "".join(pages)
    assert "0001-01-01" not in text
    assert "Nothing else." in text and "not for diagnosis" in pages[-1]  # nothing lost past a moved heading
