"""ROI geometry: shapes' vertices to boxes of image pixels; pure numpy.

Coordinates follow napari's conventions without importing napari:

* A layer maps its *data* coordinates to *world* coordinates with an affine
  matrix of shape ``(D + 1, D + 1)`` (homogeneous, last row ``0 ... 0 1``).
  The caller passes the whole chain (scale, translate, rotate, shear and the
  layer's own affine); :mod:`napari_lowlight._napari.viewer_api` builds it from a
  layer.
* Layers with fewer dimensions than the world are aligned to its *last* axes.
* Pixel ``i`` of an image is centred on data coordinate ``i``; an ROI holds
  the pixels whose centres lie inside its bounding box.
* The last two (non-channel) data axes are the image plane, the axes the
  network works on. Leading axes (time, z, channels kept as a stack) are the
  *stack axes*: scope ``"slice"`` keeps the slice the shape was drawn on,
  scope ``"stack"`` every index.

A :class:`Box` is a half-open integer box over all non-channel axes of the
image data, ready to slice lazy arrays (dask, zarr) so that only the ROI plus
its context margin is ever read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCOPES = ("slice", "stack")
# Transformed vertices carry float noise (1e-13); a vertex this close to a
# pixel centre counts as on it, so a rectangle drawn exactly over pixel
# centres keeps them.
_EPS = 1e-6
_RECTANGLE = "rectangle"


@dataclass(frozen=True)
class Box:
    """A half-open box of integer data coordinates, one (start, stop) per axis."""

    start: tuple[int, ...]
    stop: tuple[int, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(max(0, b - a) for a, b in zip(self.start, self.stop, strict=False))

    @property
    def slices(self) -> tuple[slice, ...]:
        return tuple(slice(a, b) for a, b in zip(self.start, self.stop, strict=False))

    @property
    def is_empty(self) -> bool:
        return any(n == 0 for n in self.shape)

    @classmethod
    def from_slices(cls, slices, shape: tuple[int, ...]) -> Box:
        """A box from numpy-style slices (step 1) over an array of ``shape``;
        missing trailing axes are taken whole."""
        slices = tuple(slices) + (slice(None),) * (len(shape) - len(tuple(slices)))
        if len(slices) != len(shape):
            raise ValueError(f"A box with {len(slices)} axes does not fit an image with {len(shape)} axes.")
        start, stop = [], []
        for s, n in zip(slices, shape, strict=False):
            if isinstance(s, (int, np.integer)):
                s = slice(int(s), int(s) + 1)
            if not isinstance(s, slice) or s.step not in (None, 1):
                raise ValueError(f"Boxes are made of slices with step 1, got {s!r}.")
            a = 0 if s.start is None else int(s.start)
            b = n if s.stop is None else int(s.stop)
            if a < 0 or b < 0:
                raise ValueError(f"Box slices must not be negative, got {s!r}.")
            start.append(a)
            stop.append(b)
        return cls(tuple(start), tuple(stop))

    def as_list(self) -> list[list[int]]:
        """``[[start, stop], ...]`` per axis: plain ints for layer metadata."""
        return [[int(a), int(b)] for a, b in zip(self.start, self.stop, strict=False)]


@dataclass(frozen=True)
class RoiBox:
    """The outcome for one shape: its clipped box (None when skipped) and a
    message for the user (empty when there is nothing to say)."""

    index: int
    box: Box | None
    message: str = ""
    skipped: bool = False


def embed_affine(matrix: np.ndarray, ndim: int) -> np.ndarray:
    """Right-align a ``(d + 1, d + 1)`` affine into ``ndim`` world axes: the
    missing leading axes pass through unchanged (napari's broadcasting)."""
    matrix = np.asarray(matrix, dtype=float)
    d = matrix.shape[0] - 1
    if matrix.shape != (d + 1, d + 1) or d > ndim:
        raise ValueError(f"Expected a square affine matrix of at most {ndim + 1} rows, got {matrix.shape}.")
    full = np.eye(ndim + 1)
    full[ndim - d :, ndim - d :] = matrix
    return full


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map points ``(N, D)`` through a homogeneous ``(D + 1, D + 1)`` affine."""
    points = np.atleast_2d(np.asarray(points, dtype=float))
    return points @ matrix[:-1, :-1].T + matrix[:-1, -1]


def vertices_to_image_data(
    vertices: np.ndarray,
    shapes_to_world: np.ndarray,
    image_to_world: np.ndarray,
    world_point: np.ndarray | None = None,
) -> np.ndarray:
    """Shapes-layer data coordinates to image-layer data coordinates.

    Parameters
    ----------
    vertices : ndarray, shape (N, Ds)
        A shape's vertices in the Shapes layer's data coordinates.
    shapes_to_world, image_to_world : ndarray
        Each layer's homogeneous data-to-world affine, ``(Ds + 1, Ds + 1)``
        and ``(Di + 1, Di + 1)``.
    world_point : ndarray, optional
        The viewer's current world position (all world axes); fills the world
        axes the Shapes layer does not have (a 2-D Shapes layer over a stack).

    Returns
    -------
    ndarray, shape (N, Di)
    """
    vertices = np.atleast_2d(np.asarray(vertices, dtype=float))
    ds, di = vertices.shape[1], image_to_world.shape[0] - 1
    nw = max(ds, di, 0 if world_point is None else len(world_point))
    world = np.zeros((len(vertices), nw))
    if world_point is not None:
        point = np.asarray(world_point, dtype=float)
        world[:, nw - len(point) :] = point
    world[:, nw - ds :] = apply_affine(vertices, embed_affine(shapes_to_world, ds))
    data = apply_affine(world, np.linalg.inv(embed_affine(image_to_world, nw)))
    return data[:, nw - di :]


def _plane_range(lo: float, hi: float) -> tuple[int, int]:
    # Pixels whose centres lie in [lo, hi].
    return int(np.ceil(lo - _EPS)), int(np.floor(hi + _EPS)) + 1


def _is_axis_aligned(points: np.ndarray) -> bool:
    lo, hi = points.min(axis=0), points.max(axis=0)
    on_edge = np.isclose(points, lo, atol=1e-4) | np.isclose(points, hi, atol=1e-4)
    return bool(on_edge.all())


def box_from_points(
    points: np.ndarray, shape: tuple[int, ...], scope: str = "slice"
) -> tuple[Box, Box]:
    """The box of pixels inside the points' bounding box.

    Parameters
    ----------
    points : ndarray, shape (N, D)
        Vertices in image data coordinates (D = ``len(shape)``).
    shape : tuple of int
        The image's non-channel shape; the last two axes are the plane.
    scope : {"slice", "stack"}
        Along stack axes, the slice nearest the shape, or every index.

    Returns
    -------
    (Box, Box)
        The unclipped box and the box clipped to the image.
    """
    if scope not in SCOPES:
        raise ValueError(f"Unknown scope {scope!r}; use one of {', '.join(SCOPES)}.")
    points = np.atleast_2d(np.asarray(points, dtype=float))
    if points.shape[1] != len(shape) or len(shape) < 2:
        raise ValueError(f"Points with {points.shape[1]} axes do not fit an image of shape {shape}.")
    lo, hi = points.min(axis=0), points.max(axis=0)
    start, stop = [], []
    for axis, n in enumerate(shape):
        if axis >= len(shape) - 2:
            a, b = _plane_range(lo[axis], hi[axis])
        elif scope == "stack":
            a, b = 0, n
        else:
            # napari shows the slice nearest the world position; a shape on a
            # slice has the same coordinate on every vertex.
            a = int(np.floor((lo[axis] + hi[axis]) / 2 + 0.5))
            b = a + 1
        start.append(a)
        stop.append(b)
    raw = Box(tuple(start), tuple(stop))
    clipped = Box(
        tuple(min(max(a, 0), n) for a, n in zip(start, shape, strict=False)),
        tuple(min(max(b, 0), n) for b, n in zip(stop, shape, strict=False)),
    )
    return raw, clipped


def describe(box: Box) -> str:
    """A box as ``[y0:y1, x0:x1]`` for messages."""
    return "[" + ", ".join(f"{a}:{b}" for a, b in zip(box.start, box.stop, strict=False)) + "]"


def roi_box(
    index: int,
    points: np.ndarray,
    shape_type: str,
    shape: tuple[int, ...],
    scope: str = "slice",
) -> RoiBox:
    """Turn one shape (already in image data coordinates) into an ROI.

    Rectangles (rotated ones too) and other shape types give their bounding
    box; ROIs partly outside are clipped, ROIs outside or empty are skipped.
    Every case that changes or drops what the user drew comes with a message.
    """
    raw, clipped = box_from_points(points, shape, scope)
    name = f"ROI {index + 1} ({shape_type})"
    if raw.is_empty:
        return RoiBox(index, None, f"{name} covers no pixel centre (empty); skipped.", skipped=True)
    if clipped.is_empty:
        return RoiBox(index, None, f"{name} lies outside the image {describe(raw)}; skipped.", skipped=True)
    notes = []
    if shape_type != _RECTANGLE:
        notes.append(f"{name}: a {shape_type} is enhanced over its bounding box {describe(clipped)}.")
    elif not _is_axis_aligned(points[:, -2:]):
        notes.append(f"{name}: a rotated rectangle is enhanced over its bounding box {describe(clipped)}.")
    if clipped != raw:
        notes.append(f"{name} extends beyond the image; clipped to {describe(clipped)}.")
    return RoiBox(index, clipped, " ".join(notes))


def whole_image_box(shape: tuple[int, ...], slice_index: tuple[int, ...], scope: str = "slice") -> Box:
    """The whole plane; along stack axes the given slice or, by scope, all of them."""
    if scope not in SCOPES:
        raise ValueError(f"Unknown scope {scope!r}; use one of {', '.join(SCOPES)}.")
    lead = len(shape) - 2
    if scope == "stack":
        return Box((0,) * len(shape), tuple(shape))
    idx = [min(max(int(i), 0), n - 1) for i, n in zip(slice_index[:lead], shape[:lead], strict=False)]
    return Box(tuple(idx) + (0, 0), tuple(i + 1 for i in idx) + tuple(shape[-2:]))


def round_up(value: int, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is >= ``value``."""
    return -(-int(value) // int(multiple)) * int(multiple)


def default_margin(receptive_field_radius: int, downsampling: int = 1) -> int:
    """The context margin for a network: its receptive-field radius rounded up
    to its downsampling, as the tiler rounds its halo."""
    return round_up(receptive_field_radius, max(1, downsampling))


def with_margin(
    box: Box, shape: tuple[int, ...], margin: int, align: int = 1
) -> tuple[Box, tuple[slice, ...]]:
    """Grow a box by ``margin`` pixels in the image plane, clipped at the image.

    The start is moved down to a multiple of ``align`` (the network's
    downsampling) so the crop meets the same pooling grid as the whole image;
    that is what makes an enhanced crop equal the whole image's enhancement.

    Returns
    -------
    (Box, tuple of slice)
        The crop to read and where the original box lies inside it.
    """
    if margin < 0 or align < 1:
        raise ValueError("margin must be >= 0 and align >= 1.")
    start, stop = list(box.start), list(box.stop)
    for axis in (len(shape) - 2, len(shape) - 1):
        start[axis] = max(0, (box.start[axis] - margin) // align * align)
        stop[axis] = min(shape[axis], box.stop[axis] + margin)
    crop = Box(tuple(start), tuple(stop))
    inner = tuple(slice(a - c, b - c) for a, b, c in zip(box.start, box.stop, crop.start, strict=False))
    return crop, inner
