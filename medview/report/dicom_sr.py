"""AI findings and measurements as a DICOM Structured Report, TID 1500 (Measurement Report), with highdicom.

Each measurement is a planar ROI group whose region is drawn on its source image (SCOORD: a polyline for a
length or an angle, a closed polyline for a rectangle, an ellipse by its axes); each AI finding is a group
with the model as Algorithm Identification (name, version, sha256), the label as its finding type and
the probability as a measurement: a point region where the model was clicked, the whole image for a
slice model. The reference datasets are the (possibly anonymised) headers of the source images.
"""

from __future__ import annotations

import numpy as np
import pydicom

from medview.core.measure import pixel_centre
from medview.core.reading import AiFinding, Measurement, Reading

#: a local coding scheme for medview's labels (99-prefixed designators are private by the standard)
SCHEME = "99MEDVIEW"
RESEARCH_ONLY = "AI generated, research use only (medview)"


def label_code(label: str):
    import highdicom as hd

    return hd.sr.CodedConcept(value=label.replace(" ", "-")[:16], scheme_designator=SCHEME, meaning=label)


def _units(name: str, unit: str):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    if unit == "mm":
        return codes.UCUM.Millimeter
    if unit == "mm2":
        return codes.UCUM.SquareMillimeter
    if unit == "deg":
        return codes.UCUM.Degree
    if unit == "HU":
        return codes.UCUM.HounsfieldUnit
    return hd.sr.CodedConcept("1", "UCUM", "no units")


def _concept(name: str):
    from pydicom.sr.codedict import codes

    return {"length": codes.SCT.Length, "angle": codes.SCT.Angle, "mean": codes.SCT.Mean,
            "SD": codes.SCT.StandardDeviation, "min": codes.SCT.Minimum, "max": codes.SCT.Maximum,
            "area": codes.SCT.Area, "long axis": codes.SCT.LongAxis, "short axis": codes.SCT.ShortAxis}[name]


def _region(measurement: Measurement, source):
    import highdicom as hd

    annotation = measurement.annotation
    points = np.array(annotation.points, dtype=np.float32)
    if annotation.kind in ("length", "angle"):
        return hd.sr.ImageRegion(hd.sr.GraphicTypeValues.POLYLINE, points, source)
    if annotation.kind == "bidimensional":  # the long axis (both lengths are the group's measurements)
        return hd.sr.ImageRegion(hd.sr.GraphicTypeValues.POLYLINE, points[:2], source)
    (c0, r0), (c1, r1) = annotation.points
    if annotation.kind == "rectangle":
        corners = np.array([(c0, r0), (c1, r0), (c1, r1), (c0, r1), (c0, r0)], dtype=np.float32)
        return hd.sr.ImageRegion(hd.sr.GraphicTypeValues.POLYLINE, corners, source)
    cc, rc = (c0 + c1) / 2, (r0 + r1) / 2
    axes = np.array([(c0, rc), (c1, rc), (cc, r0), (cc, r1)], dtype=np.float32)
    if abs(c1 - c0) < abs(r1 - r0):  # the first pair is the major axis
        axes = axes[[2, 3, 0, 1]]
    return hd.sr.ImageRegion(hd.sr.GraphicTypeValues.ELLIPSE, axes, source)


def _source_for_region(dataset: pydicom.Dataset, frame: int | None):
    import highdicom as hd

    return hd.sr.SourceImageForRegion(dataset.SOPClassUID, dataset.SOPInstanceUID,
                                      referenced_frame_numbers=[frame] if frame else None)


def algorithm(finding: AiFinding):
    import highdicom as hd

    parameters = [f"sha256={finding.model_sha256}", f"task={finding.task}"]
    if not finding.fits:
        parameters.append("does not fit this series: " + ("; ".join(finding.does_not_fit) or "unstated"))
    return hd.sr.AlgorithmIdentification(name=finding.model_name, version=finding.model_version,
                                         parameters=parameters)


def fit_evaluation(finding: AiFinding):
    """Whether the model was made for this series, as a coded qualitative evaluation of the finding (the
    reasons are in the algorithm's parameters)."""
    import highdicom as hd

    value = (hd.sr.CodedConcept("FITS", SCHEME, "model fits this series") if finding.fits else
             hd.sr.CodedConcept("DOES-NOT-FIT", SCHEME, "model does not fit this series"))
    return hd.sr.QualitativeEvaluation(hd.sr.CodedConcept("MODEL-FIT", SCHEME, "Model fit to the series"), value)


