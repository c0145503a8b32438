"""End-to-end speed of the photo models on an RGB photo, normalisation included.

    python benchmarks/photo_end_to_end.py [--size 1024]

``benchmarks/speed.py`` times the networks alone (``normalization="dtype"``).
A user's ``enhance(photo)`` also computes the image's tone curve first: for
``photo`` that is the tone head's inputs (a thumbnail, percentiles, noise
levels) and for ``photo-ridge`` the ridge's five statistics, once per image.
This prints Mpx/s for each photo weight set with its own normalisation and
with none, on a darkened size x size crop of scikit-image's astronaut
resized, next to the classical brighten + non-local means pipeline of the
evaluation tables, all in the same run (best of three; fp32, all cores).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from speed import best_of  # benchmarks/speed.py: a warm-up, then the best of N runs


def main() -> None:
    from skimage import data, transform

    from napari_lowlight import enhance, weights
    from napari_lowlight.devices import set_threads
    from napari_lowlight.training import degrade, evaluate

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1024)
    size = parser.parse_args().size
    threads = set_threads()
    clean = transform.resize(data.astronaut() / 255.0, (size, size))
    dark = np.round(degrade.low_light_photo(clean, np.random.default_rng(0)) * 255).astype(np.uint8)
    mpx = size * size / 1e6
    print(f"{size}x{size} darkened RGB photo, {threads} threads, torch {torch.__version__}, CPU, fp32\n")
    print("| method | normalisation | Mpx/s |")
    print("|---|---|---|")
    for name, w in weights.available_weights().items():
        if w.domain != "photo" or w.in_channels != 3 or w.arch == "llcnn":
            continue
        own = w.normalization["mode"]
        for mode in (own, "dtype"):
            t = best_of(lambda m=mode, n=name: enhance(dark, model=n, channel_axis=-1, device="cpu",
                                                       normalization=m), 3)
            print(f"| `{name}` | {mode}{' (its own)' if mode == own else ' (network alone)'} "
                  f"| {mpx / t:.2f} |")
    x = dark / 255.0
    t = best_of(lambda: evaluate._nlm(evaluate._brighten(x, "photo")), 1)
    print(f"| brighten + non-local means (scikit-image) | exposure | {mpx / t:.2f} |")


if __name__ == "__main__":
    main()
