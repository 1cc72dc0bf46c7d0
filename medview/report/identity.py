"""What a report may print of the patient and the study: one decision for every output.

With `reading.anonymised`, the series facts go through the same PS3.15 profile as the DICOM outputs
(`Anonymiser.series_info`), so the PDF, the HTML and the key images print exactly what the SR and the
Secondary Capture keep: no names, ids, dates, descriptions or institution. Removed values are left out,
never shown as a dummy or as 0001-01-01.
"""

from __future__ import annotations

from medview.core.reading import Reading
from medview.core.volume import SeriesInfo, display_date

ANONYMISED = "anonymised"


def shown_info(reading: Reading) -> SeriesInfo:
    """The series facts a report prints."""
    if not reading.anonymised:
        return reading.info
    from medview.io.anonymize import Anonymiser

    return Anonymiser().series_info(reading.info)


def page_line(reading: Reading) -> str:
    """The identity line on every page: the patient id (or "anonymised") and the study date when kept."""
    info = shown_info(reading)
    patient = ANONYMISED if reading.anonymised else (info.patient_id or info.patient_name or "no patient id")
    parts = [f"Patient ID {patient}"]
    if info.study_date:
        parts.append(f"study {display_date(info.study_date)}")
    return " · ".join(parts)


def header_pairs(reading: Reading) -> list[tuple[str, str]]:
    """The report's header table, from `shown_info`: one list for both branches, empty values left out."""
    info = shown_info(reading)
    series = f"{info.series_number if info.series_number is not None else '-'} {info.series_description}".strip()
    pairs = [("Patient", ANONYMISED if reading.anonymised else info.patient_name),
             ("Patient ID", ANONYMISED if reading.anonymised else info.patient_id),
             ("Birth date", display_date(info.patient_birth_date)), ("Sex", info.patient_sex),
             ("Study date", display_date(info.study_date)), ("Accession", info.accession_number),
             ("Institution", info.institution), ("Modality", info.modality), ("Series", series),
             ("Study", info.study_description), ("Slices", str(reading.n_slices))]
    return [(key, value) for key, value in pairs if value not in ("", None)]
