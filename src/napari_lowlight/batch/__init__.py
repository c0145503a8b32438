"""The batch command line's work (an edge: imports the core, dask and file libraries).

Which files, where their results go, and running them.

``napari-lowlight enhance INPUT... -o OUTDIR`` takes files, folders
(``--recursive`` for their subfolders) and globs (expanded here too, for
quoted globs). :func:`plan` checks every input's header and decides its
output before anything heavy is imported, so a typo or a corrupt file is
reported at once; :func:`run` enhances the files that can be, one after the
other, and reports each one's outcome. A file that fails is reported by name
with the reason and skipped; the others go on. Inputs are never modified and
an existing output is only replaced with ``overwrite``.
"""

from __future__ import annotations

import glob
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__, noise
from . import files as batch_io
from .files import ImageFileError, Source

# Above this many pixels an in-memory input is enhanced block by block (dask), as Zarr inputs always are.
LAZY_PIXELS = 64 * 1024 * 1024
DTYPES = ("auto", "float32", "uint8", "uint16")


@dataclass
class Job:
    """One input: its header, its output, and why it cannot run (if so)."""

    path: Path
    source: Source | None = None
    output: Path | None = None
    kind: str = ""
    dtype: np.dtype | None = None
    problem: str = ""
    # Filled by run():
    status: str = "pending"
    seconds: float = 0.0
    model: str = ""
    device: str = ""
    shape: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problem


@dataclass
class Settings:
    """The command line's choices for every file."""

    output_dir: Path
    kind: str = "same"  # an output format of batch_io.EXTENSION, or "same" as the input
    dtype: str = "auto"  # "auto": the input's integer dtype, float32 for float inputs
    overwrite: bool = False
    roi: tuple[slice, slice] | None = None
    channel_axis: int | None = None
    options: dict = field(default_factory=dict)  # EnhanceOptions fields (model, device, ...)
    scheduler: str = "threads"  # where block-by-block inputs run (napari_lowlight.bigdata.Runner)
    address: str | None = None  # an existing dask cluster's scheduler (with scheduler="distributed")
    workers: int | None = None  # threads, processes or LocalCluster workers (default: the cores)


def expand(inputs: Iterable[str], recursive: bool = False) -> tuple[list[Path], list[str]]:
    """Files named by ``inputs`` (files, folders, globs); and the inputs that named nothing.

    Folders give the image files they hold (Zarr folders count as files), with
    ``recursive`` those of their subfolders too. Each file appears once, in order.
    """
    found: list[Path] = []
    missing = []
    for item in inputs:
        path = Path(item)
        if _is_image_dir(path) or path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(_images_in(path, recursive))
        elif glob.has_magic(item):
            matches = sorted(Path(p) for p in glob.glob(item, recursive=recursive))
            files = [p for p in matches if p.is_file() or _is_image_dir(p)]
            (found.extend(files) if files else missing.append(item))
        else:
            missing.append(item)
    unique = {p.resolve(): p for p in reversed(found)}  # the first spelling of each file
    return [unique[r] for r in dict.fromkeys(p.resolve() for p in found)], missing


def _is_image_dir(path: Path) -> bool:
    return path.is_dir() and path.suffix.lower() == ".zarr"


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    entries = sorted(folder.rglob("*") if recursive else folder.iterdir())
    images = []
    for p in entries:
        inside_zarr = any(parent.suffix.lower() == ".zarr" for parent in p.relative_to(folder).parents)
        if not inside_zarr and (p.is_file() or _is_image_dir(p)) and batch_io.kind_of(p) is not None:
            images.append(p)
    return images


def parse_roi(text: str) -> tuple[slice, slice]:
    """``"y0:y1,x0:x1"`` as two slices of the image plane.

    Raises
    ------
    ValueError
        Anything but two ``start:stop`` ranges of whole numbers with start < stop.
    """
    try:
        parts = [tuple(int(v) for v in part.split(":")) for part in text.replace(" ", "").split(",")]
        (y0, y1), (x0, x1) = parts
    except ValueError:
        raise ValueError(f"--roi {text!r}: expected y0:y1,x0:x1 in pixels, e.g. 100:300,50:250") from None
    if not (0 <= y0 < y1 and 0 <= x0 < x1):
        raise ValueError(f"--roi {text!r} is empty or negative: need 0 <= y0 < y1 and 0 <= x0 < x1")
    return slice(y0, y1), slice(x0, x1)


def plan(paths: list[Path], settings: Settings) -> list[Job]:
    """Check each input's header and decide its output; nothing is read or written beyond headers."""
    jobs, taken = [], set()
    for path in paths:
        job = Job(path)
        try:
            _plan_one(job, settings)
        except (ImageFileError, ValueError) as err:
            job.problem = str(err)
        if job.output is not None and job.ok:
            if job.output.resolve() in taken:
                job.problem = (
                    f"another input also writes {job.output.name}; enhance them into different folders"
                )
            taken.add(job.output.resolve())
        job.status = "planned" if job.ok else "skipped"
        jobs.append(job)
    return jobs


