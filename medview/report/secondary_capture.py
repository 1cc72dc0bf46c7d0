"""Key images as DICOM Secondary Capture (RGB, overlays burnt in), with highdicom, in the source's study and
pointing at the source image it shows."""

from __future__ import annotations

import numpy as np
import pydicom

from medview.core import orientation
from medview.core.reading import Reading

DESCRIPTION = "medview key images (AI overlays: research use only)"


def _biped(direction) -> str:
    """PatientOrientation of a biped, as highdicom takes it: the dominant direction's one letter, with head and
    foot as H and F (an oblique 'PI' is 'P'; a sagittal column direction 'I' is 'F')."""
    letter = orientation.direction_letters(direction)[0]
    return {"S": "H", "I": "F"}.get(letter, letter)


def key_image_dataset(reading: Reading, rgb: np.ndarray, reference: pydicom.Dataset, series_uid: str,
                      number: int, with_ai: bool, burned_in: bool = False):
    """One Secondary Capture image of the same patient and study as `reference` (the source slice's header).
    `burned_in`: the source's pixels may carry burnt-in text (`may_have_burned_in_text`), so the key image,
    which shows them, is marked BurnedInAnnotation YES; NO only when the source is known to be clean (the
    texts medview burns in carry no identity, see report.render)."""
    import highdicom as hd
    from pydicom.dataset import Dataset

    orientation_letters = (_biped(reading.row_cosine), _biped(reading.column_cosine))
    image = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=reference, pixel_array=np.ascontiguousarray(rgb), photometric_interpretation="RGB",
        bits_allocated=8, coordinate_system="PATIENT", series_instance_uid=series_uid, series_number=902,
        sop_instance_uid=hd.UID(), instance_number=number, manufacturer="medview",
        patient_orientation=orientation_letters, series_description=DESCRIPTION)
    source = Dataset()
    source.ReferencedSOPClassUID = reference.SOPClassUID
    source.ReferencedSOPInstanceUID = reference.SOPInstanceUID
    image.SourceImageSequence = [source]
    image.BurnedInAnnotation = "YES" if burned_in else "NO"
    image.ImageComments = ("Key image with AI saliency overlay: AI generated, research use only" if with_ai
                           else "Key image with measurements")
    if reading.anonymised:
        image.PatientIdentityRemoved = "YES"
        image.DeidentificationMethod = reference.get("DeidentificationMethod", "medview")
    return image