def impression_item(impression: str):
    """The reader's impression as TID 1500 text: a TEXT (121073, DCM, "Impression") in the report's
    Qualitative Evaluations container."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    container = hd.sr.ContainerContentItem(
        name=hd.sr.CodedConcept("C0034375", "UMLS", "Qualitative Evaluations"), relationship_type="CONTAINS")
    container.ContentSequence = [hd.sr.TextContentItem(name=codes.DCM.Impression, value=impression,
                                                       relationship_type="CONTAINS")]
    return container


def _finding_group(i: int, finding: AiFinding, dataset: pydicom.Dataset, frame: int | None):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    algorithm_id = algorithm(finding)
    tracking = hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"AI finding {i}: AI generated, research use only")
    measurements = [hd.sr.Measurement(codes.DCM.Probability, float(finding.probability),
                                      hd.sr.CodedConcept("1", "UCUM", "no units"), algorithm_id=algorithm_id)]
    common = dict(tracking_identifier=tracking, finding_type=label_code(finding.label), algorithm_id=algorithm_id,
                  measurements=measurements, qualitative_evaluations=[fit_evaluation(finding)])
    if finding.point is not None:
        centre = pixel_centre(finding.point)  # SCOORD is continuous: (0, 0) is the image's top-left corner
        region = hd.sr.ImageRegion(hd.sr.GraphicTypeValues.POINT, np.array([centre], dtype=np.float32),
                                   _source_for_region(dataset, frame))
        return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(referenced_region=region, **common)
    source = hd.sr.SourceImageForMeasurementGroup(dataset.SOPClassUID, dataset.SOPInstanceUID,
                                                  referenced_frame_numbers=[frame] if frame else None)
    return hd.sr.MeasurementsAndQualitativeEvaluations(source_images=[source], **common)


def _measurement_group(i: int, measurement: Measurement, dataset: pydicom.Dataset, frame: int | None,
                       frame_of_reference: str = ""):
    import highdicom as hd

    where = f" on the {measurement.plane}" if measurement.plane else ""
    tracking = hd.sr.TrackingIdentifier(uid=hd.UID(),
                                        identifier=f"measurement {i}: {measurement.annotation.kind}{where}")
    values = [hd.sr.Measurement(_concept(v.name), float(v.value), _units(v.name, v.unit))
              for v in measurement.values if np.isfinite(v.value)]
    if measurement.points_lps:  # drawn on a reformat: its points in patient space (SCOORD3D), no one source image
        region = _region_3d(measurement, frame_of_reference or dataset.FrameOfReferenceUID)
    else:
        region = _region(measurement, _source_for_region(dataset, frame))
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking, referenced_region=region, measurements=values)


def _region_3d(measurement: Measurement, frame_of_reference: str):
    """A reformat's measurement in LPS mm: the polyline of a length or angle, the closed outline of a rectangle,
    the two axes of an ellipse (as `_region` gives them in 2D), from the points the plane maps them to."""
    import highdicom as hd

    points = np.array(measurement.points_lps, dtype=np.float64)
    kind = measurement.annotation.kind
    if kind == "bidimensional":
        points = points[:2]
    if kind == "ellipse":
        return hd.sr.ImageRegion3D(hd.sr.GraphicTypeValues3D.ELLIPSE, points, frame_of_reference)
    if kind == "rectangle":
        return hd.sr.ImageRegion3D(hd.sr.GraphicTypeValues3D.POLYGON, np.vstack([points, points[:1]]),
                                   frame_of_reference)
    return hd.sr.ImageRegion3D(hd.sr.GraphicTypeValues3D.POLYLINE, points, frame_of_reference)


#: patient and study attributes of type 2 that highdicom copies from the evidence into the SR: a source that
#: leaves one out (the GE gantry-tilt CT has no PatientBirthDate) gets it empty, as type 2 allows
TYPE_2_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID",
                 "StudyDate", "StudyTime", "ReferringPhysicianName")


def _with_study_attributes(dataset: pydicom.Dataset) -> pydicom.Dataset:
    missing = [name for name in TYPE_2_COPIED if name not in dataset]
    if not missing:
        return dataset
    copy = pydicom.Dataset(dataset)
    for name in missing:
        setattr(copy, name, "")
    return copy


def structured_report(reading: Reading, references: dict[int, tuple[pydicom.Dataset, int | None]]):
    """A highdicom Comprehensive3DSR. `references[k]` = (header of slice k's source image, its frame number or
    None for a single-frame file)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    groups = []
    for i, finding in enumerate(reading.findings, 1):
        groups.append(_finding_group(i, finding, *references[finding.k]))
    for i, measurement in enumerate(reading.measurements, 1):
        if measurement.values:
            groups.append(_measurement_group(i, measurement, *references[measurement.k],
                                             frame_of_reference=reading.info.frame_of_reference_uid))
    person = None
    if reading.reader.strip():
        person = hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=reading.reader.strip()))
    observation = hd.sr.ObservationContext(
        observer_person_context=person,
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(uid=hd.UID(), name="medview")))
    content = hd.sr.MeasurementReport(observation_context=observation,
                                      procedure_reported=codes.SCT.ImagingProcedure,
                                      imaging_measurements=groups)
    if reading.impression.strip():
        content[0].ContentSequence.append(impression_item(reading.impression.strip()))
    evidence = [_with_study_attributes(ds) for ds in {ds.SOPInstanceUID: ds for ds, _ in references.values()}.values()]
    return hd.sr.Comprehensive3DSR(
        evidence=evidence, content=content[0], series_instance_uid=hd.UID(), series_number=901,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="medview",
        series_description=RESEARCH_ONLY)
