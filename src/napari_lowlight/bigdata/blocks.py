"""The lazy result: the engine mapped over dask blocks, the network carried in the graph.

:func:`enhance_dask` returns a lazy dask array; each block is read with a
margin of the network's receptive-field radius (``dask.array.map_overlap``;
no padding at the true image border), enhanced by the engine and trimmed, so
the result equals the in-memory :func:`~napari_lowlight.enhance`:

* block edges fall on multiples of the network's downsampling (and of the
  tile size), so every block meets the pooling grid the whole image meets
  (:func:`aligned_chunks`); a thin last block is merged into its neighbour
  rather than read with a margin wider than itself; a block with its margin
  is one network tile;
* normalisation statistics are taken once, before any block runs, from a
  regular subsample of the image of at most ``max_sample`` values (every
  value below that, so then exactly the whole-image statistics), and every
  block applies the same curve;
* ``dtype`` and ``meta`` are given, so dask never probes the network with
  empty arrays while building the graph.

The graph carries a shipped weight set by *name and sha256* only
(:class:`ModelRef`), never the network: each process loads it once and
checks that its file is the one the graph was built with. A custom
``torch.nn.Module`` stays in the graph and runs with the threads scheduler only.
"""

from __future__ import annotations

import dataclasses
import sys

import dask
import dask.array as da
import numpy as np
import torch

from .. import engine, normalize, region_job, tiling, weights

_LOCAL_ONLY = (
    "A custom torch Module (not a weight-set name) can only run with the threads scheduler: "
    "it is not sent to other processes or cluster workers. Export it as a weight set "
    "(napari_lowlight.training.train.export, then set NAPARI_LOWLIGHT_WEIGHTS_DIR on every worker) "
    "and pass its name, or use scheduler='threads'."
)


# -- the network in the graph -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ModelRef:
    """A shipped weight set as the graph carries it: its name and checksum.

    Each process (thread pool, process pool, cluster worker) loads the network
    itself, once, and checks that its weight file is the one the graph was
    built with.
    """

    name: str
    sha256: str

    def load(self) -> torch.nn.Module:
        """The network, from this process's cache (loaded on first use).

        Raises
        ------
        napari_lowlight.weights.WeightsError
            If the set is not installed here, its file is damaged, or it is a
            different file (another sha256) than the graph was built with.
        """
        net = weights.load_model(self.name)
        if net.weights.sha256 != self.sha256:
            raise weights.WeightsError(
                f"Weights {self.name!r} here ({weights.weights_dir()}, sha256 {net.weights.sha256[:12]}...) "
                f"differ from those the work was planned with (sha256 {self.sha256[:12]}...). Install the "
                "same weight files on every worker."
            )
        return net


class _LocalModule:
    """A custom network held in the graph; it refuses to be pickled, so a
    process or cluster scheduler fails with a clear message, not a hang."""

    def __init__(self, net: torch.nn.Module):
        self.net = net

    def __reduce__(self):
        raise TypeError(_LOCAL_ONLY)

    def __dask_tokenize__(self):
        return ("napari-lowlight-module", id(self.net))


def _network(model: ModelRef | _LocalModule) -> torch.nn.Module:
    """The network for one block: the worker plugin's copy on a cluster
    worker, else this process's cached one."""
    if isinstance(model, _LocalModule):
        return model.net
    if "distributed" in sys.modules:  # only a process that imported distributed can be a worker
        from distributed import get_worker

        from .runners import PLUGIN_NAME, ModelPlugin

        try:
            plugin = get_worker().plugins.get(PLUGIN_NAME)
        except ValueError:  # not on a worker
            plugin = None
        if isinstance(plugin, ModelPlugin):
            return plugin.model(model)
    return model.load()


class _BlockEnhancer:
    """The function mapped over blocks: the engine on one block (with its
    margin), the network looked up where the block runs."""

    def __init__(self, model: ModelRef | _LocalModule, options: engine.EnhanceOptions, normalizer):
        self.model = model
        # The network is looked up per block; the options carry a placeholder.
        self.options = dataclasses.replace(options, model="auto")
        self.normalizer = normalizer

    @property
    def is_local(self) -> bool:
        return isinstance(self.model, _LocalModule)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        options = dataclasses.replace(self.options, model=_network(self.model))
        # A block of a checked image may be narrow enough to look like colour: its layout is not re-checked.
        return engine.EnhanceJob(block, options, normalizer=self.normalizer, check_layout=False).run()

    def __dask_tokenize__(self):
        return ("napari-lowlight-block", dask.base.tokenize(self.model, self.options, self.normalizer))


