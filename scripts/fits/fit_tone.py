"""Fit the gain and tone curve of the "auto-tone" normalisation and write it.

For each training photo (CBSD68 and scikit-image's colour photos, never the
Kodak24 validation set) darkened six times as in ``fit_exposure.py``, find the
(gain, tone) whose curve ``gain * x ** tone`` in linear light brings the dark
photo closest to the clean one, then fit log(gain) and tone by ridge
regression on the photo's statistics (``napari_lowlight.training.tone_fitting``).
Writes the coefficients into ``src/napari_lowlight/normalize_fits.json``
(section ``auto_tone``, read by ``normalize``) and prints the fit's held-out
errors on Kodak24 (and the range of the best tones there).

    python scripts/fits/fit_tone.py ../shared/data [--dry-run]
"""

import sys

import numpy as np

from napari_lowlight import normalize
from napari_lowlight.training import datasets
from napari_lowlight.training.tone_fitting import held_out_rms, ridge_fit, samples, tone_sample, write_fit


def main(root: str, dry_run: bool = False) -> None:
    rng = np.random.default_rng(0)
    x, y, _ = samples(datasets.load_photos(root, False, ("CBSD68", "skimage")), rng, 6, True, tone_sample)
    coef = ridge_fit(x, y)
    for name, column in (("log_gain", 0), ("tone", 1)):
        print(f"auto_tone {name}: " + ", ".join(f"{c:.5f}" for c in coef[:, column]))
    if not dry_run:
        write_fit("auto_tone", {"log_gain": coef[:, 0], "tone": coef[:, 1]})
        print(f"written into {normalize.FITS_FILE}")
    xv, yv, phys = samples(datasets.load_photos(root, True), rng, 2, measure=tone_sample)
    errors = held_out_rms(coef, xv, yv, phys)
    for label, mask, (gain_rms, tone_rms) in zip(("physical", "gamma"), (phys, ~phys), errors, strict=False):
        print(f"Kodak24 {label:8s} rms error: log-gain {gain_rms:.3f}, tone {tone_rms:.3f} "
              f"(best tones {np.percentile(yv[mask, 1], 10):.2f}-{np.percentile(yv[mask, 1], 90):.2f})")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--dry-run"]
    main(args[0] if args else "../shared/data", dry_run="--dry-run" in sys.argv)
