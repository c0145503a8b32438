"""The whole image (or one slice of a stack) of a lazy array, enhanced block by block as one job.

:class:`LazyJob` is what the napari viewer runs for the whole image of a lazy
layer (dask, Zarr, multiscale: level 0), or any whole image written to a
file: :func:`~napari_lowlight.bigdata.enhance_dask` block by block, kept in
memory or written to a single-level OME-Zarr image
(:class:`~napari_lowlight.bigdata.OmeZarrOutput`) that is opened back lazily.
It takes arrays, boxes and axis names, never a napari layer; it can be
cancelled mid-run (:class:`Cancelled`), and a cancelled or failed write leaves
no file behind.

Importing this module imports neither dask nor the rest of this package:
they are loaded when a job is built.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator

import numpy as np

from .. import engine
from .. import roi_geometry as roi
from ..engine import Progress


class Cancelled(Exception):
    """A :class:`LazyJob` stopped by :meth:`LazyJob.cancel`."""


class LazyJob:
    """The whole image (or one slice of a stack) enhanced block by block with
    :func:`napari_lowlight.bigdata.enhance_dask`, into memory or into an
    OME-Zarr file opened back lazily.

    It has the attributes of a :class:`~napari_lowlight.region_job.RegionJob`
    that the napari edge's ``output_layer`` reads (one region, the box). Building it checks
    the options and reads no pixel; :meth:`steps` reads the normalisation
    statistics (a bounded sample of the box) and runs the blocks one at a
    time (torch uses every core within a block) in a helper thread, yielding
    progress per block. :meth:`cancel` (from any thread) stops it after the
    block running, with no block then in flight, so the partial file is
    removed with nothing still writing to it.

    Parameters
    ----------
    data : array_like or list of array_like
        The layer's data, or its multiscale levels (level 0 is enhanced).
    box : roi_geometry.Box
        What to enhance, over the axes without the channel axis.
    channel_axis : int or None
    output : OmeZarrOutput, optional
        Where to write the result (default: into memory).
    **options
        The fields of :class:`~napari_lowlight.engine.EnhanceOptions`
        (``stats`` is accepted and ignored: the statistics always come from a
        bounded sample of the whole box).
    """

    def __init__(self, data, box: roi.Box, channel_axis: int | None, *, output=None, **options):
        import dask.array as da

        from .blocks import enhance_dask

        options.pop("stats", None)
        level0 = data[0] if isinstance(data, list) else data
        # Sliced lazily: a Zarr array (or numpy) is wrapped first, never read whole here.
        source = level0 if isinstance(level0, da.Array) else da.from_array(level0, chunks="auto", name=False)
        index = list(box.slices)
        if channel_axis is not None:
            index.insert(channel_axis, slice(None))
        self.source, self.channel_axis, self.options = source[tuple(index)], channel_axis, options
        # The engine's checks and its resolution of model, device and precision, on a zero-memory stand-in.
        shape = [n if a == channel_axis else min(n, 8) for a, n in enumerate(self.source.shape)]
        stand_in = np.broadcast_to(np.zeros((), self.source.dtype), tuple(shape))
        probe = engine.EnhanceJob(stand_in, channel_axis=channel_axis, check_layout=False, **options)
        self.net, self.record = probe.net, probe.record
        self.device, self.precision, self.normalization = probe.device, probe.precision, probe.normalization
        self.strength = probe.strength
        self.stats = "none" if self.normalization == "dtype" else "image"
        self.crops, self.normalizers = [box], []  # as a RegionJob's; no noise levels recorded
        self.margin = roi.default_margin(int(self.net.receptive_field_radius), int(self.net.downsampling))
        # The block count, from the same graph over zeros with "dtype" normalisation, which reads no
        # pixel: the real graph reads its statistics sample when the job runs, off the GUI thread.
        zeros = da.zeros(self.source.shape, dtype=self.source.dtype, chunks=self.source.chunks)
        no_stats = dict(options, normalization="dtype")
        counted = enhance_dask(zeros, channel_axis=channel_axis, **no_stats)
        self.total = int(np.prod(counted.numblocks))
        self.lazy = None  # built by steps()
        self.output = output
        self.attrs: dict = {}  # provenance written with the file (set by prepare)
        self.elapsed: list[float] = []
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop after the block running; a partial file is removed (thread-safe)."""
        self._cancelled.set()

    def steps(self) -> Generator[Progress, None, list]:
        """Run the blocks, yielding :class:`Progress` per block; return
        ``[result]``: a numpy array, or the written file as a dask array.

        Raises
        ------
        Cancelled
            After :meth:`cancel`, once the helper thread stopped and removed its partial file.
        """
        yield Progress(0, self.total)
        start = time.perf_counter()
        reports: queue.SimpleQueue = queue.SimpleQueue()
        outcome: dict = {}

        def work():
            try:
                outcome["result"] = self._compute(reports.put)
            except BaseException as err:  # noqa: BLE001 -- raised again in the generator's thread
                outcome["error"] = err
            finally:
                reports.put(None)

        helper = threading.Thread(target=work, name="napari-lowlight blocks", daemon=True)
        helper.start()
        try:
            while (step := reports.get()) is not None:
                yield step
        finally:
            if helper.is_alive():  # closed early: stop the blocks, remove the partial file
                self.cancel()
            helper.join()
        if "error" in outcome:
            raise outcome["error"]
        self.elapsed = [time.perf_counter() - start]
        return [outcome["result"]]

    def _compute(self, report: Callable[[Progress], None]):
        from .blocks import enhance_dask
        from .runners import Runner

        def progress(step: Progress) -> None:
            if self._cancelled.is_set():  # raised inside dask's scheduler: no further block starts
                raise Cancelled("The run was cancelled.")
            report(step)

        self.lazy = enhance_dask(self.source, channel_axis=self.channel_axis, **self.options)
        with Runner("threads", workers=1) as runner:
            if self.output is None:
                return runner.compute(self.lazy, progress)
            return self.output.write(self.lazy, self.attrs, runner, progress)

    def run(self, progress: Callable[[Progress], None] | None = None) -> list:
        """Drain :meth:`steps` synchronously, calling ``progress`` on each step."""
        return engine.drain(self.steps(), progress)
