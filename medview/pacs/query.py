"""What the user searches for, and what the PACS answers: plain data shared by DIMSE and DICOMweb.

A study search takes the patient's name or id, a date range, a modality and an accession number; its answer
is a list of studies, each with its series (C-FIND at study level, then at series level). `as_json` gives the
shape `medview pacs find --json` prints.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field

from medview.errors import MedviewError

UID_PATTERN = re.compile(r"[0-9]+(\.[0-9]+)*")


def checked_uid(value, what: str = "UID") -> str:
    """A DICOM UID (digits and dots, at most 64 characters): only then may it name a file or a folder."""
    text = str(value or "").strip().rstrip("\x00")
    if not (0 < len(text) <= 64 and UID_PATTERN.fullmatch(text)):
        raise MedviewError(f"{what} {str(value)[:80]!r} is not a DICOM UID (digits and dots, at most 64)")
    return text


def dicom_date(text: str | None, option: str) -> str | None:
    """YYYYMMDD or YYYY-MM-DD (a real calendar date) as DICOM's YYYYMMDD."""
    if text is None or not str(text).strip():
        return None
    value = str(text).strip()
    for pattern in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return _dt.datetime.strptime(value, pattern).strftime("%Y%m%d")
        except ValueError:
            continue
    raise MedviewError(f"{option} {text!r} is not a date: YYYYMMDD or YYYY-MM-DD, e.g. 2026-12-01")


@dataclass(frozen=True)
class StudyQuery:
    """A study search. Empty fields match everything; a name may hold DICOM wildcards (* and ?)."""

    patient_id: str = ""
    patient_name: str = ""
    modality: str = ""
    date_from: str | None = None
    date_to: str | None = None
    accession: str = ""
    study_uid: str = ""

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise MedviewError(f"--date-from {self.date_from} is after --date-to {self.date_to}")
        for name in ("patient_id", "patient_name", "modality", "accession"):
            if "\\" in getattr(self, name) or len(getattr(self, name)) > 64:
                raise MedviewError(f"the {name.replace('_', ' ')} may not hold a backslash or exceed 64 characters")

    @property
    def date_range(self) -> str:
        """DICOM range matching: 'FROM-TO', 'FROM-', '-TO' or '' (any date)."""
        if not (self.date_from or self.date_to):
            return ""
        if self.date_from == self.date_to:
            return self.date_from or ""
        return f"{self.date_from or ''}-{self.date_to or ''}"


@dataclass
class SeriesMatch:
    series_uid: str
    modality: str = ""
    number: int | None = None
    description: str = ""
    n_instances: int | None = None

    def as_json(self) -> dict:
        return {"SeriesInstanceUID": self.series_uid, "Modality": self.modality, "SeriesNumber": self.number,
                "SeriesDescription": self.description, "NumberOfSeriesRelatedInstances": self.n_instances}


@dataclass
class StudyMatch:
    study_uid: str
    patient_id: str = ""
    patient_name: str = ""
    date: str = ""
    modalities: list[str] = field(default_factory=list)
    accession: str = ""
    description: str = ""
    series: list[SeriesMatch] = field(default_factory=list)
    sop_classes: list[str] = field(default_factory=list)  # SOPClassesInStudy, when the PACS says

    def as_json(self) -> dict:
        return {"StudyInstanceUID": self.study_uid, "PatientID": self.patient_id,
                "PatientName": self.patient_name, "StudyDate": self.date, "ModalitiesInStudy": self.modalities,
                "AccessionNumber": self.accession, "series": [s.as_json() for s in self.series]}


@dataclass(frozen=True)
class InstanceMatch:
    """One instance of a series as the PACS lists it: what a retrieve must bring, and in which SOP class."""

    sop_uid: str
    sop_class_uid: str
    number: int | None = None


def as_json(studies: list[StudyMatch]) -> dict:
    return {"studies": [study.as_json() for study in studies]}


def to_int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def matches_modality(study: StudyMatch, modality: str) -> bool:
    """A PACS that ignores ModalitiesInStudy as a key (it is optional) gets checked here, on the series."""
    if not modality:
        return True
    wanted = modality.upper()
    return wanted in (m.upper() for m in study.modalities) or any(s.modality.upper() == wanted for s in study.series)
