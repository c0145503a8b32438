"""Images larger than memory: the engine mapped over dask blocks.

:func:`enhance_dask` returns a lazy dask array; computing it (or storing it
to Zarr block by block) never holds the whole image. Each block is read with
a margin of the network's receptive-field radius (``dask.array.map_overlap``;
no padding at the true image border), enhanced by the engine and trimmed, so
the result equals the in-memory :func:`~napari_lowlight.enhance`:

* block edges fall on multiples of the network's downsampling (and of the
  tile size), so every block meets the pooling grid the whole image meets;
  a thin last block is merged into its neighbour rather than read with a
  margin wider than itself;
* normalisation statistics are taken once, before any block runs, from a
  regular subsample of the image of at most ``max_sample`` values (every
  value below that, so then exactly the whole-image statistics), and every
  block applies the same curve;
* ``dtype`` and ``meta`` are given, so dask never probes the network with
  empty arrays while building the graph.

This is an edge of the package (it imports dask); the core never imports it.
"""

from __future__ import annotations

import dataclasses

import dask.array as da
import numpy as np

from . import engine, normalize, region_job, tiling


def _positive_axis(channel_axis: int | None, ndim: int) -> int | None:
    if channel_axis is None:
        return None
    if not -ndim <= channel_axis < ndim:
        raise ValueError(f"channel_axis={channel_axis} is out of range for an image with {ndim} axes.")
    return channel_axis % ndim


def aligned_chunks(length: int, chunk: int, depth: int) -> tuple[int, ...]:
    """Chunk sizes along one axis: ``chunk`` each (a multiple of the network's
    downsampling), the last one merged into its neighbour when it is thinner
    than ``depth``, so every block starts on a multiple of ``chunk``."""
    sizes = [chunk] * (length // chunk) + ([length % chunk] if length % chunk else [])
    if len(sizes) > 1 and sizes[-1] < depth:
        sizes[-2:] = [sizes[-2] + sizes[-1]]
    return tuple(sizes)


def _enhance_block(block: np.ndarray, options: engine.EnhanceOptions, normalizer) -> np.ndarray:
    # A block of a checked image may be narrow enough to look like colour: its layout is not re-checked.
    return engine.EnhanceJob(block, options, normalizer=normalizer, check_layout=False).run()


def enhance_dask(
    data,
    options: engine.EnhanceOptions | None = None,
    *,
    max_sample: int = region_job.STATS_MAX_ELEMENTS,
    **changes,
) -> da.Array:
    """Enhance an image of any size lazily, block by block.

    Parameters
    ----------
    data : dask array or array_like
        The image: a dask array, or anything ``dask.array.from_array`` reads
        lazily (a Zarr array, a memory-mapped or in-memory numpy array).
    options : EnhanceOptions, optional
        As for :func:`napari_lowlight.enhance`; keyword arguments change
        single fields. ``tile_size`` also sets the block size (rounded up to
        the network's downsampling).
    max_sample : int, optional
        At most this many values are read to fix the normalisation statistics.

    Returns
    -------
    dask.array.Array of float32
        Same shape as ``data``, values in [0, 1], not computed yet.

    Raises
    ------
    ValueError, TypeError, napari_lowlight.WeightsError
        As :func:`napari_lowlight.enhance`, when the graph is built (before
        any pixel is enhanced).
    """
    options = engine.EnhanceOptions.make(options, **changes)
    array = data if isinstance(data, da.Array) else da.from_array(data, chunks="auto")
    axis = _positive_axis(options.channel_axis, array.ndim)
    engine.check_channel_axis(array.shape, axis)
    n_channels = 1 if axis is None else array.shape[axis]
    net, _ = engine.resolve_model(options.model, n_channels)
    options = dataclasses.replace(options, model=net, channel_axis=axis)
    probe = engine.EnhanceJob(_placeholder(array, axis), options, check_layout=False)
    normalizer = _normalizer(probe, array, axis, max_sample)

    align = max(1, int(net.downsampling))
    depth = tiling.round_up(net.receptive_field_radius, align)
    chunk = max(tiling.round_up(probe.tile_size, align), depth)
    plane = [a for a in range(array.ndim) if a != axis][-2:]
    chunks = [
        aligned_chunks(n, chunk, depth) if a in plane else (n if a == axis else array.chunks[a])
        for a, n in enumerate(array.shape)
    ]
    array = array.rechunk(tuple(chunks))
    return da.map_overlap(
        _enhance_block,
        array,
        depth={a: depth if a in plane else 0 for a in range(array.ndim)},
        boundary="none",
        trim=True,
        dtype=np.float32,
        meta=np.empty((0,) * array.ndim, dtype=np.float32),
        options=options,
        normalizer=normalizer,
    )


def _placeholder(array: da.Array, axis: int | None) -> np.ndarray:
    # A zero-memory stand-in, small in the plane: the engine checks options and channels on it.
    shape = [n if a == axis else min(n, 8) for a, n in enumerate(array.shape)]
    return np.broadcast_to(np.zeros((), dtype=array.dtype), tuple(shape))


def _normalizer(probe: engine.EnhanceJob, array: da.Array, axis: int | None, max_sample: int):
    """The statistics every block shares, from a bounded regular subsample."""
    if probe.normalization == "dtype":
        return normalize.Normalizer("dtype")  # needs no pixel
    return probe.statistics(region_job.subsample(array, axis, max_sample))
