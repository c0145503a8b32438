"""How far is a photo model's colour from the reference's on real LOL pairs?

    .venv/bin/python scripts/studies/output_casts.py ../shared/data [--split validation] [MODEL ...]

For each LOL pair of the split (validation by default: recipes are chosen there), the colour cast
of the output against the long-exposure reference (``calibration.colour_cast``: log red / green
and blue / green of the mean linear values, output minus reference). Prints, per model and for
exposure + non-local means (the evaluation's baseline), the mean absolute cast over all pairs and
over the five darkest lows (by mean linear value), where issue 20's gallery shows a blue-cyan cast,
and the largest one with its id. The lows' own casts are printed as the first row.
"""

from __future__ import annotations

import argparse

import numpy as np

from napari_lowlight import enhance
from napari_lowlight.colour import srgb_to_linear
from napari_lowlight.training import calibration, evaluate, lol, suites

BASELINE = "brighten + non-local means"  # the evaluation's row, shown as "exposure + NLM"
DARKEST = 5


def row(name: str, casts: np.ndarray, ids: list[int], darkest: np.ndarray) -> str:
    size = np.abs(casts).mean(axis=1)  # red and blue together
    worst = int(np.argmax(size))
    return (f"| {name} | {size.mean():.3f} | {size[darkest].mean():.3f} "
            f"| {ids[worst]} ({casts[worst, 0]:+.2f}, {casts[worst, 1]:+.2f}) |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="data folder (holds lol-train/)")
    parser.add_argument("models", nargs="*", default=["photo"])
    parser.add_argument("--split", default="validation", choices=suites.SPLITS)
    args = parser.parse_args(argv)

    pairs = lol.load(args.data, args.split)
    ids = [p.id for p in pairs]
    darkest = np.argsort([float(srgb_to_linear(p.low).mean()) for p in pairs])[:DARKEST]
    baseline = evaluate.methods("lol", (), classical=True)[BASELINE]
    outputs = {"the low itself": lambda low: low, "exposure + NLM": baseline}
    for name in args.models:
        outputs[name] = lambda low, _n=name: enhance(np.round(low * 255).astype(np.uint8), model=_n,
                                                     channel_axis=-1)
    print(f"LOL {args.split} ids, {len(pairs)} pairs; darkest {DARKEST}: {sorted(ids[i] for i in darkest)}")
    print("| output | mean abs cast, all | darkest 5 | largest (id: red, blue) |")
    print("|---|---|---|---|")
    for name, run in outputs.items():
        casts = np.array([calibration.colour_cast(run(p.low), p.high) for p in pairs])
        print(row(name, casts, ids, darkest), flush=True)


if __name__ == "__main__":
    main()
