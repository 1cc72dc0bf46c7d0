"""One reading session: what the reader and the AI add, each kept under the image it was made on.

An `ImageRef` names one image for good: the series (SeriesInstanceUID and the split key that tells the volumes of
one series apart: "echo 2", "phase"), the time point, the plane and the index in that plane. Catalog positions,
folders and widgets are not part of it, so a series opened again from another folder finds its work again.
The `Session` holds per ref the annotations, the measurement being drawn, the AI answers (kept for the report or
not), the key images and click marks, and per series the results of a series run; undo and redo go over the
reader's edits. Plain data, no Qt: views draw from it, workers' results are stored in it under the ref they
were made for.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field, replace

import numpy as np

from medview.core.annotations import KINDS, Annotation
from medview.core.reading import AiFinding

#: the plane of the acquired slices; an MPR plane is ("mpr", normal, row direction), both rounded
ACQUIRED = "acquired"


@dataclass(frozen=True, order=True)
class SeriesKey:
    """A volume for good: SeriesInstanceUID and split key ("" when the series is one volume)."""

    uid: str
    split: str = ""

    def __str__(self) -> str:
        return f"{self.uid} ({self.split})" if self.split else self.uid


@dataclass(frozen=True)
class ImageRef:
    """One image: slice `index` at time point `t` of a series, in a plane.

    For the acquired plane the index is k (0-based slice order). For an MPR plane, given by its unit normal and
    row direction (rounded to 1e-4 so that the same plane compares equal), the index is its position along the
    normal in mm (rounded to 0.01 mm). An MPR plane made by `core.planes` also names its pixel grid (where its
    first pixel is along the row and column directions, in mm, its spacing and size), because what is drawn on
    it is in its pixels: `core.planes.plane_of_ref` makes the plane again from the ref."""

    series: SeriesKey
    t: int
    index: float
    plane: object = ACQUIRED

    @classmethod
    def mpr(cls, series: SeriesKey, t: int, normal, row, position_mm: float, grid=None) -> ImageRef:
        rounded = (tuple(round(float(v), 4) for v in normal), tuple(round(float(v), 4) for v in row))
        if grid is not None:  # (first pixel along row, along column (mm), row mm, column mm, rows, columns)
            right_mm, down_mm, row_mm, col_mm, rows, columns = grid
            rounded = (*rounded, (round(float(right_mm), 2), round(float(down_mm), 2), round(float(row_mm), 6),
                                  round(float(col_mm), 6), int(rows), int(columns)))
        return cls(series, t, round(float(position_mm), 2), ("mpr", *rounded))

    @property
    def k(self) -> int:
        """The slice index k of an acquired-plane image."""
        if self.plane != ACQUIRED:
            raise ValueError("an MPR image has a position along its normal, not a slice index k")
        return int(self.index)


@dataclass(frozen=True)
class SliceFinding:
    """One slice of a series run: its best P(tumour) (None: no tissue looked at), whether it is flagged, where."""

    k: int
    score: float | None
    flagged: bool
    point: tuple[float, float] | None = None
    label: str | None = None  # the tumour type at the point, only when flagged
    probability: float | None = None  # of that label

    def as_dict(self) -> dict:
        """The entry of `medview classify --all-slices --json` for this slice."""
        return {"k": self.k, "score": None if self.score is None else round(self.score, 6),
                "flagged": self.flagged, "label": self.label,
                "point": None if self.point is None else [round(v, 1) for v in self.point]}


@dataclass
class SeriesRun:
    """A series run's per-slice results, filed under its series whatever is on screen."""

    model: str
    threshold: float | None
    n_slices: int
    findings: list[SliceFinding] = field(default_factory=list)
    state: str = "running"  # running, done, cancelled, failed

    def add(self, finding: SliceFinding) -> None:
        self.findings = [f for f in self.findings if f.k != finding.k] + [finding]
        self.findings.sort(key=lambda f: f.k)


#: answers that are no answer (a click outside the head): never kept in a report
NO_ANSWER_PREFIX = "outside the head"


