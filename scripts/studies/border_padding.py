"""Would the shipped `fluo` do better at the image borders with reflected context?

    .venv/bin/python scripts/studies/border_padding.py ../shared/data

The engine never pads an image: within the receptive-field radius (46 px) of
an edge, about a third of a 512x512 frame, the network sees its own zero
padding, as it did at the edges of its training patches. This pads each W2S
validation frame by reflection before ``enhance`` and crops the result back,
then scores it as ``napari-lowlight evaluate --suite fluo`` does (same frames,
CSBDeep scoring), beside no padding in the same run. (The normalisation
percentiles then include the reflected band, which repeats edge pixels.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from napari_lowlight import enhance
from napari_lowlight.training import evaluate


def main(data: Path) -> None:
    cases = evaluate.load_cases("fluo", data)
    print("| reflected border (px) | PSNR (dB) | SSIM |")
    print("|---|---|---|")
    for pad in (0, 16, 48, 96):
        scores = []
        for case in cases:
            out = enhance(np.pad(case.raw, pad, mode="reflect"), model="fluo")
            scores.append(evaluate.score(out[pad : pad + case.raw.shape[0], pad : pad + case.raw.shape[1]],
                                         case.target, "fluo"))
        psnr, ssim = np.mean(scores, axis=0)
        print(f"| {pad} | {psnr:.3f} | {ssim:.4f} |", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
