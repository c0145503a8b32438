"""Command line: ``napari-lowlight enhance|train|evaluate|web|demo``.

Every failure prints ``error: ...`` and exits non-zero, without a traceback;
inputs are never overwritten. Arguments are checked before torch is loaded,
and the command sizes torch's thread pool once to the cores it may use.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import textwrap
from pathlib import Path

from . import weights
from .batch.files import EXTENSION
from .training.suites import CSBDEEP_SUITES, SPLITS, SUITES

EXTENSIONS = tuple(EXTENSION)

# Exit status: 1 a command failed (some inputs or the whole run), 2 bad usage (argparse's own).
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class CliError(Exception):
    """A failure to report as ``error: <message>`` and exit non-zero."""

    code = EXIT_FAILED


class UsageError(CliError):
    """Options that contradict each other: exit status 2, as argparse's own usage errors."""

    code = EXIT_USAGE


def _need_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise CliError(f"{what} {path} is not a folder (or does not exist).")


def _start_torch() -> None:
    from .devices import set_threads

    set_threads()


def _train(args: argparse.Namespace) -> int:
    if not args.config.is_file():
        raise CliError(f"config file {args.config} does not exist.")
    _need_dir(args.data, "data folder")
    _start_torch()
    from .training.train import TrainConfig, train

    cfg = TrainConfig.load(args.config)
    if args.steps:
        cfg.steps = args.steps
    recipe = shlex.join(
        ["napari-lowlight", "train", "--config", str(args.config), "--data", "DATA", "--out", "weights/"]
    )
    record = train(
        cfg, Path(args.data), Path(args.out), args.run_dir, recipe=recipe, quiet=args.quiet,
        device=args.device, workers=args.workers,
    )
    print(f"wrote {Path(args.out) / record.file} and {record.name}.json (sha256 {record.sha256[:12]}...)")
    return 0


def _write_demo(path: Path, image) -> None:
    """The demo's files: TIFF keeps float32; PNG gets a rounded uint8."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        tifffile.imwrite(path, image.astype(np.float32))
    else:
        from PIL import Image

        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(path)


def _positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _scheduler(args: argparse.Namespace) -> str:
    """The dask scheduler asked for: ``--address`` implies distributed and contradicts any other."""
    if args.address is None:
        return args.scheduler or "threads"
    if args.scheduler not in (None, "distributed"):
        raise UsageError(f"--address {args.address} is a dask cluster's scheduler: it needs --scheduler "
                         f"distributed (or no --scheduler), not --scheduler {args.scheduler}.")
    if args.workers is not None:
        raise UsageError(f"the cluster at --address {args.address} has its own workers: drop --workers.")
    return "distributed"


def _batch_settings(args: argparse.Namespace):
    from . import batch

    options = {"model": args.model, "device": args.device, "precision": args.precision,
               "strength": args.strength}
    if args.tile_size is not None:
        options["tile_size"] = args.tile_size
    return batch.Settings(
        output_dir=args.output_dir, kind=args.format, dtype=args.dtype, overwrite=args.overwrite,
        roi=batch.parse_roi(args.roi) if args.roi else None, channel_axis=args.channel_axis,
        options=options, scheduler=_scheduler(args), address=args.address, workers=args.workers,
    )


def _enhance(args: argparse.Namespace) -> int:
    from . import batch

    paths, missing = batch.expand(args.inputs, args.recursive)
    if missing:
        raise CliError(f"no such file or folder (or no match): {', '.join(missing)}")
    if not paths:
        raise CliError(
            "the folders given hold no image files (TIFF, PNG, JPEG, Zarr); --recursive looks deeper"
        )
    settings = _batch_settings(args)
    if args.model != "auto":
        weights.get_weights(args.model)  # a typo answers before torch loads
    jobs = batch.plan(paths, settings)
    if args.dry_run:
        print("\n".join(batch.dry_run_lines(jobs)))
        return 0 if all(j.ok for j in jobs) else EXIT_FAILED
    for job in jobs:
        if not job.ok:
            print(f"error: {job.path}: {job.problem}", file=sys.stderr)
    _start_torch()
    from .devices import get_device
    from .engine import EnhanceOptions

    get_device(args.device)  # an unavailable device fails once, not once per file
    EnhanceOptions.make(**settings.options)
    runner = _open_runner(jobs, settings)
    try:
        _run_with_progress(jobs, settings, quiet=args.quiet, runner=runner)
    finally:
        if runner is not None:
            runner.close()
    for job in jobs:
        if job.status == "failed":
            print(f"error: {job.path}: {job.problem}", file=sys.stderr)
    print(batch.summary(jobs))
    return 0 if all(j.status == "done" for j in jobs) else EXIT_FAILED


def _open_runner(jobs, settings):
    """The batch's one dask runner, started (None when no input is enhanced block by block)."""
    from . import batch

    try:
        runner = batch.open_runner(jobs, settings)
    except ValueError as err:  # contradicting scheduler settings
        raise UsageError(str(err)) from None
    if runner is None:
        return None
    try:
        runner.start()
    except ImportError as err:  # distributed not installed
        raise CliError(str(err)) from None
    except OSError as err:  # no scheduler at --address (refused, timed out)
        where = settings.address or f"a {settings.scheduler} pool"
        raise CliError(f"cannot start or reach {where}: {err}") from None
    return runner


