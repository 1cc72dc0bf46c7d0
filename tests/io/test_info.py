"""`medview info`: every volume with its geometry, values and warnings; skipped files; codecs; exit codes."""

from __future__ import annotations

import io
import json

from medview.cli import main


def _info_json(path) -> dict:
    out = io.StringIO()
    from medview.info import run_info

    assert run_info(str(path), as_json=True, out=out) == 0
    return json.loads(out.getvalue())


def test_info_json_on_the_tilted_ct_says_uneven_with_the_steps_and_the_tilt(shared_data):
    report = _info_json(shared_data / "dicom_cases" / "ct_head_ge_gantry_tilt")
    [volume] = report["volumes"]
    assert volume["shape"] == {"slices": 28, "rows": 512, "columns": 512}
    assert volume["slice_spacing_mm"] == "uneven"
    assert volume["slice_steps_mm"][13] == 1.0811
    assert volume["gantry_tilt_deg"] == 18.5
    assert volume["plane"]["name"] == "axial" and volume["plane"]["angle_deg"] == 18.5
    assert volume["values"] == {"min": -1500, "max": 2121, "unit": "HU", "note": "", "dtype": "int16"}
    assert volume["origin_lps_mm"] == [-125.0, -123.54, 5.836]
    assert any(c["transfer_syntax"] == "JPEG 2000" and c["available"] for c in report["codecs"])


def test_info_json_on_a_4d_series_gives_time_points_and_which_values_are_shown(shared_data):
    report = _info_json(shared_data / "dicom_cases" / "mr_philips_4d_oblique_scaling")
    [volume] = report["volumes"]
    assert volume["shape"] == {"slices": 9, "rows": 64, "columns": 64, "time_points": 3}
    assert volume["slice_spacing_mm"] == 8.0
    assert "Philips displayed value" in volume["values"]["note"]


def test_info_text_lists_every_volume_and_exits_zero(shared_data, capsys):
    assert main(["info", str(shared_data / "dicom_cases" / "mr_siemens_multi_echo")]) == 0
    text = capsys.readouterr().out
    assert "[0] MR series 5" in text and "[1] MR series 5" in text
    assert "echo 1" in text and "echo 2" in text
    assert "between slices 3.6 mm" in text


def test_info_on_a_missing_path_is_one_line_and_nonzero(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_info_text_shows_no_raw_none_and_no_invented_geometry(tmp_path, capsys):
    import shutil

    from pydicom.data import get_testdata_file

    for name in ("emri_small.dcm", "MR_small.dcm"):  # no patient geometry; one slice
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(get_testdata_file(name), folder / name)
        assert main(["info", str(folder)]) == 0
        text = capsys.readouterr().out
        assert "None" not in text
    no_geometry = _info_json(tmp_path / "emri_small.dcm")["volumes"][0]
    assert no_geometry["origin_lps_mm"] is None and no_geometry["plane"] is None
