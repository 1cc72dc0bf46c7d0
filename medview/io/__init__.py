"""Reading DICOM folders into volumes, and writing files atomically. Never imports torch or Qt."""
