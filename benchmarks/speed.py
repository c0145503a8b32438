"""Speed and memory of ``enhance`` against the classical filters, same run.

    python benchmarks/speed.py [--size 1024] [--skip-bm3d]

Prints two markdown tables:
1. Mpx/s on a size x size grey image for every registered architecture and
   precision, next to scikit-image non-local means (fast mode) and BM3D (the
   ``bm3d`` package) on the same image; plus this machine's fp32 matrix
   multiply GFLOP/s and the fraction of it each network reaches
   (MACs per pixel x 2 x Mpx/s).
2. Peak resident memory of a fresh process enhancing 2048^2 and 4096^2
   images at several tile sizes: it should follow the tile size, not the
   image size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up: oneDNN picks kernels on the first call
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def matmul_gflops(n: int = 2048) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / best_of(lambda: a @ b, 5) / 1e9


def test_image(size: int) -> np.ndarray:
    from skimage import data, transform

    clean = transform.resize(data.camera() / 255.0, (size, size))
    rng = np.random.default_rng(0)
    return (rng.poisson(clean * 20) / 20).astype(np.float32)


def networks():
    """Every registered architecture (random weights, one channel), then every
    shipped weight set (trained: its fp32/bf16 error is the meaningful one)."""
    from napari_lowlight import models, weights

    for name in models.available():
        torch.manual_seed(0)
        yield f"`{name}` (random init)", models.build(name)
    for name in weights.available_weights():
        yield f"weights `{name}`", weights.load_model(name)


def speed_table(size: int, skip_bm3d: bool) -> str:
    from skimage import restoration

    from napari_lowlight import enhance
    from napari_lowlight.devices import set_threads

    threads = set_threads()
    image = test_image(size)
    mpx = size * size / 1e6
    peak = matmul_gflops()
    rows = [("| method | precision | Mpx/s | MACs/px | GFLOP/s | share of matmul peak "
             "| max abs error vs fp32 |"),
            "|---|---|---|---|---|---|---|"]
    lo = (size - 256) // 2
    crop = image[lo : lo + 256, lo : lo + 256]
    for name, net in networks():
        for precision in ("fp32", "bf16"):
            # bf16 runs at a fraction of fp32 speed on CPUs without bf16 units: it is timed
            # on the central 256x256 (Mpx/s is per pixel, so still comparable) and compared
            # with fp32 on that same crop.
            img = image if precision == "fp32" else crop

            def run(img=img, net=net, precision=precision):
                rgb = np.repeat(img[..., None], 3, axis=-1) if net.in_channels == 3 else img
                axis = -1 if net.in_channels == 3 else None
                return enhance(rgb, model=net, precision=precision, channel_axis=axis, normalization="dtype")

            t = best_of(run, 2 if precision == "fp32" else 1)
            error = 0.0 if precision == "fp32" else float(np.abs(run() - run(precision="fp32")).max())
            px = img.size / 1e6
            gflops = net.macs_per_pixel * 2 * px * 1e6 / t / 1e9
            where = "" if precision == "fp32" else " (256 px crop)"
            rows.append(f"| {name} | {precision}{where} | {px / t:.3g} | {net.macs_per_pixel:,} "
                        f"| {gflops:.1f} | {gflops / peak:.0%} | {error:.1e} |")
    sigma = float(restoration.estimate_sigma(image))
    def nlm():
        return restoration.denoise_nl_means(image, h=0.8 * sigma, sigma=sigma, fast_mode=True,
                                            patch_size=5, patch_distance=6)

    rows.append(f"| skimage non-local means (fast) | fp64 | {mpx / best_of(nlm, 1):.2f} | | | | |")
    if not skip_bm3d:
        import bm3d

        t = time.perf_counter()
        bm3d.bm3d(image, sigma)
        rows.append(f"| BM3D (bm3d package) | fp64 | {mpx / (time.perf_counter() - t):.3f} | | | | |")
    head = (f"{size}x{size} grey image, {threads} threads, torch {torch.__version__}; "
            f"fp32 matmul peak measured here: {peak:.0f} GFLOP/s\n\n")
    return head + "\n".join(rows)


_MEMORY_CHILD = """
import json, sys, numpy as np, torch
from napari_lowlight import enhance, models

def status(key):  # kB figures from /proc/self/status
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

size, tile, arch = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
image = np.random.default_rng(0).random((size, size), dtype=np.float32)
net = models.build(arch)
# Reset the peak (VmHWM) to the current RSS: the process started as a fork of a big parent.
open("/proc/self/clear_refs", "w").write("5")
before = status("VmRSS:")
enhance(image, model=net, tile_size=tile, normalization="dtype", batch_size=1)
print(json.dumps({"base_mib": before, "peak_mib": status("VmHWM:")}))
"""


def memory_table(arch: str) -> str:
    rows = [("| image | tile | peak RSS (MiB) | added by enhance (MiB) "
             "| of which 3 image-sized float32 arrays | working memory (MiB) |"),
            "|---|---|---|---|---|---|"]
    for size, tile in ((2048, 512), (4096, 256), (4096, 512), (4096, 1024)):
        out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(size), str(tile), arch],
                             capture_output=True, text=True, check=True, env=os.environ)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        arrays = 3 * size * size * 4 / 2**20  # normalised copy, contiguous planes, output
        added = r["peak_mib"] - r["base_mib"]
        rows.append(f"| {size}x{size} | {tile} | {r['peak_mib']:.0f} | {added:.0f} | {arrays:.0f} "
                    f"| {added - arrays:.0f} |")
    return (f"Peak memory, {arch}, batch 1 (a fresh process each; the float32 input is allocated "
            "before the baseline is taken):\n\n" + "\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--skip-bm3d", action="store_true", help="BM3D takes minutes at 1024x1024")
    parser.add_argument("--memory-arch", default="llunet3")  # what fluo and photo use
    args = parser.parse_args()
    print(speed_table(args.size, args.skip_bm3d))
    print()
    print(memory_table(args.memory_arch))


if __name__ == "__main__":
    main()
