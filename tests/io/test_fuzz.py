"""A short seeded fuzzing run in CI: the hostile cases and mutated real files, none crashes, hangs or is lost.

benchmarks/fuzz.py runs the same harness on 5,000 inputs and more.
"""

from __future__ import annotations

from tests.io.fuzz import hostile_cases, run

#: Enough for every hostile case and every mutator a few times; a few seconds on two cores.
INPUTS = 80


def test_a_seeded_fuzzing_run_gives_every_input_an_image_or_a_reason(tmp_path):
    report = run(INPUTS, seed=20261201, workdir=tmp_path)
    assert report.inputs == INPUTS
    assert report.crashes == []
    assert report.hangs == []
    assert report.unaccounted == []
    assert report.loaded + report.named == INPUTS
    assert report.loaded > 0 and report.named >= len(hostile_cases())
    assert report.peak_hostile_bytes < 2**30
