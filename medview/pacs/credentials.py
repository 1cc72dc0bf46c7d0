"""DICOMweb credentials: from the environment or the OS keyring, never from a file medview writes, never
logged. The secret lives in one object whose repr hides it; the HTTP session is built from it and nothing else
keeps a copy.

Order: MEDVIEW_DICOMWEB_TOKEN (a bearer token); else MEDVIEW_DICOMWEB_USER and MEDVIEW_DICOMWEB_PASSWORD (HTTP
basic); else the keyring entry of service ``medview-dicomweb`` under the base URL as user name, whose secret
is either a bearer token written as ``token:SECRET`` or ``USER:PASSWORD`` (set it with
``keyring set medview-dicomweb https://pacs.example.org/dicom-web``); else no credentials.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from medview.errors import MedviewError

KEYRING_SERVICE = "medview-dicomweb"


@dataclass(frozen=True)
class Credentials:
    """How to authenticate, and where that came from (said to the user; the secret never is)."""

    source: str
    token: str | None = field(default=None, repr=False)
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # the dataclass repr would already hide them; say so explicitly
        return f"Credentials(source={self.source!r}, user={self.user!r}, secret=<hidden>)"

    __str__ = __repr__

    def apply(self, session) -> None:
        """Put the credentials on a requests.Session."""
        if self.token:
            session.headers["Authorization"] = f"Bearer {self.token}"
        elif self.user is not None:
            session.auth = (self.user, self.password or "")


NONE = Credentials("none")


def _from_keyring(url: str) -> Credentials | None:
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        return None
    try:
        secret = keyring.get_password(KEYRING_SERVICE, url)
    except (KeyringError, RuntimeError):  # no backend on this desktop: as if there were no entry
        return None
    if not secret:
        return None
    kind, sep, rest = secret.partition(":")
    if not sep or not rest:
        raise MedviewError(f"the keyring entry {KEYRING_SERVICE} for {url} is neither 'token:SECRET' nor "
                           "'USER:PASSWORD'")
    if kind == "token":
        return Credentials("keyring", token=rest)
    return Credentials("keyring", user=kind, password=rest)


def find_credentials(url: str, environ: dict | None = None) -> Credentials:
    """The credentials for the DICOMweb node at `url`."""
    env = os.environ if environ is None else environ
    if env.get("MEDVIEW_DICOMWEB_TOKEN"):
        return Credentials("MEDVIEW_DICOMWEB_TOKEN", token=env["MEDVIEW_DICOMWEB_TOKEN"])
    user, password = env.get("MEDVIEW_DICOMWEB_USER"), env.get("MEDVIEW_DICOMWEB_PASSWORD")
    if user:
        if password is None:
            raise MedviewError("MEDVIEW_DICOMWEB_USER is set but MEDVIEW_DICOMWEB_PASSWORD is not")
        return Credentials("MEDVIEW_DICOMWEB_USER/PASSWORD", user=user, password=password)
    return _from_keyring(url) or NONE
