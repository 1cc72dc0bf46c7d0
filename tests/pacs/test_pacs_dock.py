"""The PACS dock and the report dialog's Send, in a real window against a real Orthanc: search, retrieve in a
worker with progress per series (the first series on screen while the rest arrives), Cancel, the cache
(open without the network, forget), and the report sent back with a result per instance."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from PySide6.QtCore import QSettings, Qt

from medview.gui.main_window import MainWindow
from medview.gui.pacs_dock import HERE, read_nodes
from medview.pacs.cache import Cache
from tests.pacs.conftest import study_uid_of

TIMEOUT = 60_000
KEPT: list = []  # windows are kept alive to the end: a worker that ends late never calls into a deleted widget


@pytest.fixture
def window(qtbot, tmp_path, orthanc):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    main = MainWindow(settings, with_inference=False)
    main.resize(1400, 900)
    main.show()
    qtbot.waitExposed(main)
    main.pacs_dock.show()
    main.pacs.add_node({"name": "orthanc", "kind": "dimse", "host": "127.0.0.1", "port": str(orthanc.dicom_port),
                        "aet": "ORTHANC", "calling_aet": "MEDVIEW", "scp_port": str(orthanc.scp_port)})
    yield main
    close(qtbot, main)


def close(qtbot, main) -> None:
    """Cancel the window's jobs and wait until their workers have ended (a worker ending after its window was
    deleted would call into a deleted widget)."""
    seen: list = []
    for _ in range(200):  # a cancelled scan's last yields may still start a load: cancel until all is quiet
        jobs = list(main.jobs.values()) + list(main.pacs.jobs.values())
        jobs += [j for j in (getattr(main, "save_job", None),) if j is not None]
        seen += [job for job in jobs if job not in seen]
        main.cancel_loading()
        for job in jobs:
            job.cancel()
        qtbot.wait(20)
        if not main.jobs and not main.pacs.jobs and not any(job.running for job in seen):
            break
    qtbot.wait(50)  # the finished signals' other slots
    main.close()
    KEPT.append(main)  # closed, never deleted (pytest-qt's addWidget would delete it under a late worker)


#: Orthanc rejects a wrong called AE title and closes at once; pynetdicom reads the rejection (its reason said),
#: or sees the connection close first (then medview names the AE titles and the port to check)
REFUSED_AE = "refused the association: Called AE title not recognised"
GENERIC_AE = "did not accept a DICOM association: check the PACS's AE title"


def search(qtbot, dock, **fields):
    for name, value in fields.items():
        getattr(dock, name).setText(value)
    found, problems = [], []
    dock.searched.connect(found.append)
    dock.failed.connect(problems.append)
    qtbot.mouseClick(dock.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(found or problems), timeout=TIMEOUT)
    assert not problems, problems
    return found[0]


def test_nodes_live_in_the_settings_and_echo_answers(qtbot, window, orthanc):
    dock = window.pacs
    view = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "View")
    toggle = next(a for a in view.actions() if a.text() == "PACS")
    assert toggle.shortcut().toString() == "Ctrl+Shift+P" and toggle.isChecked()
    assert [n["name"] for n in read_nodes(window.settings)] == ["orthanc"]
    assert "password" not in str(window.settings.allKeys())
    with qtbot.waitSignal(dock.echoed, timeout=TIMEOUT) as echoed:
        qtbot.mouseClick(dock.echo_button, Qt.MouseButton.LeftButton)
    assert echoed.args[0].startswith(f"ORTHANC@127.0.0.1:{orthanc.dicom_port} answered in")
    dock.add_node({"name": "wrong", "kind": "dimse", "host": "127.0.0.1", "port": str(orthanc.dicom_port),
                   "aet": "NOBODY", "calling_aet": "MEDVIEW", "scp_port": "11113"})
    with qtbot.waitSignal(dock.failed, timeout=TIMEOUT) as failed:
        dock.echo()
    assert REFUSED_AE in failed.args[0] or GENERIC_AE in failed.args[0], failed.args[0]
    assert "--aet NOBODY" in failed.args[0] and "--aet NOBODY" in dock.status.text()


def test_search_retrieve_first_series_shown_then_the_study_from_the_cache(qtbot, window, originals):
    dock = window.pacs
    assert search(qtbot, dock, patient_id="PGBM-001") == 1
    study = study_uid_of(originals, "mr_brain")
    assert dock.results.topLevelItem(0).text(5) == "PGBM-001" and dock.results.topLevelItem(0).childCount() == 1
    progress, opened = [], []
    dock.series_arrived.connect(lambda *args: progress.append(args))
    open_path = window.open_path
    window.open_path = lambda path, *args: (opened.append(path), open_path(path, *args))
    with qtbot.waitSignal(window.series_shown, timeout=TIMEOUT):
        with qtbot.waitSignal(dock.retrieved, timeout=TIMEOUT) as retrieved:
            qtbot.mouseClick(dock.retrieve_button, Qt.MouseButton.LeftButton)
    assert retrieved.args[0].complete and progress[0][1:] == (24, 24, True)
    first = retrieved.args[0].series[0]
    series_folder = str(Path(first.folder) / first.series_uid)
    # the first image alone at once, then its series whole, then the study
    assert Path(opened[0]).parent == Path(series_folder) and opened[0].endswith(".dcm")
    assert opened[1:] == [series_folder, str(first.folder)]
    assert dock.results.topLevelItem(0).child(0).text(HERE) == "complete"
    qtbot.waitUntil(lambda: window.shown is not None and window.shown.n_slices == 24, timeout=TIMEOUT)
    assert Path(window.folder).is_relative_to(Cache().root)
    qtbot.waitUntil(lambda: dock.cached.topLevelItemCount() == 1, timeout=TIMEOUT)
    assert dock.cached.topLevelItem(0).text(4) == "complete"
    # again: from the cache, no network (the node now points nowhere)
    dock.add_node({"name": "orthanc", "kind": "dimse", "host": "127.0.0.1", "port": "9", "aet": "GONE"})
    window.close_study()
    dock.results.setCurrentItem(dock.results.topLevelItem(0))
    with qtbot.waitSignal(window.series_loaded, timeout=TIMEOUT):
        qtbot.mouseClick(dock.retrieve_button, Qt.MouseButton.LeftButton)
    assert "opened from the cache (no network used)" in dock.status.text()
    assert str(window.shown.info.study_instance_uid) == study
    # forget this study
    dock.cached.setCurrentItem(dock.cached.topLevelItem(0))
    qtbot.mouseClick(dock.forget_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dock.cached.topLevelItemCount() == 0, timeout=TIMEOUT)
    assert Cache().find(study) is None and window.catalog is None


@pytest.mark.parametrize("method", ["C-GET", "C-MOVE"])
def test_cancel_stops_the_retrieve_and_says_the_series_is_partial(method, qtbot, window, originals):
    dock = window.pacs
    assert search(qtbot, dock, patient_id="Lung_Dx-A0002") == 1
    dock.method.setCurrentText(method)
    arrived = []

    def cancel_after_three(value):
        arrived.append(value)
        if value == 3:
            qtbot.mouseClick(dock.cancel_button, Qt.MouseButton.LeftButton)

    dock.progress.valueChanged.connect(cancel_after_three)
    with qtbot.waitSignal(dock.retrieved, timeout=TIMEOUT) as retrieved:
        qtbot.mouseClick(dock.retrieve_button, Qt.MouseButton.LeftButton)
    result = retrieved.args[0]
    assert not result.complete and "cancelled" in result.series[0].reason
    assert 3 <= result.series[0].received < 30
    assert "PARTIAL" in dock.status.text() and dock.retrieve_button.isEnabled()
    assert dock.results.topLevelItem(0).child(0).text(HERE).startswith("partial")
    assert not list(Cache().root.rglob("*.part"))


def test_the_report_is_sent_back_with_a_result_per_instance_and_leaves_the_outbox(qtbot, window, orthanc,
                                                                                  shared_data, user_data_folder):
    from medview.gui.report_dialog import ReportDialog

    folder = shared_data / "samples" / "ct_chest"
    with qtbot.waitSignal(window.series_loaded, timeout=TIMEOUT):
        window.open_path(str(folder), k=14)
    from medview.core.annotations import Annotation

    window.session.add(window.view.here(), Annotation("length", ((150.0, 300.0), (180.0, 310.0))))
    dialog = ReportDialog(window)
    qtbot.addWidget(dialog)
    send = dialog.send_to_pacs
    assert send.node_box.currentText() == "orthanc"
    with qtbot.waitSignal(send.sent, timeout=TIMEOUT) as sent:
        qtbot.mouseClick(send.send_button, Qt.MouseButton.LeftButton)
    results = sent.args[0]
    assert [r.outcome for r in results] == ["success"] * len(results) and len(results) == 2
    assert send.table.rowCount() == 2 and send.table.item(0, 1).text() == "success"
    assert not any(str(folder) in r.path for r in results)  # never written where the images came from
    assert not any((user_data_folder / "outbox").iterdir())  # what the PACS accepted left the outbox
    modalities = {s.modality for s in _series_at(orthanc, window.shown.volume.info.study_instance_uid)}
    assert "SR" in modalities


def _series_at(orthanc, study_uid):
    from medview.pacs.dimse import DimseClient
    from tests.pacs.conftest import node_of

    return DimseClient(node_of(orthanc)).series_of(study_uid)


@pytest.fixture
def two_series_orthanc(shared_data, tmp_path):
    """A study of two series: the CT sample, and ten of its slices again as series 4 (new series and instance
    UIDs, the pixels unchanged)."""
    from pydicom.uid import generate_uid

    from tests.pacs.conftest import dicom_files
    from tests.pacs.orthanc_server import remove, start_orthanc

    files = dicom_files(shared_data / "samples" / "ct_chest")
    copies = tmp_path / "series4"
    copies.mkdir()
    series_uid = generate_uid()
    for path in files[:10]:
        dataset = pydicom.dcmread(path)
        dataset.SeriesInstanceUID, dataset.SeriesNumber = series_uid, 4
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        dataset.save_as(copies / path.name)
    server = start_orthanc()
    try:
        server.upload(files + dicom_files(copies))
        yield server
    finally:
        remove(server)


def test_the_first_series_opens_while_the_rest_arrives(qtbot, tmp_path, two_series_orthanc):
    server = two_series_orthanc
    main = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), with_inference=False)
    main.show()
    main.pacs_dock.show()
    dock = main.pacs
    dock.add_node({"name": "two", "kind": "dimse", "host": "127.0.0.1", "port": str(server.dicom_port),
                   "aet": "ORTHANC", "calling_aet": "MEDVIEW", "scp_port": str(server.scp_port)})
    assert search(qtbot, dock, patient_id="Lung_Dx-A0002") == 1
    assert dock.results.topLevelItem(0).childCount() == 2
    folder_when_series_2_started = []

    def watch(event):
        from medview.pacs.retrieve import SeriesStarted

        if isinstance(event, SeriesStarted) and event.index == 1:
            folder_when_series_2_started.append(main.folder)

    dock.retrieve_job = None
    with qtbot.waitSignal(dock.retrieved, timeout=TIMEOUT) as retrieved:
        dock.retrieve()
        dock.jobs["retrieve"].worker.yielded.connect(watch)
    result = retrieved.args[0]
    assert result.complete and [s.expected for s in result.series] == [30, 10]
    first = result.series[0]
    assert folder_when_series_2_started == [str(Path(first.folder) / first.series_uid)]  # series 3 on screen
    # once all has arrived the whole study is shown, still on series 3
    qtbot.waitUntil(lambda: main.catalog is not None and len(main.catalog.volumes) == 2, timeout=TIMEOUT)
    assert main.folder == str(first.folder) and main.shown.info.series_number == 3
    close(qtbot, main)


def test_a_dicomweb_node_is_added_in_its_dialog_and_retrieves_by_wado_rs(qtbot, window, web_environment,
                                                                         originals):
    from medview.gui.pacs_dock import NodeDialog

    dock = window.pacs
    dialog = NodeDialog(dock)
    qtbot.addWidget(dialog)
    dialog.name.setText("web")
    dialog.kind.setCurrentIndex(1)
    dialog.url.setText("https://medview:secret@pacs/dicom-web")
    dialog._accept()
    assert "must not carry a user name or password" in dialog.problem.text()
    dialog.url.setText(web_environment.dicomweb)
    dialog._accept()
    assert dialog.result() == dialog.DialogCode.Accepted
    dock.add_node(dialog.node())
    assert [dock.method.itemText(i) for i in range(dock.method.count())] == ["WADO-RS"]
    assert search(qtbot, dock, patient_name="PGBM*") == 1
    with qtbot.waitSignal(dock.retrieved, timeout=TIMEOUT) as retrieved:
        qtbot.mouseClick(dock.retrieve_button, Qt.MouseButton.LeftButton)
    assert retrieved.args[0].complete
    assert len(list(retrieved.args[0].folder.rglob("*.dcm"))) == 24
    window.settings.sync()
    assert "s3cret" not in Path(window.settings.fileName()).read_text()


def test_a_retrieve_never_takes_the_screen_from_a_folder_opened_meanwhile(qtbot, window, shared_data):
    dock = window.pacs
    assert search(qtbot, dock, patient_id="Lung_Dx-A0002") == 1
    other = str(shared_data / "samples" / "mr_brain_t1post_tcia_btp")
    dock.progress.valueChanged.connect(lambda value: value == 3 and window.open_path(other))
    with qtbot.waitSignal(dock.retrieved, timeout=TIMEOUT) as retrieved:
        qtbot.mouseClick(dock.retrieve_button, Qt.MouseButton.LeftButton)
    assert retrieved.args[0].complete
    qtbot.wait(200)
    assert window.folder == other


def test_what_the_pacs_refused_stays_in_the_outbox_and_what_it_accepted_leaves(tmp_path):
    from medview.gui.pacs_send import empty_the_outbox
    from medview.pacs.dimse import StoreResult

    outbox = tmp_path / "outbox" / "20261201-220000-000000"
    outbox.mkdir(parents=True)
    for name in ("SR.dcm", "SC_1.dcm", "SC_2.dcm"):
        (outbox / name).write_bytes(b"DICM")
    results = [StoreResult(str(outbox / "SR.dcm"), "1.2.3", "success", 0x0000, ""),
               StoreResult(str(outbox / "SC_1.dcm"), "1.2.4", "warning", 0xB000, "coerced"),
               StoreResult(str(outbox / "SC_2.dcm"), "1.2.5", "failure", 0xA700, "out of resources")]
    empty_the_outbox(outbox, results)
    assert sorted(p.name for p in outbox.iterdir()) == ["SC_2.dcm"]
    empty_the_outbox(outbox, [StoreResult(str(outbox / "SC_2.dcm"), "1.2.5", "success", 0x0000, "")])
    assert not outbox.exists()
