"""Images larger than memory: the engine mapped over dask blocks, on threads,
processes or a ``dask.distributed`` cluster.

:func:`enhance_dask` returns a lazy dask array; computing it (or storing it
to Zarr block by block) never holds the whole image. Each block is read with
a margin of the network's receptive-field radius (``dask.array.map_overlap``;
no padding at the true image border), enhanced by the engine and trimmed, so
the result equals the in-memory :func:`~napari_lowlight.enhance`:

* block edges fall on multiples of the network's downsampling (and of the
  tile size), so every block meets the pooling grid the whole image meets;
  a thin last block is merged into its neighbour rather than read with a
  margin wider than itself; a block with its margin is one network tile;
* normalisation statistics are taken once, before any block runs, from a
  regular subsample of the image of at most ``max_sample`` values (every
  value below that, so then exactly the whole-image statistics), and every
  block applies the same curve;
* ``dtype`` and ``meta`` are given, so dask never probes the network with
  empty arrays while building the graph.

Where the blocks run
    The graph carries a shipped weight set by *name and sha256* only, never
    the network: each process loads it once (``weights.load_model`` is
    cached per process) and checks that its file is the one the graph was
    built with. On a cluster, :class:`ModelPlugin` (a
    ``distributed.WorkerPlugin``) loads it when the worker joins and sizes
    torch's thread pool so that workers x threads do not exceed the cores.
    A custom ``torch.nn.Module`` (not a weight-set name) stays in the graph
    and runs with the threads scheduler only. :class:`Runner` runs a lazy
    result on ``"threads"``, ``"processes"`` or ``"distributed"`` (a
    ``LocalCluster`` on this machine, or an existing cluster's scheduler
    address) and reports progress per finished block; :func:`compute` and
    :func:`store_zarr` are its one-call forms.

Reading and writing
    :func:`open_lazy` opens a Zarr array, an OME-Zarr image (a level of its
    multiscale pyramid) or a TIFF (tifffile's ``aszarr``; contiguous
    uncompressed TIFFs memory-mapped) as a dask array without reading pixels;
    :func:`store_zarr` writes a result to Zarr block by block, with the
    caller's attributes (provenance), under a temporary name renamed when
    complete, so a failed run leaves nothing behind.

This is an edge of the package (it imports dask, and ``distributed`` when it
is installed); the core never imports it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import torch
from dask.callbacks import Callback
from dask.core import flatten

from . import engine, normalize, region_job, tiling, weights
from .engine import Progress

try:  # the cluster path is optional: ``pip install distributed``
    from distributed import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - exercised only without distributed
    _WorkerPlugin = object

SCHEDULERS = ("threads", "processes", "distributed")
PLUGIN_NAME = "napari-lowlight"
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
    axis = _positive_axis(options.channel_axis, array.ndim)
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


# -- where the blocks run -----------------------------------------------------------------------


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _where() -> tuple[str, tuple[int, ...]]:
    """This process's host and the cores it may run on (run on each worker)."""
    import socket

    try:
        cpus = tuple(sorted(os.sched_getaffinity(0)))
    except AttributeError:
        cpus = tuple(range(os.cpu_count() or 1))
    return socket.gethostname(), cpus


