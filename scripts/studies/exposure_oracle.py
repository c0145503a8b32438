"""How much of the `photo` model's gap is its exposure estimate?

    .venv/bin/python scripts/studies/exposure_oracle.py ../shared/data

For each Kodak24 crop of the photo benchmarks (same cases and scoring as
``napari-lowlight evaluate --suite photo|photo-gamma --crop 256``), runs the
shipped ``photo`` network on the input corrected by its own automatic
normalisation (the gain, and the tone curve where the mode has one), then with
that gain times each of 25 factors from 1/4 to 8 (the tone kept), and keeps
the best PSNR per image (an oracle: it looks at the clean target). The gap
between the two columns is what a perfect gain estimate would give this
network. A last column replaces both numbers by the (gain, tone) that
``fit_tone.py`` would take as its target for this image (the curve that
brings it closest to the clean one): what a perfect ``auto-tone`` fit would
give.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from napari_lowlight import enhance, normalize, weights
from napari_lowlight.training import evaluate
from napari_lowlight.training.tone_fitting import best_tone

FACTORS = np.exp(np.linspace(np.log(1 / 4), np.log(8), 25))


def scores(raw: np.ndarray, clean: np.ndarray, net, mode: str, suite: str) -> tuple[float, ...]:
    """(PSNR, SSIM) with the automatic gain, then with the best factor, that factor,
    and (PSNR, SSIM) with the curve fitted against the clean image."""
    auto = normalize.statistics(raw, mode)

    def run(factor: float, normalizer: normalize.Normalizer = auto) -> tuple[float, float]:
        x = dataclasses.replace(normalizer, gain=normalizer.gain * factor).apply(raw)
        return evaluate.score(enhance(x, model=net, channel_axis=-1, normalization="dtype"), clean, suite)

    at_auto = run(1.0)
    # The automatic gain is a candidate too, so the oracle is never below it.
    candidates = [(at_auto, 1.0)] + [(run(f), f) for f in FACTORS]
    best, factor = max(candidates, key=lambda r: r[0][0])
    log_gain, tone = best_tone(normalize.Normalizer("dtype").apply(raw), clean)
    fitted = run(1.0, normalize.Normalizer(mode, gain=float(np.exp(log_gain)), tone=tone))
    return at_auto[0], at_auto[1], best[0], best[1], factor, *fitted


def main(data: Path) -> None:
    # The documented numbers came from the `photo` of that time, now shipped as `photo-synthetic`.
    net = weights.load_model("photo-synthetic")
    mode = net.weights.normalization["mode"]
    print(f"`photo`, normalization {mode!r}\n")
    print("| protocol | PSNR / SSIM, automatic exposure | PSNR / SSIM, best exposure (oracle) "
          "| median best/automatic gain | PSNR / SSIM, curve fitted to the clean image (oracle) |")
    print("|---|---|---|---|---|")
    for suite in ("photo", "photo-gamma"):
        rows = np.array([scores(c.raw, c.target, net, mode, suite)
                         for c in evaluate.load_cases(suite, data, crop=256)])
        p0, s0, p1, s1, _, p2, s2 = rows.mean(axis=0)
        name = "physical" if suite == "photo" else "gamma"
        print(f"| {name} | {p0:.2f} / {s0:.3f} | {p1:.2f} / {s1:.3f} | {np.median(rows[:, 4]):.2f} "
              f"| {p2:.2f} / {s2:.3f} |", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
