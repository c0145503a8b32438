"""Speed and GPU memory of ``enhance`` on a CUDA GPU, against the same
machine's CPU and scikit-image non-local means, in one run.

    python benchmarks/gpu.py [--sizes 1024 4096]

Prints one markdown table: for each shipped weight set and image size, Mpx/s
on the CPU (fp32, all cores) and on the GPU per precision and tile size, the
peak GPU memory ``torch.cuda.max_memory_allocated`` reached by that call, and
the largest difference from the CPU fp32 output. Timings are the best of three
calls after a warm-up; each call includes the host-to-device copies, because
``enhance`` takes and returns numpy arrays.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from speed import best_of, test_image


def _rgb(image: np.ndarray, channels: int) -> tuple[np.ndarray, int | None]:
    return (np.repeat(image[..., None], 3, axis=-1), -1) if channels == 3 else (image, None)


def gpu_table(sizes: list[int], tiles: tuple[int, ...], emit=print) -> None:
    """Emit the table's lines one by one (a long run shows its rows as they come)."""
    from skimage import restoration

    from napari_lowlight import enhance, weights

    emit(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {os.cpu_count()} CPU cores; "
         "weight sets fed a grey test image (as RGB for 3-channel ones)\n")
    emit("| weights | image | device | precision | tile | Mpx/s | peak GPU memory (MiB) "
         "| max abs diff vs CPU fp32 |")
    emit("|---|---|---|---|---|---|---|---|")
    for size in sizes:
        grey = test_image(size)
        mpx = size * size / 1e6
        for name in weights.available_weights():
            net = weights.load_model(name)
            image, axis = _rgb(grey, net.in_channels)

            def run(device, precision, tile, image=image, net=net, axis=axis):
                return enhance(image, model=net, device=device, precision=precision, tile_size=tile,
                               channel_axis=axis, normalization="dtype")

            # The CPU fp32 reference: the baseline row and the output every GPU row is compared with.
            run("cpu", "fp32", None, image=image[:256, :256])  # warm-up: oneDNN picks kernels
            t0 = time.perf_counter()
            ref = run("cpu", "fp32", None)
            t = time.perf_counter() - t0
            emit(f"| `{name}` | {size}² | cpu ({torch.get_num_threads()} threads) | fp32 | 512 "
                 f"| {mpx / t:.2f} | - | 0 |")
            for precision in ("fp32", "fp16", "bf16"):
                for tile in tiles:
                    torch.cuda.reset_peak_memory_stats()
                    t = best_of(lambda p=precision, s=tile: run("cuda", p, s), 3)
                    peak = torch.cuda.max_memory_allocated() / 2**20
                    diff = float(np.abs(run("cuda", precision, tile) - ref).max())
                    emit(f"| `{name}` | {size}² | cuda | {precision} | {tile} | {mpx / t:.1f} | {peak:.0f} "
                         f"| {diff:.1e} |")
        # A rough noise level from horizontal differences (estimate_sigma needs PyWavelets, not always
        # installed on GPU machines); the timing of non-local means does not depend on it.
        sigma = float(np.std(np.diff(grey, axis=1)) / np.sqrt(2))
        t0 = time.perf_counter()
        restoration.denoise_nl_means(grey, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5,
                                     patch_distance=6)
        emit(f"| skimage non-local means (fast) | {size}² | cpu | fp64 | - "
             f"| {mpx / (time.perf_counter() - t0):.2f} | - | - |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--tiles", type=int, nargs="+", default=[512, 1024, 2048])
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu.py needs a CUDA GPU; PyTorch sees none here.")
    gpu_table(args.sizes, tuple(args.tiles), emit=lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
