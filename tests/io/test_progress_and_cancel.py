"""Long operations report progress and stop when the user cancels."""

from __future__ import annotations

import pytest

from medview.errors import Cancelled
from medview.io import CancelToken, assemble_volume, iter_assemble, open_folder, scan_folder


def test_scan_reports_progress_up_to_every_file(shared_data):
    seen = []
    result = scan_folder(shared_data / "samples" / "ct_chest_lidc_0314", progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 275) and seen[-1] == (275, 275)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(result.images) == 275


def test_cancelled_scan_stops_with_cancelled(shared_data):
    token = CancelToken()

    def cancel_at_once(done, total):
        if done > 0:
            token.cancel()

    with pytest.raises(Cancelled):
        scan_folder(shared_data / "samples" / "ct_chest_lidc_0314", progress=cancel_at_once, cancel=token)


def test_cancelled_assembly_stops_before_the_volume_is_done(shared_data):
    [spec] = open_folder(shared_data / "samples" / "ct_chest_lidc_0314").volumes
    token = CancelToken()
    landed = 0
    with pytest.raises(Cancelled):
        for _t, _k, _image in iter_assemble(spec, cancel=token):
            landed += 1
            if landed == 10:
                token.cancel()
    assert landed < 30


def test_first_slice_to_land_is_the_one_asked_for_and_equals_the_final_volume(shared_data):
    [spec] = open_folder(shared_data / "samples" / "mr_brain_t1post_tcia_btp").volumes
    generator = iter_assemble(spec, first=17)
    t, k, image = next(generator)
    assert (t, k) == (0, 17)
    first = image.copy()
    volume = assemble_volume(spec)
    assert (first == volume.voxels[17]).all()
