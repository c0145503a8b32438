"""docs/results/fluo-levels.png: the fluorescence models at each noise level beside the clean reference.

    .venv/bin/python scripts/tools/fluo_levels_gallery.py --data ../shared/data

Rows: a held-out FMD confocal field (17 unless ``--field``) as the mean of its first 1, 2, 4 and
8 raw frames, then a held-out W2S widefield frame (avg1, actin: 071_2 unless ``--w2s``). Columns:
the input, BM3D, the old W2S-only ``fluo-w2s``, the new noise-aware ``fluo`` and the clean
reference (FMD's 50-frame average, W2S's 400-frame average). Every panel is shown as the
evaluation scores it: the reference normalised by its (0.1, 99.9) percentiles, each other panel
fitted to it by least squares (a*x + b), all on the same grey scale. The networks run on the
whole image through ``napari_lowlight.enhance`` (noise estimated on the whole image, strength 1);
BM3D (sigma from scikit-image's estimate, as the evaluation's BM3D row) runs on the crop with a
32-pixel margin. The PSNR / SSIM printed over each panel is the crop's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from skimage import io

from napari_lowlight import enhance
from napari_lowlight.training import evaluate
from napari_lowlight.training.fluo_data import FMD_DIR, FMD_LEVELS

ROOT = Path(__file__).resolve().parents[2]
MARGIN = 32


def _target(clean: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(clean, [0.1, 99.9])
    return ((clean - lo) / (hi - lo)).astype(np.float32)


def _panels(raw: np.ndarray, clean: np.ndarray, box: tuple[int, int, int], models: tuple[str, ...]):
    """(title, crop) panels for one input: input, BM3D, each model, reference."""
    y, x, s = box
    crop = (slice(y, y + s), slice(x, x + s))
    target = _target(clean)[crop]
    unit = evaluate._unit(raw, "fmd")
    wide = (slice(max(y - MARGIN, 0), y + s + MARGIN), slice(max(x - MARGIN, 0), x + s + MARGIN))
    bm3d = evaluate._bm3d(unit[wide])
    oy, ox = y - wide[0].start, x - wide[1].start
    panels = [("input", unit[crop]), ("BM3D", bm3d[oy : oy + s, ox : ox + s])]
    panels += [(name, enhance(raw, model=name)[crop]) for name in models]
    out = []
    for title, img in panels:
        fitted = evaluate.fit_least_squares(img, target)
        p, q = evaluate.score(img, target, "fmd")
        out.append((f"{title}  {p:.1f} dB / {q:.2f}", fitted))
    return out + [("reference", target)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="data folder (../shared/data)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "fluo-levels.png")
    parser.add_argument("--field", default="17", help="held-out FMD field (17 or 18)")
    parser.add_argument("--w2s", default="071_2", help="held-out W2S frame NNN_C (071-080)")
    parser.add_argument("--box", default="30,240,224", help="FMD crop: y,x,size")
    parser.add_argument("--w2s-box", default="160,160,192", help="W2S crop: y,x,size")
    parser.add_argument("--models", default="fluo-w2s,fluo")
    args = parser.parse_args()
    models = tuple(args.models.split(","))
    box = tuple(int(v) for v in args.box.split(","))
    w2s_box = tuple(int(v) for v in args.w2s_box.split(","))

    fmd = args.data / FMD_DIR
    frames = np.stack([io.imread(p) for p in sorted((fmd / "raw" / args.field).glob("*.png"))])
    gt = io.imread(fmd / "gt" / f"{args.field}.png").astype(np.float32)
    rows = []
    for n in FMD_LEVELS:
        rows.append((f"FMD field {args.field}, mean of {n} frame{'s' if n > 1 else ''}",
                     _panels(frames[:n].astype(np.float32).mean(axis=0), gt, box, models)))
    low = io.imread(args.data / "w2s-train" / "low" / f"{args.w2s}.tif")
    high = io.imread(args.data / "w2s-train" / "high" / f"{args.w2s}.tif").astype(np.float32)
    rows.append((f"W2S {args.w2s} (widefield, 1 frame)", _panels(low, high, w2s_box, models)))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncol = len(rows[0][1])
    fig, axes = plt.subplots(len(rows), ncol, figsize=(3.2 * ncol, 3.4 * len(rows)), squeeze=False)
    for r, (label, panels) in enumerate(rows):
        for c, (title, img) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(np.clip(img, 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(title, fontsize=8)
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    plt.close(fig)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