@dataclass
class Answer:
    """One AI answer on one image (at a point for a patch model), and whether the reader keeps it."""

    id: int
    ref: ImageRef
    finding: AiFinding
    saliency: np.ndarray | None = field(default=None, repr=False)
    kept: bool = False

    @property
    def keepable(self) -> bool:
        """An answer that says nothing (outside the head, no probabilities) never reaches a report."""
        return bool(self.finding.probabilities) and not self.finding.label.startswith(NO_ANSWER_PREFIX)

    def describe(self) -> str:
        return describe_finding(self.finding)


def describe_finding(f: AiFinding) -> str:
    """Names an answer (label, point, model): what a key image's saliency says it belongs to."""
    where = f"at ({f.point[0]:.0f}, {f.point[1]:.0f})" if f.point else "whole slice"
    return f"{f.label} {where} · {f.model_name} {f.model_version}"


@dataclass
class Drawing:
    """The measurement being drawn: its tool and the points clicked so far, on one image only."""

    ref: ImageRef
    tool: str
    points: list[tuple[float, float]] = field(default_factory=list)


class Session:
    """Everything one reading adds to the images, by `ImageRef`; undo/redo over the reader's edits."""

    HISTORY = 200

    def __init__(self) -> None:
        self.annotations: dict[ImageRef, list[Annotation]] = {}
        self.key_images: set[ImageRef] = set()
        self.answers: dict[ImageRef, list[Answer]] = {}
        self.marks: dict[ImageRef, list[tuple[int, int]]] = {}  # clicked pixels (column, row) for the AI
        self.series_runs: dict[SeriesKey, SeriesRun] = {}
        self.studies: dict[SeriesKey, str] = {}  # the StudyInstanceUID of each series: sessions are saved by study
        self.drawing: Drawing | None = None
        self._undo: list[tuple] = []
        self._redo: list[tuple] = []
        self._ids = itertools.count(1)

    # -- undo / redo ---------------------------------------------------------------------------------------
    def _state(self) -> tuple:
        return ({ref: list(items) for ref, items in self.annotations.items()}, set(self.key_images),
                {answer.id: answer.kept for answers in self.answers.values() for answer in answers})

    def _restore(self, state: tuple) -> None:
        annotations, key_images, kept = state
        self.annotations, self.key_images = annotations, key_images
        for answers in self.answers.values():
            for answer in answers:
                answer.kept = kept.get(answer.id, answer.kept)

    def _remember(self) -> None:
        self._undo.append(self._state())
        del self._undo[:-self.HISTORY]
        self._redo.clear()

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append(self._state())
        self._restore(self._undo.pop())
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self._state())
        self._restore(self._redo.pop())
        return True

    # -- annotations ---------------------------------------------------------------------------------------
    def on(self, ref: ImageRef | None) -> list[Annotation]:
        return list(self.annotations.get(ref, ())) if ref is not None else []

    def add(self, ref: ImageRef, annotation: Annotation) -> None:
        self._remember()
        self.annotations.setdefault(ref, []).append(annotation)

    def replace(self, ref: ImageRef, old: Annotation, new: Annotation) -> None:
        items = self.annotations.get(ref, [])
        if old in items:
            self._remember()
            items[items.index(old)] = new

    def remove(self, ref: ImageRef, annotation: Annotation) -> None:
        items = self.annotations.get(ref, [])
        if annotation in items:
            self._remember()
            items.remove(annotation)

    def toggle_key_image(self, ref: ImageRef) -> bool:
        """Mark or unmark an image as a key image; True when it is one now."""
        self._remember()
        if ref in self.key_images:
            self.key_images.discard(ref)
            return False
        self.key_images.add(ref)
        return True

    def click(self, ref: ImageRef, tool: str, point: tuple[float, float]) -> tuple | None:
        """A click of a measuring tool: the points of a finished annotation, or None while it needs more.

        The points of one annotation all come from one image: a click on another image (or with another tool)
        starts the measurement again there."""
        drawing = self.drawing
        if drawing is None or drawing.ref != ref or drawing.tool != tool:
            drawing = self.drawing = Drawing(ref, tool)
        drawing.points.append((float(point[0]), float(point[1])))
        if len(drawing.points) < KINDS[tool]:
            return None
        self.drawing = None
        return tuple(drawing.points)

    def drawing_on(self, ref: ImageRef | None) -> list[tuple[float, float]]:
        """The points of the measurement being drawn on this image (none on any other)."""
        return list(self.drawing.points) if self.drawing is not None and self.drawing.ref == ref else []

    # -- AI answers ----------------------------------------------------------------------------------------
    def add_answer(self, ref: ImageRef, finding: AiFinding, saliency: np.ndarray | None = None) -> Answer:
        answer = Answer(next(self._ids), ref, finding, saliency)
        self.answers.setdefault(ref, []).append(answer)
        return answer

    def answers_on(self, ref: ImageRef | None) -> list[Answer]:
        return list(self.answers.get(ref, ())) if ref is not None else []

    def find_answer(self, ref: ImageRef, point, model_sha256: str) -> Answer | None:
        """An answer already given on this image, at this point, by this model (asked again: shown again)."""
        for answer in self.answers.get(ref, ()):
            if answer.finding.point == point and answer.finding.model_sha256 == model_sha256:
                return answer
        return None

    def keep(self, answer: Answer, kept: bool = True) -> bool:
        """Keep an answer in the report (or not); an answer that says nothing is never kept."""
        kept = kept and answer.keepable
        if answer.kept != kept:
            self._remember()
            answer.kept = kept
        return kept

    def kept_answers(self, series: SeriesKey) -> list[Answer]:
        return [a for ref, answers in self.answers.items() if ref.series == series for a in answers if a.kept]

    def add_mark(self, ref: ImageRef, column: int, row: int) -> None:
        self.marks.setdefault(ref, []).append((int(column), int(row)))

    def clear_marks(self) -> None:
        self.marks.clear()

    # -- per series ----------------------------------------------------------------------------------------
    def refs_of(self, series: SeriesKey) -> list[ImageRef]:
        """Every image of a series that holds something, in (t, index) order."""
        refs = {ref for ref in (*self.annotations, *self.answers, *self.key_images, *self.marks)
                if ref.series == series}
        return sorted(refs, key=lambda r: (r.t, str(r.plane), r.index))

    def clear(self, series: SeriesKey | None = None) -> None:
        """Forget everything (or everything of one series): "Clear". Undo brings the reader's edits back."""
        self._remember()
        keep = (lambda ref: False) if series is None else (lambda ref: ref.series != series)
        self.annotations = {ref: items for ref, items in self.annotations.items() if keep(ref)}
        self.key_images = {ref for ref in self.key_images if keep(ref)}
        self.answers = {ref: items for ref, items in self.answers.items() if keep(ref)}
        self.marks = {ref: items for ref, items in self.marks.items() if keep(ref)}
        self.series_runs = {key: run for key, run in self.series_runs.items()
                            if series is not None and key != series}
        self.drawing = None

    def snapshot(self) -> Session:
        """A copy for a worker that writes it to disk (the GUI keeps editing its own)."""
        other = Session()
        other.annotations = {ref: list(items) for ref, items in self.annotations.items()}
        other.key_images = set(self.key_images)
        other.answers = {ref: [replace(a) for a in items] for ref, items in self.answers.items()}
        other.marks = copy.deepcopy(self.marks)
        other.series_runs = copy.deepcopy(self.series_runs)
        other.studies = dict(self.studies)
        return other

    def study_series(self, study_uid: str) -> set[SeriesKey]:
        return {key for key, uid in self.studies.items() if uid == study_uid}

    def holds_study(self, study_uid: str) -> bool:
        """Whether anything of this study is in the session already (then a saved copy is not merged in)."""
        series = self.study_series(study_uid)
        return any(ref.series in series for ref in (*self.annotations, *self.key_images, *self.answers))

    def forget_study(self, study_uid: str) -> None:
        """"Close study": its images leave the session (not undoable: it was saved first)."""
        series = self.study_series(study_uid)
        self.annotations = {r: v for r, v in self.annotations.items() if r.series not in series}
        self.key_images = {r for r in self.key_images if r.series not in series}
        self.answers = {r: v for r, v in self.answers.items() if r.series not in series}
        self.marks = {r: v for r, v in self.marks.items() if r.series not in series}
        self.series_runs = {k: v for k, v in self.series_runs.items() if k not in series}
        self._undo.clear()
        self._redo.clear()


