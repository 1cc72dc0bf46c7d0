"""The PACS layer's own errors: each says which node and what to check, in one line."""

from medview.errors import MedviewError


class PacsError(MedviewError):
    """A PACS could not be reached, refused us, or answered with a failure."""


class CacheFull(PacsError):
    """The local cache cannot take more without going over its size limit."""
