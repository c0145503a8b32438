"""Calibrate the exposure, noise and white-balance ranges of the unprocessing synthesis against real LOL lows.

Measures the brightness (mean in linear light) and relative noise (the estimated noise's standard
deviation at that level, over it) of LOL's training lows (ids 2-559; never the validation or test
ids) and of dark photos synthesised from the first ``--photos`` CBSD432 photos (seed 0) under the
shipped ranges (``unprocess.DEFAULT_RANGES``), fits the ranges whose synthetic medians match the
real ones (``napari_lowlight.training.calibration``), and prints both ranges and the medians and
10/90% quantiles of each set (and of the noise coefficient ``relative_noise ** 2 * brightness``).
Then the colour casts: each training low's white balance against its reference's
(``calibration.colour_cast``) and each synthetic photo's against its clean photo, and the camera
white-balance error (mean and spread) that makes the synthetic casts match the real ones
(``calibration.fit_white_balance``; recipe E's ``unprocess_ranges``).
Draws ``docs/results/unprocess-calibration.png``. Writes nothing else: the shipped ranges live in
``src/napari_lowlight/training/unprocess.py``, changed by hand.

    .venv/bin/python scripts/fits/fit_unprocess.py ../shared/data [--photos 80] [--figure PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from napari_lowlight.training import calibration, lol, unprocess

FIGURE = Path(__file__).resolve().parents[2] / "docs" / "results" / "unprocess-calibration.png"
SEED = 0


def clean_photos(root: Path, count: int) -> list[np.ndarray]:
    """The first ``count`` CBSD432 photos (sorted by name), sRGB float32 in [0, 1]."""
    from skimage import io

    paths = sorted((Path(root) / "natural" / "CBSD432").glob("*.jpg"))[:count]
    if not paths:
        raise FileNotFoundError(f"No CBSD432 photos under {root}/natural/CBSD432.")
    return [io.imread(p)[..., :3].astype(np.float32) / 255 for p in paths]


def summary_row(name: str, measures: np.ndarray) -> str:
    """A markdown row: median (10% - 90%) of brightness, relative noise and their noise coefficient
    ``relative_noise ** 2 * brightness`` (the variance per unit of linear signal, were the noise all
    shot noise: a camera at one ISO gives every photo the same)."""
    cells = []
    coefficient = measures[:, 1] ** 2 * measures[:, 0]
    for values, fmt in ((measures[:, 0], ".4f"), (measures[:, 1], ".3f"), (coefficient, ".2e")):
        q10, q50, q90 = np.nanpercentile(values, [10, 50, 90])
        cells.append(f"{q50:{fmt}} ({q10:{fmt}} - {q90:{fmt}})")
    return f"| {name} | {len(measures)} | " + " | ".join(cells) + " |"


def range_row(name: str, shipped: tuple[float, float], fitted: tuple[float, float]) -> str:
    ratio = calibration.centre(fitted) / calibration.centre(shipped)
    return (f"| {name} | {shipped[0]:.3g} - {shipped[1]:.3g} ({calibration.centre(shipped):.3g}) "
            f"| {fitted[0]:.3g} - {fitted[1]:.3g} ({calibration.centre(fitted):.3g}) | {ratio:.2f} |")


def draw(path: Path, real: np.ndarray, synthetic: np.ndarray) -> None:
    """Brightness vs relative noise (log-log) of both sets, and their brightness histograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = (("LOL training lows (real)", real, "tab:blue"),
            ("CBSD432, synthetic (shipped ranges)", synthetic, "tab:orange"))
    fig, (scatter, hist) = plt.subplots(1, 2, figsize=(10, 4.2))
    for label, m, colour in sets:
        scatter.scatter(m[:, 0], m[:, 1], s=12, alpha=0.6, color=colour, label=f"{label}, n={len(m)}")
        scatter.scatter(*np.nanmedian(m, axis=0), s=120, marker="X", color=colour, edgecolor="black")
    coefficient = np.nanmedian(real[:, 1] ** 2 * real[:, 0])
    levels = np.logspace(np.log10(np.nanmin(real[:, 0])) - 0.5, np.log10(np.nanmax(real[:, 0])), 50)
    scatter.plot(levels, np.sqrt(coefficient / levels), "k--", lw=1,
                 label=f"shot noise alone, LOL's median coefficient {coefficient:.2e}")
    scatter.set(xscale="log", yscale="log", xlabel="brightness (mean linear value)",
                ylabel="relative noise sigma(m) / m", title="each photo; X: medians")
    scatter.legend(fontsize=8)
    bins = np.logspace(np.log10(np.nanmin(np.r_[real[:, 0], synthetic[:, 0]])),
                       np.log10(np.nanmax(np.r_[real[:, 0], synthetic[:, 0]])), 25)
    for label, m, colour in sets:
        hist.hist(m[:, 0], bins=bins, alpha=0.5, weights=np.full(len(m), 1 / len(m)), color=colour,
                  label=label)
    hist.set(xscale="log", xlabel="brightness (mean linear value)", ylabel="share of photos",
             title="brightness")
    hist.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cast_row(name: str, casts: np.ndarray) -> str:
    mean = casts.mean(axis=0)
    spread = calibration.cast_spread(casts)
    return f"| {name} | {len(casts)} | {mean[0]:+.3f} | {mean[1]:+.3f} | {spread:.3f} |"


