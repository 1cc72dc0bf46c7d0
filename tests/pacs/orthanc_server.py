"""A real Orthanc for the PACS tests and the benchmark: started on free loopback ports with a temporary storage
folder and a generated configuration, stopped (and its folder removed) afterwards. The system service is never
used: `Orthanc CONFIG` runs as a child process of the test run.

Orthanc is configured as a hospital PACS would be for a viewer: it checks the called AE title (a wrong one is
refused), knows medview's storage SCP as a C-MOVE destination, allows C-FIND, C-GET and C-MOVE from medview's
AE title, and serves DICOMweb (QIDO-RS, WADO-RS, STOW-RS) under /dicom-web/ behind HTTP basic authentication.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
AET = "ORTHANC"
USER, PASSWORD = "medview", "s3cret-pacs-password"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class OrthancServer:
    """One Orthanc process. `start()` waits until its REST API answers; `stop()` ends it (SIGTERM, then KILL);
    `kill()` stops it at once, as a crash or a pulled cable would; `start()` again brings it back on the same
    ports and storage."""

    folder: Path
    calling_aet: str = "MEDVIEW"
    scp_port: int = field(default_factory=free_port)
    dicom_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    elsewhere_port: int = field(default_factory=free_port)  # another workstation, a C-MOVE destination
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    def write_config(self) -> Path:
        config = {
            "Name": "medview-test-orthanc",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "storage"),
            "StorageCompression": False,
            "Plugins": [DICOMWEB_PLUGIN],
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "DicomServerEnabled": True,
            "DicomAet": AET,
            "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": True,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomModalities": {
                "medview": {"AET": self.calling_aet, "Host": "127.0.0.1", "Port": self.scp_port,
                            "AllowEcho": True, "AllowFind": True, "AllowGet": True, "AllowMove": True,
                            "AllowStore": True},
                "elsewhere": {"AET": "ELSEWHERE", "Host": "127.0.0.1", "Port": self.elsewhere_port},
            },
            "DicomScuTimeout": 10,
            "DicomScpTimeout": 30,
            "DicomAssociationCloseDelay": 0,
            "StableAge": 1,
            "ConcurrentJobs": 1,
            "HttpThreadsCount": 8,
            "DicomThreadsCount": 4,
            "LuaScripts": [],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False, "Host": "127.0.0.1",
                         "Ssl": False, "StudiesMetadata": "Full", "SeriesMetadata": "Full"},
        }
        path = self.folder / "orthanc.json"
        path.write_text(json.dumps(config, indent=1), encoding="utf-8")
        return path

    def start(self, timeout: float = 30.0) -> OrthancServer:
        import requests

        if not os.path.exists(ORTHANC) or not os.path.exists(DICOMWEB_PLUGIN):
            raise RuntimeError("Orthanc is not installed: apt-get install orthanc orthanc-dicomweb (.ci/run does)")
        (self.folder / "storage").mkdir(parents=True, exist_ok=True)
        config = self.write_config()
        log = open(self.folder / "orthanc.log", "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.process = subprocess.Popen([ORTHANC, "--logfile=" + str(self.folder / "orthanc.log"), str(config)],
                                        stdout=subprocess.DEVNULL, stderr=log, cwd=self.folder, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited at start-up; see {self.folder / 'orthanc.log'}")
            try:
                answer = requests.get(f"{self.url}/system", auth=(USER, PASSWORD), timeout=1)
                if answer.ok and self._dicom_listening():
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("Orthanc did not answer within 30 s")

    def _dicom_listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=0.5):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        """Stop at once (SIGKILL): the association in flight is cut, as when a server crashes."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    # -- the REST API, for putting the test studies in and looking at what came back --------------------------
    def upload(self, files) -> list[str]:
        """Store files through Orthanc's REST API (not through medview); returns Orthanc's instance ids."""
        import requests

        ids = []
        with requests.Session() as session:
            session.auth = (USER, PASSWORD)
            for path in files:
                answer = session.post(f"{self.url}/instances", data=Path(path).read_bytes(), timeout=30)
                answer.raise_for_status()
                ids.append(answer.json()["ID"])
        return ids

    def rest(self, path: str, method: str = "GET", **kwargs):
        import requests

        answer = requests.request(method, f"{self.url}{path}", auth=(USER, PASSWORD), timeout=30, **kwargs)
        answer.raise_for_status()
        return answer.json() if answer.content else None


def start_orthanc(calling_aet: str = "MEDVIEW") -> OrthancServer:
    folder = Path(tempfile.mkdtemp(prefix="medview-orthanc-"))
    return OrthancServer(folder, calling_aet=calling_aet).start()


def remove(server: OrthancServer) -> None:
    """Stop the server and delete its storage: nothing of it is kept, so it need not shut down gracefully
    (a graceful stop takes Orthanc about 3 s)."""
    server.kill()
    shutil.rmtree(server.folder, ignore_errors=True)


if __name__ == "__main__":  # a manual check: start, print the ports, stop on Ctrl+C
    server = start_orthanc()
    print(json.dumps({"dicom_port": server.dicom_port, "http": server.url, "folder": str(server.folder)}))
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        remove(server)
        os._exit(0)
