"""Fit the gain and tone curve of the "auto-tone" normalisation.

For each training photo (CBSD68 and scikit-image's colour photos, never the
Kodak24 validation set) darkened six times as in ``fit_exposure.py`` (the
physical model 70%, LLCNN's gamma protocol 30%, over the same wide ranges),
find the (gain, tone) whose curve ``gain * x ** tone`` in linear light brings
the dark photo closest (MSE in sRGB, on 8x8-block thumbnails, where noise
averages out) to the clean one, then fit log(gain) and tone by ridge
regression on the terms ``normalize.exposure_design`` makes of the log
statistics ``normalize.exposure_features(image, TONE_PERCENTILES)``. Prints
the coefficients to paste into ``normalize.AUTO_TONE_LOG_GAIN`` and
``normalize.AUTO_TONE_EXPONENT``, and the fit's held-out errors on Kodak24
(and the range of the best tones there).

    python scripts/fit_tone.py ../shared/data
"""

import sys

import numpy as np
from fit_exposure import ridge_fit, samples  # the same darkened training photos and shrinkage

from napari_lowlight import normalize
from napari_lowlight.training import datasets, degrade

TONES = np.linspace(normalize.TONE_RANGE[0], normalize.TONE_RANGE[1], 18)
GAINS = np.exp(np.linspace(np.log(0.3), np.log(300.0), 60))


def thumbnail(image: np.ndarray, block: int = 8) -> np.ndarray:
    h, w = (image.shape[0] // block) * block, (image.shape[1] // block) * block
    return image[:h, :w].reshape(h // block, block, w // block, block, -1).mean(axis=(1, 3))


def best_tone(dark: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    """(log gain, tone) of the grid point closest to ``clean``."""
    linear = np.maximum(thumbnail(degrade.srgb_to_linear(dark)).ravel(), 1e-6)
    target = thumbnail(clean).ravel()
    best = (np.inf, 0.0, 1.0)
    for tone in TONES:
        out = degrade.linear_to_srgb(np.clip(GAINS[:, None] * linear[None] ** tone, 0.0, 1.0))
        errors = ((out - target) ** 2).mean(axis=1)
        i = int(np.argmin(errors))
        best = min(best, (float(errors[i]), float(np.log(GAINS[i])), float(tone)))
    return best[1], best[2]


def tone_sample(dark: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """(features, best (log gain, tone)) of one darkened photo."""
    return normalize.exposure_features(dark, normalize.TONE_PERCENTILES), best_tone(dark, clean)


def rms_by_protocol(estimates: np.ndarray, targets: np.ndarray, physical: np.ndarray):
    """rms errors (log gain, tone) of estimated (log gain, tone) rows, the tone
    kept within ``TONE_RANGE`` as auto-tone keeps it, for the physical protocol,
    then the gamma one."""
    estimates = np.array(estimates, dtype=np.float64)
    estimates[:, 1] = np.clip(estimates[:, 1], *normalize.TONE_RANGE)
    return [np.sqrt(np.mean((estimates[m] - targets[m]) ** 2, axis=0)) for m in (physical, ~physical)]


def held_out_rms(coef: np.ndarray, features: np.ndarray, targets: np.ndarray, physical: np.ndarray):
    """:func:`rms_by_protocol` of the fit ``coef`` on held-out samples."""
    return rms_by_protocol(normalize.exposure_design(features) @ coef, targets, physical)


def main(root: str) -> None:
    rng = np.random.default_rng(0)
    x, y, _ = samples(datasets.load_photos(root, False, ("CBSD68", "skimage")), rng, 6, True, tone_sample)
    coef = ridge_fit(x, y)
    for name, column in (("AUTO_TONE_LOG_GAIN", 0), ("AUTO_TONE_EXPONENT", 1)):
        print(f"{name} = (" + ", ".join(f"{c:.5f}" for c in coef[:, column]) + ")")
    xv, yv, phys = samples(datasets.load_photos(root, True), rng, 2, measure=tone_sample)
    errors = held_out_rms(coef, xv, yv, phys)
    for label, mask, (gain_rms, tone_rms) in zip(("physical", "gamma"), (phys, ~phys), errors):
        print(f"Kodak24 {label:8s} rms error: log-gain {gain_rms:.3f}, tone {tone_rms:.3f} "
              f"(best tones {np.percentile(yv[mask, 1], 10):.2f}-{np.percentile(yv[mask, 1], 90):.2f})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
