"""Enhance regions of an image: each ROI with a context margin, read lazily.

:class:`RegionJob` is the one code path behind :func:`enhance_regions`
(scripts), :func:`napari_lowlight.enhance_rois` (the napari console) and the
dock widget. It checks everything it can when built, then does the work in
:meth:`RegionJob.steps`, a generator that yields a
:class:`~napari_lowlight.engine.Progress` over the tiles of all ROIs and
returns the enhanced crops (the stardist-napari pattern: the widget runs the
same generator in a thread worker).

Context margin
    Each ROI is read together with ``margin`` pixels of its surroundings (at
    least the network's receptive-field radius, the crop's origin aligned to
    the network's downsampling) and the margin is cut off afterwards, so an
    ROI's edge is enhanced as well as its middle: away from the image border
    the result equals the same region cut from the enhanced whole image.

Normalisation statistics (``stats``)
    Percentile and exposure normalisation depend on the image's intensity
    statistics. A demanding user expects an ROI to look exactly as it would
    in the enhanced whole image, and two neighbouring ROIs to match, so the
    statistics are taken from the *whole image* (``stats="image"``: all
    planes, as :func:`~napari_lowlight.enhance` does for a stack), not from
    the crop. Above :data:`STATS_MAX_ELEMENTS` values they come from a regular
    subsample (then close to, not exactly, the whole-image numbers). Lazy
    arrays (dask, zarr) are never read whole: a multiscale image takes its
    statistics from the finest level that is small enough; a single-level
    lazy array falls back to the crop's own statistics (``stats="crop"``,
    recorded in the result's ``stats`` attribute) unless ``stats="image"``
    is asked for explicitly. "dtype" normalisation needs no statistics.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Generator, Sequence

import numpy as np

from . import engine, normalize
from . import roi_geometry as roi
from .engine import Progress

STATS_SOURCES = ("auto", "image", "crop")
# Values used to estimate the statistics: 16 Mi is exact for images up to
# 4096 x 4096 and keeps the percentile computation well under a second.
STATS_MAX_ELEMENTS = 1 << 24


def subsample(data, channel_axis: int | None, max_elements: int = STATS_MAX_ELEMENTS) -> np.ndarray:
    """A regular subsample of ``data``'s image planes, channels last, at most
    about ``max_elements`` values; the data itself when small enough."""
    ndim = len(data.shape)
    step = max(1, math.ceil(math.sqrt(math.prod(data.shape) / max_elements)))
    plane = [a for a in range(ndim) if a != channel_axis][-2:]
    index = tuple(slice(None, None, step) if a in plane else slice(None) for a in range(ndim))
    sample = np.asarray(data[index] if step > 1 else data)
    return engine.channels_last(sample, channel_axis)


def _levels(data) -> list:
    """Multiscale data (a list of arrays, finest first) or a single array."""
    if isinstance(data, (list, tuple)) and data and all(hasattr(a, "shape") for a in data):
        return list(data)
    if hasattr(data, "shape") and hasattr(data, "__getitem__"):
        return [data]
    return [np.asarray(data)]


def _with_channel(slices: tuple[slice, ...], channel_axis: int | None) -> tuple[slice, ...]:
    if channel_axis is None:
        return tuple(slices)
    return tuple(slices[:channel_axis]) + (slice(None),) + tuple(slices[channel_axis:])


def _as_box(box, shape: tuple[int, ...], k: int) -> roi.Box:
    if not isinstance(box, roi.Box):
        box = roi.Box.from_slices(box if isinstance(box, tuple) else tuple(box), shape)
    if len(box.start) != len(shape):
        raise ValueError(f"Box {k} has {len(box.start)} axes, the image (without channels) has {len(shape)}.")
    if box.is_empty:
        raise ValueError(f"Box {k} {roi.describe(box)} is empty.")
    if any(a < 0 or b > n for a, b, n in zip(box.start, box.stop, shape, strict=False)):
        raise ValueError(f"Box {k} {roi.describe(box)} lies (partly) outside the image of shape {shape}.")
    return box


class RegionJob:
    """Enhancement of several regions of one image, checked and ready to run.

    Parameters
    ----------
    data : array_like or list of array_like
        The image (numpy, dask, zarr or any array that slices lazily), or a
        multiscale list (finest level first; the finest is enhanced).
    boxes : sequence
        One box per region, over the image's axes *without* the channel axis:
        a :class:`~napari_lowlight.roi_geometry.Box` or a tuple of slices such as
        ``np.s_[10:60, 20:90]`` (missing trailing axes are taken whole).
    margin : int, optional
        Context pixels read around each box in the image plane; default the
        network's receptive-field radius rounded up to its downsampling.
    stats : {"auto", "image", "crop"}, optional
        Where percentile/exposure statistics come from (see the module notes).
    options : EnhanceOptions, optional
        The settings of :func:`napari_lowlight.enhance`; keyword arguments
        (``model``, ``channel_axis``, ``device``, ...) change single ones.

    Attributes
    ----------
    boxes, crops : list of Box
        The regions and the windows read for them (region plus margin).
    net, record, device, precision, normalization, total
        The resolved network and weight record (or None), torch device,
        precision name, normalisation mode and tile count over all regions.
    stats : str
        "image", "crop" or "none" (no statistics needed).
    elapsed : list of float
        Seconds per region, filled by :meth:`steps`.
    """

    def __init__(
        self,
        data,
        boxes: Sequence,
        options: engine.EnhanceOptions | None = None,
        *,
        margin: int | None = None,
        stats: str = "auto",
        **changes,
    ):
        levels = _levels(data)
        self.data, self._levels = levels[0], levels
        ndim = len(self.data.shape)
        options = engine.EnhanceOptions.make(options, **changes)
        self.channel_axis = engine.positive_channel_axis(options.channel_axis, ndim)
        engine.check_channel_axis(self.data.shape, self.channel_axis)
        self.shape = tuple(n for a, n in enumerate(self.data.shape) if a != self.channel_axis)
        n_channels = 1 if self.channel_axis is None else self.data.shape[self.channel_axis]
        if stats not in STATS_SOURCES:
            raise ValueError(f"Unknown stats {stats!r}; use one of {', '.join(STATS_SOURCES)}.")
        if len(self.shape) < 2:
            raise ValueError(f"Expected an image with at least 2 spatial axes, got shape {self.data.shape}.")
        self.boxes = [_as_box(b, self.shape, k) for k, b in enumerate(boxes)]
        if not self.boxes:
            raise ValueError("No regions to enhance: boxes is empty.")
        self.net, self.record = engine.resolve_model(options.model, n_channels)
        # Every crop's job shares the resolved network and the positive channel axis.
        self.options = dataclasses.replace(options, model=self.net, channel_axis=self.channel_axis)
        self.margin = self._margin(margin)
        align = max(1, int(self.net.downsampling))
        pairs = [roi.with_margin(b, self.shape, self.margin, align) for b in self.boxes]
        self.crops, self._inner = [p[0] for p in pairs], [p[1] for p in pairs]
        # Checked on zero-memory stand-ins: the engine's checks and tile plans run before any pixel is read.
        self._probes = [self._job(self._placeholder(c)) for c in self.crops]
        first = self._probes[0]
        self.device, self.precision, self.normalization = first.device, first.precision, first.normalization
        self.percentiles = first.percentiles
        self.total = sum(p.total for p in self._probes)
        self.stats = self._stats_source(stats)
        self.elapsed: list[float] = []
        self.normalizers: list[normalize.Normalizer] = []  # per region, as used (filled by steps)

    def _margin(self, margin: int | None) -> int:
        radius = int(self.net.receptive_field_radius)
        if margin is None:
            return roi.default_margin(radius, int(self.net.downsampling))
        if int(margin) < 0:
            raise ValueError(f"margin must be >= 0, got {margin}.")
        if int(margin) < radius:
            warnings.warn(
                f"margin={margin} is below the network's receptive-field radius ({radius}): "
                "pixels near the ROI edges will differ from the whole-image result.",
                stacklevel=3,
            )
        return int(margin)

    def _placeholder(self, crop: roi.Box) -> np.ndarray:
        # A zero-memory stand-in with the crop's shape and dtype.
        shape = list(crop.shape)
        if self.channel_axis is not None:
            shape.insert(self.channel_axis, self.data.shape[self.channel_axis])
        return np.broadcast_to(np.zeros((), dtype=self.data.dtype), tuple(shape))

    def _job(self, crop: np.ndarray, normalizer: normalize.Normalizer | None = None) -> engine.EnhanceJob:
        # The whole image's layout was checked above; a crop may be narrow enough to look like colour.
        return engine.EnhanceJob(crop, self.options, normalizer=normalizer, check_layout=False)

    def _stats_source(self, stats: str) -> str:
        if self.normalization not in ("percentile", *normalize.EXPOSURE_MODES):
            return "none"
        if stats != "auto":
            return stats
        lazy = not isinstance(self.data, np.ndarray)
        return "crop" if lazy and len(self._levels) == 1 else "image"

    def _reference(self) -> np.ndarray:
        """The array statistics come from: the image, or the finest small
        enough level of a lazy multiscale image (never a whole lazy level 0)."""
        level = self.data
        if not isinstance(level, np.ndarray) and len(self._levels) > 1:
            small = [lv for lv in self._levels[1:] if math.prod(lv.shape) <= STATS_MAX_ELEMENTS]
            level = small[0] if small else self._levels[-1]
        return subsample(level, self.channel_axis)

    def _normalizer(self) -> normalize.Normalizer | None:
        if self.stats != "image":
            return None
        return self._probes[0].statistics(self._reference())

    def read(self, k: int) -> np.ndarray:
        """Read crop ``k`` (region plus margin): slice first, then load, so a
        lazy array only reads the chunks it touches."""
        return np.asarray(self.data[_with_channel(self.crops[k].slices, self.channel_axis)])

    def steps(self) -> Generator[Progress, None, list[np.ndarray]]:
        """Enhance every region, yielding :class:`Progress` over all their
        tiles; the generator's return value is the list of enhanced regions
        (float32 in [0, 1], each the shape of its box plus channels)."""
        yield Progress(0, self.total)
        normalizer = self._normalizer()
        results, done = [], 0
        self.elapsed, self.normalizers = [], []
        for k in range(len(self.boxes)):
            start = time.perf_counter()
            job = self._job(self.read(k), normalizer)
            out = yield from job.steps(offset=done, total=self.total)
            self.normalizers.append(job.used_normalizer)
            done += job.total
            results.append(np.ascontiguousarray(out[_with_channel(self._inner[k], self.channel_axis)]))
            self.elapsed.append(time.perf_counter() - start)
        return results

    @property
    def strength(self) -> float:
        return self.options.strength

    def normalized_input(self, k: int) -> np.ndarray:
        """Region ``k`` as the network saw it: normalised, float32, in the layout
        of its result. Result minus this is what the network changed; for a
        denoiser, this minus the result is the noise it removed. Available
        after :meth:`steps` has run."""
        if k >= len(self.normalizers):
            raise ValueError("Region inputs are known once the regions have been enhanced.")
        x = engine.channels_last(self.read(k), self.channel_axis)
        colour = x[..., :3] if self._probes[k].has_alpha else x
        out = self.normalizers[k].apply(colour)
        if self._probes[k].has_alpha:
            out = np.concatenate([out, normalize.Normalizer("dtype").apply(x[..., 3:])], axis=-1)
        out = out[..., 0] if self.channel_axis is None else np.moveaxis(out, -1, self.channel_axis)
        return np.ascontiguousarray(out[_with_channel(self._inner[k], self.channel_axis)])

    def run(self, progress: Callable[[Progress], None] | None = None) -> list[np.ndarray]:
        """Drain :meth:`steps` synchronously, calling ``progress`` on each step."""
        return engine.drain(self.steps(), progress)


def enhance_regions(
    data,
    boxes: Sequence,
    *,
    margin: int | None = None,
    stats: str = "auto",
    progress: Callable[[Progress], None] | None = None,
    **options,
) -> list[np.ndarray]:
    """Enhance regions of an image, each with a context margin; no viewer needed.

    Parameters
    ----------
    data : array_like or list of array_like
        numpy, dask or zarr array (only each box plus its margin is read), or
        a multiscale list, finest level first (the finest is enhanced).
    boxes : sequence
        Per region, slices over the axes without the channel axis, e.g.
        ``[np.s_[100:300, 50:250]]``; a box on a stack may give the leading
        axes too (``np.s_[4, 100:300, 50:250]`` or ``np.s_[:, 100:300, 50:250]``).
    margin : int, optional
        Context pixels around each box (default: receptive-field radius).
    stats : {"auto", "image", "crop"}, optional
        Source of percentile/exposure statistics: the whole image (default
        for in-memory arrays: crops then equal the whole-image result), or
        each crop (default for single-level lazy arrays, never read whole).
    progress : callable, optional
        Called with a :class:`~napari_lowlight.engine.Progress` per batch of tiles.
    **options
        ``model``, ``channel_axis``, ``device``, ``precision``, ``tile_size``,
        ``batch_size``, ``normalization``, ``percentiles``: see
        :func:`napari_lowlight.enhance` (the fields of
        :class:`~napari_lowlight.engine.EnhanceOptions`).

    Returns
    -------
    list of ndarray of float32
        One per box, the box's shape (plus the channel axis), values in [0, 1].

    Raises
    ------
    ValueError
        Empty boxes, boxes outside the image, bad options (see ``enhance``).
    napari_lowlight.weights.WeightsError
        If the requested weights are not installed.

    Examples
    --------
    >>> import numpy as np, napari_lowlight
    >>> image = np.random.default_rng(0).poisson(3, (512, 512)).astype(np.uint16)
    >>> crops = napari_lowlight.enhance_regions(image, [np.s_[100:200, 300:420]])  # doctest: +SKIP
    """
    return RegionJob(data, boxes, margin=margin, stats=stats, **options).run(progress)
