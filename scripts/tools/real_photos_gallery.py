"""docs/results/real-photos.png: a photo model on real dark photos, beside exposure + NLM.

    .venv/bin/python scripts/tools/real_photos_gallery.py ../shared/data --model photo

Rows: three LOL test pairs (ids 680-789; by default the darkest, the median and the brightest
low image of the test split by mean intensity, chosen here by that rule, not by eye; ``--ids``
overrides), then three real night photos without a reference from ``DATA/dark-photos``
(``--photos``; by default a floodlit tower on a black sky, spotlit museum pieces on black, and a
floodlit colonnaded memorial on a black sky, dicm-26, which the data's README calls an obelisk).
Columns: the input as the camera stored it, "exposure + NLM" (the evaluation's "brighten +
non-local means" row: exposure correction, then non-local means, the baseline a photo model must
not fall below), the model's output (``napari_lowlight.enhance`` on the whole 8-bit image) and
the long-exposure reference (LOL) or an empty "no reference" panel. LOL panels carry PSNR / SSIM
against the reference, scored as ``napari-lowlight evaluate --suite lol`` scores them (data
range 1, no rescaling). Large photos are enhanced at full size and only downscaled for display.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from skimage import io, transform

from napari_lowlight import enhance
from napari_lowlight.training import evaluate, lol

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ("dicm-01.jpg", "dicm-12.jpg", "dicm-26.jpg")
BASELINE = "brighten + non-local means"  # the evaluation's row, shown as "exposure + NLM"


def default_ids(pairs: list[lol.Pair]) -> list[int]:
    """The darkest, the median and the brightest low image by mean intensity (ids, in that order)."""
    ranked = sorted(pairs, key=lambda p: (float(p.low.mean()), p.id))
    picks = [ranked[0], ranked[len(ranked) // 2], ranked[-1]]
    return list(dict.fromkeys(p.id for p in picks))


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An RGB uint8 view of a file's pixels or of a float image in [0, 1]."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return image[..., :3]


def for_display(image: np.ndarray, longest: int) -> np.ndarray:
    """``image`` (float in [0, 1]) downscaled so its longest side is at most ``longest``."""
    image = np.clip(np.asarray(image, dtype=np.float32), 0, 1)
    scale = longest / max(image.shape[:2])
    if scale >= 1:
        return image
    shape = (round(image.shape[0] * scale), round(image.shape[1] * scale), image.shape[2])
    return transform.resize(image, shape, anti_aliasing=True).astype(np.float32)


def panels(low: np.ndarray, model: str, baseline) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input, exposure + NLM, model output), floats in [0, 1], at the input's full size."""
    return low.astype(np.float32) / 255, baseline(low), enhance(low, model=model, channel_axis=-1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="data folder (holds lol-train/ and dark-photos/)")
    parser.add_argument("--model", default="photo", help="weight set to show (default photo)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "real-photos.png")
    parser.add_argument("--ids", type=int, nargs="+", default=None,
                        help="LOL test ids (default: the darkest, median and brightest test lows by mean)")
    parser.add_argument("--photos", nargs="+", default=list(PHOTOS),
                        help="file names in DATA/dark-photos (default: %(default)s)")
    parser.add_argument("--display", type=int, default=480,
                        help="longest side of a panel in px (display only)")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = {p.id: p for p in lol.load(args.data, "test")}
    ids = args.ids or default_ids(list(pairs.values()))
    unknown = [i for i in ids if i not in pairs]
    if unknown:
        parser.error(f"ids {unknown} are not LOL test pairs here (test ids: {min(pairs)}-{max(pairs)})")
    baseline = evaluate.methods("lol", (), classical=True)[BASELINE]
    titles = ("input", "exposure + NLM", f"{args.model} (ours)")

    rows = []  # (label, [(title, image or None)])
    for i in ids:
        pair = pairs[i]
        low = to_uint8(pair.low)
        shown = []
        for title, image in zip(titles, panels(low, args.model, baseline), strict=True):
            p, s = evaluate.score(np.asarray(image, dtype=np.float32), pair.high, "lol")
            shown.append((f"{title}\n{p:.2f} dB / {s:.3f}", image))
        shown.append(("reference (long exposure)", pair.high))
        rows.append((f"LOL {i:03d} (mean {pair.low.mean():.3f})", shown))
        print(f"LOL {i:03d}: " + ", ".join(t.replace("\n", " ") for t, _ in shown[:3]))
    for name in args.photos:
        low = to_uint8(io.imread(args.data / "dark-photos" / name))
        shown = list(zip(titles, panels(low, args.model, baseline), strict=True)) + [("no reference", None)]
        rows.append((name, shown))
        print(f"{name}: {low.shape[1]}x{low.shape[0]}")

    fig, axes = plt.subplots(len(rows), 4, figsize=(14, 3.0 * len(rows)), squeeze=False)
    for ax_row, (label, shown) in zip(axes, rows, strict=True):
        for ax, (title, image) in zip(ax_row, shown, strict=True):
            if image is not None:
                ax.imshow(for_display(image, args.display))
            ax.set_title(title, fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(image is not None)
        ax_row[0].set_ylabel(label, fontsize=9)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    plt.close(fig)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
