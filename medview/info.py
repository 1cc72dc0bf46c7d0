"""`medview info PATH`: what a folder holds, volume by volume, with geometry, values and warnings.

Each volume is assembled (the value range needs the pixels); files that gave no image are listed with
their reason, then the codecs this installation has. Exit 0 when something loaded.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from medview.core.numbering import count
from medview.core.volume import Volume
from medview.errors import MedviewError, NothingLoadedError
from medview.io import assemble_volume, open_folder
from medview.io.codecs import CODECS
from medview.io.index import VolumeSpec


def describe(index: int, spec: VolumeSpec, volume: Volume | None, error: str | None) -> dict:
    """One volume as plain data: the JSON of `medview info --json` and the text rows alike."""
    info = spec.info
    row = {
        "index": index,
        "patient": {"name": info.patient_name, "id": info.patient_id},
        "study": {"uid": info.study_instance_uid, "date": info.study_date, "description": info.study_description},
        "series_instance_uid": info.series_instance_uid,
        "series_number": info.series_number,
        "series_description": info.series_description,
        "part": info.part,
        "modality": info.modality,
        "shape": {"slices": spec.n_slices, "rows": spec.rows, "columns": spec.columns},
        "pixel_spacing_mm": {"row": spec.pixel_spacing[0], "column": spec.pixel_spacing[1]},
        "origin_lps_mm": [round(float(v), 3) for v in spec.positions[0]] if spec.has_geometry else None,
        "warnings": list(spec.warnings),
    }
    if spec.time_points > 1:
        row["shape"]["time_points"] = spec.time_points
        row["time_labels"] = list(spec.time_labels)
    if volume is None:
        row["error"] = error
        return row
    steps = volume.slice_steps
    row["slice_spacing_mm"] = (round(volume.slice_spacing, 4) if volume.slice_spacing is not None
                               else ("uneven" if len(steps) else None))
    if volume.slice_spacing is None and len(steps):
        row["slice_steps_mm"] = [round(float(s), 4) for s in steps]
    row["direction"] = [round(float(v), 4) for v in volume.direction.ravel()]
    plane = volume.plane
    row["plane"] = {"name": plane.name, "angle_deg": plane.angle_deg, "oblique": plane.oblique,
                    "text": str(plane)} if volume.has_geometry else None
    row["gantry_tilt_deg"] = round(volume.tilt_deg, 2) if volume.sheared else 0.0
    row["values"] = {"min": _number(volume.voxels.min()), "max": _number(volume.voxels.max()),
                     "unit": volume.value_unit, "note": volume.value_note, "dtype": str(volume.voxels.dtype)}
    row["photometric"] = volume.photometric
    row["warnings"] = list(volume.warnings)
    return row


def _number(value) -> float | int:
    value = value.item() if isinstance(value, np.generic) else value
    return round(value, 4) if isinstance(value, float) else value


def _runs_text(steps: list[float]) -> str:
    """Slice steps as runs: "13 × 4.0019, 1.0811, 13 × 6.9986"."""
    runs: list[list] = []
    for step in steps:
        if runs and abs(runs[-1][0] - step) <= 1e-3:
            runs[-1][1] += 1
        else:
            runs.append([step, 1])
    text = ", ".join(f"{count} × {step:g}" if count > 1 else f"{step:g}" for step, count in runs[:10])
    return text + (", ..." if len(runs) > 10 else "")


def _text_row(row: dict) -> str:
    shape = row["shape"]
    dims = f"{shape['slices']}×{shape['rows']}×{shape['columns']}"
    if "time_points" in shape:
        dims += f", {shape['time_points']} time points"
    part = f" [{row['part']}]" if row["part"] else ""
    number = f" series {row['series_number']}" if row["series_number"] is not None else ""
    lines = [f"[{row['index']}] {row['modality']}{number} {row['series_description']!r}{part}",
             f"    patient {row['patient']['name'] or '-'} ({row['patient']['id'] or '-'}), "
             f"study {row['study']['date'] or '-'} {row['study']['description']}",
             f"    SeriesInstanceUID {row['series_instance_uid']}",
             f"    shape {dims} (slices × rows × columns)"]
    if "error" in row:
        lines.append(f"    could not be loaded: {row['error']}")
    else:
        spacing = row["slice_spacing_mm"]
        if spacing == "uneven":
            spacing = f"uneven ({_runs_text(row['slice_steps_mm'])})"
        elif spacing is not None:
            spacing = f"{spacing:.4g} mm"
        else:
            spacing = "none (one slice)" if shape["slices"] == 1 else "not known"
        ps = row["pixel_spacing_mm"]
        lines.append(f"    spacing {ps['column']:.4g} × {ps['row']:.4g} mm in plane (column × row), "
                     f"between slices {spacing}")
        if row["plane"]:
            origin = ", ".join(f"{v:.3f}" for v in row["origin_lps_mm"])
            lines.append(f"    origin ({origin}) LPS mm, plane {row['plane']['text']}")
        else:
            lines.append("    no patient geometry (no LPS positions)")
        values = row["values"]
        unit = f" {values['unit']}" if values["unit"] else ""
        lines.append(f"    values {values['min']} to {values['max']}{unit} ({row['photometric']})")
        if values["note"]:
            lines.append(f"    values shown: {values['note']}")
    for warning in row["warnings"]:
        lines.append(f"    ! {warning}")
    return "\n".join(lines)


def run_info(path: str, as_json: bool = False, out=None) -> int:
    out = out or sys.stdout
    catalog = open_folder(path)
    rows = []
    loaded = 0
    for index, spec in enumerate(catalog.volumes):
        try:
            volume, error = assemble_volume(spec), None
            loaded += 1
        except MedviewError as failure:
            volume, error = None, str(failure)
        rows.append(describe(index, spec, volume, error))
    skipped = [{"path": s.path, "reason": s.reason} for s in catalog.skipped]
    codecs = [{"transfer_syntax": c.name, "decoder": c.decoder_text, "available": c.available,
               "uids": sorted(c.transfer_syntaxes)} for c in CODECS]
    if as_json:
        json.dump({"path": str(path), "files": catalog.n_files, "volumes": rows, "skipped": skipped,
                   "read_with_warnings": [{"path": w.path, "warning": w.reason} for w in catalog.warnings],
                   "codecs": codecs}, out, indent=2, default=_json_default)
        out.write("\n")
    else:
        out.write(f"{path}: {count(catalog.n_files, 'file')}, {count(len(rows), 'volume')}, "
                  f"{len(skipped)} skipped\n\n")
        for row in rows:
            out.write(_text_row(row) + "\n")
        if skipped:
            out.write(f"\nSkipped files ({len(skipped)}):\n")
            for item in skipped:
                out.write(f"    {item['path']}: {item['reason']}\n")
        if catalog.warnings:
            out.write(f"\nRead with a warning ({len(catalog.warnings)}):\n")
            for item in catalog.warnings:
                out.write(f"    {item.path}: {item.reason}\n")
        out.write("\nCodecs: " + "; ".join(
            f"{c['transfer_syntax']} ({c['decoder']}{'' if c['available'] else ', missing'})" for c in codecs) + "\n")
    if loaded == 0:
        raise NothingLoadedError(f"nothing could be loaded from {path} "
                                 f"({catalog.n_files} files, {len(skipped)} skipped)")
    return 0


def _json_default(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value)}")
