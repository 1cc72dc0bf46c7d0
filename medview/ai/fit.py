"""Does this series fit the model? Said plainly before a model runs, by the panel and the CLI alike.

The series is compared with the card: modality, body part, and the card's sequence (e.g. T1 after contrast)
from SeriesDescription, ProtocolName, ContrastBolusAgent and the sequence tags. A missing or empty tag is
"not stated", never a mismatch: real post-contrast series often leave ContrastBolusAgent empty. Only a
modality or body-part mismatch (or a colour image) refuses the run; a sequence that does not fit runs, with
`fits` false and the reasons said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medview.core.volume import SeriesInfo

HEAD_PARTS = {"BRAIN", "HEAD", "SKULL", "HEADNECK", "HEAD_NECK", "CEREBRUM", "CRANIUM"}
_WORDS = re.compile(r"[A-Z0-9+]+")
T1_WORDS = {"T1", "T1W", "T1WI", "T1C", "T1CE", "T1GD", "T1POST", "MPRAGE", "SPGR", "FSPGR", "BRAVO",
            "FLASH", "VIBE", "TFE", "T1FS", "T1+C", "T1+"}
OTHER_WEIGHTING = {"T2": "T2-weighted", "T2W": "T2-weighted", "FLAIR": "FLAIR", "STIR": "STIR", "PD": "proton density",
                   "DWI": "diffusion", "DTI": "diffusion", "ADC": "diffusion (ADC map)", "TRACE": "diffusion",
                   "SWI": "susceptibility", "PERF": "perfusion", "DSC": "perfusion", "ASL": "perfusion",
                   "TOF": "angiography", "MRA": "angiography"}
POST_WORDS = {"POST", "+C", "C+", "GAD", "GD", "CONTRAST", "T1C", "T1CE", "T1GD", "T1POST", "CE", "ENHANCED", "+"}
PRE_WORDS = {"PRE", "NONCONTRAST", "NATIVE", "PRECONTRAST"}


@dataclass(frozen=True)
class Fit:
    """What does not fit (reasons), what is not stated (notes), and whether the run is refused."""

    refused: bool = False
    reasons: tuple[str, ...] = ()
    not_stated: tuple[str, ...] = ()
    sequence: str = ""

    @property
    def fits(self) -> bool:
        return not self.reasons

    def summary(self) -> str:
        if self.fits and not self.not_stated:
            return "the series fits the model"
        parts = []
        if self.reasons:
            parts.append("does not fit: " + "; ".join(self.reasons))
        if self.not_stated:
            parts.append("not stated: " + "; ".join(self.not_stated))
        return ". ".join(parts)


def _words(*texts: str) -> set[str]:
    """The upper-case words of header texts ("T1post", "+C", "AX T2 FLAIR" → T1POST, +C, AX, T2, FLAIR)."""
    words: set[str] = set()
    for text in texts:
        words.update(_WORDS.findall(text.upper()))
        words.update(_WORDS.findall(text.upper().replace("-", "")))  # MP-RAGE as MPRAGE
    return words


def check_fit(card, info: SeriesInfo, photometric: str = "MONOCHROME2") -> Fit:
    """Compare a series (its header facts) with a model card."""
    reasons: list[str] = []
    not_stated: list[str] = []
    refused = False
    if photometric.upper() not in ("MONOCHROME1", "MONOCHROME2", ""):
        reasons.append(f"colour image ({photometric}): the model needs greyscale")
        refused = True
    modality = info.modality.upper()
    if not modality:
        not_stated.append("modality")
    elif modality != card.modality.upper():
        reasons.append(f"the series is {modality}, the model is for {card.modality}")
        refused = True
    body_part = info.body_part.upper().replace(" ", "")
    card_part = card.body_part.upper()
    if not body_part:
        not_stated.append("body part")
    elif card_part and body_part != card_part and not (card_part in HEAD_PARTS and body_part in HEAD_PARTS):
        reasons.append(f"the series shows {info.body_part}, the model is for {card.body_part}")
        refused = True
    sequence = (card.raw.get("sequence") or {}) if isinstance(card.raw, dict) else {}
    if modality == card.modality.upper() == "MR" and sequence:
        _check_sequence(sequence, info, reasons, not_stated)
    return Fit(refused, tuple(reasons), tuple(not_stated), str(sequence.get("name", "")))


def _check_sequence(sequence: dict, info: SeriesInfo, reasons: list[str], not_stated: list[str]) -> None:
    words = _words(info.series_description, info.protocol_name, info.sequence_name)
    if sequence.get("weighting") == "T1":
        other = sorted({OTHER_WEIGHTING[w] for w in words if w in OTHER_WEIGHTING})
        if "EP" in info.scanning_sequence.upper().split("\\") and not words & T1_WORDS:
            other.append("echo planar")
        if other and not words & T1_WORDS:
            reasons.append(f"{' / '.join(other)} series, the model is for {sequence.get('name', 'T1')}")
        elif not words & T1_WORDS:
            not_stated.append("T1 weighting (not in the series description or protocol)")
    if sequence.get("contrast") is True:
        if info.contrast_agent.strip():
            return
        if words & PRE_WORDS and not words & POST_WORDS:
            reasons.append(f"before contrast, the model is for {sequence.get('name', 'after contrast')}")
        elif not words & POST_WORDS:
            not_stated.append("contrast agent (ContrastBolusAgent empty, no 'post' or '+C' in the description)")
