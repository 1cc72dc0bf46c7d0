"""PACS transfer benchmark: the 275-slice chest CT retrieved over loopback from a real Orthanc, by C-GET, C-MOVE
and WADO-RS into medview's cache, beside Orthanc's own transfer to a plain SCU timed in the same run.

    PYTHONPATH=. QT_QPA_PLATFORM=offscreen python benchmarks/pacs.py [--repeats 3]   (from the project root)

Orthanc is started by the benchmark (free loopback ports, a temporary storage folder, stopped afterwards) and
the study (../shared/data/samples/ct_chest_lidc_0314, 275 files) uploaded through its REST API. Every figure is
the median of --repeats runs, each into an empty cache. MB/s counts the bytes of the DICOM files received.

Rows:
- reference C-GET: a plain pynetdicom SCU (one SERIES-level C-GET, the handler keeps nothing): what Orthanc
  and pynetdicom give on their own;
- reference WADO-RS: the series as one multipart response read by plain `requests` (bytes only);
- medview C-GET / C-MOVE / WADO-RS: `retrieve_study` into the cache (C-FIND of study, series and instances,
  header checks, each file written atomically with fsync);
- first image: from the start to the first retrieved instance decoded into HU (pydicom, rescale applied) —
  the soonest any viewer could draw a slice;
- in the window (offscreen Qt), from the dock's Retrieve: the first slice shown (the first image that arrived,
  shown alone at once: the main window's first `series_shown`), and the first series shown whole (its
  `series_loaded` with every slice: the whole transfer, the scan and the decode).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CT = ROOT.parent / "shared" / "data" / "samples" / "ct_chest_lidc_0314"
LOCK = Path("/tmp/medview-training.lock")


def reference_get(server, study_uid: str, series_uid: str) -> dict:
    """Orthanc → a plain pynetdicom C-GET SCU that counts bytes and keeps nothing."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE, build_role, evt
    from pynetdicom.sop_class import CTImageStorage, StudyRootQueryRetrieveInformationModelGet

    received = {"bytes": 0, "n": 0, "first": None}
    started = time.perf_counter()

    def on_store(event):
        received["bytes"] += len(event.encoded_dataset(include_meta=True))
        received["n"] += 1
        if received["first"] is None:
            received["first"] = time.perf_counter() - started
        return 0x0000

    ae = AE(ae_title="MEDVIEW")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_requested_context(CTImageStorage)
    assoc = ae.associate("127.0.0.1", server.dicom_port, ae_title="ORTHANC",
                         ext_neg=[build_role(CTImageStorage, scp_role=True)],
                         evt_handlers=[(evt.EVT_C_STORE, on_store)])
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "SERIES"
    identifier.StudyInstanceUID = study_uid
    identifier.SeriesInstanceUID = series_uid
    for _status, _ in assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet):
        pass
    assoc.release()
    return {"seconds": time.perf_counter() - started, "bytes": received["bytes"], "n": received["n"],
            "first": received["first"]}


def reference_wado(server, study_uid: str, series_uid: str) -> dict:
    """Orthanc's DICOMweb plugin → plain `requests`, the multipart body read and dropped."""
    import requests

    from tests.pacs.orthanc_server import PASSWORD, USER

    started = time.perf_counter()
    first = None
    total = 0
    with requests.get(f"{server.dicomweb}/studies/{study_uid}/series/{series_uid}", auth=(USER, PASSWORD),
                      headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'},
                      stream=True, timeout=120) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_content(1 << 20):
            if first is None:
                first = time.perf_counter() - started
            total += len(chunk)
    return {"seconds": time.perf_counter() - started, "bytes": total, "n": None, "first": first}


def medview_retrieve(client, study_uid: str, method: str) -> dict:
    import pydicom

    from medview.pacs.cache import Cache
    from medview.pacs.retrieve import InstanceArrived, follow, retrieve_study

    cache = Cache()
    if cache.find(study_uid) is not None or cache.study_folder(study_uid).exists():
        cache.forget(study_uid)
    started = time.perf_counter()
    first = None
    counts = {"bytes": 0, "n": 0}

    def arrived(event) -> None:
        nonlocal first
        if isinstance(event, InstanceArrived):
            counts["bytes"] += event.arrived.size
            counts["n"] += 1
            if first is None:
                dataset = pydicom.dcmread(event.arrived.path)
                _hounsfield = dataset.pixel_array * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
                first = time.perf_counter() - started

    result = follow(retrieve_study(client, study_uid, cache, method=method), arrived)
    seconds = time.perf_counter() - started
    assert result.complete, [s.summary() for s in result.series]
    return {"seconds": seconds, "bytes": counts["bytes"], "n": counts["n"], "first": first}