def _plan_one(job: Job, settings: Settings) -> None:
    source = job.source = batch_io.probe(job.path)
    if settings.channel_axis is not None:
        source.axes = _with_channel_axis(source, settings.channel_axis)
    job.shape = source.shape
    job.kind = source.kind if settings.kind == "same" else settings.kind
    if job.kind == "vendor":
        job.kind = "ome-tiff"  # vendor files are read, never written
    job.dtype = _output_dtype(source, settings.dtype)
    batch_io.check_writable(job.kind, job.dtype, source.is_colour)
    if settings.roi is not None:
        _check_roi(settings.roi, source)
    stem = job.path.name.split(".")[0]
    job.output = settings.output_dir / f"{stem}_enhanced{batch_io.EXTENSION[job.kind]}"
    if job.output.resolve() == job.path.resolve():
        raise ValueError("its output would replace the input; choose another --output-dir")
    if job.output.exists() and not settings.overwrite:
        raise ValueError(f"{job.output} exists; pass --overwrite to replace it")


def _with_channel_axis(source: Source, axis: int) -> str:
    ndim = len(source.shape)
    if not -ndim <= axis < ndim:
        raise ValueError(f"--channel-axis {axis} is out of range for its {ndim} axes")
    axis %= ndim
    letters = list(source.axes)
    for k, a in enumerate(letters):
        if a in "SC":
            letters[k] = "Q"
    letters[axis] = "S" if source.shape[axis] in (3, 4) and axis == ndim - 1 else "C"
    rest = [k for k in range(ndim) if k != axis]
    letters[rest[-2]], letters[rest[-1]] = "Y", "X"
    return "".join(letters)


def _output_dtype(source: Source, choice: str) -> np.dtype:
    if choice not in DTYPES:
        raise ValueError(f"--dtype {choice!r}: use one of {', '.join(DTYPES)}")
    if choice != "auto":
        return np.dtype(choice)
    return source.dtype if source.dtype.kind in "iu" else np.dtype(np.float32)


def _check_roi(roi: tuple[slice, slice], source: Source) -> None:
    height, width = source.plane_shape
    if roi[0].stop > height or roi[1].stop > width:
        raise ValueError(f"--roi {roi[0].start}:{roi[0].stop},{roi[1].start}:{roi[1].stop} lies outside "
                         f"its {height} x {width} plane")


def dry_run_lines(jobs: list[Job]) -> list[str]:
    """What :func:`run` would write, a line per input."""
    return [f"{j.path} -> {j.output}" if j.ok else f"{j.path}: skipped: {j.problem}" for j in jobs]


# ---- running ------------------------------------------------------------------------------


def _model_for(source: Source, options: dict):
    """"auto" by the image: RGB(A) pixels go to the photo model, channels and grey to fluo."""
    from .. import weights

    model = options.get("model", "auto")
    if model == "auto":
        return weights.DEFAULT_FOR_DOMAIN["photo" if source.is_colour else "fluo"]
    return model


def blockwise(job: Job, settings: Settings) -> bool:
    """Whether ``job`` is enhanced block by block (on the batch's :class:`~napari_lowlight.bigdata.Runner`):
    a Zarr or OME-Zarr input, or an image above :data:`LAZY_PIXELS` pixels, without ``--roi``.

    Parameters
    ----------
    job : Job
        A planned job (its header read).
    settings : Settings

    Returns
    -------
    bool
    """
    if not job.ok or job.source is None or settings.roi is not None:
        return False
    pixels = int(np.prod(job.shape, dtype=np.int64))
    return job.source.kind in batch_io.BLOCKWISE_KINDS or pixels > LAZY_PIXELS


def open_runner(jobs: list[Job], settings: Settings):
    """The one :class:`~napari_lowlight.bigdata.Runner` for a batch, not started yet; None when no
    job is enhanced block by block (see :func:`blockwise`).

    Parameters
    ----------
    jobs : list of Job
    settings : Settings
        Its ``scheduler``, ``address`` and ``workers``.

    Returns
    -------
    napari_lowlight.bigdata.Runner or None

    Raises
    ------
    ValueError
        Contradicting scheduler settings (an address without "distributed", an
        address with workers, a count below 1), before anything starts.
    """
    if not any(blockwise(j, settings) for j in jobs):
        return None
    from .. import bigdata

    return bigdata.Runner(settings.scheduler, address=settings.address, workers=settings.workers)


