"""`medview pacs` refuses bad values in one line, before any network."""

from __future__ import annotations

import pytest

from medview import cli

NODE = ["--host", "127.0.0.1", "--port", "104", "--aet", "PACS"]


@pytest.mark.parametrize("argv, expected", [
    (["pacs", "find", *NODE, "--date-from", "2026-02-30"], "--date-from '2026-02-30' is not a date"),
    (["pacs", "find", *NODE, "--date-from", "20261201", "--date-to", "20250101"], "is after --date-to"),
    (["pacs", "echo", "--host", "127.0.0.1", "--port", "104"], "needs --host, --port and --aet (missing --aet)"),
    (["pacs", "echo", *NODE, "--url", "http://x/dicom-web"], "either --url"),
    (["pacs", "echo", "--host", "127.0.0.1", "--port", "70000", "--aet", "PACS"], "--port '70000' is not a TCP port"),
    (["pacs", "echo", "--host", "127.0.0.1", "--port", "104", "--aet", "A" * 17], "is not an AE title"),
    (["pacs", "echo", "--url", "ftp://pacs/dicom-web"], "is not a DICOMweb base URL"),
    (["pacs", "echo", "--url", "https://ann:secret@pacs/dicom-web"], "must not carry a user name or password"),
    (["pacs", "get", *NODE, "--study", "1.2.3/../4"], "--study '1.2.3/../4' is not a DICOM UID"),
    (["pacs", "get", "--url", "http://x/dicom-web", "--study", "1.2.3", "--move-to", "X"], "are for C-MOVE"),
    (["pacs", "send", *NODE, "/no/such/file.dcm"], "does not exist"),
])
def test_bad_values_are_one_line(argv, expected, capsys):
    assert cli.main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert expected in error and error.count("\n") == 0, error
    assert "secret" not in error
