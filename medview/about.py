"""What medview is and whose work it carries: the version, the bundled models' versions, the licences and
citations of the bundled data and models, the main dependencies' licences, and the research-use statement.

For `medview --version` and Help → About. Plain text and data only: no torch, no Qt (the licences are read
from the files in `resources/` and from the installed packages' metadata, never written out by hand here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from medview import __version__
from medview.resources import resource

RESEARCH_USE = ("Research use only, not for diagnosis. medview is not a medical device; every AI answer is "
                "labelled \"AI generated, research use only\" and must not guide the care of a patient.")

#: The packages medview is built on, by distribution name, with what they do for it.
MAIN_DEPENDENCIES = (
    ("PySide6-Essentials", "Qt for Python: the window"),
    ("pyqtgraph", "the slice view"),
    ("superqt", "widgets and workers"),
    ("torch", "the CNN"),
    ("captum", "saliency (Grad-CAM)"),
    ("safetensors", "model weights without unpickling"),
    ("pydicom", "reading DICOM"),
    ("pylibjpeg", "JPEG decoding (plug-in host)"),
    ("pylibjpeg-libjpeg", "JPEG and JPEG-LS decoding"),
    ("pylibjpeg-openjpeg", "JPEG 2000 decoding"),
    ("pylibjpeg-rle", "RLE decoding"),
    ("imagecodecs", "image codecs"),
    ("highdicom", "DICOM SR and Secondary Capture"),
    ("dicom-anonymizer", "anonymisation tables"),
    ("numpy", "arrays"),
    ("scipy", "resampling and masks"),
    ("scikit-learn", "model metrics"),
    ("Pillow", "image files"),
)

LICENCE_FILES = ("LICENCE.md", "LICENSE.md", "CITATION.md", "LICENCE", "LICENSE")


@dataclass(frozen=True)
class BundledModel:
    folder: Path
    name: str
    version: str
    training_data: str
    training_licence: str
    notice: str  # the folder's licence or citation file, or what is missing


@dataclass(frozen=True)
class Dependency:
    name: str
    role: str
    version: str
    licence: str


def bundled_models() -> list[BundledModel]:
    """Every model folder under resources/models, read from its card as plain JSON (no checks, no torch: the
    registry refuses a bad folder when it is used; here a damaged card is still named, with what is wrong)."""
    root = resource("models")
    models = []
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for folder in folders:
        try:
            card = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            if not isinstance(card, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as error:
            models.append(BundledModel(folder, folder.name, f"unreadable card ({type(error).__name__})", "", "", ""))
            continue
        data = card.get("training_data") if isinstance(card.get("training_data"), dict) else {}
        models.append(BundledModel(folder, str(card.get("name", folder.name)), str(card.get("version", "?")),
                                   str(data.get("name", "not stated")), str(data.get("licence", "not stated")),
                                   _notice(folder)))
    return models


def _notice(folder: Path) -> str:
    for name in LICENCE_FILES:
        try:
            return (folder / name).read_text(encoding="utf-8")
        except OSError:
            continue
    return f"No licence or citation file in {folder.name}/ (its card names the training data and its licence)."


def sample_citation() -> str:
    """The bundled sample study's licence and citations (resources/sample/CITATION.md)."""
    try:
        return resource("sample", "CITATION.md").read_text(encoding="utf-8")
    except OSError:
        return "The bundled sample study's CITATION.md is missing."


def dependencies() -> list[Dependency]:
    """The main dependencies with their installed version and licence, as their own metadata states it."""
    found = []
    for name, role in MAIN_DEPENDENCIES:
        try:
            meta = metadata.metadata(name)
        except metadata.PackageNotFoundError:
            found.append(Dependency(name, role, "not installed", "unknown"))
            continue
        found.append(Dependency(name, role, meta.get("Version", "?"), _licence(meta)))
    return found


def _licence(meta) -> str:
    """License-Expression (SPDX), else a one-line License field, else the licence classifiers."""
    expression = meta.get("License-Expression")
    if expression:
        return expression
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 80:
        return text
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return "; ".join(classifiers) or "see the package's licence file"


def version_text() -> str:
    """`medview --version`: medview's version and each bundled model's name and version."""
    lines = [f"medview {__version__}"]
    models = bundled_models()
    lines += [f"model {m.name} {m.version}" for m in models] or ["no bundled model"]
    return "\n".join(lines)


def about_markdown() -> str:
    """Help → About, as Markdown: version, research use, bundled models and data with their licences and
    citations (the files shipped beside them), and the main dependencies' licences."""
    parts = [f"# medview {__version__}", "A DICOM viewer for CT and MRI with a convolutional network at hand.",
             f"**{RESEARCH_USE}**", "## Bundled models"]
    for model in bundled_models() or []:
        parts += [f"### {model.name} {model.version}",
                  f"Trained on: {model.training_data} (licence: {model.training_licence}).", _demoted(model.notice)]
    if not bundled_models():
        parts.append("No bundled model.")
    table = ["| package | version | licence | for |", "| --- | --- | --- | --- |"]
    table += [f"| {d.name} | {d.version} | {d.licence} | {d.role} |" for d in dependencies()]
    parts += ["## Bundled sample study", _demoted(sample_citation()), "## Built on", "\n".join(table),
              "Each package's full licence text ships with it, in its `*.dist-info` folder (in the desktop "
              "bundle: under `_internal/`)."]
    return "\n\n".join(parts) + "\n"


def _demoted(markdown: str) -> str:
    """A resource file's Markdown under the About page's own headings (its `#` headings become `####`)."""
    return "\n".join("####" + line.lstrip("#") if line.startswith("#") else line for line in markdown.splitlines())