# -- the session of one study as plain data (JSON), for `io.session_store` --------------------------------------
FORMAT = 1


def _plane_of(value):
    return ACQUIRED if value == ACQUIRED else tuple(tuple(v) if isinstance(v, list) else v for v in value)


def study_to_plain(session: Session, study_uid: str) -> dict:
    """What the reader kept on one study: annotations, key images and kept answers (with their saliency)."""
    series = {key for key, uid in session.studies.items() if uid == study_uid}
    images = []
    for ref in sorted({r for r in (*session.annotations, *session.key_images, *session.answers)
                       if r.series in series}, key=lambda r: (str(r.series), r.t, str(r.plane), r.index)):
        kept = [a for a in session.answers.get(ref, ()) if a.kept]
        annotations = session.on(ref)
        if not (annotations or kept or ref in session.key_images):
            continue
        images.append({
            "series": ref.series.uid, "split": ref.series.split, "t": ref.t, "index": ref.index,
            "plane": ref.plane if ref.plane == ACQUIRED else list(ref.plane),
            "annotations": [{"kind": a.kind, "points": [list(p) for p in a.points], "text": a.text}
                            for a in annotations],
            "key_image": ref in session.key_images,
            "kept_answers": [{"finding": _finding_plain(a.finding),
                              "saliency": None if a.saliency is None else _array_plain(a.saliency)} for a in kept],
        })
    return {"format": FORMAT, "study_instance_uid": study_uid, "images": images}


