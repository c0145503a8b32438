"""The enhancement engine: validate, normalise, tile, run, stitch.

:class:`EnhanceJob` checks its input when built (so bad input fails at once,
before any thread starts) and does the work in :meth:`EnhanceJob.steps`, a
generator that yields a :class:`Progress` after each batch of tiles and
returns the result: scripts drain it synchronously (:func:`enhance`), the
napari widget runs the same generator in a worker thread.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from . import devices, normalize, tiling, weights

ModelSpec = str | weights.Weights | torch.nn.Module
DEFAULT_TILE_SIZE = 512
T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """Work done so far, counted in tiles over all planes."""

    done: int
    total: int

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


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


def _check_image(image: np.ndarray, channel_axis: int | None) -> None:
    spatial = image.ndim - (channel_axis is not None)
    if spatial < 2:
        what = "a 2-D image (with a channel axis, at least 3-D)" if channel_axis is not None else "a 2-D image"
        raise ValueError(f"Expected at least {what}, got an array of shape {image.shape}.")
    if image.size == 0:
        raise ValueError(f"The image is empty (shape {image.shape}).")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise ValueError("The image contains NaN or infinite values; replace them before enhancing.")


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
        raise TypeError(f"model must be a weight set name, a Weights record or a torch Module, not {type(model).__name__}.")
    net = weights.load_model(model)
    return net, net.weights


class EnhanceJob:
    """One call of :func:`enhance`, checked and ready to run.

    Parameters are those of :func:`enhance`. After construction the chosen
    ``device``, ``dtype``, ``net`` and ``record`` (a :class:`Weights` or None)
    are available; after :meth:`steps` finishes, ``result`` and ``elapsed``.
    """

    def __init__(
        self,
        image,
        *,
        model: ModelSpec = "auto",
        channel_axis: int | None = None,
        device: str = "auto",
        precision: str = "auto",
        tile_size: int | None = None,
        batch_size: int | None = None,
        normalization: str = "auto",
        percentiles: tuple[float, float] = normalize.DEFAULT_PERCENTILES,
    ):
        image = np.asarray(image)
        _check_image(image, channel_axis)
        self.image, self.channel_axis = image, channel_axis
        data = channels_last(image, channel_axis)
        n_channels = data.shape[-1]
        self.net, self.record = resolve_model(model, n_channels)
        self.device = devices.get_device(device)
        self.dtype = devices.get_dtype(precision, self.device)
        self.precision = str(self.dtype).removeprefix("torch.")
        self.tile_size = int(tile_size or DEFAULT_TILE_SIZE)
        self.batch_size = int(batch_size or (8 if self.device.type == "cuda" else 2))
        if self.tile_size < 1 or self.batch_size < 1:
            raise ValueError("tile_size and batch_size must be positive.")
        self.normalization = self._normalization_mode(normalization, data)
        self.percentiles = tuple(percentiles)
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

    def _normalization_mode(self, mode: str, data: np.ndarray) -> str:
        if mode != "auto":
            return mode
        if self.record is not None:
            return self.record.normalization["mode"]
        return "dtype" if self.net.in_channels in (3, 4) else "percentile"

    def _split_channels(self, data: np.ndarray) -> None:
        """Decide how channels meet the network: jointly (RGB model on RGB),
        alpha set aside (RGB model on RGBA) or one by one (grey model)."""
        cin, n = self.net.in_channels, data.shape[-1]
        self.alpha = None
        if cin == n:
            self.per_channel = False
        elif cin == 3 and n == 4:
            self.per_channel = False
            self.alpha = normalize.normalize(data[..., 3:], "dtype")
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

    def _prepared_net(self) -> torch.nn.Module:
        # Work on a copy: the cached/shared network is never moved or cast.
        net = copy.deepcopy(self.net).eval()
        return net.to(device=self.device, dtype=self.dtype, memory_format=torch.channels_last)

    def _planes(self) -> np.ndarray:
        """Normalised planes, shape (N, C, H, W), float32."""
        x = normalize.normalize(
            self.data, self.normalization, self.percentiles, tone_head=getattr(self.net, "tone_head", None)
        )
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
        if self.alpha is not None:
            out = np.concatenate([out, np.clip(self.alpha, 0, 1)], axis=-1)
        if self.channel_axis is None:
            return out[..., 0]
        return np.moveaxis(out, -1, self.channel_axis)

    def steps(self) -> Generator[Progress, None, np.ndarray]:
        """Do the work, yielding :class:`Progress` after each batch of tiles;
        the generator's return value is the enhanced image."""
        start = time.perf_counter()
        devices.set_threads()
        net = self._prepared_net()
        planes = self._planes()
        out = np.empty(planes.shape, dtype=np.float32)
        batches = tiling.group_by_shape(self.tiles, self.batch_size)
        done = 0
        yield Progress(done, self.total)
        with torch.inference_mode():
            for p in range(len(planes)):
                for batch in batches:
                    x = np.stack([planes[p][(slice(None), *t.read)] for t in batch])
                    x = torch.from_numpy(x).to(self.device, self.dtype)
                    y = net(x.contiguous(memory_format=torch.channels_last))
                    y = y.float().cpu().numpy()
                    for t, result in zip(batch, y):
                        tiling.stitch(out[p], t, result)
                    done += len(batch)
                    yield Progress(done, self.total)
        np.clip(out, 0.0, 1.0, out=out)
        self.result = self._assemble(out)
        self.elapsed = time.perf_counter() - start
        return self.result

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


def enhance(
    image,
    *,
    model: ModelSpec = "auto",
    channel_axis: int | None = None,
    device: str = "auto",
    precision: str = "auto",
    tile_size: int | None = None,
    batch_size: int | None = None,
    normalization: str = "auto",
    percentiles: tuple[float, float] = normalize.DEFAULT_PERCENTILES,
    progress: Callable[[Progress], None] | None = None,
) -> np.ndarray:
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
        RGBA: alpha is passed through, normalised by its dtype range.
    device : {"auto", "cuda", "mps", "cpu"}, optional
        "auto" takes the best available; ``NAPARI_LOWLIGHT_DEVICE`` can force it.
    precision : {"auto", "fp32", "bf16", "fp16"}, optional
        Compute precision; "auto" is fp16 on CUDA, fp32 elsewhere.
    tile_size : int, optional
        Core tile size in pixels (default 512); peak memory grows with it.
    batch_size : int, optional
        Tiles per forward pass (default 2 on CPU, 8 on CUDA).
    normalization : {"auto", "percentile", "dtype", "exposure", "auto-exposure", "auto-tone", "learned-tone"}, optional
        How intensities are mapped to [0, 1] before the network: percentiles
        per channel for microscopy, the dtype's range for photos, optionally
        with an exposure correction in linear light (see
        :mod:`napari_lowlight.normalize`). "auto" takes the model's own.
    percentiles : (float, float), optional
        Low/high percentiles for "percentile" normalisation; default (1, 99.8).
    progress : callable, optional
        Called with a :class:`Progress` after each batch of tiles.

    Returns
    -------
    ndarray of float32
        Same shape as ``image``, values in [0, 1].

    Raises
    ------
    ValueError
        Empty arrays, arrays with fewer than two spatial axes, NaN/inf values,
        unknown devices or precisions, channels the model cannot take.
    napari_lowlight.weights.WeightsError
        If the requested weights are not installed or are damaged.
    """
    job = EnhanceJob(
        image,
        model=model,
        channel_axis=channel_axis,
        device=device,
        precision=precision,
        tile_size=tile_size,
        batch_size=batch_size,
        normalization=normalization,
        percentiles=percentiles,
    )
    return job.run(progress)
