"""Out-of-core enhancement: throughput and peak memory of each way to run it, same run.

    python benchmarks/bigdata.py compare [--size 4096] [--methods in-memory,threads,processes,distributed]
    python benchmarks/bigdata.py big [--size 16384] [--scheduler threads] [--bound-gb 3]

``compare`` writes one synthetic dark fluorescence image (uint16, size x size)
to a temporary Zarr array, then enhances it with the shipped ``fluo`` weights
in a fresh process per method, one after the other:

* ``in-memory``: the whole image read, :func:`napari_lowlight.enhance`, torch
  threads = cores (as the command line sets them);
* ``threads``: :func:`napari_lowlight.bigdata.enhance_dask` over the Zarr,
  computed by a :class:`~napari_lowlight.bigdata.Runner` on dask threads;
* ``processes``: the same on a pool of worker processes;
* ``distributed``: the same on a ``LocalCluster`` (worker processes on
  127.0.0.1, the model loaded once per worker by the worker plugin).

Each method first starts its pool or cluster, loads the model and enhances a
256 x 256 warm-up image ("setup", not in the throughput); the timed part reads
the image, takes the normalisation statistics and enhances it into memory.
Peak RSS is sampled every 20 ms over the method's whole process tree (its
workers included), from start to end; "largest process" is the kernel's
high-water mark of the largest single process. Every result is compared with
the in-memory one.

``big`` writes a synthetic size x size uint16 Zarr block by block, then
enhances it Zarr to Zarr (``bigdata.store_zarr``) in a fresh process and
checks the process tree's peak RSS against ``--bound-gb``.

Prints markdown tables; timings are not unit tests. Needs ``psutil`` and
``distributed``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

METHODS = ("in-memory", "threads", "processes", "distributed")
BAND = 1024  # rows written (and Zarr chunk side) when making the synthetic input


# -- the input --------------------------------------------------------------------------------


def synthetic_band(y0: int, rows: int, width: int) -> np.ndarray:
    """Rows ``y0:y0+rows`` of a dark widefield-like frame: smooth structure of
    0-120 photons on a camera offset of 100, Poisson and read noise (a
    function of the coordinates, so any band is made alone)."""
    y, x = np.mgrid[y0 : y0 + rows, 0:width].astype(np.float32)
    signal = 30.0 * (np.sin(x / 23.0) * np.cos(y / 31.0) + np.sin((x + y) / 57.0)) ** 2
    rng = np.random.default_rng(y0)
    counts = rng.poisson(signal) + 100.0 + rng.normal(0.0, 2.0, signal.shape)
    return np.clip(counts, 0, 65535).astype(np.uint16)


def write_input(path: Path, size: int) -> None:
    """A size x size uint16 Zarr array, written band by band (never whole in memory)."""
    import zarr

    chunk = min(BAND, size)
    z = zarr.create_array(store=str(path), shape=(size, size), chunks=(chunk, chunk), dtype=np.uint16)
    for y0 in range(0, size, chunk):
        rows = min(chunk, size - y0)
        z[y0 : y0 + rows] = synthetic_band(y0, rows, size)


# -- one method in a fresh process ------------------------------------------------------------


def _one(args: argparse.Namespace) -> None:
    """Child: set up one method, time it, save the result, print a JSON line."""
    import torch
    import zarr

    from napari_lowlight import bigdata, devices, enhance, weights

    cores = devices.set_threads()
    warm = synthetic_band(0, 256, 256)
    start = time.perf_counter()
    weights.load_model("fluo")
    runner = None
    if args.method == "in-memory":
        enhance(warm, model="fluo")
        how = f"1 process, torch {torch.get_num_threads()} threads"
    else:
        runner = bigdata.Runner(args.method).start()
        runner.compute(bigdata.enhance_dask(warm, model="fluo"))
        how = runner.describe().split(" (")[0]  # without the cluster's port
    setup = time.perf_counter() - start

    start = time.perf_counter()
    if runner is None:
        out = enhance(zarr.open_array(args.input, mode="r")[:], model="fluo")
    else:
        out = runner.compute(bigdata.enhance_dask(bigdata.open_lazy(args.input), model="fluo"))
    seconds = time.perf_counter() - start
    if runner is not None:
        runner.close()
    np.save(args.output, out)
    print(json.dumps({"how": how, "setup": setup, "seconds": seconds, "cores": cores}), flush=True)


def _big(args: argparse.Namespace) -> None:
    """Child: enhance a Zarr into a Zarr block by block, reporting progress."""
    from napari_lowlight import bigdata, weights

    start = time.perf_counter()
    lazy = bigdata.enhance_dask(bigdata.open_lazy(args.input), model="fluo")
    stats = time.perf_counter() - start
    step = {"next": 0.0}

    def progress(p):
        if p.fraction >= step["next"]:
            print(f"  {p.done}/{p.total} blocks, {time.perf_counter() - start:.0f} s", file=sys.stderr,
                  flush=True)
            step["next"] += 0.1

    record = weights.get_weights("fluo")
    with bigdata.Runner(args.scheduler) as runner:
        out = runner.store_zarr(
            lazy, args.output, progress=progress,
            attrs={"source": str(args.input), "model": record.name, "sha256": record.sha256},
        )
        how = runner.describe().split(" (")[0]  # after the run: with the workers' torch threads
    seconds = time.perf_counter() - start
    # Spot checks, a block at a time: values in [0, 1], finite, not blank.
    n = out.shape[0]
    samples = [out[y : y + 512, x : x + 512] for y, x in ((0, 0), (n // 2, n // 3), (n - 512, n - 512))]
    ok = all(np.isfinite(s).all() and s.min() >= 0 and s.max() <= 1 and s.std() > 0 for s in samples)
    print(json.dumps({"how": how, "stats": stats, "seconds": seconds, "blocks": lazy.npartitions,
                      "chunks": list(out.chunks), "values_ok": bool(ok)}), flush=True)


# -- the parent: memory sampling and tables ---------------------------------------------------


def run_measured(cmd: list[str]) -> tuple[dict, float, float]:
    """Run ``cmd``; return its last JSON line, the peak RSS of its process tree
    (sampled sum, bytes) and the largest single process's peak RSS (bytes)."""
    import psutil

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peak = 0
    finished = threading.Event()

    def sample():
        nonlocal peak
        while not finished.is_set():
            total = 0
            with contextlib.suppress(psutil.Error):
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):  # a worker may end between the two calls
                        total += p.memory_info().rss
            peak = max(peak, total)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    finished.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with status {proc.returncode}")
    line = [s for s in stdout.splitlines() if s.startswith("{")][-1]
    return json.loads(line), float(peak), usage.ru_maxrss * 1024.0


