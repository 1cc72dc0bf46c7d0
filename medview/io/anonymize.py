"""The one anonymiser, used by every export.

Built on dicom-anonymizer (KitwareMedical), which applies the DICOM PS3.15 Annex E basic profile tables
(here the 2024b edition) rather than a hand-written tag list. Chosen over the alternatives after reading how
each treats what matters here:

- UIDs: its U action maps every UID through one dictionary, so a source UID gets the same new UID wherever it
  appears. medview gives each export its own dictionary, so one export is consistent within itself (the SR and
  the Secondary Capture reference the same new study and image UIDs) and two exports cannot be linked.
- Dates: the library writes a dummy (0001-01-01, 00:00) where the profile removes or empties a date or time;
  medview then leaves those values empty, so no output ever shows 0001-01-01.
- Private tags: removed (they can hold names: Philips and Siemens keep patient data there).
dicognito replaces values by VR but keeps private tags; pydicom's deid recipes need a recipe file to be kept
current by hand.
"""

from __future__ import annotations

import copy
import dataclasses
import threading

import pydicom

from medview.core.volume import SeriesInfo

_LOCK = threading.Lock()  # the library keeps its UID dictionary in a module global

#: DeidentificationMethod (LO: at most 64 characters)
METHOD = "medview: PS3.15 basic profile (dicom-anonymizer 2024b)"
#: what the library writes for a removed date, date-time or time, and for a replaced (D) text
_DUMMY_DATES = {"DA": "00010101", "DT": "00010101010101.000000+0000", "TM": "000000.00"}
DUMMY_TEXT = "ANONYMIZED"
#: where images are often made with text burnt into their pixels (names, dates): ultrasound, secondary
#: capture, radiographs, angiography, other. A CT, MR, PT or NM slice that does not say is taken as clean.
PIXEL_TEXT_MODALITIES = ("US", "SC", "CR", "DX", "XA", "OT")
#: SeriesInfo field -> the attribute it was read from; a field not listed here is left out of an anonymised
#: report (unknown means removed), so a field added later can never leak
INFO_ATTRIBUTES = {
    "patient_name": "PatientName", "patient_id": "PatientID", "patient_birth_date": "PatientBirthDate",
    "patient_sex": "PatientSex", "study_instance_uid": "StudyInstanceUID", "study_date": "StudyDate",
    "study_time": "StudyTime", "study_description": "StudyDescription", "accession_number": "AccessionNumber",
    "series_instance_uid": "SeriesInstanceUID", "series_number": "SeriesNumber",
    "series_description": "SeriesDescription", "modality": "Modality", "body_part": "BodyPartExamined",
    "manufacturer": "Manufacturer", "institution": "InstitutionName", "frame_of_reference_uid": "FrameOfReferenceUID",
    "contrast_agent": "ContrastBolusAgent", "scanning_sequence": "ScanningSequence",
    "sequence_variant": "SequenceVariant", "sequence_name": "SequenceName", "protocol_name": "ProtocolName",
}


def may_have_burned_in_text(dataset: pydicom.Dataset) -> bool:
    """Whether an image's pixels may carry burnt-in identity: BurnedInAnnotation YES (any modality), or not
    stated on a modality where that is common (`PIXEL_TEXT_MODALITIES`)."""
    stated = str(dataset.get("BurnedInAnnotation", "") or "").strip().upper()
    if stated in ("YES", "NO"):
        return stated == "YES"
    return str(dataset.get("Modality", "") or "").strip().upper() in PIXEL_TEXT_MODALITIES


def _clear_dummy_dates(dataset: pydicom.Dataset) -> None:
    """Dates and times the library set to its dummy are left empty instead (removed, never 0001-01-01)."""
    def clear(_dataset, element) -> None:
        if element.VR in _DUMMY_DATES and element.value == _DUMMY_DATES[element.VR]:
            element.value = ""
    dataset.walk(clear)


class Anonymiser:
    """One export's anonymiser: the same source UID always gets the same new UID within it."""

    def __init__(self) -> None:
        self.uid_map: dict[str, str] = {}

    def anonymise(self, dataset: pydicom.Dataset) -> pydicom.Dataset:
        """An anonymised copy of `dataset` (the source is left as it was)."""
        from dicomanonymizer import simpledicomanonymizer as library

        result = copy.deepcopy(dataset)
        with _LOCK:
            saved, library.dictionary = library.dictionary, self.uid_map
            try:
                library.anonymize_dataset(result, delete_private_tags=True,
                                          base_rules_gen=library.initialize_actions_2024b)
            finally:
                library.dictionary = saved
        _clear_dummy_dates(result)
        result.PatientIdentityRemoved = "YES"
        result.DeidentificationMethod = METHOD
        return result

    def series_info(self, info: SeriesInfo) -> SeriesInfo:
        """What a report may print of a series: `info` put through the very same profile as the DICOM
        outputs (its fields written as their attributes, anonymised, read back). Removed and dummy values
        come back empty; fields with no attribute behind them come back empty."""
        dataset = pydicom.Dataset()
        for name, keyword in INFO_ATTRIBUTES.items():
            value = getattr(info, name)
            if value not in ("", None):
                setattr(dataset, keyword, value)
        anonymised = self.anonymise(dataset)
        fields = {}
        for field in dataclasses.fields(SeriesInfo):
            keyword = INFO_ATTRIBUTES.get(field.name)
            value = anonymised.get(keyword) if keyword else None
            if field.name == "series_number":
                fields[field.name] = int(value) if value not in (None, "") else None
            else:
                text = "" if value is None else str(value)
                fields[field.name] = "" if text == DUMMY_TEXT else text
        return SeriesInfo(**fields)

    def uid(self, source_uid: str) -> str:
        """The new UID of a source UID in this export (made now if it was not met yet)."""
        from dicomanonymizer import simpledicomanonymizer as library

        with _LOCK:
            saved, library.dictionary = library.dictionary, self.uid_map
            try:
                return library.get_UID(source_uid)
            finally:
                library.dictionary = saved