def print_casts(pairs: list[lol.Pair], clean: list[np.ndarray], shipped: unprocess.Ranges) -> None:
    """The colour casts of the real lows against their references and of the synthetic lows against
    their photos, and the white balance fitted to them."""
    real = np.array([calibration.colour_cast(p.low, p.high) for p in pairs])
    fitted = calibration.fit_white_balance(real, clean, SEED, shipped)
    bias = ", ".join(f"{b:+.3f}" for b in fitted.white_balance_bias)
    print(f"white balance: shipped bias (+0.000, +0.000) error {shipped.white_balance_error:.3f}; "
          f"fitted bias ({bias}) error {fitted.white_balance_error:.3f}")
    print()
    print("| lows | n | mean log cast, red | blue | spread |")
    print("|---|---|---|---|---|")
    print(cast_row("LOL training lows (real)", real))
    for name, seed, ranges in (("shipped", SEED, shipped), ("fitted", SEED, fitted),
                               ("fitted", SEED + 1, fitted)):
        label = f"CBSD432 synthetic, {name} (seed {seed}{', unseen draws' if seed != SEED else ''})"
        print(cast_row(label, calibration.synthetic_casts(clean, seed, ranges)))


def main(root: str, photos: int = 80, figure: Path = FIGURE) -> None:
    pairs = lol.load(Path(root), "train")  # the training ids only (2-559)
    real = calibration.measure_all(p.low for p in pairs)
    clean = clean_photos(Path(root), photos)
    shipped = unprocess.DEFAULT_RANGES
    synthetic = calibration.synthetic_measures(clean, SEED, shipped)
    fitted = calibration.fit_ranges(real, clean, SEED, shipped, synthetic=synthetic)
    refit = calibration.synthetic_measures(clean, SEED, fitted)

    print("| range | shipped (log-centre) | fitted (log-centre) | fitted / shipped centre |")
    print("|---|---|---|---|")
    print(range_row("exposure", shipped.exposure, fitted.exposure))
    print(range_row("shot", shipped.shot, fitted.shot))
    print()
    print("| photos | n | brightness: median (10% - 90%) | relative noise: median (10% - 90%) "
          "| noise coefficient: median (10% - 90%) |")
    print("|---|---|---|---|---|")
    print(summary_row("LOL training lows (real)", real))
    print(summary_row(f"CBSD432 synthetic, shipped ranges (seed {SEED})", synthetic))
    print(summary_row(f"CBSD432 synthetic, fitted ranges (seed {SEED})", refit))
    print()
    print_casts(pairs, clean, shipped)
    draw(Path(figure), real, synthetic)
    print(f"\nfigure: {figure}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="../shared/data", help="the data folder")
    parser.add_argument("--photos", type=int, default=80, help="how many CBSD432 photos to synthesise from")
    parser.add_argument("--figure", type=Path, default=FIGURE, help="where to draw the figure")
    args = parser.parse_args()
    main(args.data, args.photos, args.figure)
