"""Image planes in patient space: what a view shows is a plane, never "slice k".

An `ImagePlane` is a 2D grid in LPS mm: the centre of pixel (row 0, column 0), the directions of increasing
column (screen right) and increasing row (screen down), the spacing and the size. An acquired slice is one
(`acquired_plane`); the three reformats of multi-planar reformatting are others (`anatomical_planes`). The
mapping patient ↔ plane lives here, so a point picked in one view is the same LPS point in every other.

Integer (row, column) is a pixel's centre, as in DICOM (ImagePositionPatient is the centre of the first pixel)
and as in `Volume.voxel_to_lps`. The grid of an anatomical plane is fixed for its orientation (it covers the
whole volume); moving the plane moves it along its normal only, so what was drawn on a plane stays on the same
pixels (its `ImageRef` is the orientation and the position along the normal).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np

from medview.core import geometry, orientation

#: the three anatomical planes, in the order the MPR layout shows them
ANATOMICAL = ("axial", "coronal", "sagittal")
#: directions equal to this (cosine) are taken as the same (1e-6 rad ≈ 0.00006°)
SAME_DIRECTION = 1 - 1e-9


@dataclass(frozen=True, eq=False)
class ImagePlane:
    """A grid of pixels in patient space (LPS mm).

    `right` is the LPS direction of increasing column (DICOM's row cosine), `down` that of increasing row
    (the column cosine); `spacing` is (between rows, between columns) in mm, PixelSpacing order; `shape` is
    (rows, columns). `name` says what it is ("axial", "coronal", "sagittal", "acquired", "oblique")."""

    origin: np.ndarray
    right: np.ndarray
    down: np.ndarray
    spacing: tuple[float, float]
    shape: tuple[int, int]
    name: str = "oblique"

    def __post_init__(self) -> None:
        object.__setattr__(self, "origin", np.asarray(self.origin, dtype=np.float64).reshape(3))
        object.__setattr__(self, "right", geometry.unit(self.right))
        object.__setattr__(self, "down", geometry.unit(self.down))
        if abs(float(self.right @ self.down)) > geometry.PERPENDICULAR_COSINE:
            raise ValueError("a plane's right and down directions must be perpendicular")
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) != 2 or not all(s > 0 and math.isfinite(s) for s in spacing):
            raise ValueError(f"a plane's spacing is two positive mm values, not {self.spacing!r}")
        shape = tuple(int(n) for n in self.shape)
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"a plane has at least one row and one column, not {self.shape!r}")
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "_normal", _cross(self.right, self.down))  # asked for on every crosshair move

    # -- where it is ------------------------------------------------------------------------------------
    @property
    def normal(self) -> np.ndarray:
        """cross(right, down): the direction in which the plane's position grows (as a slice normal)."""
        return self._normal

    @property
    def position_mm(self) -> float:
        """Where the plane is along its normal (mm): the index of its `ImageRef`."""
        return float(self.origin @ self.normal)

    @property
    def size_mm(self) -> tuple[float, float]:
        """(height, width) in mm, from the first to the last pixel centre plus one pixel."""
        return self.shape[0] * self.spacing[0], self.shape[1] * self.spacing[1]

    def pixel_to_lps(self, row, column) -> np.ndarray:
        """LPS position (mm) of pixel (row, column), fractional allowed; arrays give (..., 3)."""
        row = np.asarray(row, dtype=np.float64)[..., None]
        column = np.asarray(column, dtype=np.float64)[..., None]
        return self.origin + column * self.spacing[1] * self.right + row * self.spacing[0] * self.down

    def lps_to_pixel(self, point) -> tuple[float, float, float]:
        """(row, column, distance from the plane along its normal in mm) of a patient position."""
        offset = np.asarray(point, dtype=np.float64) - self.origin
        return (float(offset @ self.down) / self.spacing[0], float(offset @ self.right) / self.spacing[1],
                float(offset @ self.normal))

    def through(self, point) -> ImagePlane:
        """The same grid moved along its normal (only) so that it passes through `point`."""
        return self.shifted(float((np.asarray(point, dtype=np.float64) - self.origin) @ self.normal))

    def shifted(self, mm: float) -> ImagePlane:
        """The same grid `mm` further along its normal."""
        return replace(self, origin=self.origin + float(mm) * self.normal)

    def same_orientation(self, other: ImagePlane) -> bool:
        return bool(self.right @ other.right > SAME_DIRECTION and self.down @ other.down > SAME_DIRECTION)

    # -- what a reader sees -------------------------------------------------------------------------------
    def markers(self, rotation: int = 0, flip_horizontal: bool = False,
                flip_vertical: bool = False) -> dict[str, str]:
        """{'left', 'right', 'top', 'bottom'} → the patient direction that edge faces, from this plane's own
        directions (never from the acquired slices')."""
        return orientation.edge_markers(self.right, self.down, rotation, flip_horizontal, flip_vertical)

    def line_with(self, other: ImagePlane) -> np.ndarray | None:
        """Direction (d_row, d_column) in this plane's pixels of its intersection with `other` (a reference
        line); None when the planes are parallel."""
        direction = _cross(self.normal, other.normal)
        if np.linalg.norm(direction) < 1e-9:
            return None
        direction = direction / np.linalg.norm(direction)
        return np.array([direction @ self.down / self.spacing[0], direction @ self.right / self.spacing[1]])

    def ref(self, series, t: int = 0):
        """The session's name for this plane's image: orientation and position along the normal."""
        from medview.core.session import ImageRef

        grid = (float(self.origin @ self.right), float(self.origin @ self.down), *self.spacing, *self.shape)
        return ImageRef.mpr(series, t, self.normal, self.right, self.position_mm, grid)

    def describe(self) -> str:
        """'coronal reformat at 140.6 mm', 'oblique axial reformat (18.5° from axial) at -30.2 mm' for a report."""
        nearest = geometry.nearest_plane(self.normal)
        angle = f" ({nearest.angle_deg:.1f}° from {nearest.name})" if nearest.oblique else ""
        return f"{nearest.name} reformat{angle} at {self.position_mm:.1f} mm"


def plane_of_ref(ref) -> ImagePlane:
    """The plane an MPR `ImageRef` names, made again from the ref alone (its grid included)."""
    if ref.plane == "acquired" or len(ref.plane) < 4:
        raise ValueError("this image is not an MPR plane with its grid")
    _, normal, right, grid = ref.plane
    normal, right = geometry.unit(normal), geometry.unit(right)
    down = geometry.unit(np.cross(normal, right))
    right_mm, down_mm, row_mm, col_mm, rows, columns = grid
    origin = right_mm * right + down_mm * down + float(ref.index) * normal
    plane = ImagePlane(origin, right, down, (row_mm, col_mm), (rows, columns), "reformat")
    return replace(plane, name=f"{geometry.nearest_plane(plane.normal).name} reformat")


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The cross product of two 3-vectors (numpy's general np.cross costs ~50 µs a call; this a few)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


# -- planes of a volume --------------------------------------------------------------------------------------
def acquired_plane(stack, k: int) -> ImagePlane:
    """Acquired slice k as a plane: its own pixels, position and directions. `stack` is a `Volume`, or anything
    that knows the slices' geometry before their pixels (positions, cosines, spacing, rows and columns)."""
    shape = stack.shape[1:] if hasattr(stack, "shape") else (stack.rows, stack.columns)
    return ImagePlane(origin=stack.positions[k], right=stack.row_cosine, down=stack.column_cosine,
                      spacing=stack.pixel_spacing, shape=shape, name="acquired")


@dataclass(frozen=True)
class Frame:
    """Three perpendicular unit axes nearest to patient L, P and S, with the sampling step along each (mm)."""

    axes: np.ndarray  # 3×3, rows: the axis nearest +L, +P, +S
    steps: tuple[float, float, float]


def acquisition_frame(volume) -> Frame:
    """The volume's own axes (row, column, normal), signed and ordered to lie nearest L, P and S, with the
    pixel spacings and the median slice step: reformats aligned to the acquisition show the acquired slices
    themselves in the plane nearest to them, and the other two perpendicular to the slices."""
    axes = np.array([volume.row_cosine, volume.column_cosine, volume.normal])
    steps = volume.slice_steps
    through = float(np.median(np.abs(steps))) if len(steps) else min(volume.pixel_spacing)
    spacing = (volume.pixel_spacing[1], volume.pixel_spacing[0], through)
    best = max(itertools.permutations(range(3)),
               key=lambda order: sum(abs(axes[order[i]][i]) for i in range(3)))
    ordered = np.array([axes[best[i]] * (1.0 if axes[best[i]][i] >= 0 else -1.0) for i in range(3)])
    return Frame(ordered, tuple(float(spacing[best[i]]) for i in range(3)))


def patient_frame(volume) -> Frame:
    """Patient L, P, S themselves (true anatomical planes whatever the acquisition), each sampled at the step
    of the acquisition axis nearest to it."""
    acquired = acquisition_frame(volume)
    return Frame(np.eye(3), acquired.steps)


def volume_corners(volume) -> np.ndarray:
    """LPS positions of the four corner pixels of every slice (4n × 3): the true extent of a sheared stack."""
    rows, columns = volume.shape[1:]
    row_mm, col_mm = volume.pixel_spacing
    offsets = np.array([[0, 0], [0, columns - 1], [rows - 1, 0], [rows - 1, columns - 1]], dtype=np.float64)
    corner_offsets = (offsets[:, 1:2] * col_mm * volume.row_cosine + offsets[:, 0:1] * row_mm * volume.column_cosine)
    return (volume.positions[:, None, :] + corner_offsets[None, :, :]).reshape(-1, 3)


def plane_covering(volume, right, down, spacing: tuple[float, float], point, name: str = "oblique",
                   anchor=None) -> ImagePlane:
    """A plane of this orientation through `point` whose grid covers the whole volume, its pixel centres on
    the lattice of `anchor` (default the volume's first voxel, so a plane parallel to the slices shows the
    voxels themselves; anchored at a point, the plane has a pixel centred exactly there)."""
    right, down = geometry.unit(right), geometry.unit(down)
    corners = volume_corners(volume)
    anchor = volume.positions[0] if anchor is None else np.asarray(anchor, dtype=np.float64)
    starts, counts = [], []
    for axis, step in ((down, spacing[0]), (right, spacing[1])):
        projections = (corners - anchor) @ axis
        first = math.floor(projections.min() / step + 1e-6)
        last = math.ceil(projections.max() / step - 1e-6)
        starts.append(first * step)
        counts.append(last - first + 1)
    origin = anchor + starts[0] * down + starts[1] * right
    plane = ImagePlane(origin, right, down, spacing, tuple(counts), name)
    return plane.through(point)


def anatomical_planes(volume, point, frame: Frame | None = None, anchor=None) -> dict[str, ImagePlane]:
    """Axial, coronal and sagittal planes through `point` (LPS mm), in the radiological convention: axial seen
    from the feet (patient left on screen right, anterior up), coronal from the front (left on the right,
    head up), sagittal from the patient's left (anterior on the left, head up). Aligned to the acquisition
    (default) or to `patient_frame`."""
    frame = frame or acquisition_frame(volume)
    x, y, z = frame.axes
    sx, sy, sz = frame.steps
    layout = {"axial": (x, y, (sy, sx)), "coronal": (x, -z, (sz, sx)), "sagittal": (y, -z, (sz, sy))}
    made = {name: plane_covering(volume, right, down, spacing, point, name, anchor)
            for name, (right, down, spacing) in layout.items()}
    return made if anchor is not None else {name: moved_to(volume, plane, point) for name, plane in made.items()}


def moved_to(volume, plane: ImagePlane, point) -> ImagePlane:
    """The plane moved along its normal through `point`. A plane parallel to the slices takes the pixel lattice
    of the (interpolated) slice it lies on, so on a sheared stack too it shows an acquired slice's own pixels,
    not pixels interpolated half-way between them; any other plane keeps its grid (what was drawn on it stays
    on its pixels)."""
    if abs(float(plane.normal @ volume.normal)) > SAME_DIRECTION:
        k = float(volume.lps_to_voxel(point)[0])
        return plane_covering(volume, plane.right, plane.down, plane.spacing, point, plane.name,
                              anchor=volume.voxel_to_lps(k, 0, 0))
    return plane.through(point)


def rotated(plane: ImagePlane, volume, axis, degrees: float, point) -> ImagePlane:
    """The plane turned by `degrees` about `axis` (an LPS direction) through `point`: an oblique reformat.
    Its grid is made again to cover the volume; its spacing is kept."""
    axis = geometry.unit(axis)
    angle = math.radians(degrees)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    turn = np.eye(3) + math.sin(angle) * cross + (1 - math.cos(angle)) * cross @ cross  # Rodrigues
    return plane_covering(volume, turn @ plane.right, turn @ plane.down, plane.spacing, point,
                          plane.name if abs(degrees) < 1e-9 or plane.name.startswith("oblique")
                          else f"oblique {plane.name}")


def volume_centre(volume) -> np.ndarray:
    """The LPS centre of the volume's true extent (the middle of its corners)."""
    corners = volume_corners(volume)
    return (corners.min(axis=0) + corners.max(axis=0)) / 2


def inside(volume, point, margin_voxels: float = 0.5) -> bool:
    """Whether a patient position lies in the volume (within half a voxel of its outer voxel centres)."""
    return inside_stack(volume.positions, volume.row_cosine, volume.column_cosine, volume.pixel_spacing,
                        volume.shape, point, margin_voxels)


def inside_stack(positions, row_cosine, column_cosine, pixel_spacing, shape, point,
                 margin_voxels: float = 0.5) -> bool:
    """`inside` from the geometry alone (the index knows it before any pixel is decoded): the position's
    fractional slice index through the per-slice positions, then its row and column in that slice."""
    positions = np.asarray(positions, dtype=np.float64)
    point = np.asarray(point, dtype=np.float64)
    row_cosine, column_cosine = geometry.unit(row_cosine), geometry.unit(column_cosine)
    normal = np.cross(row_cosine, column_cosine)
    projections = positions @ normal
    n, rows, columns = shape
    m = margin_voxels
    if n == 1:
        k = 0.0
        if abs(float(point @ normal) - projections[0]) > m * min(pixel_spacing):
            return False
    else:
        target = float(point @ normal)
        steps = np.diff(projections)
        if target < projections[0]:
            k = (target - projections[0]) / steps[0]
        elif target > projections[-1]:
            k = n - 1 + (target - projections[-1]) / steps[-1]
        else:
            k = float(np.interp(target, projections, np.arange(n, dtype=np.float64)))
    base = geometry.voxel_to_lps(positions, row_cosine, column_cosine, pixel_spacing, k, 0, 0)
    offset = point - base
    r, c = offset @ column_cosine / pixel_spacing[0], offset @ row_cosine / pixel_spacing[1]
    return bool(-m <= k <= n - 1 + m and -m <= r <= rows - 1 + m and -m <= c <= columns - 1 + m)


def outline_points(kind: str, points) -> list[tuple[float, float]]:
    """An annotation's points as its SR region draws them, in continuous pixel coordinates (column, row):
    a rectangle's four corners, an ellipse's two axes (major first), anything else its own points."""
    if kind == "rectangle":
        (c0, r0), (c1, r1) = points
        return [(c0, r0), (c1, r0), (c1, r1), (c0, r1)]
    if kind == "ellipse":
        (c0, r0), (c1, r1) = points
        cc, rc = (c0 + c1) / 2, (r0 + r1) / 2
        axes = [(c0, rc), (c1, rc), (cc, r0), (cc, r1)]
        return axes[2:] + axes[:2] if abs(c1 - c0) < abs(r1 - r0) else axes
    return [tuple(p) for p in points]


def annotation_lps(plane: ImagePlane, kind: str, points) -> tuple[tuple[float, float, float], ...]:
    """Where an annotation drawn on a plane lies in patient space (LPS mm). Its points are continuous pixel
    coordinates (column, row): pixel (r, c) covers [c, c + 1) × [r, r + 1), its centre at + 0.5."""
    return tuple(tuple(float(v) for v in plane.pixel_to_lps(row - 0.5, column - 0.5))
                 for column, row in outline_points(kind, points))
