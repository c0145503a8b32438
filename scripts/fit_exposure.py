"""Fit the automatic exposure of the "auto-exposure" normalisation.

For each training photo (CBSD68 and scikit-image's colour photos, never the
Kodak24 validation set) darkened as in training (physical model 70%, LLCNN's
gamma protocol 30%) but over wider ranges that reach "not dark at all"
(exposure factor up to 1, gamma down to 1), so a well-exposed photo keeps
about its brightness instead of meeting an extrapolated guess, find the linear-light gain whose corrected image is
closest (MSE in sRGB) to the clean photo, then fit log(gain) by ridge
regression on the terms ``normalize.exposure_design`` makes of the log
statistics ``normalize.exposure_features`` computes. Prints the
coefficients to paste into ``normalize.AUTO_EXPOSURE`` and the error of the
fitted and of the mean-to-0.18 rule on Kodak24.

    python scripts/fit_exposure.py ../shared/data
"""

import sys

import numpy as np

from napari_lowlight import normalize
from napari_lowlight.training import datasets, degrade

RIDGE = 0.1  # a little shrinkage: 444 samples, 10 terms
GAINS = np.exp(np.linspace(np.log(0.5), np.log(300.0), 200))


def best_log_gain(dark: np.ndarray, clean: np.ndarray) -> float:
    lin = degrade.srgb_to_linear(dark)
    # Coarse-to-fine would be faster; 200 gains on a 128 px thumbnail is cheap enough.
    errors = [np.mean((np.clip(degrade.linear_to_srgb(lin * g), 0, 1) - clean) ** 2) for g in GAINS]
    return float(np.log(GAINS[int(np.argmin(errors))]))


# Fit over wider ranges than the benchmark's (0.02-0.2, gamma 2-5), see above.
WIDE = {"physical": {"exposure": (0.02, 1.0)}, "gamma": {"gamma": (1.0, 5.0)}}


def ridge_fit(
    features: np.ndarray, targets: np.ndarray, ridge: float = RIDGE, terms=normalize.exposure_design
) -> np.ndarray:
    """Coefficients of the ridge regression of ``targets`` on the terms
    ``terms`` (by default ``normalize.exposure_design``) makes of ``features``."""
    design = terms(features)
    return np.linalg.solve(design.T @ design + ridge * np.eye(design.shape[1]), design.T @ targets)


def gain_sample(dark: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, float]:
    """(features, best log gain) of one darkened photo."""
    return normalize.exposure_features(dark), best_log_gain(dark[::2, ::2], clean[::2, ::2])


def samples(photos, rng, reps, wide=False, measure=gain_sample):
    """``measure(dark, clean)`` -> (features, target) of each photo darkened ``reps`` times, and
    whether each was the physical protocol (70%) or the gamma one."""
    feats, targets, physical = [], [], []
    for clean in photos:
        clean = datasets.centre_crop(clean, 256)
        for _ in range(reps):
            is_physical = rng.random() < 0.7
            if is_physical:
                dark = degrade.low_light_photo(clean, rng, **(WIDE["physical"] if wide else {}))
            else:
                dark = degrade.gamma_photo(clean, rng, **(WIDE["gamma"] if wide else {}))
            feature, target = measure(dark, clean)
            feats.append(feature)
            targets.append(target)
            physical.append(is_physical)
    return np.array(feats), np.array(targets), np.array(physical)


def main(root: str) -> None:
    rng = np.random.default_rng(0)
    x, y, _ = samples(datasets.load_photos(root, False, ("CBSD68", "skimage")), rng, 6, wide=True)
    coef = ridge_fit(x, y)
    print("AUTO_EXPOSURE = (" + ", ".join(f"{c:.5f}" for c in coef) + ")")
    xv, yv, phys = samples(datasets.load_photos(root, True), rng, 2)
    fitted = normalize.exposure_design(xv) @ coef
    mean_rule = np.log(normalize.EXPOSURE_TARGET_MEAN) - xv[:, 0]
    for name, pred in (("fitted", fitted), ("mean to 0.18", mean_rule)):
        for label, mask in (("physical", phys), ("gamma", ~phys)):
            rms = np.sqrt(np.mean((pred[mask] - yv[mask]) ** 2))
            print(f"Kodak24 {label:8s} {name:13s} rms log-gain error {rms:.3f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
