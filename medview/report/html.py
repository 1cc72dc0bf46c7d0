"""The report as HTML: one document for the self-contained .html file and for the PDF (Qt lays out the same
HTML), so the two never disagree. Every text from a header or the reader is escaped."""

from __future__ import annotations

import base64
import datetime as _dt
from collections.abc import Callable
from html import escape

from medview.core.reading import Reading
from medview.report.identity import header_pairs, page_line

STYLE = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 10pt; color: #111; }
h1 { font-size: 16pt; margin-bottom: 2px; }
h2 { font-size: 12pt; margin-top: 14px; border-bottom: 1px solid #999; }
h1, h2 { break-after: avoid; page-break-after: avoid; }  /* a browser's print: no heading alone at a page foot */
table { border-collapse: collapse; }
td, th { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
.disclaimer { color: #a00; font-weight: bold; }
.warning { color: #a04000; font-weight: bold; }
.small { font-size: 8pt; color: #444; }
"""


def _rows(pairs) -> str:
    return "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in pairs if v not in ("", None))


def signed_line(reading: Reading) -> str:
    """Who signed the report and when (the reader's name is a preference; "not given" when unset)."""
    signed = reading.signed or _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return f"Read by {reading.reader.strip() or '(reader not given)'} · signed {signed}"


def _fit_note(finding) -> str:
    if finding.fits:
        return ""
    reasons = "; ".join(finding.does_not_fit) or "the series is not what it was made for"
    return (f"<br><span class='warning'>The model does not fit this series ({escape(reasons)}): "
            "its answer is not meaningful here.</span>")


def report_html(reading: Reading, key_images: list[bytes], image_source: Callable[[int, bytes], str] | None = None,
                image_width: int = 600) -> str:
    """The whole report. `image_source(i, png)` gives each key image's src (default: a data: URL)."""
    source = image_source or (lambda _i, png: "data:image/png;base64," + base64.b64encode(png).decode("ascii"))
    parts = [f"<html><head><meta charset='utf-8'><title>medview report</title><style>{STYLE}</style></head><body>",
             "<h1>medview report" + (" (anonymised)" if reading.anonymised else "") + "</h1>",
             f"<p class='small'>{escape(page_line(reading))}<br>{escape(signed_line(reading))} (medview)</p>",
             f"<p class='disclaimer'>{escape(reading.disclaimer)}</p>",
             f"<table>{_rows(header_pairs(reading))}</table>"]
    parts += [f"<p class='warning'>{escape(note)}</p>" for note in reading.notes]
    parts.append("<h2>AI findings</h2>")
    if reading.findings:
        parts.append("<table><tr><th>Slice</th><th>Point (column, row)</th><th>Finding</th><th>Probability</th>"
                     "<th>Time</th></tr>")
        for f in reading.findings:
            point = f"{f.point[0]:.0f}, {f.point[1]:.0f}" if f.point else "whole slice"
            others = ", ".join(f"{escape(label)} {p:.2f}" for label, p in f.probabilities.items())
            tumour = (f"<br>P(tumour) {f.tumour_probability:.2f}"
                      + (" (flagged)" if f.flagged else "") if f.tumour_probability is not None else "")
            parts.append(f"<tr><td>{f.k + 1}</td><td>{point}</td><td><b>{escape(f.label)}</b>"
                         f"<br><span class='small'>{others}</span>{_fit_note(f)}</td>"
                         f"<td>{f.probability:.2f}{tumour}</td>"
                         f"<td>{f.elapsed_ms:.0f} ms</td></tr>")
            parts.append(f"<tr><td colspan='5'>Model {escape(f.model_name)} "
                         f"{escape(f.model_version)} ({escape(f.task)})<br><span class='small'>sha256 "
                         f"{escape(f.model_sha256)}</span></td></tr>")
        parts.append(f"</table><p class='disclaimer'>{escape(reading.disclaimer)}</p>")
    else:
        parts.append("<p>None.</p>")
    parts.append("<h2>Measurements</h2>")
    if reading.measurements:
        parts.append("<table><tr><th>#</th><th>Slice or plane</th><th>Tool</th><th>Values</th></tr>")
        for i, m in enumerate(reading.measurements, 1):
            parts.append(f"<tr><td>{i}</td><td>{escape(m.where)}</td><td>{escape(m.annotation.kind)}</td>"
                         f"<td>{escape(m.describe())}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>None.</p>")
    parts.append("<h2>Key images</h2>")
    if reading.key_images and not key_images:  # a preview: which slices, not their pictures
        parts.append("<p>Slices " + ", ".join(str(key.k + 1) for key in reading.key_images) + "</p>")
    for i, (key, png) in enumerate(zip(reading.key_images, key_images, strict=bool(key_images))):
        parts.append(f"<p><img src='{source(i, png)}' width='{image_width}'><br>"
                     f"<span class='small'>Slice {key.k + 1} / {reading.n_slices}, window "
                     f"W {key.window[0]:.0f} L {key.window[1]:.0f}"
                     + (" · saliency overlay: AI generated, research use only" if key.saliency is not None else "")
                     + "</span></p>")
    if not reading.key_images:
        parts.append("<p>None.</p>")
    parts.append("<h2>Impression</h2>")
    impression = escape(reading.impression).replace("\n", "<br>") if reading.impression.strip() else "(none given)"
    parts.append(f"<p>{impression}</p>")
    parts.append(f"<p class='disclaimer'>{escape(reading.disclaimer)}</p></body></html>")
    return "\n".join(parts)
