"""Does a photo model wash out photos that are only a little dark?

    .venv/bin/python scripts/studies/exposure_sweep.py ../shared/data [MODEL ...]

The camera synthesis (``training.unprocess``) at fixed exposures, from very dark (0.02, where LOL's
lows sit) to nearly full (0.7), on the Kodak24 validation photos (centre 256 px crops, seed 0, the
rest of each camera drawn as in training). For each exposure, prints the mean PSNR against the
clean photo of the input, of exposure + non-local means (the evaluation's baseline) and of each
model, and for each model the tone its head picks and how much brighter (mean) and flatter (standard
deviation of the luminance) its output is than the clean photo: a washed-out output is brighter and
flatter. Issue 20's gallery shows LOL test 730, a low bright enough to need little, come out washed
out; this asks whether that is a gap in what the training covers.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
from skimage.metrics import peak_signal_noise_ratio

from napari_lowlight import enhance, weights
from napari_lowlight.training import datasets, evaluate, unprocess

EXPOSURES = (0.02, 0.05, 0.1, 0.2, 0.4, 0.7)
BASELINE = "brighten + non-local means"  # the evaluation's row, shown as "exposure + NLM"


def psnr(image: np.ndarray, clean: np.ndarray) -> float:
    return float(peak_signal_noise_ratio(clean, np.clip(image, 0, 1), data_range=1))


def darkened(photos: list[np.ndarray], exposure: float) -> list[np.ndarray]:
    """Each photo through the camera synthesis at ``exposure`` (one generator, seed 0)."""
    rng = np.random.default_rng(0)
    ranges = replace(unprocess.DEFAULT_RANGES, exposure=(exposure, exposure))
    return [unprocess.dark_photo(clean, rng, ranges) for clean in photos]


def model_row(name: str, darks: list[np.ndarray], photos: list[np.ndarray]) -> tuple[float, ...]:
    """Mean PSNR, head tone, brightness and contrast change of ``name`` over the photos."""
    head = weights.load_model(name).tone_head
    rows = []
    for dark, clean in zip(darks, photos, strict=True):
        out = enhance(np.round(dark * 255).astype(np.uint8), model=name, channel_axis=-1)
        rows.append((psnr(out, clean), head.estimate(dark)[1], out.mean() - clean.mean(),
                     out.mean(-1).std() - clean.mean(-1).std()))
    return tuple(np.mean(rows, axis=0))


def main(root: str, models: list[str]) -> None:
    photos = [datasets.centre_crop(p, 256) for p in datasets.load_photos(root, True)]
    baseline = evaluate.methods("photo-real", (), classical=True)[BASELINE]
    print(f"Kodak24, {len(photos)} centre crops, camera synthesis at fixed exposures (seed 0)")
    print("| exposure | input | exposure + NLM | " + " | ".join(
        f"{m}: PSNR, tone, brighter by, flatter by" for m in models) + " |")
    print("|---" * (3 + len(models)) + "|")
    for k in EXPOSURES:
        darks = darkened(photos, k)
        pairs = list(zip(darks, photos, strict=True))
        cells = [f"{np.mean([psnr(d, c) for d, c in pairs]):.2f}",
                 f"{np.mean([psnr(baseline(d), c) for d, c in pairs]):.2f}"]
        for name in models:
            p, tone, brighter, contrast_change = model_row(name, darks, photos)
            cells.append(f"{p:.2f}, {tone:.2f}, {brighter:+.3f}, {-contrast_change:+.3f}")
        print(f"| {k} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data", sys.argv[2:] or ["photo"])
