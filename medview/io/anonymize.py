"""The one anonymiser, used by every export.

Built on dicom-anonymizer (KitwareMedical), which applies the DICOM PS3.15 Annex E basic profile tables
(here the 2024b edition) rather than a hand-written tag list. Chosen over the alternatives after reading how
each treats what matters here:

- UIDs: its U action maps every UID through one dictionary, so a source UID gets the same new UID wherever it
  appears. medview gives each export its own dictionary, so one export is consistent within itself (the SR and
  the Secondary Capture reference the same new study and image UIDs) and two exports cannot be linked.
- Dates: dates and times are replaced by a dummy (0001-01-01), i.e. removed, consistently everywhere.
- Private tags: removed (they can hold names: Philips and Siemens keep patient data there).
dicognito replaces values by VR but keeps private tags; pydicom's deid recipes need a recipe file to be kept
current by hand.
"""

from __future__ import annotations

import copy
import threading

import pydicom

_LOCK = threading.Lock()  # the library keeps its UID dictionary in a module global

#: DeidentificationMethod (LO: at most 64 characters)
METHOD = "medview: PS3.15 basic profile (dicom-anonymizer 2024b)"


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
        result.PatientIdentityRemoved = "YES"
        result.DeidentificationMethod = METHOD
        return result

    def uid(self, source_uid: str) -> str:
        """The new UID of a source UID in this export (made now if it was not met yet)."""
        from dicomanonymizer import simpledicomanonymizer as library

        with _LOCK:
            saved, library.dictionary = library.dictionary, self.uid_map
            try:
                return library.get_UID(source_uid)
            finally:
                library.dictionary = saved