def run(jobs: list[Job], settings: Settings, on_tiles: Callable[[Job, int, int], None] | None = None,
        runner=None) -> None:
    """Enhance every job that can run, in order; each job's status says how it went.

    A result is written under a temporary name and renamed into place when
    complete, so a failed or interrupted file leaves no half-made output and
    an output replaced with ``overwrite`` is only removed once its successor
    exists.

    Parameters
    ----------
    jobs : list of Job
        From :func:`plan`.
    settings : Settings
    on_tiles : callable, optional
        ``on_tiles(job, done, total)`` follows the work inside a file (tiles,
        or blocks for inputs enhanced block by block).
    runner : napari_lowlight.bigdata.Runner, optional
        Where block-by-block inputs run (:func:`open_runner`; the caller
        closes it). Default: one opened from ``settings`` for this call, when
        a job needs it.
    """
    if runner is None and any(blockwise(j, settings) for j in jobs):
        with open_runner(jobs, settings) as own:
            run(jobs, settings, on_tiles, own)
        return
    for job in jobs:
        if not job.ok:
            continue
        start = time.perf_counter()
        partial = job.output.with_name(f".partial-{job.output.name}")
        try:
            batch_io.remove(partial)
            _run_one(job, settings, partial, on_tiles, runner if blockwise(job, settings) else None)
            batch_io.remove(job.output)  # only with overwrite: plan() refused existing outputs otherwise
            partial.rename(job.output)
            job.status = "done"
        except (ImageFileError, ValueError, OSError, RuntimeError, MemoryError) as err:
            job.status, job.problem = "failed", str(err)
        finally:
            batch_io.remove(partial)
            job.seconds = time.perf_counter() - start


def _run_one(job: Job, settings: Settings, target: Path, on_tiles, runner) -> None:
    from .. import engine, region_job

    source = job.source
    model = _model_for(source, settings.options)
    options = engine.EnhanceOptions.make(
        **{**settings.options, "model": model, "channel_axis": source.channel_axis}
    )
    data = batch_io.load(source, lazy=runner is not None)
    progress = (lambda p: on_tiles(job, p.done, p.total)) if on_tiles else None
    if settings.roi is not None:
        plane_axes = len(source.shape) - (source.channel_axis is not None)
        box = (slice(None),) * (plane_axes - 2) + settings.roi
        work = region_job.RegionJob(data, [box], options)
        result = engine.drain(work.steps(), progress)[0]
    elif runner is not None:
        from .. import bigdata

        result = bigdata.enhance_dask(data, options)
        work = engine.EnhanceJob(_stand_in(data, source.channel_axis), options, check_layout=False)
    else:
        work = engine.EnhanceJob(np.asarray(data), options)
        result = work.run(progress)
    job.model = work.record.name if work.record is not None else "custom"
    job.device = str(work.device)
    provenance = _provenance(job, work, settings)
    image = batch_io.to_dtype(result, job.dtype)
    if runner is not None:
        runner.start()  # a cluster is reached (or started) before its description is recorded
        provenance["scheduler"] = runner.describe()
        if job.kind not in batch_io.BLOCKWISE_KINDS:
            image = runner.compute(image, progress)  # PNG/TIFF: the result in memory
    else:
        provenance["scheduler"] = "in memory"
    batch_io.write(target, image, source, source.axes, provenance, job.kind,
                   runner=runner, progress=progress if runner is not None else None)


def _stand_in(data, channel_axis: int | None) -> np.ndarray:
    # A few zero pixels with the data's channels: resolves the model, device and precision of a lazy run.
    shape = [8] * len(data.shape)
    if channel_axis is not None:
        shape[channel_axis] = data.shape[channel_axis]
    return np.zeros(shape, dtype=data.dtype)


def _provenance(job: Job, work, settings: Settings) -> dict:
    roi, record = settings.roi, work.record
    return {
        "software": f"napari-lowlight {__version__}",
        "source": job.path.name,
        "model": record.name if record is not None else "custom",
        "weights_sha256": record.sha256 if record is not None else None,
        "device": str(work.device),
        "precision": work.precision,
        "normalization": work.normalization,
        "strength": settings.options.get("strength", 1.0),
        "noise_level": noise.describe(_noise_levels(work)),
        "roi": None if roi is None else f"{roi[0].start}:{roi[0].stop},{roi[1].start}:{roi[1].stop}",
        "dtype": str(job.dtype),
    }


def _noise_levels(work):
    """The noise a noise-aware network was told (an EnhanceJob's, or a RegionJob's one region)."""
    if getattr(work, "normalizers", None):
        return work.normalizers[0].noise
    return getattr(work, "noise_levels", None)


def summary(jobs: list[Job]) -> str:
    """A table of every input: file, shape, model, device, seconds, status."""
    rows = [("file", "shape", "model", "device", "seconds", "status")]
    for j in jobs:
        status = j.status if j.ok else f"{j.status}: {j.problem}"
        shape = "x".join(str(n) for n in j.shape) or "-"
        rows.append((str(j.path), shape, j.model or "-", j.device or "-", f"{j.seconds:.2f}", status))
    widths = [max(len(r[k]) for r in rows) for k in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5] for r in rows]
    return "\n".join(lines)
