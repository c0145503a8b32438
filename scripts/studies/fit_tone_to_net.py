"""Fit "auto-tone" to what the shipped ``photo`` network does best with.

``fit_tone.py`` fits the (gain, tone) that bring a darkened photo closest to
the clean one by the curve alone. The network then has to undo whatever that
estimate gets wrong, and the exposure oracle showed it cannot: a better gain
alone would give it +2.4 dB (physical) and +3.4 dB (gamma). Here the target
of each training sample is instead the grid point (tone, and a gain factor
around the current estimate) whose *network output* is closest (PSNR) to the
clean photo; the same ridge on the same statistics is then fitted to those
targets. Same training photos and darkening as ``fit_tone.py`` (never Kodak24).
Prints the coefficients, and the network's Kodak24 PSNR with the current and
the refitted estimate (crops of 256 px, the benchmark's cases).

    .venv/bin/python scripts/studies/fit_tone_to_net.py ../shared/data
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from napari_lowlight import colour, normalize, weights
from napari_lowlight.training import datasets, evaluate
from napari_lowlight.training.tone_fitting import ridge_fit, samples

TONES = np.array([0.3, 0.4, 0.5, 0.6, 0.75, 1.0])
FACTORS = np.exp(np.linspace(np.log(0.5), np.log(2.8), 6))
CROP, SCORED = 192, 128  # the network sees CROP px and is scored on the central SCORED px
NET = weights.load_model("photo-synthetic")


def run_net(images: np.ndarray) -> np.ndarray:
    """The network's clipped output for sRGB inputs (n, h, w, 3)."""
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32))
    with torch.inference_mode():
        y = NET(x).clamp(0, 1).numpy()
    return y.transpose(0, 2, 3, 1)


def curve(dark: np.ndarray, log_gain: float, tone: float) -> np.ndarray:
    """``dark`` through the auto-tone curve with these numbers."""
    return normalize.Normalizer("auto-tone", gain=float(np.exp(log_gain)), tone=float(tone)).apply(dark)


def best_for_net(dark: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    """(log gain, tone) of the grid point whose network output has the best PSNR.

    For each tone the gain starts where the output mean in linear light equals
    that of the current auto-tone estimate, so the grid stays near sensible inputs."""
    auto = normalize.statistics(dark, "auto-tone")
    linear = colour.srgb_to_linear(np.clip(dark, 0, 1))
    level = auto.gain * float((linear ** auto.tone).mean())
    crop = datasets.centre_crop(dark, CROP)
    grid = [(np.log(level / max(float((linear ** t).mean()), 1e-8) * f), t) for t in TONES for f in FACTORS]
    outputs = run_net(np.stack([curve(crop, g, t) for g, t in grid]))
    target = datasets.centre_crop(clean, SCORED)
    errors = [np.mean((datasets.centre_crop(o, SCORED) - target) ** 2) for o in outputs]
    return grid[int(np.argmin(errors))]


def net_sample(dark: np.ndarray, clean: np.ndarray):
    return normalize.exposure_features(dark, normalize.TONE_PERCENTILES), best_for_net(dark, clean)


def kodak_psnr(data: Path, suite: str, coef: np.ndarray | None) -> float:
    """Mean PSNR of the network on the benchmark's Kodak24 crops, with the shipped
    estimate (``coef`` None) or ``coef``."""
    scores = []
    for case in evaluate.load_cases(suite, data, crop=256):
        raw = normalize.Normalizer("dtype").apply(case.raw)  # 8-bit cases to [0, 1]
        if coef is None:
            x = normalize.statistics(raw, "auto-tone").apply(raw)
        else:
            terms = normalize.exposure_design(
                normalize.exposure_features(raw, normalize.TONE_PERCENTILES)[None])
            x = normalize.tone_curve(*(terms @ coef)[0]).apply(raw)
        scores.append(evaluate.score(run_net(x[None])[0], case.target, suite)[0])
    return float(np.mean(scores))


def main(data: Path) -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    photos = datasets.load_photos(data, False, ("CBSD68", "skimage"))
    x, y, _ = samples(photos, rng, 3, True, net_sample)
    coef = ridge_fit(x, y)
    for name, column in (("AUTO_TONE_LOG_GAIN", 0), ("AUTO_TONE_EXPONENT", 1)):
        print(f"{name} = (" + ", ".join(f"{c:.5f}" for c in coef[:, column]) + ")")
    print("| protocol | shipped auto-tone | refitted to the network |\n|---|---|---|")
    for suite in ("photo", "photo-gamma"):
        print(f"| {suite} | {kodak_psnr(data, suite, None):.2f} | {kodak_psnr(data, suite, coef):.2f} |",
              flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