def torch_threads_plan(client) -> dict[str, int]:
    """Torch threads for each worker of a cluster, so that the dask threads of
    all workers sharing the same cores, each running torch, do not exceed them.

    Workers on one host with the same CPU set (a ``LocalCluster``) split it;
    a worker with cores of its own (a batch job under cgroups) uses them all.

    Parameters
    ----------
    client : distributed.Client

    Returns
    -------
    dict of str to int
        By worker address.
    """
    where = client.run(_where)
    nthreads = client.nthreads()
    sharing = Counter()
    for address, key in where.items():
        sharing[key] += nthreads[address]
    return {address: max(1, len(key[1]) // sharing[key]) for address, key in where.items()}


class ModelPlugin(_WorkerPlugin):
    """A ``distributed.WorkerPlugin``: each worker loads the weight sets once
    (at setup, and any other on first use) and sizes torch's thread pool.

    Parameters
    ----------
    preload : sequence of ModelRef
        Weight sets to load when the plugin is set up (a damaged or missing
        file fails the registration, before any block runs).
    torch_threads : int or dict of str to int, optional
        Torch threads per worker, or by worker address (workers missing from
        it, e.g. ones that join later, take their own cores divided by their
        dask threads). Default: the cores this worker may use divided by its
        dask threads.

    Attributes
    ----------
    threads : int
        Torch threads set on this worker (after setup).
    """

    name = PLUGIN_NAME
    idempotent = False  # registering again replaces it (new models, new thread counts)

    def __init__(self, preload=(), torch_threads: int | dict[str, int] | None = None):
        self.preload = tuple(preload)
        self.torch_threads = torch_threads
        self.threads = None

    def setup(self, worker):
        self._lock = threading.Lock()
        self._models: dict[ModelRef, torch.nn.Module] = {}
        n = self.torch_threads
        if isinstance(n, dict):
            n = n.get(worker.address)
        if n is None:
            n = max(1, _cores() // max(1, worker.state.nthreads))
        self.threads = int(n)
        torch.set_num_threads(self.threads)
        for ref in self.preload:
            self.model(ref)

    def model(self, ref: ModelRef) -> torch.nn.Module:
        """The network for ``ref``, loaded on this worker once."""
        with self._lock:
            if ref not in self._models:
                self._models[ref] = ref.load()
            return self._models[ref]


def _start_process(threads: int) -> None:
    """Initializer of the process pool: its torch threads."""
    torch.set_num_threads(threads)


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    if n is not None and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _positive(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}.")
    return int(value)


class Runner:
    """Where the blocks of a lazy result run; reusable for many images.

    Parameters
    ----------
    scheduler : {"threads", "processes", "distributed"}
        ``"threads"``: a thread pool in this process (the only one that runs
        a custom torch Module). ``"processes"``: a pool of worker processes on
        this machine. ``"distributed"``: a ``dask.distributed`` cluster, the one
        at ``address`` or else a ``LocalCluster`` of ``workers`` processes on
        127.0.0.1 (one thread each), closed with the runner.
    address : str, optional
        A running cluster's scheduler, e.g. ``"tcp://10.0.0.5:8786"`` (from
        ``dask scheduler``, dask-jobqueue's ``cluster.scheduler_address``, ...).
        Only with ``scheduler="distributed"``. The workers need
        napari-lowlight and the weight files installed; outputs must be
        written where they can reach (a shared file system).
    workers : int, optional
        Threads (threads), processes (processes) or ``LocalCluster`` worker
        processes (distributed without ``address``); default: this machine's
        cores. Not with ``address`` (that cluster has its workers).
    torch_threads : int, optional
        Torch threads per block-running thread or worker. Default: the cores
        divided by the dask threads that share them, so the two never
        multiply past the cores. With the threads scheduler torch's
        process-wide setting is changed for the duration of a run and
        restored afterwards.

    Attributes
    ----------
    client : distributed.Client or None
        The cluster's client (distributed, once started).

    Raises
    ------
    ValueError
        An unknown scheduler, ``address`` without ``"distributed"``,
        ``address`` with ``workers``, a count below 1.

    Examples
    --------
    >>> with Runner("distributed", address="tcp://10.0.0.5:8786") as runner:  # doctest: +SKIP
    ...     for path in paths:
    ...         lazy = enhance_dask(open_lazy(path), model="fluo")
    ...         runner.store_zarr(lazy, path.with_suffix(".enhanced.zarr"), attrs={"source": str(path)})
    """

    def __init__(
        self,
        scheduler: str = "threads",
        *,
        address: str | None = None,
        workers: int | None = None,
        torch_threads: int | None = None,
    ):
        if scheduler not in SCHEDULERS:
            raise ValueError(f"Unknown scheduler {scheduler!r}; use one of {', '.join(SCHEDULERS)}.")
        if address is not None and scheduler != "distributed":
            raise ValueError(f"An address ({address}) needs scheduler='distributed', not {scheduler!r}.")
        if address is not None and workers is not None:
            raise ValueError(f"The cluster at {address} has its own workers: do not pass workers.")
        self.scheduler, self.address = scheduler, address
        self.workers = _positive("workers", workers)
        self.torch_threads = _positive("torch_threads", torch_threads)
        self.client = None
        self._cluster = self._pool = None
        self._plugin_models: tuple[ModelRef, ...] | None = None
        self._threads: int | dict[str, int] | None = None  # torch threads the plugin set

    # life cycle

    def __enter__(self) -> Runner:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> Runner:
        """Start the pool or connect to the cluster (done by the first run when not called)."""
        if self.scheduler == "processes" and self._pool is None:
            import concurrent.futures
            import multiprocessing

            n = self.workers or _cores()
            self._pool = concurrent.futures.ProcessPoolExecutor(
                n, mp_context=multiprocessing.get_context("spawn"), initializer=_start_process,
                initargs=(self.torch_threads or max(1, _cores() // n),),
            )
        elif self.scheduler == "distributed" and self.client is None:
            try:
                import distributed
            except ImportError:
                raise ImportError(
                    "scheduler='distributed' needs the distributed package: pip install distributed"
                ) from None
            if self.address is None:
                self._cluster = distributed.LocalCluster(
                    n_workers=self.workers or _cores(), threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None,
                )
                self.client = distributed.Client(self._cluster, set_as_default=False)
            else:
                self.client = distributed.Client(self.address, set_as_default=False)
        return self

    def close(self) -> None:
        """Shut the pool or local cluster down (a remote cluster keeps running)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        self._plugin_models = self._threads = None

    def describe(self) -> str:
        """One line for logs and provenance, e.g. ``distributed: 2 workers x 1 thread, torch 1 thread
        each (tcp://127.0.0.1:40405)``."""
        n = self.workers or _cores()
        torch_threads = self.torch_threads or max(1, _cores() // n)
        if self.scheduler == "threads":
            return f"threads: {n} x torch {torch_threads}"
        if self.scheduler == "processes":
            return f"processes: {n} x torch {torch_threads}"
        if self.client is None:
            return f"distributed: {self.address or 'LocalCluster'} (not started)"
        nthreads = self.client.nthreads()
        per_worker = sorted(set(nthreads.values()))
        line = f"distributed: {len(nthreads)} workers x {'/'.join(map(str, per_worker))} threads"
        if self._threads is not None:
            values = self._threads.values() if isinstance(self._threads, dict) else [self._threads]
            line += f", torch {'/'.join(map(str, sorted(set(values))))} each"
        return f"{line} ({self.client.scheduler.address})"

    # running

    def compute(self, lazy: da.Array, progress: Callable[[Progress], None] | None = None) -> np.ndarray:
        """Compute ``lazy`` into memory (for results that fit).

        Parameters
        ----------
        lazy : dask.array.Array
            E.g. from :func:`enhance_dask`.
        progress : callable, optional
            Called with a :class:`~napari_lowlight.engine.Progress` counted in
            output blocks: once at the start (0 done) and after each block.

        Returns
        -------
        numpy.ndarray

        Raises
        ------
        ValueError
            A custom torch Module in the graph on a processes/distributed runner.
        """
        if self.scheduler != "distributed":
            return self._local(lazy, progress)[0]
        persisted = self._persist(lazy, progress)
        return self.client.compute(persisted, sync=True)

    def store_zarr(
        self,
        lazy: da.Array,
        path,
        *,
        attrs: dict | None = None,
        overwrite: bool = False,
        progress: Callable[[Progress], None] | None = None,
        dimension_names: list[str] | None = None,
    ):
        """Write ``lazy`` to a Zarr array at ``path``, block by block.

        Each Zarr chunk is written by exactly one block (its chunks are the
        blocks' size), so writers never race; only one block per worker
        thread is in memory at a time. A local path is written under a
        temporary name beside it and renamed when every block is in, so a
        failed or interrupted run leaves nothing at ``path`` (and an existing
        array there is replaced only then); ``attrs`` are written last.

        Parameters
        ----------
        lazy : dask.array.Array
        path : str or os.PathLike
            A folder (``.zarr``) or a store URL that zarr opens. With a remote
            cluster the workers write it: it must be on storage they reach.
        attrs : dict, optional
            JSON-serialisable attributes to store with the array (provenance:
            source, model, sha256, options, versions), once every block is in.
        overwrite : bool, optional
            Replace an existing array or folder at ``path`` (default: refuse).
        progress : callable, optional
            As for :meth:`compute`, counted in blocks written.
        dimension_names : list of str, optional
            Names of the axes stored in the array's metadata (e.g. NGFF's
            ``["c", "y", "x"]``).

        Returns
        -------
        zarr.Array
            The written array, opened for reading.

        Raises
        ------
        FileExistsError
            If ``path`` exists and ``overwrite`` is False (before any work).
        """
        import zarr

        if not overwrite and _exists(path):
            raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) or choose another path.")
        lazy = _regular_tail(lazy)
        final = os.fspath(path)
        local = "://" not in final
        where = _partial_name(final) if local else final
        target = zarr.create_array(
            store=where, shape=lazy.shape, chunks=tuple(c[0] for c in lazy.chunks),
            dtype=lazy.dtype, overwrite=overwrite or local, fill_value=0, dimension_names=dimension_names,
        )
        written = da.map_blocks(
            _write_block, lazy, target=target, dtype=bool,
            chunks=tuple((1,) * len(c) for c in lazy.chunks), meta=np.empty((0,) * lazy.ndim, dtype=bool),
            token="napari-lowlight-store",
        )
        try:
            if self.scheduler != "distributed":
                self._local(written, progress)
            else:
                self._persist(written, progress)  # one flag per block; released on return
            if attrs:
                target.attrs.update(attrs)
        except BaseException:
            if local:
                shutil.rmtree(where, ignore_errors=True)
            raise
        if local:
            _replace(where, final, overwrite)
        return zarr.open_array(final, mode="r")

    def _local(self, lazy: da.Array, progress) -> tuple:
        if self.scheduler == "processes":
            models_in(lazy)  # a custom module cannot be sent to other processes
        self.start()
        n = self.workers or _cores()
        with contextlib.ExitStack() as stack:
            if progress is not None:
                stack.enter_context(Callback(posttask=_counter(lazy, progress)))
            if self.scheduler == "threads":
                stack.enter_context(_torch_threads(self.torch_threads or max(1, _cores() // n)))
                return dask.compute(lazy, scheduler="threads", num_workers=n)
            return dask.compute(lazy, scheduler="processes", pool=self._pool)

    def _persist(self, lazy: da.Array, progress) -> list:
        """Run ``lazy`` on the cluster; report each finished block; return its futures' collection."""
        from distributed import as_completed, futures_of

        models = models_in(lazy)
        self.start()
        self._register(models)
        persisted = self.client.persist(lazy)
        futures = futures_of(persisted)
        total = len(futures)
        if progress is not None:
            progress(Progress(0, total))
        try:
            for done, future in enumerate(as_completed(futures, loop=self.client.loop), 1):
                if future.status == "error":
                    future.result()  # raises the block's error here
                if progress is not None:
                    progress(Progress(done, total))
        except BaseException:
            self.client.cancel(futures)
            raise
        return persisted

    def _register(self, models: tuple[ModelRef, ...]) -> None:
        """Have every worker load ``models`` once and size its torch threads (again only
        when a run needs a model the workers have not loaded)."""
        if self._plugin_models is not None and set(models) <= set(self._plugin_models):
            return
        wanted = tuple(dict.fromkeys((*(self._plugin_models or ()), *models)))
        self._threads = self.torch_threads or torch_threads_plan(self.client)
        self.client.register_plugin(ModelPlugin(wanted, self._threads), name=PLUGIN_NAME)
        self._plugin_models = wanted


def _counter(lazy: da.Array, progress: Callable[[Progress], None]) -> Callable:
    """A dask ``posttask`` callback calling ``progress`` per finished output block."""
    keys = set(flatten(lazy.__dask_keys__()))
    state = {"done": 0}
    lock = threading.Lock()
    progress(Progress(0, len(keys)))

    def posttask(key, result, dsk, state_, worker_id):
        if key in keys:
            with lock:
                state["done"] += 1
                done = state["done"]
            progress(Progress(done, len(keys)))

    return posttask


def _write_block(block: np.ndarray, target, block_info=None) -> np.ndarray:
    where = tuple(slice(a, b) for a, b in block_info[0]["array-location"])
    target[where] = block
    return np.ones((1,) * block.ndim, dtype=bool)


def _regular_tail(lazy: da.Array) -> da.Array:
    """``lazy`` with every block edge on a multiple of its first block's size
    (the last block may be longer or shorter), rechunked where it is not."""
    chunks = []
    for sizes in lazy.chunks:
        edges = np.cumsum(sizes)[:-1]
        chunks.append(sizes if np.all(edges % sizes[0] == 0) else sizes[0])
    return lazy if tuple(chunks) == lazy.chunks else lazy.rechunk(tuple(chunks))


def _exists(path) -> bool:
    text = os.fspath(path)
    return "://" not in text and Path(text).exists()


def _partial_name(path: str) -> str:
    """A hidden sibling of ``path`` for the output while it is written."""
    p = Path(path)
    return str(p.with_name(f".{p.name}.partial-{os.getpid()}"))


def _replace(partial: str, final: str, overwrite: bool) -> None:
    """Move the finished output to ``final``, replacing what is there only with ``overwrite``."""
    target = Path(final)
    if target.exists() or target.is_symlink():
        if not overwrite:
            shutil.rmtree(partial, ignore_errors=True)
            raise FileExistsError(f"{final} appeared while it was written; the result was discarded.")
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    os.replace(partial, final)


def compute(
    lazy: da.Array,
    scheduler: str = "threads",
    *,
    address: str | None = None,
    workers: int | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> np.ndarray:
    """Compute a lazy result into memory on one scheduler (a :class:`Runner`
    for one call; see it for the parameters)."""
    with Runner(scheduler, address=address, workers=workers) as runner:
        return runner.compute(lazy, progress)


def store_zarr(
    lazy: da.Array,
    path,
    attrs: dict | None = None,
    overwrite: bool = False,
    *,
    scheduler: str = "threads",
    address: str | None = None,
    workers: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    dimension_names: list[str] | None = None,
):
    """Write a lazy result to Zarr block by block on one scheduler (a
    :class:`Runner` for one call; see :meth:`Runner.store_zarr`).

    Returns
    -------
    zarr.Array
        The written array, opened for reading.
    """
    if not overwrite and _exists(path):  # before a cluster is started
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) or choose another path.")
    with Runner(scheduler, address=address, workers=workers) as runner:
        return runner.store_zarr(lazy, path, attrs=attrs, overwrite=overwrite, progress=progress,
                                 dimension_names=dimension_names)


# -- reading ------------------------------------------------------------------------------------

TIFF_SUFFIXES = (".tif", ".tiff", ".ome.tif", ".ome.tiff", ".btf", ".tf8")


def open_lazy(path, *, level: int = 0, chunks=None) -> da.Array:
    """Open an image as a dask array without reading its pixels.

    Parameters
    ----------
    path : str or os.PathLike
        A Zarr array, an OME-Zarr image (a group with ``multiscales``
        metadata, NGFF 0.4 or 0.5) or a group holding an array ``"0"``, or a
        TIFF file (read through tifffile's ``aszarr``, strips or tiles at a
        time; a contiguous uncompressed TIFF is memory-mapped).
    level : int, optional
        Pyramid level of an OME-Zarr or pyramidal TIFF; 0 is full resolution.
    chunks : optional
        Dask chunks; default the file's own (a TIFF's strips are grouped into
        blocks of about 1024 rows).

    Returns
    -------
    dask.array.Array
        Readable by any scheduler: worker processes reopen the file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is neither Zarr nor TIFF, or ``level`` does not exist.
    """
    text = os.fspath(path)
    if "://" not in text and not Path(text).exists():
        raise FileNotFoundError(f"No such file or folder: {text}")
    if text.lower().endswith(TIFF_SUFFIXES):
        source = TiffSource(text, level=level)
        return da.from_array(
            source, chunks=chunks or source.default_chunks, name=f"tiff-{dask.base.tokenize(source)}",
            meta=np.empty((0,) * source.ndim, dtype=source.dtype),
        )
    return _open_zarr(text, level, chunks)


def _open_zarr(text: str, level: int, chunks) -> da.Array:
    import zarr

    try:
        node = zarr.open(text, mode="r")
    except (FileNotFoundError, ValueError, zarr.errors.BaseZarrError) as err:
        raise ValueError(f"{text} is neither a Zarr array nor a TIFF file: {err}") from None
    if isinstance(node, zarr.Group):
        attrs = node.attrs.asdict()
        multiscales = attrs.get("ome", {}).get("multiscales") or attrs.get("multiscales")
        if multiscales:
            paths = [d["path"] for d in multiscales[0]["datasets"]]
        else:
            paths = sorted((k for k in node.array_keys()), key=lambda k: (not k.isdigit(), k.zfill(8)))
        if not paths:
            raise ValueError(f"The Zarr group {text} holds no image array.")
        if not 0 <= level < len(paths):
            raise ValueError(f"{text} has levels 0..{len(paths) - 1}, not {level}.")
        node = node[paths[level]]
    elif level != 0:
        raise ValueError(f"{text} is a single Zarr array: it has level 0 only, not {level}.")
    return da.from_zarr(node, chunks=chunks or node.chunks)


class TiffSource:
    """A TIFF image level as a lazily read array that pickles by path, so
    process and cluster workers reopen the file instead of receiving pixels.

    Parameters
    ----------
    path : str
    series, level : int
        tifffile's series and pyramid level.
    """

    def __init__(self, path: str, series: int = 0, level: int = 0):
        import tifffile

        self.path, self.series, self.level = os.fspath(path), series, level
        with tifffile.TiffFile(self.path) as tif:
            if not 0 <= series < len(tif.series):
                raise ValueError(f"{self.path} has series 0..{len(tif.series) - 1}, not {series}.")
            levels = tif.series[series].levels
            if not 0 <= level < len(levels):
                raise ValueError(f"{self.path} has levels 0..{len(levels) - 1}, not {level}.")
            page = levels[level]
            self.shape, self.dtype = tuple(page.shape), np.dtype(page.dtype)
            self._mappable = page.dataoffset is not None
        self.ndim = len(self.shape)
        self._array = None
        self._lock = threading.Lock()

    @property
    def default_chunks(self) -> tuple[int, ...]:
        """Blocks of about 1024 rows and columns over the last two axes, one plane deep."""
        return tuple(min(n, 1024) if a >= self.ndim - 2 else 1 for a, n in enumerate(self.shape))

    def _open(self):
        import tifffile
        import zarr

        with self._lock:
            if self._array is None:
                if self._mappable:
                    self._array = tifffile.memmap(self.path, series=self.series, level=self.level, mode="r")
                else:
                    store = tifffile.imread(self.path, aszarr=True, series=self.series, level=self.level)
                    self._array = zarr.open_array(store, mode="r")
            return self._array

    def __getitem__(self, index) -> np.ndarray:
        return np.asarray(self._open()[index])

    def __reduce__(self):
        return (type(self), (self.path, self.series, self.level))

    def __dask_tokenize__(self):
        stat = os.stat(self.path)
        return ("napari-lowlight-tiff", self.path, self.series, self.level, stat.st_size, stat.st_mtime_ns)
