"""Does ``strength`` smooth more as it grows, as the widget promises?

For real confocal frames (FMD fields 17 and 18, the mean of 1 and of 8 raw frames) and synthetic
Poisson noise on scikit-image's ``cell`` at three photon levels, prints the total variation of
a noise-aware model's output (``--model``, default ``fluo``; the mean absolute difference between
neighbouring pixels: lower is smoother) and, for FMD, the PSNR against the 50-frame average
(CSBDeep scoring) at strengths 0.5, 1 and 2.

    .venv/bin/python scripts/studies/strength_response.py ../shared/data [--model fluo]

``--model`` takes any weight set in the weights folder (``NAPARI_LOWLIGHT_WEIGHTS_DIR`` to point
elsewhere).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from skimage import data, io

from napari_lowlight import EnhanceJob
from napari_lowlight.training import evaluate

STRENGTHS = (0.5, 1.0, 2.0)


def total_variation(image: np.ndarray) -> float:
    return float(np.abs(np.diff(image, axis=0)).mean() + np.abs(np.diff(image, axis=1)).mean())


def fmd_rows(root: Path, model: str = "fluo"):
    for field in ("17", "18"):
        frames_of = [root / "raw" / field / f"{k:02d}.png" for k in range(8)]
        raw = np.stack([io.imread(p).astype(np.float32) for p in frames_of])
        gt = io.imread(root / "gt" / f"{field}.png").astype(np.float32)
        lo, hi = np.percentile(gt, [0.1, 99.9])
        target = (gt - lo) / (hi - lo)
        for frames in (1, 8):
            outs = [EnhanceJob(raw[:frames].mean(0), model=model, strength=s).run() for s in STRENGTHS]
            scores = [evaluate.score(o, target, "fluo")[0] for o in outs]
            yield f"FMD {field} avg{frames}", [total_variation(o) for o in outs], scores


def synthetic_rows(model: str = "fluo"):
    rng = np.random.default_rng(0)
    cell = data.cell().astype(np.float64)
    cell = (cell - cell.min()) / np.ptp(cell)
    for photons in (5, 20, 100):
        noisy = rng.poisson(cell * photons + 1).astype(np.float32)
        outs = [EnhanceJob(noisy, model=model, strength=s).run() for s in STRENGTHS]
        yield f"cell, {photons} photons", [total_variation(o) for o in outs], None


def main(data_root: str, model: str = "fluo") -> None:
    print("| image | " + " | ".join(f"TV at {s}" for s in STRENGTHS) + " | PSNR at 0.5 / 1 / 2 |")
    print("|---|" + "---|" * (len(STRENGTHS) + 1))
    for name, tvs, scores in [*fmd_rows(Path(data_root) / "fmd-confocal-bpae-b", model),
                               *synthetic_rows(model)]:
        psnr = " / ".join(f"{p:.2f}" for p in scores) if scores else "-"
        print(f"| {name} | " + " | ".join(f"{t:.4f}" for t in tvs) + f" | {psnr} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="../shared/data")
    parser.add_argument("--model", default="fluo", help="the noise-aware weight set to measure")
    args = parser.parse_args()
    main(args.data, args.model)