def merge_study(session: Session, data: dict) -> int:
    """Put a saved study back into the session (nothing of it may be there yet); returns the images restored."""
    if data.get("format") != FORMAT:
        raise ValueError(f"unknown session format {data.get('format')!r}")
    study = str(data["study_instance_uid"])
    restored = 0
    for image in data["images"]:
        key = SeriesKey(str(image["series"]), str(image["split"]))
        session.studies[key] = study
        index = image["index"]
        ref = ImageRef(key, int(image["t"]), index, _plane_of(image["plane"]))
        for a in image["annotations"]:
            session.annotations.setdefault(ref, []).append(
                Annotation(a["kind"], tuple(tuple(p) for p in a["points"]), a.get("text", "")))
        if image["key_image"]:
            session.key_images.add(ref)
        for kept in image["kept_answers"]:
            plain = kept["finding"]
            finding = AiFinding(**{**plain, "point": tuple(plain["point"]) if plain["point"] is not None else None,
                                   "does_not_fit": tuple(plain.get("does_not_fit", ()))})
            saliency = None if kept["saliency"] is None else _array_of(kept["saliency"])
            answer = session.add_answer(ref, finding, saliency)
            answer.kept = True
            if finding.point is not None:
                session.add_mark(ref, *(int(v) for v in finding.point))
        restored += 1
    return restored


def _finding_plain(finding: AiFinding) -> dict:
    from dataclasses import asdict

    plain = asdict(finding)
    plain["point"] = list(finding.point) if finding.point is not None else None
    return plain


def _array_plain(values: np.ndarray) -> dict:
    import base64

    array = np.ascontiguousarray(values, dtype=np.float32)
    return {"shape": list(array.shape), "float32": base64.b64encode(array.tobytes()).decode("ascii")}


def _array_of(plain: dict) -> np.ndarray:
    import base64

    values = np.frombuffer(base64.b64decode(plain["float32"]), dtype=np.float32)
    return values.reshape(plain["shape"]).copy()
