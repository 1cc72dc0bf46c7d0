"""The project's own exceptions: each carries a message a radiologist can act on.

The CLI prints them as one line; the GUI shows them in place. Nothing is swallowed silently.
"""


class MedviewError(Exception):
    """Base of every error medview raises on purpose."""


class NotDicomError(MedviewError):
    """A file is not DICOM, or too damaged to read its header."""


class ImageRefused(NotDicomError):
    """A readable file that gives no image, with the reason as its message (not an image, too large, ...)."""


class DecodeError(MedviewError):
    """The pixel data of an image could not be decoded."""


class GeometryError(MedviewError):
    """Images cannot be put together as one volume with a consistent geometry."""


class NothingLoadedError(MedviewError):
    """A folder held no image that could be loaded."""


class Cancelled(MedviewError):
    """The user cancelled a long operation."""


class ModelError(MedviewError):
    """A model folder is missing, malformed, tampered with or unfit for the image."""


class ExportError(MedviewError):
    """An output could not be written (unwritable target, full disk)."""
