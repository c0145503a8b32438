"""Can a model know how bright LOL's reference will be? (issue 20's missing decibels)

    .venv/bin/python scripts/studies/lol_brightness.py ../shared/data [--model photo]

LOL's long exposures were not taken at one fixed ratio to the short ones, and the
full-reference PSNR (no rescaling) charges every error in the output's overall
brightness. This measures, on each id range of ``lol-train``:

1. how bright the references are (linear-light mean) and how far that spreads;
2. whether the low image predicts it: a least-squares fit of the reference's log
   mean on the low's five auto-tone statistics (``normalize.linear_features``),
   fitted on the training ids, scored on the other ranges against the constant
   that fit the training ids (a prediction is only useful if it beats that);
3. the model's output brightness against the reference's (correlation of the
   log means), and its PSNR as it is, scaled to the training ids' median
   brightness (the best a constant brightness rule chosen on training data can
   do) and GT-mean (scaled to each reference's own mean, an oracle; the evaluation's
   ``gt_mean``).

Nothing here is chosen: the test range was scored once before this study; this
only explains the gap between GT-mean and plain PSNR that the docs report.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from skimage.metrics import peak_signal_noise_ratio

from napari_lowlight import enhance, normalize
from napari_lowlight.colour import linear_to_srgb, srgb_to_linear
from napari_lowlight.training import evaluate, lol

SPLITS = ("train", "validation", "test")


def log_mean(srgb: np.ndarray) -> float:
    return float(np.log(srgb_to_linear(np.clip(srgb, 0, 1)).mean()))


def scaled_to(srgb: np.ndarray, target_log_mean: float) -> np.ndarray:
    """``srgb`` with its linear-light mean moved to ``exp(target_log_mean)``."""
    linear = srgb_to_linear(np.clip(srgb, 0, 1))
    return np.clip(linear_to_srgb(linear * np.exp(target_log_mean - np.log(linear.mean()))), 0, 1)


def design(lows: list[np.ndarray]) -> np.ndarray:
    rows = [normalize.linear_features(srgb_to_linear(x), normalize.TONE_PERCENTILES) for x in lows]
    return np.column_stack([np.array(rows), np.ones(len(rows))])


def main(data: Path, model: str) -> None:
    pairs = {s: lol.load(data, s) for s in SPLITS}
    refs = {s: np.array([log_mean(p.high) for p in pairs[s]]) for s in SPLITS}
    coef = np.linalg.lstsq(design([p.low for p in pairs["train"]]), refs["train"], rcond=None)[0]
    constant = float(np.median(refs["train"]))

    print("| ids | pairs | reference linear mean, median (IQR) | fit from the low: r, residual sd "
          "| constant's sd |")
    print("|---|---|---|---|---|")
    for s in SPLITS:
        y = refs[s]
        pred = design([p.low for p in pairs[s]]) @ coef
        q1, q2, q3 = np.exp(np.percentile(y, [25, 50, 75]))
        print(f"| {s} {lol.SPLITS[s][0]}-{lol.SPLITS[s][1]} | {len(y)} | {q2:.3f} ({q1:.3f}-{q3:.3f}) "
              f"| {np.corrcoef(pred, y)[0, 1]:+.2f}, {np.std(y - pred):.2f} | {np.std(y - constant):.2f} |")

    print(f"\n`{model}` on the held-out ranges (constant: the training ids' median, "
          f"{np.exp(constant):.3f} linear)\n")
    # Earlier recipes' correlations were of the sRGB means (docs/results/real-photos.md): both given.
    print("| ids | r(output, reference) log means | r of sRGB means | PSNR as is | PSNR at the constant "
          "| PSNR GT-mean |")
    print("|---|---|---|---|---|---|")
    for s in ("validation", "test"):
        outs = [enhance(np.round(p.low * 255).astype(np.uint8), model=model, channel_axis=-1)
                for p in pairs[s]]
        r = np.corrcoef([log_mean(o) for o in outs], refs[s])[0, 1]
        r_srgb = np.corrcoef([o.mean() for o in outs], [p.high.mean() for p in pairs[s]])[0, 1]
        scores = [
            [peak_signal_noise_ratio(p.high, x, data_range=1)
             for x in (o, scaled_to(o, constant), evaluate.gt_mean(o, p.high))]
            for o, p in zip(outs, pairs[s], strict=True)
        ]
        plain, const, oracle = np.mean(scores, axis=0)
        print(f"| {s} | {r:+.2f} | {r_srgb:+.2f} | {plain:.2f} | {const:.2f} | {oracle:.2f} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", default=Path("../shared/data"))
    parser.add_argument("--model", default="photo")
    args = parser.parse_args()
    main(args.data, args.model)
