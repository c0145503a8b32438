"""Would a small network estimate the auto-tone curve better than the ridge?

A four-layer CNN reads a 64x64 thumbnail of the log linear luminance (plus
the five statistics ``auto-tone`` uses) and predicts (log gain, tone). It is
trained on the best curves (``fit_tone.best_tone``) of 3,792 darkened 256 px
crops of CBSD68, Train400 and scikit-image's photos (the estimate reads
luminance only, so the grey Train400 photos count), 3,000 Adam steps. Prints
its held-out rms errors on Kodak24 during training, then the shipped
``photo`` network's Kodak24 scores (the benchmark's cases) with this estimate
instead of the ridge.

    .venv/bin/python scripts/studies/tone_cnn.py ../shared/data
"""

import sys
from itertools import pairwise

import numpy as np
import torch
from torch import nn

from napari_lowlight import colour, enhance, normalize, weights
from napari_lowlight.training import datasets, evaluate
from napari_lowlight.training.tone_fitting import best_tone, rms_by_protocol, samples

SIDE = 64


def thumbnail(dark: np.ndarray) -> np.ndarray:
    """log linear luminance, block-averaged to SIDE x SIDE, flattened."""
    lum = colour.srgb_to_linear(np.clip(dark, 0, 1)).mean(-1)
    h, w = (lum.shape[0] // SIDE) * SIDE, (lum.shape[1] // SIDE) * SIDE
    return np.log(np.maximum(lum[:h, :w].reshape(SIDE, h // SIDE, SIDE, w // SIDE).mean(axis=(1, 3)),
                             1e-4)).ravel()


def inputs(dark: np.ndarray) -> np.ndarray:
    return np.concatenate([thumbnail(dark), normalize.exposure_features(dark, normalize.TONE_PERCENTILES)])


def measure(dark: np.ndarray, clean: np.ndarray):
    return inputs(dark), best_tone(dark, clean)


def tensors(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(thumbnails, statistics), logs scaled to about [-1, 1]."""
    rows = torch.tensor(rows, dtype=torch.float32) / 5 + 1
    return rows[:, : SIDE * SIDE].reshape(-1, 1, SIDE, SIDE), rows[:, SIDE * SIDE :]


class Estimator(nn.Module):
    def __init__(self):
        super().__init__()
        widths = [1, 16, 32, 64, 64]
        convs = [nn.Sequential(nn.Conv2d(i, o, 3, 2, 1), nn.ReLU()) for i, o in pairwise(widths)]
        self.features = nn.Sequential(*convs, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(64 + 5, 64), nn.ReLU(), nn.Linear(64, 2))

    def forward(self, image, stats):
        return self.head(torch.cat([self.features(image), stats], 1))


def held_out(net, image, stats, target, physical) -> tuple[float, ...]:
    with torch.no_grad():
        pred = net(image, stats).numpy()
    return tuple(float(v) for pair in rms_by_protocol(pred, target, physical) for v in pair)


def train(x, y, xv, yv, physical, steps: int = 3000) -> Estimator:
    torch.manual_seed(0)
    net, (image, stats), target = Estimator(), tensors(x), torch.tensor(y, dtype=torch.float32)
    held = (*tensors(xv), yv, physical)
    opt = torch.optim.Adam(net.parameters(), 1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    g = torch.Generator().manual_seed(0)
    for step in range(steps):
        idx = torch.randint(len(image), (64,), generator=g)
        batch = image[idx]
        if torch.rand(1, generator=g) < 0.5:
            batch = batch.flip(-1)
        if torch.rand(1, generator=g) < 0.5:
            batch = batch.flip(-2)
        # Tone errors weigh 10x: a tone is off by tenths where a log gain is off by whole units.
        loss = ((net(batch, stats[idx]) - target[idx]) ** 2 * torch.tensor([1.0, 10.0])).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0 or step == steps - 1:
            e = held_out(net, *held)
            print(f"| {step} | {e[0]:.3f}, {e[1]:.3f} | {e[2]:.3f}, {e[3]:.3f} |", flush=True)
    return net


def main(root: str) -> None:
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    x, y, _ = samples(datasets.load_photos(root, False, ("CBSD68", "Train400", "skimage")), rng, 8, True,
                      measure)
    xv, yv, physical = samples(datasets.load_photos(root, True), rng, 2, measure=measure)
    print(f"{len(x)} training samples, {len(xv)} held out (Kodak24)\n")
    print("| step | physical: log-gain, tone | gamma: log-gain, tone |\n|---|---|---|")
    net = train(x, y, xv, yv, physical)
    photo = weights.load_model("photo-synthetic")
    print("\n| suite | `photo` PSNR / SSIM with the CNN's curve |\n|---|---|")
    for suite in ("photo", "photo-gamma"):
        scores = []
        for case in evaluate.load_cases(suite, root, crop=256):
            raw = normalize.Normalizer("dtype").apply(case.raw)
            with torch.no_grad():
                log_gain, tone = net(*tensors(inputs(raw)[None]))[0].tolist()
            out = enhance(normalize.tone_curve(log_gain, tone).apply(raw), model=photo, channel_axis=-1,
                          normalization="dtype")
            scores.append(evaluate.score(out, case.target, suite))
        psnr, ssim = np.mean(scores, axis=0)
        print(f"| {suite} | {psnr:.2f} / {ssim:.3f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