def _run_with_progress(jobs, settings, quiet: bool, runner=None) -> None:
    """Run the batch with a bar over files and one over the current file's tiles (blocks for
    inputs enhanced block by block on ``runner``)."""
    from tqdm import tqdm

    from . import batch

    runnable = [j for j in jobs if j.ok]
    with tqdm(total=len(runnable), desc="files", unit="file", disable=quiet, position=0) as files, \
            tqdm(desc="tiles", unit="tile", disable=quiet, position=1, leave=False) as tiles:
        current = {"job": None}

        def on_tiles(job, done, total):
            if current["job"] is not job:
                current["job"] = job
                files.set_postfix_str(job.path.name)
                tiles.reset(total=total)
            tiles.update(done - tiles.n)

        for job in runnable:
            batch.run([job], settings, on_tiles, runner)
            files.update(1)


def _web(args: argparse.Namespace) -> int:
    from .web import WebError, launch_from_args

    try:
        return launch_from_args(args)  # prints the local URL
    except WebError as err:  # the web extra missing, the port taken, a bad option
        raise CliError(str(err)) from None


def _demo(args: argparse.Namespace) -> int:
    import os

    _start_torch()
    from ._napari.sample_data import dark_fluorescence
    from .engine import EnhanceJob

    dark = dark_fluorescence()
    job = EnhanceJob(dark, device=args.device)
    enhanced = job.run()
    print(f"enhanced the {dark.shape[1]}x{dark.shape[0]} fluorescence sample with {job.record.name!r} "
          f"on {job.device} in {job.elapsed:.2f} s")
    if os.environ.get("DISPLAY") and not args.no_viewer:
        import napari

        viewer = napari.Viewer(title="napari-lowlight demo")
        viewer.add_image(dark, name="dark noisy sample", colormap="green")
        viewer.add_image(enhanced, name="enhanced", colormap="green", contrast_limits=(0, 1))
        viewer.grid.enabled = True
        napari.run()
        return 0
    out = args.output_dir
    _write_demo(out / "sample_dark.tif", dark.astype("float32") / dark.max())
    _write_demo(out / "sample_enhanced.tif", enhanced)
    _write_demo(out / "sample_enhanced.png", enhanced)
    print(f"no display: wrote {out / 'sample_dark.tif'}, {out / 'sample_enhanced.tif'} and .png")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    if args.split == "test" and args.suite in CSBDEEP_SUITES:
        raise UsageError(f"--suite {args.suite} has a validation split only: drop --split test.")
    if args.no_classical and (args.record or args.contact_sheet):
        raise UsageError(
            "--record and --contact-sheet compare with the classical filters: drop --no-classical."
        )
    _need_dir(args.data, "data folder")
    _start_torch()
    from .training import evaluate
    cases = evaluate.load_cases(args.suite, args.data, crop=args.crop, limit=args.limit, split=args.split)
    default = evaluate.DEFAULT_MODELS[args.suite]
    models = tuple(args.models.split(",")) if args.models else ("llcnn-paper", default)
    print(f"suite {args.suite}, {args.split} split: {len(cases)} images"
          + (f", centre {args.crop} px" if args.crop else ""))
    rows = evaluate.evaluate(args.suite, cases, models, classical=not args.no_classical)
    print(evaluate.table(rows, args.suite))
    if args.contact_sheet:
        evaluate.contact_sheet(rows, cases, args.contact_sheet, args.suite)
        print(f"contact sheet: {args.contact_sheet}")
    if args.record:
        key = evaluate.metrics_key(args.suite, args.split)
        for name in evaluate.record_metrics(rows, args.suite, len(cases), args.crop, split=args.split):
            print(f"metrics of {args.suite!r} ({args.split}) written into the record of {name!r} as {key!r}")
    return 0


