"""Fit the automatic exposure of the "auto-exposure" normalisation and write it.

For each training photo (CBSD68 and scikit-image's colour photos, never the
Kodak24 validation set) darkened six times over wide ranges, find the
linear-light gain whose corrected image is closest to the clean photo, then
fit log(gain) by ridge regression (``napari_lowlight.training.tone_fitting``).
Writes the coefficients into ``src/napari_lowlight/normalize_fits.json``
(section ``auto_exposure``, read by ``normalize``) and prints the held-out
error of the fit and of the mean-to-0.18 rule on Kodak24.

    python scripts/fits/fit_exposure.py ../shared/data [--dry-run]
"""

import sys

import numpy as np

from napari_lowlight import normalize
from napari_lowlight.training import datasets
from napari_lowlight.training.tone_fitting import ridge_fit, samples, write_fit


def main(root: str, dry_run: bool = False) -> None:
    rng = np.random.default_rng(0)
    x, y, _ = samples(datasets.load_photos(root, False, ("CBSD68", "skimage")), rng, 6, wide=True)
    coef = ridge_fit(x, y)
    print("auto_exposure log_gain: " + ", ".join(f"{c:.5f}" for c in coef))
    if not dry_run:
        write_fit("auto_exposure", {"log_gain": coef})
        print(f"written into {normalize.FITS_FILE}")
    xv, yv, phys = samples(datasets.load_photos(root, True), rng, 2)
    fitted = normalize.exposure_design(xv) @ coef
    mean_rule = np.log(normalize.EXPOSURE_TARGET_MEAN) - xv[:, 0]
    for name, pred in (("fitted", fitted), ("mean to 0.18", mean_rule)):
        for label, mask in (("physical", phys), ("gamma", ~phys)):
            rms = np.sqrt(np.mean((pred[mask] - yv[mask]) ** 2))
            print(f"Kodak24 {label:8s} {name:13s} rms log-gain error {rms:.3f}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--dry-run"]
    main(args[0] if args else "../shared/data", dry_run="--dry-run" in sys.argv)