def machine() -> str:
    import dask
    import distributed
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import psutil

    ram = psutil.virtual_memory().total / 2**30
    return (f"{cpu}, {cores} cores, {ram:.0f} GiB RAM; Python {platform.python_version()}, torch "
            f"{torch.__version__}, dask {dask.__version__}, distributed {distributed.__version__}")


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def compare(args: argparse.Namespace) -> None:
    methods = args.methods.split(",")
    unknown = set(methods) - set(METHODS)
    if unknown:
        sys.exit(f"unknown method(s) {', '.join(sorted(unknown))}; choose from {', '.join(METHODS)}")
    folder = Path(tempfile.mkdtemp(prefix="lowlight-bench-"))
    try:
        source = folder / "in.zarr"
        write_input(source, args.size)
        mpx = args.size**2 / 1e6
        print(f"machine: {machine()}; at start: {load()}\n")
        print(f"{args.size}x{args.size} uint16 (Zarr, {min(BAND, args.size)}^2 chunks), shipped `fluo` "
              "weights, result computed into memory\n")
        print("| method | how it ran | setup s | seconds | Mpx/s | peak RSS, process tree | largest process "
              "| max abs diff vs in-memory |")
        print("|---|---|---|---|---|---|---|---|")
        reference = None
        for method in methods:
            out = folder / f"{method}.npy"
            cmd = [sys.executable, __file__, "_one", "--method", method, "--input", str(source),
                   "--output", str(out)]
            result, tree, largest = run_measured(cmd)
            values = np.load(out)
            if reference is None and method == "in-memory":
                reference = values
            diff = "-" if reference is None else f"{np.abs(values - reference).max():.1e}"
            if method == "in-memory":
                diff = "(reference)"
            print(f"| {method} | {result['how']} | {result['setup']:.1f} | {result['seconds']:.1f} | "
                  f"{mpx / result['seconds']:.3f} | {tree / 2**30:.2f} GiB | {largest / 2**30:.2f} GiB | "
                  f"{diff} |", flush=True)
            out.unlink()
        print(f"\nat end: {load()}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def big(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="lowlight-big-", dir=args.tmp))
    try:
        source, target = folder / "in.zarr", folder / "out.zarr"
        print(f"machine: {machine()}; at start: {load()}\n", flush=True)
        start = time.perf_counter()
        write_input(source, args.size)
        print(f"wrote the {args.size}x{args.size} uint16 input band by band in "
              f"{time.perf_counter() - start:.0f} s\n", flush=True)
        cmd = [sys.executable, __file__, "_big", "--scheduler", args.scheduler, "--input", str(source),
               "--output", str(target)]
        result, tree, largest = run_measured(cmd)
        mpx = args.size**2 / 1e6
        bound = args.bound_gb * 1e9
        verdict = "under" if tree < bound else "OVER"
        print("| image | how it ran | blocks | statistics s | seconds (all) | Mpx/s | peak RSS, process tree "
              "| largest process | bound | values |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        print(f"| {args.size}x{args.size} uint16 Zarr -> float32 Zarr {tuple(result['chunks'])} chunks | "
              f"{result['how']} | {result['blocks']} | {result['stats']:.1f} | {result['seconds']:.0f} | "
              f"{mpx / result['seconds']:.3f} | {tree / 1e9:.2f} GB | {largest / 1e9:.2f} GB | "
              f"{verdict} {args.bound_gb:g} GB | {'ok' if result['values_ok'] else 'BAD'} |")
        print(f"\nat end: {load()}")
        if tree >= bound:
            sys.exit(1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("compare", help="in-memory vs dask threads/processes vs LocalCluster, same image")
    c.add_argument("--size", type=int, default=4096)
    c.add_argument("--methods", default=",".join(METHODS))
    b = sub.add_parser("big", help="a big Zarr enhanced Zarr to Zarr, peak RSS against a bound")
    b.add_argument("--size", type=int, default=16384)
    b.add_argument("--scheduler", default="threads", choices=["threads", "processes", "distributed"])
    b.add_argument("--bound-gb", type=float, default=3.0)
    b.add_argument("--tmp", default=None, help="folder for the temporary Zarr arrays (default: the system's)")
    one = sub.add_parser("_one")  # internal: one method in a fresh process
    one.add_argument("--method", choices=METHODS)
    one.add_argument("--input")
    one.add_argument("--output")
    big_one = sub.add_parser("_big")  # internal: the big run in a fresh process
    big_one.add_argument("--scheduler")
    big_one.add_argument("--input")
    big_one.add_argument("--output")
    args = parser.parse_args()
    {"compare": compare, "big": big, "_one": _one, "_big": _big}[args.mode](args)


if __name__ == "__main__":
    main()
