"""Would more statistics, or more photos, make the "auto-tone" fit better?

``fit_tone.py`` predicts (log gain, tone) from five luminance statistics by
a quadratic ridge fitted on 74 colour photos. This script builds the same
darkened samples and best-curve targets (``fit_tone.best_tone``) with six
more statistics (a noise level, the share of black pixels, and the 1st, 25th,
75th and 99th luminance percentiles), refits on subsets of them, and prints
the held-out rms errors on Kodak24 per protocol; then the same on the
training photos plus Train400's 400 grey ones (the fit reads luminance only).

    .venv/bin/python scripts/studies/tone_features.py ../shared/data
"""

import sys

import numpy as np

from napari_lowlight import colour, normalize
from napari_lowlight.training import datasets
from napari_lowlight.training.tone_fitting import RIDGE, best_tone, held_out_rms, ridge_fit, samples

SUBSETS = {
    "the five of auto-tone": [0, 1, 2, 3, 4],
    "+ noise level": [0, 1, 2, 3, 4, 5],
    "+ noise, black share": [0, 1, 2, 3, 4, 5, 6],
    "+ noise, 1st and 99th": [0, 1, 2, 3, 4, 5, 7, 10],
    "all eleven": list(range(11)),
}


def more_statistics(dark: np.ndarray) -> np.ndarray:
    """log of: the noise level (MAD of horizontal differences of sRGB luminance),
    the share of black pixels, and four more luminance percentiles."""
    noise = np.median(np.abs(np.diff(dark.mean(-1), axis=1))) / 0.954 + 1e-4
    black = (dark.max(-1) <= 1.5 / 255).mean() + 1e-4
    levels = np.percentile(colour.srgb_to_linear(np.clip(dark, 0, 1)).mean(-1), [1, 25, 75, 99])
    return np.log(np.maximum([noise, black, *levels], 1e-6))


def measure(dark: np.ndarray, clean: np.ndarray):
    base = normalize.exposure_features(dark, normalize.TONE_PERCENTILES)
    return np.concatenate([base, more_statistics(dark)]), best_tone(dark, clean)


def held_out_errors(x, y, xv, yv, phys, cols, ridge) -> list[float]:
    coef = ridge_fit(x[:, cols], y, ridge)
    return [e for pair in held_out_rms(coef, xv[:, cols], yv, phys) for e in pair]


def main(root: str) -> None:
    print("| training photos | statistics | ridge | physical: log-gain, tone | gamma: log-gain, tone |")
    print("|---|---|---|---|---|")
    for sets, reps in ((("CBSD68", "skimage"), 6), (("CBSD68", "Train400", "skimage"), 4)):
        rng = np.random.default_rng(0)
        x, y, _ = samples(datasets.load_photos(root, False, sets), rng, reps, True, measure)
        xv, yv, phys = samples(datasets.load_photos(root, True), rng, 2, measure=measure)
        for name, cols in SUBSETS.items():
            for ridge in (RIDGE, 1.0):
                e = held_out_errors(x, y, xv, yv, phys, cols, ridge)
                print(f"| {' + '.join(sets)} ({len(x)} samples) | {name} | {ridge} "
                      f"| {e[0]:.3f}, {e[1]:.3f} | {e[2]:.3f}, {e[3]:.3f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