def _models_epilog() -> str:
    """The installed weight sets, a line each, for ``--help``."""
    try:
        found = weights.available_weights()
    except weights.WeightsError as err:
        return f"installed models: none readable ({err})"
    lines = [
        f"  {name:12s} {w.domain:5s} " + textwrap.shorten(w.description, 78, placeholder=" ...")
        for name, w in found.items()
    ]
    body = "\n".join(lines) if lines else f"  (none found in {weights.weights_dir()})"
    return "installed models (--model NAME; 'auto': photo for RGB/RGBA, fluo otherwise):\n" + body


def _parser() -> argparse.ArgumentParser:
    epilog = _models_epilog()
    kw = {"formatter_class": argparse.RawDescriptionHelpFormatter, "epilog": epilog}
    about = ("Enhance dark, noisy images (fluorescence micrographs, low-light photos) with small networks; "
             "train and evaluate them.")
    parser = argparse.ArgumentParser(prog="napari-lowlight", description=about, **kw)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="enhance, train, evaluate, web or demo; COMMAND --help for its options")
    t = sub.add_parser("train", help="train a weight set from a TOML config", **kw)
    t.add_argument("--config", required=True, type=Path, help="TOML recipe, e.g. configs/fluo.toml")
    t.add_argument("--data", required=True, type=Path, help="data folder (holds w2s-train/ and natural/)")
    t.add_argument("--out", default=Path("weights"), type=Path,
                   help="folder the weights (.safetensors) and their record (.json) are written to")
    t.add_argument("--run-dir", type=Path, default=None,
                   help="checkpoints, CSV log, plot (default runs/NAME)")
    t.add_argument("--steps", type=int, default=0, help="override the config's step count (0: the config's)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--device", default="auto", help="auto (a GPU when there is one), cuda, mps or cpu")
    t.add_argument("--workers", type=int, default=0,
                   help="processes that prepare batches ahead (same batches for any number; 0: none)")
    t.set_defaults(func=_train)

    e = sub.add_parser(
        "enhance", help="enhance image files, folders or globs (TIFF, OME-TIFF, PNG, JPEG, Zarr)", **kw
    )
    e.add_argument("inputs", nargs="+",
                   help="files, folders (their image files) or globs such as 'data/*.tif' (never modified)")
    e.add_argument("-o", "--output-dir", type=Path, default=Path("."),
                   help="where NAME_enhanced.EXT results go (default: current folder)")
    e.add_argument("-r", "--recursive", action="store_true",
                   help="also take the image files in the folders' subfolders (and ** in globs)")
    e.add_argument("--format", default="same", choices=["same", *EXTENSIONS],
                   help="output format (default: the input's; vendor files become OME-TIFF)")
    e.add_argument("--dtype", default="auto", choices=["auto", "float32", "uint8", "uint16"],
                   help="output pixels: auto keeps an integer input's dtype (a 16-bit acquisition stays "
                        "16-bit, scaled to its full range) and gives float32 in [0, 1] for float inputs")
    e.add_argument("--model", default="auto",
                   help="weight set name (listed below); auto: photo for RGB(A) pixels, fluo otherwise "
                        "(channels of a multichannel file are enhanced one by one)")
    e.add_argument("--roi", default=None,
                   help="enhance only this region of the image plane, y0:y1,x0:x1 in pixels "
                        "(read with its context, so it equals the same region of the whole result)")
    e.add_argument("--channel-axis", type=int, default=None,
                   help="the axis of colour samples or channels, when the file does not say")
    e.add_argument("--strength", type=float, default=1.0,
                   help="noise-aware models (fluo): 1 uses the noise estimated from each image; lower keeps "
                        "more texture, higher smooths more (recorded in the output's metadata)")
    e.add_argument("--device", default="auto", help="auto (a GPU when there is one), cuda, mps or cpu")
    e.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                   help="compute precision (auto: fp16 on CUDA, fp32 elsewhere)")
    e.add_argument("--tile-size", type=int, default=None,
                   help="tile side in pixels (default 512); smaller tiles need less memory")
    e.add_argument("--scheduler", default=None, choices=["threads", "processes", "distributed"],
                   help="where images enhanced block by block (Zarr inputs, very large images) run: "
                        "threads (default), processes, or distributed (a local dask cluster, or --address); "
                        "recorded in the outputs' provenance")
    e.add_argument("--address", default=None,
                   help="scheduler address of an existing dask cluster, e.g. tcp://HOST:8786 "
                        "(implies --scheduler distributed; its workers need the weights and the files)")
    e.add_argument("--workers", type=_positive_int, default=None,
                   help="threads, processes or local cluster workers for block-by-block images "
                        "(default: the cores); not with --address")
    e.add_argument("--overwrite", action="store_true", help="replace existing outputs (never the inputs)")
    e.add_argument("--dry-run", action="store_true", help="list what would be written, enhance nothing")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    e.set_defaults(func=_enhance)

    v = sub.add_parser("evaluate", help="score our models against classical filters on a validation or "
                       "test set", **kw)
    v.add_argument("--suite", required=True, choices=list(SUITES),
                   help="fluo: W2S fields 071-080; fmd: FMD confocal fields 17-18 at 1/2/4/8 frames; "
                        "lol: real LOL pairs; photo: clean photos darkened physically; photo-gamma: by "
                        "LLCNN's gamma protocol; photo-real: by a random camera (noise in raw, 8-bit files)")
    v.add_argument("--split", default="validation", choices=list(SPLITS),
                   help="validation (default): LOL ids 560-679, Kodak24; test, reported once: LOL ids "
                        "680-789, CBSD68 (fluo and fmd have a validation split only)")
    v.add_argument("--data", required=True, type=Path,
                   help="data folder (holds w2s-train/, fmd-confocal-bpae-b/, lol-train/ and natural/)")
    v.add_argument("--crop", type=int, default=0, help="centre crop side in px (0: whole images)")
    v.add_argument("--limit", type=int, default=0, help="use the first N images only (0: all)")
    v.add_argument("--models", default="",
                   help="comma-separated weight sets (default: llcnn-paper and the suite's own)")
    v.add_argument("--no-classical", action="store_true",
                   help="score the models only (quick comparisons, e.g. of candidate weights in "
                        "NAPARI_LOWLIGHT_WEIGHTS_DIR)")
    v.add_argument("--contact-sheet", type=Path, default=None, help="write a PNG of a few results")
    v.add_argument("--record", action="store_true", help="store the models' scores in their weight records")
    v.set_defaults(func=_evaluate)

    from .web import add_arguments  # cheap: no streamlit, no torch

    w = sub.add_parser("web", help="serve the web page (Streamlit) on this machine; prints its URL", **kw)
    add_arguments(w)
    w.set_defaults(func=_web)

    d = sub.add_parser("demo", help="enhance the bundled dark sample; show it, or write it without a display",
                       **kw)
    d.add_argument("--device", default="auto", help="auto (a GPU when there is one), cuda, mps or cpu")
    d.add_argument("--no-viewer", action="store_true", help="write the result to files even with a display")
    d.add_argument("--output-dir", type=Path, default=Path("demo-output"),
                   help="where the files go when there is no viewer")
    d.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (CliError, OSError, ValueError, weights.WeightsError) as err:
        # What a user can act on, in one line; the traceback would only hide it.
        print(f"error: {err}", file=sys.stderr)
        return getattr(err, "code", EXIT_FAILED)


if __name__ == "__main__":
    sys.exit(main())
