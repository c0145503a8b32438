"""The enhancement engine: validate, normalise, tile, run, stitch.

:class:`EnhanceJob` checks its input when built (so bad input fails at once,
before any thread starts) and does the work in :meth:`EnhanceJob.steps`, a
generator that yields a :class:`Progress` after each batch of tiles and
returns the result: scripts drain it synchronously (:func:`enhance`), the
napari widget runs the same generator in a worker thread. Both take their
settings as one :class:`EnhanceOptions`.

The engine uses torch's thread pool as it finds it: inside napari (or any
host program) a run never changes process-wide settings. The command line
and training size the pool once, with :func:`napari_lowlight.devices.set_threads`.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from . import devices, noise, normalize, tiling, weights

ModelSpec = str | weights.Weights | torch.nn.Module
DEFAULT_TILE_SIZE = 512
T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """Work done so far, counted in tiles over all planes (and all regions).

    Attributes
    ----------
    done, total : int
        Tiles finished and tiles in all.
    """

    done: int
    total: int

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def positive_channel_axis(channel_axis: int | None, ndim: int) -> int | None:
    """``channel_axis`` counted from the front (None stays None).

    Raises
    ------
    ValueError
        If the axis does not exist in an array of ``ndim`` axes.
    """
    if channel_axis is None:
        return None
    if not -ndim <= channel_axis < ndim:
        raise ValueError(f"channel_axis={channel_axis} is out of range for an image with {ndim} axes.")
    return channel_axis % ndim


def channels_last(image: np.ndarray, channel_axis: int | None) -> np.ndarray:
    """A view of ``image`` with its channels on the last axis (a new one for grey)."""
    if channel_axis is None:
        return image[..., np.newaxis]
    try:
        return np.moveaxis(image, channel_axis, -1)
    except np.exceptions.AxisError:
        raise ValueError(
            f"channel_axis={channel_axis} is out of range for an image with {image.ndim} axes."
        ) from None


# An (..., H, W, 3|4) array without channel_axis is almost surely colour: enhanced as grey
# planes 3 or 4 pixels wide it would come back streaky and desaturated, without an error.
_COLOUR_SIZES = (3, 4)


def check_channel_axis(shape: tuple[int, ...], channel_axis: int | None) -> None:
    """Refuse an RGB(A)-looking array given without ``channel_axis``.

    Raises
    ------
    ValueError
        If ``channel_axis`` is None and the last of three or more axes has 3 or 4 entries.
    """
    if channel_axis is None and len(shape) >= 3 and shape[-1] in _COLOUR_SIZES:
        raise ValueError(
            f"The image of shape {tuple(shape)} looks like colour (RGB/RGBA on the last axis), but "
            f"channel_axis is None, which would enhance it as grey planes {shape[-1]} pixels wide. "
            "Pass channel_axis=-1 for a colour image."
        )


def _check_image(image: np.ndarray, channel_axis: int | None, layout: bool = True) -> None:
    spatial = image.ndim - (channel_axis is not None)
    if spatial < 2:
        what = "a 2-D image"
        if channel_axis is not None:
            what += " (with a channel axis, at least 3-D)"
        raise ValueError(f"Expected at least {what}, got an array of shape {image.shape}.")
    if image.size == 0:
        raise ValueError(f"The image is empty (shape {image.shape}).")
    if layout:
        check_channel_axis(image.shape, channel_axis)
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise ValueError("The image contains NaN or infinite values; replace them before enhancing.")


def positive_count(name: str, value) -> int | None:
    """``value`` as an int when it is a whole number >= 1; None stays None (a default).

    Raises
    ------
    ValueError
        Anything else (zero, negative, fractional, bool), naming ``name``.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}.")
    return int(value)


