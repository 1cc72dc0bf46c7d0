"""Volume assembly: decode every slice of a `VolumeSpec` on both cores straight into one array.

The output array is allocated once and each slice is decoded into it (peak memory stays near the size of
the volume). Values are after the modality LUT, per slice where the rescale differs. For Philips images the
displayed value (DV = stored × RescaleSlope + RescaleIntercept) is the default and the floating-point
value (FP = DV / (RescaleSlope × ScaleSlope)) is given on request; the volume says which it holds.
A generator form yields each slice as it lands, so a viewer can show the first one at once.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Generator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from enum import StrEnum

import numpy as np

from medview.core.volume import Photometric, Volume
from medview.core.window_level import Window
from medview.errors import DecodeError, GeometryError
from medview.io import limits
from medview.io.decode import read_native_into, reads_natively, stored_dtype
from medview.io.decode_pool import decoded
from medview.io.headers import ImageHeader
from medview.io.index import VolumeSpec
from medview.io.scan import CancelToken


class PhilipsValues(StrEnum):
    """Which Philips value a volume holds (a closed set: the CLI's --philips-values choices)."""

    DISPLAYED = "displayed"
    FLOATING = "floating"


PHILIPS_DISPLAYED = PhilipsValues.DISPLAYED
PHILIPS_FLOATING = PhilipsValues.FLOATING

Progress = Callable[[int, int], None]


def _is_integer(value: float) -> bool:
    return float(value).is_integer()


def _stored_range(h: ImageHeader) -> tuple[int, int]:
    bits = min(h.bits_stored, h.bits_allocated)
    if h.pixel_representation == 1:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _uses_philips_fp(h: ImageHeader, philips_values: str) -> bool:
    return (philips_values == PHILIPS_FLOATING and h.philips_scale_slope is not None
            and h.philips_scale_slope != 0 and h.rescale_slope != 0)


def _rescale(h: ImageHeader, philips_values: str) -> tuple[float, float]:
    """(slope, intercept) taking stored values to the values the volume holds."""
    slope, intercept = h.rescale_slope, h.rescale_intercept
    if _uses_philips_fp(h, philips_values):
        factor = slope * h.philips_scale_slope
        return slope / factor, intercept / factor
    return slope, intercept


def output_dtype(images: list[ImageHeader], philips_values: str) -> np.dtype:
    """The narrowest type that holds every value after the LUT exactly: int16 for CT, float32 for scaled MR,
    uint8 R, G, B for colour."""
    if images and images[0].is_colour:
        return np.dtype(np.uint8)
    low, high = math.inf, -math.inf
    for h in images:
        slope, intercept = _rescale(h, philips_values)
        if not (_is_integer(slope) and _is_integer(intercept)) or h.bits_allocated > 16:
            return np.dtype(np.float32)
        a, b = _stored_range(h)
        low = min(low, a * slope + intercept, b * slope + intercept)
        high = max(high, a * slope + intercept, b * slope + intercept)
    for candidate in (np.int16, np.uint16, np.int32):
        info = np.iinfo(candidate)
        if info.min <= low and high <= info.max:
            return np.dtype(candidate)
    return np.dtype(np.float32)


def _value_unit(h: ImageHeader) -> str:
    if h.rescale_type and h.rescale_type.upper() not in ("US", "UNSPECIFIED"):
        return h.rescale_type
    return "HU" if h.modality == "CT" else ""


def _value_note(images: list[ImageHeader], philips_values: str) -> str:
    if not any(h.philips_scale_slope for h in images):
        return ""
    if philips_values == PHILIPS_FLOATING:
        return "Philips floating-point value (FP = DV / (RescaleSlope × ScaleSlope))"
    return "Philips displayed value (DV = stored × RescaleSlope + RescaleIntercept); FP on request"


def _tiles(frame: np.ndarray, spec: VolumeSpec) -> np.ndarray:
    per_row = math.ceil(math.sqrt(spec.mosaic_tiles))
    rows, columns = spec.rows, spec.columns
    grid = frame[: per_row * rows, : per_row * columns].reshape(per_row, rows, per_row, columns)
    tiles = grid.transpose(0, 2, 1, 3).reshape(per_row * per_row, rows, columns)[: spec.mosaic_tiles]
    return tiles[::-1] if spec.mosaic_descending else tiles


def _put(target: np.ndarray, stored: np.ndarray, slope: float, intercept: float, h: ImageHeader) -> None:
    """Write stored values through the modality LUT into the output slice, checking they fit."""
    if h.is_colour:  # R, G, B: no modality LUT
        target[...] = stored
        return
    _rescale_rows(target, stored, slope, intercept, h)


def _rescale_rows(target: np.ndarray, stored: np.ndarray, slope: float, intercept: float, h: ImageHeader) -> None:
    """Stored values through the modality LUT into `target`, a block of rows at a time: no temporary larger
    than a block (a 1955 × 1841 radiograph with slope −1 made an int32 copy of itself), and `stored` may lie
    in the tail of `target`'s own memory (see `_put_in_place`)."""
    low, high = _stored_range(h)
    # bits above BitsStored are not part of the value (PS3.5 8.1.1): masked off under any rescale. Only a
    # stored type wider than BitsStored can hold them. Unsigned values are masked block by block (masking a
    # value that has none changes nothing: one pass over a block in cache, instead of min and max over the
    # frame); signed values are masked only when some lie outside the range, decided on the whole frame first.
    spare_bits = stored.dtype.itemsize * 8 > min(h.bits_stored, h.bits_allocated)
    mask_each_block = spare_bits and stored.dtype.kind == "u" and low == 0
    mask = spare_bits and not mask_each_block and bool(stored.size) and (
        int(stored.min()) < low or int(stored.max()) > high)
    wide = None
    if target.dtype.kind in "iu" and slope != 1:  # stored × slope in the narrowest exact type
        wide = np.int32 if max(abs(low), abs(high)) * abs(int(slope)) + abs(int(intercept)) < 2**31 else np.int64
    rows = max(1, IN_PLACE_BLOCK_BYTES // max(1, target[0].nbytes))
    for start in range(0, target.shape[0], rows):
        block, values = target[start:start + rows], stored[start:start + rows]
        if mask_each_block:  # in place when the stored values are ours to change (a frame read in place)
            values = np.bitwise_and(values, values.dtype.type(high), out=values if values.flags.writeable else None)
        elif mask:
            values = np.bitwise_and(values, (1 << h.bits_stored) - 1).astype(values.dtype)
        if target.dtype.kind in "iu":
            if wide is None:
                np.add(values, np.int32(intercept), out=block, casting="unsafe")
            else:
                np.add(np.multiply(values, wide(slope), dtype=wide), wide(intercept), out=block, casting="unsafe")
        else:
            np.multiply(values, slope, out=block, casting="unsafe")
            if intercept:
                block += np.float32(intercept)


#: Bytes of a frame rescaled at a time (the temporaries of the modality LUT are a block, not a frame).
IN_PLACE_BLOCK_BYTES = 256 * 1024
#: Native frames are read into the volume's own memory when one frame buffer per decoding thread would cost
#: more than this share of the volume (a single large image, a few slices). Otherwise they are read through a
#: buffer, which is faster with two threads: no page faults inside the kernel's copy (275-slice CT, 2 threads:
#: 0.099 s against 0.117 s, minima of 11).
IN_PLACE_SHARE = 0.1


def _reads_in_place(h: ImageHeader, target: np.ndarray | None) -> bool:
    """A native grey frame is read straight into the volume's own slice, at the tail of its memory, and
    rescaled there front to back: a single large image then costs its volume, not twice or three times it."""
    if target is None or not reads_natively(h) or not target.flags.c_contiguous:
        return False
    stored, out = stored_dtype(h).itemsize, target.dtype.itemsize
    return out >= stored and out % stored == 0


def _put_in_place(target: np.ndarray, h: ImageHeader, slope: float, intercept: float) -> None:
    """`_put` for a frame read into the tail of the target slice's memory.

    Row block [a, b) of the output is written over bytes below a × row bytes of output, while the stored rows
    from a on lie from (output bytes − stored bytes) + a × stored row bytes: never below, for any a ≤ rows,
    when an output value is a whole multiple of a stored one. Each block is read before it is written.
    """
    dtype = stored_dtype(h)
    raw = target.reshape(-1).view(np.uint8)
    tail = raw[raw.size - target.size * dtype.itemsize:]
    stored = read_native_into(h, tail.view(dtype).reshape(target.shape))
    _rescale_rows(target, stored, slope, intercept, h)


def _blank(target: np.ndarray, intercept: float) -> None:
    """A slice that could not be decoded: stored value 0 through the modality LUT, or 0 where that cannot be held."""
    try:
        target.fill(intercept)
    except (OverflowError, ValueError):
        target.fill(0)


def iter_assemble(
    spec: VolumeSpec,
    cancel: CancelToken | None = None,
    philips_values: str = PHILIPS_DISPLAYED,
    workers: int | None = None,
    first: int | None = None,
) -> Generator[tuple[int, int, np.ndarray], None, Volume]:
    """Decode a volume; yield (t, k, slice view) as each slice lands; return the `Volume`.

    `first` is the slice decoded first (default the middle one, which the viewer shows first).
    """
    images = [h for point in spec.images for h in point]
    dtype = output_dtype(images, philips_values)
    shape = spec.shape
    workers = workers or min(2, os.cpu_count() or 1)
    first_image = images[0]
    limits.check_volume_fits(spec.label or "this series", shape, dtype.itemsize, limits.image_bytes(
        first_image.rows, first_image.columns, first_image.samples_per_pixel, first_image.bits_allocated), workers)
    try:
        voxels = np.empty(shape, dtype=dtype)
    except MemoryError:
        raise DecodeError(f"{spec.label}: {' × '.join(map(str, shape))} voxels do not fit in memory") from None
    planes = voxels if spec.time_points > 1 else voxels[np.newaxis]
    frame_bytes = first_image.rows * first_image.columns * max(1, first_image.bits_allocated // 8)
    in_place = frame_bytes * workers > IN_PLACE_SHARE * voxels.nbytes
    jobs = [(t, k) for t in range(len(spec.images)) for k in range(len(spec.images[t]))]
    start = spec.n_slices // 2 if first is None else first
    jobs.sort(key=lambda job: (job[0], (job[1] - start) % max(1, len(spec.images[job[0]]))))

    def decode(job: tuple[int, int]) -> tuple[int, int]:
        t, k = job
        if cancel is not None and cancel.cancelled:
            return t, k
        h = spec.images[t][k]
        slope, intercept = _rescale(h, philips_values)
        try:
            condemned_for = condemned.get(h.path)
            if condemned_for is not None:
                raise DecodeError(condemned_for)
            if in_place and _reads_in_place(h, planes[t, k] if not spec.mosaic_tiles else None):
                _put_in_place(planes[t, k], h, slope, intercept)
                return t, k
            with decoded(h) as stored:  # from a worker: a shared buffer, copied into the volume here
                if spec.mosaic_tiles:
                    for tile, image in enumerate(_tiles(stored, spec)):
                        _put(planes[t, tile], image, slope, intercept, h)
                else:
                    if stored.shape != planes[t, k].shape:
                        raise DecodeError(f"{h.path}: image is {stored.shape}, expected {spec.rows}×{spec.columns}")
                    _put(planes[t, k], stored, slope, intercept, h)
        except (DecodeError, ArithmeticError, ValueError, TypeError, IndexError) as error:
            # one broken file costs one slice, shown blank (stored value 0) and named in the warnings
            failures[(t, k)] = str(error) if isinstance(error, DecodeError) else (
                f"{h.path}: its values do not fit the series ({type(error).__name__}: {error})")
            if isinstance(error, DecodeError) and h.n_frames > 1:
                _condemn_if_alike(h.path, str(error))
            _blank(planes[t] if spec.mosaic_tiles else planes[t, k], intercept)
        return t, k

    failures: dict[tuple[int, int], str] = {}
    # a multi-frame file whose encapsulation is broken fails every frame alike, each one in a worker process
    # (32 frames: 4.7 s): two frames failing with the same reason condemn the file's other frames untried
    first_failure: dict[str, str] = {}
    condemned: dict[str, str] = {}

    def _condemn_if_alike(path: str, reason: str) -> None:
        earlier = first_failure.setdefault(path, reason)
        if earlier is not reason and earlier == reason:
            condemned[path] = reason

    def landed(t: int, k: int):
        if spec.mosaic_tiles:
            for tile in range(spec.mosaic_tiles):
                yield t, tile, planes[t, tile]
        else:
            yield t, k, planes[t, k]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        queue = iter(jobs)
        # the slice asked for is decoded alone and handed over first: the viewer shows it at once
        yield from landed(*pool.submit(decode, next(queue)).result())
        pending = set()
        for job in queue:  # then keep a few jobs in flight, not the whole volume
            pending.add(pool.submit(decode, job))
            if len(pending) >= workers * 4:
                break
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    t, k = future.result()
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    next_job = next(queue, None)
                    if next_job is not None:
                        pending.add(pool.submit(decode, next_job))
                    yield from landed(t, k)
        except BaseException:
            for future in pending:
                future.cancel()
            raise

    if failures and len(failures) == len(jobs):
        raise DecodeError(next(iter(failures.values())))
    warnings = list(spec.warnings) + [
        f"slice {k + 1}{f' (time point {t + 1})' if len(spec.images) > 1 else ''} could not be decoded and is "
        f"shown blank: {reason}" for (t, k), reason in sorted(failures.items())]
    first_point = spec.images[0]
    thickness = (tuple(float(first_point[0].slice_thickness or math.nan) for _ in range(spec.n_slices))
                 if spec.mosaic_tiles else
                 tuple(math.nan if h.slice_thickness is None else float(h.slice_thickness) for h in first_point))
    try:
        return Volume(
            voxels=voxels,
            positions=spec.positions,
            row_cosine=spec.row_cosine,
            column_cosine=spec.column_cosine,
            pixel_spacing=spec.pixel_spacing,
            info=spec.info,
            photometric=Photometric.RGB if spec.is_colour else Photometric.of(first_point[0].photometric),
            value_unit="" if spec.is_colour else _value_unit(first_point[0]),
            value_note=_value_note(images, philips_values),
            slice_thickness=thickness,
            sop_instance_uids=(tuple(first_point[0].sop_instance_uid for _ in range(spec.n_slices)) if spec.mosaic_tiles
                               else tuple(h.sop_instance_uid for h in first_point)),
            time_labels=spec.time_labels,
            warnings=tuple(warnings),
            has_geometry=spec.has_geometry,
            windows=() if spec.is_colour else _windows_in_values(spec.windows, first_point[0], philips_values),
        )
    except ValueError as error:  # the parts disagree: a reason for this series, never a traceback
        raise GeometryError(f"{spec.label}: {error}") from error


def _windows_in_values(windows, h: ImageHeader, philips_values: str) -> tuple[Window, ...]:
    """The scanner's windows are in displayed values: scaled with the values when Philips FP is shown."""
    if not _uses_philips_fp(h, philips_values):
        return tuple(windows)
    factor = h.rescale_slope * h.philips_scale_slope
    return tuple(Window(abs(w.width / factor), w.level / factor, w.name) for w in windows)


def assemble_volume(
    spec: VolumeSpec,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    philips_values: str = PHILIPS_DISPLAYED,
    workers: int | None = None,
) -> Volume:
    """Decode a whole volume, reporting (slices done, slices in all)."""
    generator = iter_assemble(spec, cancel=cancel, philips_values=philips_values, workers=workers)
    total = spec.n_slices * spec.time_points
    done = 0
    while True:
        try:
            next(generator)
        except StopIteration as finished:
            return finished.value
        done += 1
        if progress:
            progress(done, total)



def slice_values(spec: VolumeSpec, k: int, t: int = 0, philips_values: str = PHILIPS_DISPLAYED) -> np.ndarray:
    """One slice after the modality LUT, without assembling the volume (thumbnails, previews)."""
    h = spec.images[t][0 if spec.mosaic_tiles else k]
    slope, intercept = _rescale(h, philips_values)
    with decoded(h) as stored:
        if spec.mosaic_tiles:
            stored = _tiles(stored, spec)[k]
        out = np.empty(stored.shape, dtype=output_dtype([h], philips_values))
        try:
            _put(out, stored, slope, intercept, h)
        except (ArithmeticError, ValueError, TypeError, IndexError) as error:
            raise DecodeError(f"{h.path}: its values could not be read ({type(error).__name__}: {error})") from error
    return out