def _model_in_graph(spec, net: torch.nn.Module, record: weights.Weights | None) -> ModelRef | _LocalModule:
    """A weight set by name (and sha256) when ``net`` is a shipped one, else the module itself."""
    if record is None:
        return _LocalModule(net)
    if not isinstance(spec, torch.nn.Module):
        return ModelRef(record.name, record.sha256)
    try:  # a module counts as shipped only if it is the cached, unmodified load of its record
        shipped = weights.load_model(record.name) is net
    except weights.WeightsError:
        shipped = False
    return ModelRef(record.name, record.sha256) if shipped else _LocalModule(net)


# -- the lazy result ----------------------------------------------------------------------------


def aligned_chunks(length: int, chunk: int, depth: int) -> tuple[int, ...]:
    """Chunk sizes along one axis: ``chunk`` each (a multiple of the network's
    downsampling), the last one merged into its neighbour when it is thinner
    than ``depth``, so every block starts on a multiple of ``chunk``."""
    sizes = [chunk] * (length // chunk) + ([length % chunk] if length % chunk else [])
    if len(sizes) > 1 and sizes[-1] < depth:
        sizes[-2:] = [sizes[-2] + sizes[-1]]
    return tuple(sizes)


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
        The image: a dask array (e.g. from :func:`open_lazy`), or anything
        ``dask.array.from_array`` reads lazily (a Zarr array, a memory-mapped
        or in-memory numpy array).
    options : EnhanceOptions, optional
        As for :func:`napari_lowlight.enhance`; keyword arguments change
        single fields. ``tile_size`` also sets the block size (rounded up to
        the network's downsampling). A weight-set ``model`` (a name, a
        ``Weights`` record or the unmodified network ``load_model`` returned)
        runs on any scheduler; a custom ``torch.nn.Module`` on threads only.
    max_sample : int, optional
        At most this many values are read to fix the normalisation statistics.

    Returns
    -------
    dask.array.Array of float32
        Same shape as ``data``, values in [0, 1], not computed yet. Compute
        it with ``.compute()`` (dask's default scheduler), :func:`compute` or
        :class:`Runner` (any scheduler, with progress), or store it with
        :func:`store_zarr`.

    Raises
    ------
    ValueError, TypeError, napari_lowlight.WeightsError
        As :func:`napari_lowlight.enhance`, when the graph is built (before
        any pixel is enhanced).
    """
    options = engine.EnhanceOptions.make(options, **changes)
    array = data if isinstance(data, da.Array) else da.from_array(data, chunks="auto")
    axis = engine.positive_channel_axis(options.channel_axis, array.ndim)
    engine.check_channel_axis(array.shape, axis)
    n_channels = 1 if axis is None else array.shape[axis]
    net, record = engine.resolve_model(options.model, n_channels)
    model = _model_in_graph(options.model, net, record)
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
    # A block with its margins is at most chunk + 2 * depth wide (a merged last block is narrower):
    # the engine runs it as one tile, so no second halo is computed inside the block.
    block_options = dataclasses.replace(options, tile_size=chunk + 2 * depth)
    return da.map_overlap(
        _BlockEnhancer(model, block_options, normalizer),
        array,
        depth={a: depth if a in plane else 0 for a in range(array.ndim)},
        boundary="none",
        trim=True,
        dtype=np.float32,
        meta=np.empty((0,) * array.ndim, dtype=np.float32),
        token="napari-lowlight-enhance",
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


def _enhancers(lazy: da.Array) -> list[_BlockEnhancer]:
    """The block functions of :func:`enhance_dask` found in ``lazy``'s graph."""
    found = []
    for layer in getattr(lazy.__dask_graph__(), "layers", {}).values():
        func = getattr(getattr(layer, "task", None), "func", None)
        if isinstance(func, _BlockEnhancer):
            found.append(func)
    return found


def models_in(lazy: da.Array) -> tuple[ModelRef, ...]:
    """The weight sets a lazy result needs (what :class:`Runner` has every
    cluster worker load before the first block).

    Raises
    ------
    ValueError
        If the graph holds a custom torch Module, which runs on threads only.
    """
    found = _enhancers(lazy)
    if any(f.is_local for f in found):
        raise ValueError(_LOCAL_ONLY)
    return tuple(dict.fromkeys(f.model for f in found))