def first_slice_shown(server, study, method: str) -> tuple[float, float]:
    """Seconds from the dock's Retrieve to the window's first slice shown (the first image that arrived, alone),
    and to the first series shown whole (every slice decoded), offscreen Qt."""
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from medview.gui.main_window import MainWindow
    from medview.pacs.cache import Cache

    Cache().forget(study.study_uid) if Cache().study_folder(study.study_uid).exists() else None
    app = QApplication.instance() or QApplication([])
    folder = tempfile.mkdtemp(prefix="medview-bench-settings-")
    window = MainWindow(QSettings(os.path.join(folder, "s.ini"), QSettings.Format.IniFormat), with_inference=False)
    window.show()
    dock = window.pacs
    node = {"name": "orthanc", "kind": "dimse", "host": "127.0.0.1", "port": str(server.dicom_port),
            "aet": "ORTHANC", "calling_aet": "MEDVIEW", "scp_port": str(server.scp_port)}
    if method == "WADO-RS":
        node = {"name": "orthanc", "kind": "web", "url": server.dicomweb}
    dock.add_node(node)
    dock._found([study])
    dock.method.setCurrentText(method)
    loop = QEventLoop()
    shown = {}
    expected = study.series[0].n_instances

    def whole(_index) -> None:
        if window.shown is not None and window.shown.n_slices == expected and "whole" not in shown:
            shown["whole"] = time.perf_counter()
            loop.quit()

    window.series_shown.connect(lambda _i: shown.setdefault("first", time.perf_counter()))
    window.series_loaded.connect(whole)
    dock.failed.connect(lambda message: (print("failed:", message), loop.quit()))
    QTimer.singleShot(600_000, loop.quit)
    started = time.perf_counter()
    dock.retrieve()
    loop.exec()
    seconds = (shown.get("first", float("nan")) - started, shown.get("whole", float("nan")) - started)
    done = QEventLoop()
    if dock.retrieving:
        dock.retrieved.connect(lambda _r: done.quit())
        done.exec()
    window.cancel_loading()
    window.close()
    app.processEvents()
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", default=str(CT), help="the study to retrieve (default: the 275-slice CT)")
    parser.add_argument("--smoke", action="store_true",
                        help="check that the script runs (any folder, even while a model trains); no figures")
    args = parser.parse_args()
    if LOCK.exists() and not args.smoke:
        print(f"{LOCK} exists: a model is training on this machine; benchmark later", file=sys.stderr)
        return 2
    os.environ["MEDVIEW_DATA"] = tempfile.mkdtemp(prefix="medview-bench-data-")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from medview.pacs.credentials import Credentials
    from medview.pacs.dicomweb import WebClient
    from medview.pacs.dimse import DimseClient
    from medview.pacs.nodes import DimseNode, WebNode
    from medview.pacs.query import StudyQuery
    from tests.pacs.orthanc_server import PASSWORD, USER, remove, start_orthanc

    files = sorted(p for p in Path(args.folder).rglob("*") if p.is_file() and p.suffix == ".dcm")
    server = start_orthanc()
    try:
        server.upload(files)
        os.environ["MEDVIEW_DICOMWEB_USER"], os.environ["MEDVIEW_DICOMWEB_PASSWORD"] = USER, PASSWORD
        dimse = DimseClient(DimseNode("127.0.0.1", server.dicom_port, "ORTHANC", "MEDVIEW", server.scp_port, 30.0))
        web = WebClient(WebNode.checked(server.dicomweb, timeout=60), Credentials("benchmark", user=USER,
                                                                                  password=PASSWORD))
        [study] = dimse.find(StudyQuery())
        series_uid = study.series[0].series_uid
        rows = {
            "reference C-GET (plain pynetdicom SCU)": lambda: reference_get(server, study.study_uid, series_uid),
            "reference WADO-RS (plain requests)": lambda: reference_wado(server, study.study_uid, series_uid),
            "medview C-GET into the cache": lambda: medview_retrieve(dimse, study.study_uid, "get"),
            "medview C-MOVE into the cache": lambda: medview_retrieve(dimse, study.study_uid, "move"),
            "medview WADO-RS into the cache": lambda: medview_retrieve(web, study.study_uid, "get"),
        }
        table = {}
        for name, run in rows.items():
            runs = [run() for _ in range(args.repeats)]
            table[name] = {key: statistics.median(r[key] for r in runs) for key in ("seconds", "bytes", "first")}
            table[name]["n"] = runs[0]["n"]
        shown = {}
        for method in ("C-GET", "WADO-RS"):
            runs = [first_slice_shown(server, study, method) for _ in range(args.repeats)]
            shown[method] = tuple(statistics.median(r[i] for r in runs) for i in range(2))
    finally:
        remove(server)
    if args.smoke:
        print("smoke run: the script works; these are not figures")
    print(f"{args.folder} ({sum(p.stat().st_size for p in files) / 1e6:.1f} MB in {len(files)} files) over "
          f"loopback from Orthanc, median of {args.repeats}")
    print(f"{'row':42} {'instances':>9} {'seconds':>8} {'MB/s':>7} {'first image s':>14}")
    for name, row in table.items():
        print(f"{name:42} {row['n'] or '-':>9} {row['seconds']:>8.2f} {row['bytes'] / 1e6 / row['seconds']:>7.1f} "
              f"{row['first']:>14.3f}")
    for method, (first, whole) in shown.items():
        print(f"in the window, {method:8}: first slice shown {first:.2f} s, the series shown whole {whole:.2f} s "
              "(from Retrieve)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
