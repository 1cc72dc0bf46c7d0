"""Every decoder path gives the pixels pydicom gives, and compressed twins equal their uncompressed originals."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medview.io import assemble_volume, open_folder
from medview.io.decode import decode_stored
from medview.io.headers import read_headers


def _data(name: str) -> str:
    path = get_testdata_file(name)
    assert path is not None, f"{name} not found in pydicom / pydicom-data"
    return path


def _stored(name: str) -> np.ndarray:
    headers = read_headers(name if "/" in name else _data(name))
    return np.stack([decode_stored(h) for h in headers])


TWINS = {
    "MR_small.dcm": ["MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_expb.dcm", "MR_small_RLE.dcm",
                     "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm", "MR_small_padded.dcm"],
    "emri_small.dcm": ["emri_small_big_endian.dcm", "emri_small_RLE.dcm", "emri_small_jpeg_ls_lossless.dcm",
                       "emri_small_jpeg_2k_lossless.dcm"],
    "JPEG2000_UNC.dcm": ["JPEG2000.dcm"],
    # ..._UNCR is the original of the reversible J2KR (UNCI is the decoded lossy J2KI: not a twin)
    "693_UNCR.dcm": ["693_J2KR.dcm"],
    "MR2_UNCR.dcm": ["MR2_J2KR.dcm"],
    "RG1_UNCR.dcm": ["RG1_J2KR.dcm"],
    "RG3_UNCR.dcm": ["RG3_J2KR.dcm"],
}


@pytest.mark.parametrize(("original", "twin"), [(o, t) for o, twins in TWINS.items() for t in twins])
def test_compressed_twin_decodes_to_the_same_pixels(original, twin):
    reference, decoded = _stored(original), _stored(twin)
    assert decoded.shape == reference.shape
    assert np.array_equal(decoded.astype(np.int64), reference.astype(np.int64))


@pytest.mark.parametrize("name", ["MR_small.dcm", "CT_small.dcm", "MR_small_RLE.dcm", "emri_small.dcm",
                                  "emri_small_jpeg_2k_lossless.dcm", "693_J2KR.dcm", "JPEG2000.dcm",
                                  "MR_small_jpeg_ls_lossless.dcm", "JPGExtended.dcm", "RG1_J2KR.dcm"])
def test_each_decoder_path_equals_pydicom(name):
    reference = pydicom.dcmread(_data(name)).pixel_array
    decoded = _stored(name)
    assert np.array_equal(decoded.reshape(reference.shape), reference)


def test_native_fast_path_equals_pydicom_on_a_real_ct_series(shared_data):
    folder = shared_data / "samples" / "ct_chest_lidc_0314"
    [spec] = open_folder(folder).volumes
    for header in spec.images[0][::50]:
        assert header.is_native_little_endian
        assert np.array_equal(decode_stored(header), pydicom.dcmread(header.path).pixel_array)


def test_monochrome1_is_kept_for_the_display_and_values_are_not_inverted():
    catalog = open_folder(_data("RG1_UNCI.dcm"))
    [spec] = catalog.volumes
    volume = assemble_volume(spec)
    assert volume.photometric == "MONOCHROME1"
    dataset = pydicom.dcmread(_data("RG1_UNCI.dcm"))
    expected = dataset.pixel_array * float(dataset.get("RescaleSlope", 1)) + float(dataset.get("RescaleIntercept", 0))
    assert np.allclose(volume.voxels[0], expected)


def test_mr_with_non_integer_rescale_gives_float_values():
    [spec] = open_folder(_data("MR2_UNCI.dcm")).volumes
    volume = assemble_volume(spec)
    assert volume.voxels.dtype.kind == "f"
    assert volume.voxels[0, 512, 512] == pytest.approx(1181.2977, abs=1e-3)


def test_ct_small_hounsfield_as_simpleitk():
    [spec] = open_folder(_data("CT_small.dcm")).volumes
    volume = assemble_volume(spec)
    assert [volume.voxels[0, 0, 0], volume.voxels[0, 64, 64], volume.voxels[0, 32, 32]] == [-849, 904, -537]
    assert volume.origin == pytest.approx((-158.136, -179.036, -75.7), abs=1e-3)


def test_rt_dose_frames_stack_along_grid_frame_offsets():
    [spec] = open_folder(_data("rtdose.dcm")).volumes
    volume = assemble_volume(spec)
    dataset = pydicom.dcmread(_data("rtdose.dcm"))
    assert volume.n_slices == int(dataset.NumberOfFrames)
    offsets = [float(v) for v in dataset.GridFrameOffsetVector]
    assert volume.slice_steps == pytest.approx(np.diff(offsets) * np.sign(offsets[-1] - offsets[0]))


def test_multi_frame_rle_frames_are_read_at_their_own_fragments_and_equal_pydicom(tmp_path):
    from pydicom.uid import RLELossless

    dataset = pydicom.dcmread(_data("MR_small.dcm"))
    frames = np.stack([np.roll(dataset.pixel_array, shift, axis=1) for shift in range(0, 120, 4)])
    dataset.NumberOfFrames = len(frames)
    dataset.PixelData = frames.tobytes()
    dataset.compress(RLELossless, frames, encoding_plugin="pylibjpeg")
    dataset.save_as(tmp_path / "multi.dcm")
    headers = read_headers(str(tmp_path / "multi.dcm"))
    assert len(headers) == len(frames)
    # each frame knows its own fragment: decoding one never reads the others
    assert all(h.fragments is not None and len(h.fragments) == 1 for h in headers)
    assert len({h.fragments for h in headers}) == len(frames)
    reference = pydicom.dcmread(tmp_path / "multi.dcm").pixel_array
    assert np.array_equal(np.stack([decode_stored(h) for h in headers]), reference)
    assert np.array_equal(reference, frames)


def test_rt_dose_with_an_absolute_grid_frame_offset_vector_is_placed_as_the_relative_one(tmp_path):
    dataset = pydicom.dcmread(_data("rtdose.dcm"))
    z = float(dataset.ImagePositionPatient[2])
    dataset.GridFrameOffsetVector = [z + float(v) for v in dataset.GridFrameOffsetVector]  # PS3.3 C.8.8.3.2
    dataset.save_as(tmp_path / "absolute.dcm")
    [relative] = open_folder(_data("rtdose.dcm")).volumes
    [absolute] = open_folder(tmp_path / "absolute.dcm").volumes
    assert np.allclose(absolute.positions, relative.positions)
    assert absolute.positions[0][2] == pytest.approx(z)


def test_bits_above_bits_stored_are_masked_under_a_non_integer_rescale(tmp_path):
    dataset = pydicom.dcmread(_data("emri_small.dcm"))  # 12 bits stored in 16, unsigned
    assert dataset.BitsStored == 12
    stored = dataset.pixel_array.copy()
    dirty = stored | np.uint16(0xA000)  # garbage in the 4 unused high bits
    dataset.PixelData = dirty.tobytes()
    dataset.RescaleSlope, dataset.RescaleIntercept = 0.5, -3
    dataset.save_as(tmp_path / "dirty.dcm")
    volume = assemble_volume(open_folder(tmp_path).volumes[0])
    assert volume.voxels.dtype.kind == "f"
    assert np.allclose(np.sort(volume.voxels.ravel()), np.sort((stored & 0x0FFF).astype(np.float64).ravel() * 0.5 - 3))


def test_htj2k_is_in_the_codec_table_and_decodes_like_the_original(tmp_path):
    import imagecodecs
    from pydicom.encaps import encapsulate

    from medview.io.codecs import CODECS, Decoder, codec_for

    htj2k = "1.2.840.10008.1.2.4.201"
    assert codec_for(htj2k).decoder == Decoder.IMAGECODECS_JPEG2000
    assert any(htj2k in codec.transfer_syntaxes and codec.available for codec in CODECS)
    dataset = pydicom.dcmread(_data("emri_small.dcm"))  # 10 frames, 16-bit unsigned
    frames = dataset.pixel_array
    dataset.PixelData = encapsulate([imagecodecs.htj2k_encode(frame) for frame in frames])
    dataset["PixelData"].VR = "OB"
    dataset.file_meta.TransferSyntaxUID = htj2k
    dataset.save_as(tmp_path / "htj2k.dcm", enforce_file_format=True)
    assert np.array_equal(_stored(str(tmp_path / "htj2k.dcm")), frames)


def test_every_transfer_syntax_of_the_twins_has_a_row_in_the_codec_table():
    from medview.io.codecs import codec_for

    for name in {n for pair in TWINS.items() for n in [pair[0], *pair[1]]}:
        syntax = pydicom.dcmread(_data(name), stop_before_pixels=True).file_meta.TransferSyntaxUID
        assert codec_for(syntax) is not None, (name, syntax.name)
