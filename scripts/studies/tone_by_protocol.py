"""Is the gamma protocol's tone error a matter of not knowing the protocol?

    .venv/bin/python scripts/studies/tone_by_protocol.py ../shared/data

``auto-tone`` fits one ridge (``fit_tone.py``) to photos darkened by either
protocol, though they need different curves: a physical under-exposure needs
a gain (tone near 1), LLCNN's gamma darkening a tone near 1/gamma. This script
fits the same ridge to each protocol alone and scores each on held-out Kodak24
crops of its own protocol: the error auto-tone would have if it knew which
protocol darkened the photo. It then asks whether the protocol can be told
from the image: the two add noise differently (Gaussian noise of one sigma at
every level, against photon noise that grows with the signal), so it measures
the noise (median absolute deviation of a 3x3 high-pass of the sRGB
luminance) in the darkest and brightest thirds of the photo, and fits a linear
classifier on those and the tone statistics. Last, the fits routed by that
classifier.
"""

from __future__ import annotations

import sys

import numpy as np
from scipy import ndimage

from napari_lowlight import normalize
from napari_lowlight.training import datasets
from napari_lowlight.training.tone_fitting import (
    held_out_rms,
    ridge_fit,
    rms_by_protocol,
    samples,
    tone_sample,
)


def noise_features(dark: np.ndarray) -> np.ndarray:
    """log noise sigma in the darkest and brightest thirds of the sRGB luminance, and their levels."""
    y = dark.mean(axis=-1).astype(np.float64)
    residual = y - ndimage.uniform_filter(y, 3)
    level = ndimage.uniform_filter(y, 7)
    low, high = np.percentile(level, [33.3, 66.7])
    out = []
    for mask in (level <= low, level >= high):
        r = residual[mask]
        out += [np.log(1.4826 * np.median(np.abs(r - np.median(r))) + 1e-4),
                np.log(level[mask].mean() + 1e-4)]
    return np.array(out)


def sample(dark: np.ndarray, clean: np.ndarray):
    features, target = tone_sample(dark, clean)
    return np.concatenate([features, noise_features(dark)]), target


def classifier_design(x: np.ndarray) -> np.ndarray:
    noise = x[:, 5:]
    return np.column_stack([x, noise[:, 0] - noise[:, 2], np.ones(len(x))])


def main(root: str) -> None:
    rng = np.random.default_rng(0)
    train = datasets.load_photos(root, False, ("CBSD68", "skimage"))
    x, y, phys = samples(train, rng, 6, True, sample)
    xv, yv, physv = samples(datasets.load_photos(root, True), rng, 6, measure=sample)
    tone_x, tone_xv = x[:, :5], xv[:, :5]

    pooled = ridge_fit(tone_x, y)
    own = {p: ridge_fit(tone_x[phys == p], y[phys == p]) for p in (True, False)}

    # Least squares on +-1 labels: a linear discriminant, enough to see whether the signature separates.
    w = ridge_fit(x, np.where(phys, 1.0, -1.0), 1e-3, terms=classifier_design)
    said_physical = classifier_design(xv) @ w > 0
    accuracy = float(np.mean(said_physical == physv))
    held_out_terms = normalize.exposure_design(tone_xv)

    def routed_rms(route: np.ndarray):
        fitted = np.where(route[:, None], held_out_terms @ own[True], held_out_terms @ own[False])
        return rms_by_protocol(fitted, yv, physv)

    rows = [
        ("one ridge for both (auto-tone's recipe)", held_out_rms(pooled, tone_xv, yv, physv)),
        ("each protocol's own ridge, protocol known", routed_rms(physv)),
        ("each protocol's own ridge, routed by the classifier", routed_rms(said_physical)),
    ]
    print(f"training samples {len(x)} ({phys.mean():.0%} physical); Kodak24 held-out {len(xv)} "
          f"({physv.mean():.0%} physical)")
    print(f"protocol classifier (noise signature + tone statistics): {accuracy:.1%} right on Kodak24")
    wrong = said_physical != physv
    print(f"misrouted: {int(np.sum(wrong & ~physv))} gamma-darkened crops called physical (their best tones "
          f"{', '.join(f'{t:.2f}' for t in np.sort(yv[wrong & ~physv, 1]))}), "
          f"{int(np.sum(wrong & physv))} physical crops called gamma")
    print("| fit | physical log-gain | physical tone | gamma log-gain | gamma tone |")
    print("|---|---|---|---|---|")
    for label, ((pg, pt), (gg, gt)) in rows:
        print(f"| {label} | {pg:.3f} | {pt:.3f} | {gg:.3f} | {gt:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
