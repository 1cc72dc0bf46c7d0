"""Reports: PDF, HTML, DICOM SR and Secondary Capture."""
