"""Fitting the automatic exposure and tone curves of :mod:`napari_lowlight.normalize`.

Training photos (never the Kodak24 validation set) are darkened as in
training, but over wider ranges that reach "not dark at all" (exposure factor
up to 1, gamma down to 1), so a well-exposed photo keeps about its brightness
instead of meeting an extrapolated guess. For each darkened photo the best
curve is found by a grid search against the clean photo; a ridge regression
then predicts it from the terms ``normalize.exposure_design`` makes of the
image's log statistics. :func:`write_fit` stores the coefficients in
``normalize_fits.json``, which :mod:`~napari_lowlight.normalize` reads.

``scripts/fits/fit_exposure.py`` and ``fit_tone.py`` run the fits; the
studies in ``scripts/studies/`` reuse these helpers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import normalize
from ..colour import linear_to_srgb, srgb_to_linear
from . import datasets, degrade

RIDGE = 0.1  # a little shrinkage: 444 samples, 10-21 terms
EXPOSURE_GAINS = np.exp(np.linspace(np.log(0.5), np.log(300.0), 200))
TONE_GAINS = np.exp(np.linspace(np.log(0.3), np.log(300.0), 60))
TONES = np.linspace(normalize.TONE_RANGE[0], normalize.TONE_RANGE[1], 18)
PHYSICAL_SHARE = 0.7  # as in training: the physical model 70%, LLCNN's gamma protocol 30%
# Wider than the benchmark's ranges (exposure 0.02-0.2, gamma 2-5), see above.
WIDE = {"physical": {"exposure": (0.02, 1.0)}, "gamma": {"gamma": (1.0, 5.0)}}


def best_log_gain(dark: np.ndarray, clean: np.ndarray) -> float:
    """log of the linear-light gain that brings ``dark`` closest (MSE in sRGB) to ``clean``."""
    lin = srgb_to_linear(dark)
    # Coarse-to-fine would be faster; 200 gains on a 128 px thumbnail is cheap enough.
    errors = [np.mean((np.clip(linear_to_srgb(lin * g), 0, 1) - clean) ** 2) for g in EXPOSURE_GAINS]
    return float(np.log(EXPOSURE_GAINS[int(np.argmin(errors))]))


def thumbnail(image: np.ndarray, block: int = 8) -> np.ndarray:
    """``image`` (H, W, C) averaged over ``block`` x ``block`` blocks, where noise averages out."""
    h, w = (image.shape[0] // block) * block, (image.shape[1] // block) * block
    return image[:h, :w].reshape(h // block, block, w // block, block, -1).mean(axis=(1, 3))


def best_tone(dark: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    """(log gain, tone) of the grid point whose curve ``gain * x ** tone`` in
    linear light brings ``dark`` closest to ``clean`` (MSE of 8x8 thumbnails)."""
    linear = np.maximum(thumbnail(srgb_to_linear(dark)).ravel(), 1e-6)
    target = thumbnail(clean).ravel()
    best = (np.inf, 0.0, 1.0)
    for tone in TONES:
        out = linear_to_srgb(np.clip(TONE_GAINS[:, None] * linear[None] ** tone, 0.0, 1.0))
        errors = ((out - target) ** 2).mean(axis=1)
        i = int(np.argmin(errors))
        best = min(best, (float(errors[i]), float(np.log(TONE_GAINS[i])), float(tone)))
    return best[1], best[2]


def gain_sample(dark: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, float]:
    """(features, best log gain) of one darkened photo."""
    return normalize.exposure_features(dark), best_log_gain(dark[::2, ::2], clean[::2, ::2])


def tone_sample(dark: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """(features, best (log gain, tone)) of one darkened photo."""
    return normalize.exposure_features(dark, normalize.TONE_PERCENTILES), best_tone(dark, clean)


def ridge_fit(
    features: np.ndarray, targets: np.ndarray, ridge: float = RIDGE, terms=normalize.exposure_design
) -> np.ndarray:
    """Coefficients of the ridge regression of ``targets`` on the terms
    ``terms`` (by default ``normalize.exposure_design``) makes of ``features``."""
    design = terms(features)
    return np.linalg.solve(design.T @ design + ridge * np.eye(design.shape[1]), design.T @ targets)


def samples(photos, rng: np.random.Generator, reps: int, wide: bool = False, measure: Callable = gain_sample):
    """``measure(dark, clean)`` -> (features, target) of each photo darkened ``reps`` times, and
    whether each was the physical protocol or the gamma one."""
    feats, targets, physical = [], [], []
    for clean in photos:
        clean = datasets.centre_crop(clean, 256)
        for _ in range(reps):
            is_physical = rng.random() < PHYSICAL_SHARE
            if is_physical:
                dark = degrade.low_light_photo(clean, rng, **(WIDE["physical"] if wide else {}))
            else:
                dark = degrade.gamma_photo(clean, rng, **(WIDE["gamma"] if wide else {}))
            feature, target = measure(dark, clean)
            feats.append(feature)
            targets.append(target)
            physical.append(is_physical)
    return np.array(feats), np.array(targets), np.array(physical)


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


def write_fit(section: str, coefficients: dict[str, np.ndarray], path: Path = normalize.FITS_FILE) -> None:
    """Store fitted coefficients (rounded to 5 decimals, as shipped) under
    ``section`` ("auto_exposure" or "auto_tone") of the fits file, keeping
    the section's other entries and the other sections."""
    fits = json.loads(Path(path).read_text(encoding="utf-8"))
    if section not in fits:
        raise KeyError(f"{path} has no section {section!r}; it has {', '.join(fits)}.")
    fits[section].update({k: [round(float(c), 5) for c in v] for k, v in coefficients.items()})
    Path(path).write_text(json.dumps(fits, indent=2) + "\n", encoding="utf-8")
