"""What the photo models do to photos that are not dark.

    .venv/bin/python scripts/studies/well_exposed.py ../shared/data [MODEL ...]

The models are trained to brighten dark photos; a user may still run one on a
region that is well exposed. On the Kodak24 validation photos as they are (no
darkening; centre 256 px crops, as the benchmark's), prints the mean curve
each model's normalisation picks (gain, tone), the mean brightness of input
and output, and the mean PSNR of the output against the input (high: the photo
is left about as it was).
"""

from __future__ import annotations

import sys

import numpy as np
from skimage import metrics

from napari_lowlight import enhance, normalize, weights
from napari_lowlight.training import datasets


def main(root: str, models: list[str]) -> None:
    photos = [np.round(datasets.centre_crop(p, 256) * 255).astype(np.uint8)
              for p in datasets.load_photos(root, True)]
    print(f"Kodak24, {len(photos)} photos, undarkened")
    print("| model | gain | tone | input mean | output mean | PSNR vs input (dB) |")
    print("|---|---|---|---|---|---|")
    for name in models:
        net = weights.load_model(name)
        mode = net.weights.normalization["mode"]
        rows = []
        for image in photos:
            curve = normalize.statistics(image, mode, tone_head=getattr(net, "tone_head", None))
            out = enhance(image, model=name, channel_axis=-1)
            ref = image / 255.0
            rows.append((curve.gain, curve.tone, ref.mean(), out.mean(),
                         metrics.peak_signal_noise_ratio(ref, out, data_range=1.0)))
        g, t, a, b, p = np.mean(rows, axis=0)
        print(f"| {name} | {g:.2f} | {t:.2f} | {a:.3f} | {b:.3f} | {p:.2f} |")


if __name__ == "__main__":
    models = sys.argv[2:] or ["photo-synthetic", "photo-ridge"]
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data", models)
