"""A PACS node as the user configures it: a DIMSE node (host, port, the PACS's AE title, ours) or a DICOMweb
base URL. Checked once here, so a typo is one clear line, not a hang or a stack trace."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from medview.errors import MedviewError

DEFAULT_CALLING_AET = "MEDVIEW"
DEFAULT_SCP_PORT = 11113
DEFAULT_TIMEOUT = 10.0  # seconds: connecting, association, and each DIMSE message


def ae_title(text: str, option: str = "--aet") -> str:
    """An AE title: 1 to 16 characters of the default character repertoire, no backslash, not all spaces."""
    value = str(text).strip()
    if not value or len(value) > 16 or "\\" in value or not all(32 <= ord(ch) < 127 for ch in value):
        raise MedviewError(f"{option} {text!r} is not an AE title (1 to 16 letters, digits or spaces, "
                           "e.g. ORTHANC)")
    return value


def port(value, option: str = "--port") -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= 65535:
        raise MedviewError(f"{option} {value!r} is not a TCP port (1 to 65535)")
    return number


def host(text: str, option: str = "--host") -> str:
    value = str(text).strip()
    if not value or not re.fullmatch(r"[A-Za-z0-9.\-:\[\]_]+", value):
        raise MedviewError(f"{option} {text!r} is not a host name or address")
    return value


@dataclass(frozen=True)
class DimseNode:
    """A PACS reached over DIMSE. `calling_aet` is medview's own AE title (the PACS must know it), which is also
    the AE title of medview's storage SCP for C-MOVE, listening on `scp_port`."""

    host: str
    port: int
    aet: str
    calling_aet: str = DEFAULT_CALLING_AET
    scp_port: int = DEFAULT_SCP_PORT
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def checked(cls, host_text, port_value, aet_text, calling_aet=DEFAULT_CALLING_AET,
                scp_port=DEFAULT_SCP_PORT, timeout: float = DEFAULT_TIMEOUT) -> DimseNode:
        return cls(host(host_text), port(port_value), ae_title(aet_text),
                   ae_title(calling_aet, "--calling-aet"), port(scp_port, "--scp-port"), float(timeout))

    def __str__(self) -> str:
        return f"{self.aet}@{self.host}:{self.port}"


@dataclass(frozen=True)
class WebNode:
    """A PACS reached over DICOMweb: the base URL of its QIDO-RS / WADO-RS / STOW-RS services (e.g.
    https://pacs.example.org/dicom-web). Credentials are never part of it (see `credentials`)."""

    url: str
    timeout: float = 30.0

    @classmethod
    def checked(cls, url: str, timeout: float = 30.0) -> WebNode:
        parts = urlsplit(str(url).strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MedviewError(f"--url {url!r} is not a DICOMweb base URL (http:// or https://host/path)")
        if parts.username or parts.password:
            raise MedviewError("--url must not carry a user name or password: use MEDVIEW_DICOMWEB_USER / "
                               "MEDVIEW_DICOMWEB_PASSWORD, MEDVIEW_DICOMWEB_TOKEN or the keyring")
        return cls(str(url).strip().rstrip("/"), float(timeout))

    def __str__(self) -> str:
        return self.url
