"""What the web page shows, as 8-bit RGB arrays (no streamlit): display
stretch, previews, the ROI outline, the before/after comparison and the zoom.

Every function takes and returns numpy arrays, so the page's pictures are
tested without a browser; the comparison is composed here, on the server,
which is why the page needs no before/after component (and no script from
the internet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..roi_geometry import Box

DISPLAY_PERCENTILES = (0.5, 99.8)
PREVIEW_MAX_SIDE = 1024
ZOOM_TARGET = 640  # a zoomed ROI's longer side, in pixels, at most (whole factors only)
MAX_ZOOM = 16
OUTLINE = (255, 214, 0)  # the ROI's outline and the split line: a yellow seen on dark and bright images


@dataclass(frozen=True)
class DisplayRange:
    """Values mapped to black (``low``) and white (``high``) for display."""

    low: float
    high: float


def default_stretch(image: np.ndarray) -> bool:
    """Whether to stretch an image for display by default: everything but
    8-bit images (a dark 8-bit photo is shown as it is, dark)."""
    return image.dtype != np.uint8


def _colour(image: np.ndarray) -> np.ndarray:
    """The colour or grey planes, alpha left out."""
    return image[..., :3] if image.ndim == 3 else image


def display_range(image: np.ndarray, stretch: bool, percentiles=DISPLAY_PERCENTILES) -> DisplayRange:
    """The display range of an image: its dtype's range, or a percentile stretch.

    Parameters
    ----------
    image : ndarray
        Grey ``(H, W)`` or ``(H, W, 3|4)``; alpha is ignored.
    stretch : bool
        Map the ``percentiles`` of all values (one range for all channels,
        so colours keep their balance) to black and white; else the dtype's
        range (integers from 0 to their maximum, floats from 0 to 1).
    percentiles : (float, float)

    Returns
    -------
    DisplayRange
    """
    if not stretch:
        if image.dtype.kind in "iu":
            return DisplayRange(0.0, float(np.iinfo(image.dtype).max))
        return DisplayRange(0.0, 1.0)
    planes = _colour(image)
    step = max(1, math.ceil(math.sqrt(planes.size / (1 << 22))))  # at most ~4 M values
    sample = planes[::step, ::step].astype(np.float32)
    low, high = (float(v) for v in np.percentile(sample, percentiles))
    if high <= low:
        high = low + (1.0 if image.dtype.kind in "iu" else 1e-6)
    return DisplayRange(low, high)


def to_display(image: np.ndarray, rng: DisplayRange | None = None) -> np.ndarray:
    """8-bit RGB ``(H, W, 3)`` for the screen.

    Parameters
    ----------
    image : ndarray
        Grey or RGB(A); alpha is dropped.
    rng : DisplayRange, optional
        Default (0, 1): for enhanced results.

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
    """
    rng = rng or DisplayRange(0.0, 1.0)
    x = _colour(image).astype(np.float32)
    x = (x - rng.low) * (1.0 / (rng.high - rng.low))
    out = np.round(np.clip(x, 0.0, 1.0) * 255).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=-1) if out.ndim == 2 else np.ascontiguousarray(out)


def preview_source(image: np.ndarray, max_side: int = PREVIEW_MAX_SIDE) -> np.ndarray:
    """A strided view (no copy) of a large image, about ``2 * max_side`` per side at most: what a
    preview is made from, so a 100-megapixel page is never converted whole for the screen."""
    step = max(1, math.ceil(max(image.shape[:2]) / (2 * max_side)))
    return image[::step, ::step] if step > 1 else image


def preview(display: np.ndarray, max_side: int = PREVIEW_MAX_SIDE) -> np.ndarray:
    """A smaller copy of an 8-bit RGB picture (block means over a whole factor) whose longer side is
    at most ``max_side``; the picture itself when it is small enough."""
    from PIL import Image

    h, w = display.shape[:2]
    f = max(1, math.ceil(max(h, w) / max_side))
    if f == 1:
        return display
    if min(h, w) < f:  # a long thin strip: keep every f-th pixel
        return np.ascontiguousarray(display[::f, ::f])
    return np.asarray(Image.fromarray(np.ascontiguousarray(display)).reduce(f))


def outline(display: np.ndarray, box: Box | None, scale: float = 1.0, colour=OUTLINE) -> np.ndarray:
    """A copy of an RGB image with ``box`` (image pixels, times ``scale``) outlined."""
    out = display.copy()
    if box is None or box.is_empty:
        return out
    h, w = out.shape[:2]
    y0, x0 = (int(v * scale) for v in box.start[-2:])
    y1, x1 = (max(int(math.ceil(v * scale)), a + 1) for v, a in zip(box.stop[-2:], (y0, x0), strict=True))
    y0, x0, y1, x1 = min(y0, h - 1), min(x0, w - 1), min(y1, h), min(x1, w)
    t = max(1, round(min(h, w) / 300))
    for ys, xs in (
        (slice(y0, min(y0 + t, y1)), slice(x0, x1)),
        (slice(max(y1 - t, y0), y1), slice(x0, x1)),
        (slice(y0, y1), slice(x0, min(x0 + t, x1))),
        (slice(y0, y1), slice(max(x1 - t, x0), x1)),
    ):
        out[ys, xs] = colour
    return out


def blend(before: np.ndarray, after: np.ndarray, amount: float) -> np.ndarray:
    """``before`` faded into ``after``: 0 shows before, 1 after (8-bit RGB of one shape)."""
    a = float(np.clip(amount, 0.0, 1.0))
    mixed = before.astype(np.float32) * (1 - a) + after.astype(np.float32) * a
    return np.round(mixed).astype(np.uint8)


def split(before: np.ndarray, after: np.ndarray, position: float, colour=OUTLINE) -> np.ndarray:
    """Before left of ``position`` (a fraction of the width), after right of it, a line between."""
    w = before.shape[1]
    x = int(round(float(np.clip(position, 0.0, 1.0)) * w))
    out = after.copy()
    out[:, :x] = before[:, :x]
    if 0 < x < w:
        t = max(1, round(min(before.shape[:2]) / 200))
        start = max(0, x - t // 2)
        out[:, start: min(w, start + t)] = colour
    return out


def zoom_factor(shape: tuple[int, ...], target: int = ZOOM_TARGET, max_zoom: int = MAX_ZOOM) -> int:
    """The whole zoom factor that brings an ROI's longer side near ``target`` pixels (1 if larger)."""
    side = max(shape[:2])
    return int(max(1, min(max_zoom, target // max(1, side))))


def zoom(display: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel shown as a ``factor`` x ``factor`` block (nearest neighbour: pixels stay pixels)."""
    if factor <= 1:
        return display
    return np.repeat(np.repeat(display, factor, axis=0), factor, axis=1)


def fit_width(shape: tuple[int, ...], max_side: int) -> int:
    """The display width that fits an image of ``shape`` in a ``max_side`` square (at least 32 px)."""
    h, w = shape[:2]
    return int(max(32, round(max_side * min(1.0, w / h)))) if h > 0 else max_side

