"""Where the blocks of a lazy result run: threads, processes or a ``dask.distributed`` cluster.

:class:`Runner` runs a lazy result on ``"threads"``, ``"processes"`` or
``"distributed"`` (a ``LocalCluster`` on this machine, or an existing
cluster's scheduler address), computes it into memory or stores it to Zarr
block by block, and reports progress per finished block; :func:`compute` and
:func:`store_zarr` are its one-call forms. On a cluster, :class:`ModelPlugin`
(a ``distributed.WorkerPlugin``) loads the weight sets when a worker joins and
sizes torch's thread pool so that workers x threads do not exceed the cores
(:func:`torch_threads_plan`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterator

import dask
import dask.array as da
import numpy as np
import torch
from dask.callbacks import Callback
from dask.core import flatten

from ..devices import available_cores
from ..engine import Progress, positive_count
from .blocks import ModelRef, models_in
from .files import exists_locally, move_into_place, partial_name

try:  # the cluster path is optional: ``pip install distributed``
    from distributed import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - exercised only without distributed
    _WorkerPlugin = object

SCHEDULERS = ("threads", "processes", "distributed")
PLUGIN_NAME = "napari-lowlight"


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
            n = max(1, available_cores() // max(1, worker.state.nthreads))
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
        self.workers = positive_count("workers", workers)
        self.torch_threads = positive_count("torch_threads", torch_threads)
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

            n = self._dask_workers()
            self._pool = concurrent.futures.ProcessPoolExecutor(
                n, mp_context=multiprocessing.get_context("spawn"), initializer=_start_process,
                initargs=(self._torch_threads_each(),),
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
                    n_workers=self._dask_workers(), threads_per_worker=1, processes=True,
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
        n, torch_threads = self._dask_workers(), self._torch_threads_each()
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

    def _dask_workers(self) -> int:
        """Dask threads (threads) or processes (processes, a LocalCluster's workers)."""
        return self.workers or available_cores()

    def _torch_threads_each(self) -> int:
        """Torch threads per dask thread or process: the cores shared out, unless given."""
        return self.torch_threads or max(1, available_cores() // self._dask_workers())

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

        if not overwrite and exists_locally(path):
            raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) or choose another path.")
        lazy = _regular_tail(lazy)
        final = os.fspath(path)
        local = "://" not in final
        where = partial_name(final) if local else final
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
            move_into_place(where, final, overwrite)
        return zarr.open_array(final, mode="r")

    def _local(self, lazy: da.Array, progress) -> tuple:
        if self.scheduler == "processes":
            models_in(lazy)  # a custom module cannot be sent to other processes
        self.start()
        with contextlib.ExitStack() as stack:
            if progress is not None:
                stack.enter_context(Callback(posttask=_counter(lazy, progress)))
            if self.scheduler == "threads":
                stack.enter_context(_torch_threads(self._torch_threads_each()))
                return dask.compute(lazy, scheduler="threads", num_workers=self._dask_workers())
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
    if not overwrite and exists_locally(path):  # before a cluster is started
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) or choose another path.")
    with Runner(scheduler, address=address, workers=workers) as runner:
        return runner.store_zarr(lazy, path, attrs=attrs, overwrite=overwrite, progress=progress,
                                 dimension_names=dimension_names)

