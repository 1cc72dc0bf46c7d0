"""The local cache (atomic, size-limited, forgettable, never inside a folder the user opened), the C-GET
context plan, and DICOMweb credentials that are never logged nor written."""

from __future__ import annotations

import logging
import os

import pytest

from medview.errors import MedviewError
from medview.pacs.cache import Cache
from medview.pacs.contexts import CLASSES_PER_GET, MAX_CONTEXTS, plan_get, storage_contexts
from medview.pacs.credentials import KEYRING_SERVICE, find_credentials
from medview.pacs.query import InstanceMatch, StudyQuery, checked_uid, dicom_date
from tests.pacs.conftest import dicom_files


def _bytes(path) -> bytes:
    return path.read_bytes()


@pytest.fixture
def ct_files(shared_data):
    return dicom_files(shared_data / "samples" / "ct_chest")


@pytest.fixture
def mr_files(shared_data):
    return dicom_files(shared_data / "samples" / "mr_brain_t1post_tcia_btp")


def test_cache_lives_in_the_user_data_folder_and_keeps_identity_private(user_data_folder, ct_files):
    cache = Cache()
    arrived = cache.store(_bytes(ct_files[0]))
    assert arrived.path.is_relative_to(user_data_folder / "pacs-cache" / "studies")
    assert arrived.path.name == f"{arrived.sop_uid}.dcm" and arrived.path.read_bytes() == _bytes(ct_files[0])
    assert oct(arrived.path.stat().st_mode & 0o777) == "0o600"
    assert oct((user_data_folder / "pacs-cache").stat().st_mode & 0o777) == "0o700"