@dataclass(frozen=True)
class EnhanceOptions:
    """How to enhance, checked when made; shared by :func:`enhance`,
    :class:`EnhanceJob`, :class:`~napari_lowlight.region_job.RegionJob` and
    the edges (widget, command line).

    The fields are the keyword arguments of :func:`enhance`, which documents
    them; ``None`` for ``tile_size``/``batch_size`` means the device's default.

    Raises
    ------
    ValueError
        A tile or batch size below 1, an unknown normalisation, percentiles
        outside 0 <= low < high <= 100.
    """

    model: ModelSpec = "auto"
    channel_axis: int | None = None
    device: str = "auto"
    precision: str = "auto"
    tile_size: int | None = None
    batch_size: int | None = None
    normalization: str = "auto"
    percentiles: tuple[float, float] = normalize.DEFAULT_PERCENTILES
    strength: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "tile_size", positive_count("tile_size", self.tile_size))
        object.__setattr__(self, "batch_size", positive_count("batch_size", self.batch_size))
        if self.normalization != "auto" and self.normalization not in normalize.MODES:
            raise ValueError(
                f"Unknown normalization {self.normalization!r}; "
                f"use 'auto' or one of {', '.join(normalize.MODES)}."
            )
        low, high = self.percentiles
        if not 0 <= low < high <= 100:
            raise ValueError(
                f"percentiles must satisfy 0 <= low < high <= 100, got {tuple(self.percentiles)}."
            )
        object.__setattr__(self, "percentiles", tuple(self.percentiles))
        number = isinstance(self.strength, (int, float)) and not isinstance(self.strength, bool)
        if not (number and 0 < self.strength < 100):
            raise ValueError(
                f"strength must be a positive number (1: the estimated noise), got {self.strength!r}."
            )

    @classmethod
    def make(cls, options: EnhanceOptions | None = None, **changes) -> EnhanceOptions:
        """``options`` (default: all defaults) with ``changes``; an unknown
        name raises a TypeError that lists the known ones."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            known = ", ".join(f.name for f in dataclasses.fields(cls))
            raise TypeError(f"Unknown option(s) {', '.join(sorted(unknown))}; the options are: {known}.")
        return dataclasses.replace(options or cls(), **changes)


def resolve_model(model: ModelSpec, n_channels: int) -> tuple[torch.nn.Module, weights.Weights | None]:
    """The network (CPU, eval) and its weight record for a model spec."""
    if isinstance(model, torch.nn.Module):
        return model, getattr(model, "weights", None)
    if isinstance(model, weights.Weights):
        model = model.name
    if model == "auto":
        domain = "photo" if n_channels in (3, 4) else "fluo"
        model = weights.DEFAULT_FOR_DOMAIN[domain]
    if not isinstance(model, str):
        raise TypeError(
            "model must be a weight set name, a Weights record or a torch Module, "
            f"not {type(model).__name__}."
        )
    net = weights.load_model(model)
    return net, net.weights


class EnhanceJob:
    """One call of :func:`enhance`, checked and ready to run.

    Parameters
    ----------
    image : array_like
        As for :func:`enhance`.
    options : EnhanceOptions, optional
        The settings; keyword arguments (the fields of :class:`EnhanceOptions`)
        change single ones.
    normalizer : Normalizer, optional
        Normalisation statistics fixed beforehand (e.g. from the whole image
        when ``image`` is one crop or block of it, so all pieces share one
        curve; see :meth:`statistics`). Default: the image's own.
    check_layout : bool, optional
        Refuse colour-looking arrays without ``channel_axis`` (default). A
        caller that checked the whole image passes False for its pieces, which
        may be narrow enough to look like colour.

    Attributes
    ----------
    options : EnhanceOptions
    net, record
        The network and its :class:`~napari_lowlight.weights.Weights` (or None).
    device, dtype, precision, tile_size, batch_size, normalization
        What was resolved from the options.
    has_alpha : bool
        An RGBA image on an RGB model: alpha is set aside and passed through.
    total : int
        Tiles over all planes: the length of the progress.
    result, elapsed
        Filled when :meth:`steps` finishes.
    """

    def __init__(
        self,
        image,
        options: EnhanceOptions | None = None,
        *,
        normalizer: normalize.Normalizer | None = None,
        check_layout: bool = True,
        **changes,
    ):
        self.options = opts = EnhanceOptions.make(options, **changes)
        image = np.asarray(image)
        _check_image(image, opts.channel_axis, check_layout)
        self.image, self.channel_axis = image, opts.channel_axis
        data = channels_last(image, opts.channel_axis)
        self.net, self.record = resolve_model(opts.model, data.shape[-1])
        self.device = devices.get_device(opts.device)
        self.dtype = devices.get_dtype(opts.precision, self.device)
        self.precision = str(self.dtype).removeprefix("torch.")
        self.tile_size = opts.tile_size or DEFAULT_TILE_SIZE
        self.batch_size = opts.batch_size or (8 if self.device.type == "cuda" else 2)
        self.normalization = self._normalization_mode(opts.normalization)
        self.percentiles = opts.percentiles
        self.normalizer = normalizer
        self.strength = opts.strength
        self.noise_levels: tuple | None = None  # estimated in steps() (noise-aware networks)
        self.used_normalizer: normalize.Normalizer | None = None  # the statistics steps() applied
        self._split_channels(data)
        self.tiles = tiling.plan_tiles(
            data.shape[-3:-1],
            self.tile_size,
            halo=self.net.receptive_field_radius,
            align=self.net.downsampling,
        )
        self.total = len(self.tiles) * self.n_planes
        self.result: np.ndarray | None = None
        self.elapsed: float | None = None

    def _normalization_mode(self, mode: str) -> str:
        if mode != "auto":
            return mode
        if self.record is not None:
            return self.record.normalization["mode"]
        return "dtype" if self.net.in_channels in (3, 4) else "percentile"

    def _split_channels(self, data: np.ndarray) -> None:
        """Decide how channels meet the network: jointly (RGB model on RGB),
        alpha set aside (RGB model on RGBA) or one by one (grey model)."""
        cin, n = self.net.in_channels, data.shape[-1]
        self._alpha = None
        if cin == n:
            self.per_channel = False
        elif cin == 3 and n == 4:
            self.per_channel = False
            self._alpha = data[..., 3:]
            data = data[..., :3]
        elif cin == 1:
            self.per_channel = True
        else:
            raise ValueError(
                f"The model takes {cin} channels, the image has {n} (channel_axis="
                f"{self.channel_axis}). Use a {n}-channel or single-channel model."
            )
        if self.net.out_channels != cin:
            raise ValueError("Models must output as many channels as they take.")
        self.data = data
        self.n_planes = int(np.prod(data.shape[:-3], dtype=int)) * (n if self.per_channel else 1)

    @property
    def has_alpha(self) -> bool:
        return self._alpha is not None

    def statistics(self, reference: np.ndarray) -> normalize.Normalizer:
        """This job's normalisation statistics taken from ``reference``
        (channels last: the whole image, or a representative sample of it),
        for pieces of a larger image to share. Alpha is left out as the job
        leaves it out."""
        return self._statistics(reference[..., :3] if self.has_alpha else reference)

    def _statistics(self, data: np.ndarray) -> normalize.Normalizer:
        tone_head = getattr(self.net, "tone_head", None)
        normalizer = normalize.statistics(data, self.normalization, self.percentiles, tone_head=tone_head)
        if not self.noise_aware:
            return normalizer
        return dataclasses.replace(normalizer, noise=self._noise_levels(normalizer.apply(data)))

    @property
    def noise_aware(self) -> bool:
        """The network reads noise-level maps (see :mod:`napari_lowlight.noise`)."""
        return int(getattr(self.net, "noise_channels", 0)) > 0

    def _noise_levels(self, normalized: np.ndarray) -> tuple:
        """Per image channel (channels last), or one for channels the network takes jointly."""
        planes = np.moveaxis(normalized, -1, 0)
        if self.per_channel:
            return tuple(noise.estimate(p) for p in planes)
        return (noise.estimate(planes.mean(axis=0)),)

    def _prepared_net(self) -> torch.nn.Module:
        # Work on a copy: the cached/shared network is never moved or cast.
        net = copy.deepcopy(self.net).eval()
        return net.to(device=self.device, dtype=self.dtype, memory_format=torch.channels_last)

    def _planes(self) -> np.ndarray:
        """Normalised planes, shape (N, C, H, W), float32."""
        normalizer = self.normalizer if self.normalizer is not None else self._statistics(self.data)
        self.used_normalizer, self.noise_levels = normalizer, normalizer.noise
        x = normalizer.apply(self.data)
        h, w, c = x.shape[-3:]
        x = x.reshape(-1, h, w, c)
        if self.per_channel:
            return np.ascontiguousarray(np.moveaxis(x, -1, 1).reshape(-1, 1, h, w))
        return np.ascontiguousarray(np.moveaxis(x, -1, 1))

    def _assemble(self, out: np.ndarray) -> np.ndarray:
        h, w = out.shape[-2:]
        lead = self.data.shape[:-3]
        if self.per_channel:
            out = out.reshape(*lead, self.data.shape[-1], h, w)
        else:
            out = out.reshape(*lead, -1, h, w)
        out = np.moveaxis(out, -3, -1)
        if self._alpha is not None:
            alpha = normalize.Normalizer("dtype").apply(self._alpha)
            out = np.concatenate([out, np.clip(alpha, 0, 1)], axis=-1)
        if self.channel_axis is None:
            return out[..., 0]
        return np.moveaxis(out, -1, self.channel_axis)

    def steps(self, offset: int = 0, total: int | None = None) -> Generator[Progress, None, np.ndarray]:
        """Do the work, yielding :class:`Progress` after each batch of tiles;
        the generator's return value is the enhanced image.

        ``offset`` and ``total`` place this job's tiles inside a larger count
        (one job of several, as :class:`~napari_lowlight.region_job.RegionJob`
        runs them), so the caller can ``yield from`` it."""
        total = self.total if total is None else total
        start = time.perf_counter()
        net = self._prepared_net()
        planes = self._planes()
        out = np.empty(planes.shape, dtype=np.float32)
        batches = tiling.group_by_shape(self.tiles, self.batch_size)
        done = offset
        yield Progress(done, total)
        with torch.inference_mode():
            for p in range(len(planes)):
                level = self._level_of_plane(p)
                for batch in batches:
                    x = np.stack([planes[p][(slice(None), *t.read)] for t in batch])
                    if level is not None:
                        x = noise.condition(x, level, self.strength)
                    x = torch.from_numpy(x).to(self.device, self.dtype)
                    y = net(x.contiguous(memory_format=torch.channels_last))
                    y = y.float().cpu().numpy()
                    for t, result in zip(batch, y, strict=False):
                        tiling.stitch(out[p], t, result)
                    done += len(batch)
                    yield Progress(done, total)
        np.clip(out, 0.0, 1.0, out=out)
        self.result = self._assemble(out)
        self.elapsed = time.perf_counter() - start
        return self.result

    def _level_of_plane(self, p: int):
        if not self.noise_aware:
            return None
        if self.noise_levels is None:
            raise ValueError("A noise-aware network needs the noise level; the given normalizer has none.")
        # Planes run over the leading axes, then (one by one) the channels.
        return self.noise_levels[p % len(self.noise_levels)] if self.per_channel else self.noise_levels[0]

    def run(self, progress: Callable[[Progress], None] | None = None) -> np.ndarray:
        """Drain :meth:`steps` synchronously, calling ``progress`` on each step."""
        return drain(self.steps(), progress)


def drain(gen: Generator[Progress, None, T], progress: Callable[[Progress], None] | None = None) -> T:
    """Run a progress generator to its end; return what it returns."""
    while True:
        try:
            step = next(gen)
        except StopIteration as stop:
            return stop.value
        if progress is not None:
            progress(step)


def enhance(image, *, progress: Callable[[Progress], None] | None = None, **options) -> np.ndarray:
    """Enhance a dark, noisy image.

    Parameters
    ----------
    image : array_like
        2-D grey image, or with ``channel_axis`` an RGB/RGBA/multichannel one.
        Leading axes (time, z, ...) are independent planes. Any bool, integer
        or float dtype.
    model : str, Weights or torch.nn.Module, optional
        A shipped weight set name (see ``available_weights()``), or "auto":
        "photo" for 3/4 channels, "fluo" otherwise. A module (with
        ``in_channels``, ``receptive_field_radius`` and ``downsampling``) is
        used as it is. A single-channel model is applied to each channel.
    channel_axis : int or None, optional
        The axis holding colour channels; None means a grey image (stack).
        RGBA: alpha is passed through, normalised by its dtype range. An array
        whose last of three or more axes has 3 or 4 entries needs it (a
        ValueError says so), so colour is never taken for grey planes.
    device : {"auto", "cuda", "mps", "cpu"}, optional
        "auto" takes the best available; ``NAPARI_LOWLIGHT_DEVICE`` can force it.
    precision : {"auto", "fp32", "bf16", "fp16"}, optional
        Compute precision; "auto" is fp16 on CUDA, fp32 elsewhere.
    tile_size : int, optional
        Core tile size in pixels (default 512); peak memory grows with it.
    batch_size : int, optional
        Tiles per forward pass (default 2 on CPU, 8 on CUDA).
    normalization : {"auto", "percentile", "dtype", "exposure", "auto-exposure", "auto-tone", \
"learned-tone"}, optional
        How intensities are mapped to [0, 1] before the network: percentiles
        per channel for microscopy, the dtype's range for photos, optionally
        with an exposure correction in linear light (see
        :mod:`napari_lowlight.normalize`). "auto" takes the model's own.
    percentiles : (float, float), optional
        Low/high percentiles for "percentile" normalisation; default (1, 99.8).
    strength : float, optional
        For noise-aware models (``fluo``): how much noise the network is told
        the image holds, relative to the estimate (:mod:`napari_lowlight.noise`).
        1 (default) uses the estimate; lower keeps more texture, higher
        smooths more. Other models ignore it.
    progress : callable, optional
        Called with a :class:`Progress` after each batch of tiles.

    Returns
    -------
    ndarray of float32
        Same shape as ``image``, values in [0, 1].

    Raises
    ------
    ValueError
        Empty arrays, arrays with fewer than two spatial axes, colour without
        ``channel_axis``, NaN/inf values, tile or batch sizes below 1, unknown
        devices, precisions or normalisations, channels the model cannot take.
    TypeError
        An unknown keyword (the message lists the known ones).
    napari_lowlight.weights.WeightsError
        If the requested weights are not installed or are damaged.

    See Also
    --------
    EnhanceOptions : the keywords as one object.
    EnhanceJob : the same work as a generator of progress (for GUIs).

    Notes
    -----
    torch's thread pool is used as it is (``torch.set_num_threads``); the
    command line sets it once to the cores the process may use.
    """
    return EnhanceJob(image, **options).run(progress)