def test_cache_refuses_to_live_inside_a_folder_the_user_opened(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDVIEW_DATA", str(tmp_path / "opened" / "data"))
    with pytest.raises(MedviewError, match="never writes to"):
        Cache().check_outside(tmp_path / "opened")
    (tmp_path / "elsewhere").mkdir()
    Cache().check_outside(tmp_path / "elsewhere")


def test_size_limit_forgets_the_least_recently_used_study(ct_files, mr_files):
    from medview.pacs.query import StudyMatch

    ct_size = sum(p.stat().st_size for p in ct_files[:4])
    cache = Cache(limit_bytes=ct_size + 3 * mr_files[0].stat().st_size)
    for path in ct_files[:4]:
        first = cache.store(_bytes(path))
    cache.study_started(StudyMatch(first.study_uid, "Lung_Dx-A0002"), "test")
    assert cache.store(_bytes(ct_files[0])).study_uid == first.study_uid  # the same file again takes no room
    for path in mr_files[:6]:  # more than the room left: the CT study, used least recently, goes
        arrived = cache.store(_bytes(path))
    cache.study_started(StudyMatch(arrived.study_uid, "PGBM-001"), "test")
    assert [s.patient_id for s in cache.studies()] == ["PGBM-001"]
    assert not cache.study_folder(first.study_uid).exists()
    assert cache.size() <= cache.limit and len(list(cache.root.rglob("*.dcm"))) == 6


def test_a_study_larger_than_the_cache_stops_with_a_message(mr_files):
    cache = Cache(limit_bytes=2 * mr_files[0].stat().st_size)
    cache.store(_bytes(mr_files[0]))
    cache.store(_bytes(mr_files[1]))
    with pytest.raises(MedviewError, match="cache is full"):
        cache.store(_bytes(mr_files[2]))
    assert len(list(cache.root.rglob("*.dcm"))) == 2 and not list(cache.root.rglob("*.part"))


def test_forget_this_study_removes_images_and_manifest(ct_files):
    from medview.pacs.query import StudyMatch

    cache = Cache()
    arrived = cache.store(_bytes(ct_files[0]))
    cache.study_started(StudyMatch(arrived.study_uid), "test")
    assert cache.find(arrived.study_uid) is not None
    cache.forget(arrived.study_uid)
    assert cache.find(arrived.study_uid) is None and not cache.study_folder(arrived.study_uid).exists()
    assert cache.size() == 0


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_a_hostile_uid_never_names_a_file(ct_files):
    import io

    import pydicom

    dataset = pydicom.dcmread(ct_files[0])
    dataset.SOPInstanceUID = "../../../../etc/passwd"
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    cache = Cache()
    with pytest.raises(MedviewError, match="not a DICOM UID"):
        cache.store(buffer.getvalue())
    with pytest.raises(MedviewError, match="not a DICOM UID"):
        checked_uid("1.2.3/4")
    assert not list(cache.root.rglob("*.dcm"))


def test_an_instance_of_another_series_is_refused(ct_files, mr_files):
    import pydicom

    with pytest.raises(MedviewError, match="another series"):
        Cache().store(_bytes(mr_files[0]), expected_series=pydicom.dcmread(ct_files[0]).SeriesInstanceUID)


def test_c_get_contexts_fit_128_and_split_beyond():
    """One context for the uncompressed syntaxes and one per compressed syntax for each SOP class; 8 classes
    per association (8 x 15 + the C-GET context = 121 <= 128); 20 classes need three associations, each class
    whole in one of them."""
    assert CLASSES_PER_GET == 8 and 1 + CLASSES_PER_GET * len(storage_contexts("1.2.3")) <= MAX_CONTEXTS
    instances = [InstanceMatch(f"1.2.{i}", f"1.2.840.99.{i % 20}") for i in range(100)]
    batches = plan_get(instances)
    assert [len(b.sop_classes) for b in batches] == [8, 8, 4]
    assert sorted(uid for b in batches for uid in b.sop_uids) == sorted(i.sop_uid for i in instances)
    for batch in batches:
        assert {i.sop_class_uid for i in instances if i.sop_uid in batch.sop_uids} == set(batch.sop_classes)


def test_dates_and_queries_are_checked():
    assert dicom_date("2026-12-01", "--date-from") == "20261201" == dicom_date("20261201", "--date-from")
    with pytest.raises(MedviewError, match="YYYYMMDD or YYYY-MM-DD"):
        dicom_date("2026-13-01", "--date-from")
    with pytest.raises(MedviewError, match="after"):
        StudyQuery(date_from="20261201", date_to="20250101")
    assert StudyQuery(date_from="20250101").date_range == "20250101-"
    with pytest.raises(MedviewError, match="backslash"):
        StudyQuery(patient_id="A\\B")


def test_credentials_come_from_the_environment_and_are_never_shown(monkeypatch):
    import requests

    token = find_credentials("https://pacs.example.org/dicom-web", {"MEDVIEW_DICOMWEB_TOKEN": "tok-123"})
    session = requests.Session()
    token.apply(session)
    assert session.headers["Authorization"] == "Bearer tok-123"
    basic = find_credentials("https://pacs", {"MEDVIEW_DICOMWEB_USER": "ann", "MEDVIEW_DICOMWEB_PASSWORD": "pw-456"})
    session = requests.Session()
    basic.apply(session)
    assert session.auth == ("ann", "pw-456")
    for credentials in (token, basic):
        assert "tok-123" not in repr(credentials) + str(credentials)
        assert "pw-456" not in repr(credentials) + str(credentials)
    with pytest.raises(MedviewError, match="PASSWORD is not"):
        find_credentials("https://pacs", {"MEDVIEW_DICOMWEB_USER": "ann"})


def test_credentials_from_the_keyring(monkeypatch):
    """The keyring library with an in-memory backend of its own kind (no desktop keyring in CI)."""
    import keyring
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1
        entries: dict = {}

        def get_password(self, service, username):
            return self.entries.get((service, username))

        def set_password(self, service, username, password):
            self.entries[(service, username)] = password

        def delete_password(self, service, username):
            self.entries.pop((service, username), None)

    previous = keyring.get_keyring()
    keyring.set_keyring(Memory())
    try:
        keyring.set_password(KEYRING_SERVICE, "https://pacs/dicom-web", "token:kr-789")
        keyring.set_password(KEYRING_SERVICE, "https://other/dicom-web", "ann:kr-pw")
        assert find_credentials("https://pacs/dicom-web", {}).token == "kr-789"
        other = find_credentials("https://other/dicom-web", {})
        assert (other.user, other.password, other.source) == ("ann", "kr-pw", "keyring")
        assert find_credentials("https://none/dicom-web", {}).source == "none"
    finally:
        keyring.set_keyring(previous)


def test_dicomweb_credentials_are_not_logged_nor_written(web_environment, originals, caplog, user_data_folder):
    from medview import cli
    from tests.pacs.conftest import study_uid_of
    from tests.pacs.orthanc_server import PASSWORD

    caplog.set_level(logging.DEBUG)
    assert cli.main(["pacs", "find", "--url", web_environment.dicomweb, "--patient-id", "PGBM-001"]) == 0
    assert cli.main(["pacs", "get", "--url", web_environment.dicomweb, "--study",
                     study_uid_of(originals, "mr_brain")]) == 0
    assert caplog.records and PASSWORD not in caplog.text
    import base64

    assert base64.b64encode(f"medview:{PASSWORD}".encode()).decode() not in caplog.text
    for base, _dirs, files in os.walk(user_data_folder):
        for name in files:
            assert PASSWORD.encode() not in open(os.path.join(base, name), "rb").read()


def test_wrong_dicomweb_password_is_one_clear_line(orthanc, monkeypatch, capsys):
    from medview import cli

    monkeypatch.setenv("MEDVIEW_DICOMWEB_USER", "medview")
    monkeypatch.setenv("MEDVIEW_DICOMWEB_PASSWORD", "wrong")
    assert cli.main(["pacs", "echo", "--url", orthanc.dicomweb]) == 2
    error = capsys.readouterr().err
    assert "refused a search (401): check the credentials (from MEDVIEW_DICOMWEB_USER/PASSWORD)" in error
    assert "wrong" not in error


@pytest.mark.filterwarnings("ignore:End of file reached")
def test_an_instance_cut_short_never_enters_the_cache(ct_files, shared_data):
    """A connection cut in the middle of an instance (native pixels, or a JPEG 2000 codestream) leaves no file."""
    cache = Cache()
    jpeg2000 = shared_data / "dicom_cases" / "mr_transfer_syntaxes_mosaic" / "9.dcm"
    for path in (ct_files[0], jpeg2000):
        whole = _bytes(path)
        with pytest.raises(MedviewError, match="arrived truncated"):
            cache.store(whole[:len(whole) - 5000])
    assert not list(cache.root.rglob("*.dcm")) and not list(cache.root.rglob("*.part"))
    assert cache.store(_bytes(jpeg2000)).path.read_bytes() == _bytes(jpeg2000)


def test_a_study_arriving_in_another_medview_is_neither_evicted_forgotten_nor_filled_twice(ct_files, mr_files,
                                                                                          user_data_folder):
    """Two viewers share one cache: while one retrieves a study, the other may not forget it, evict it to make
    room, or retrieve it into the same folder at the same time; when the first one dies, its hold ends."""
    import subprocess
    import sys

    from medview.pacs.errors import PacsError

    cache = Cache(limit_bytes=sum(p.stat().st_size for p in ct_files[:2]) + 2 * mr_files[0].stat().st_size)
    ct = cache.store(_bytes(ct_files[0])).study_uid
    cache.store(_bytes(ct_files[1]))
    other = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom medview.pacs.cache import Cache\n"
         f"with Cache().arriving({ct!r}):\n    print('holding', flush=True)\n    time.sleep(600)\n"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "MEDVIEW_DATA": str(user_data_folder)})
    try:
        assert other.stdout.readline().strip() == "holding"
        with pytest.raises(MedviewError, match="arriving"):
            cache.forget(ct)
        with pytest.raises(PacsError, match="another medview"), cache.arriving(ct):
            pass
        with pytest.raises(MedviewError, match="cache is full"):  # the only study to evict is arriving
            for path in mr_files[:4]:
                cache.store(_bytes(path))
        assert cache.study_folder(ct).is_dir()
    finally:
        other.kill()
        other.wait()
    cache.forget(ct)  # the other viewer is gone, and its hold with it
    assert not cache.study_folder(ct).exists()
