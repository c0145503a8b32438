"""The learned tone curve of the ``photo`` network ("learned-tone" normalisation).

``auto-tone`` (:mod:`napari_lowlight.normalize`) guesses one curve per image,
``gain * x ** tone`` in linear light, by a ridge fit from five luminance
statistics to the curves that bring darkened training photos closest to their
clean originals. :class:`ToneHead` refines that guess: it reads a 32 x 32
thumbnail of the whole image (log linear RGB and the local noise level, which
tells photon noise from the constant noise of LLCNN's gamma protocol) with the
statistics and the ridge's guess, and predicts a correction to both numbers.
It is trained end to end with the photo network on that network's loss
(``configs/photo.toml``; ``train_only = "tone_head"`` would freeze the
network), so it learns the curve the network does best with, hedging where the
image leaves the curve uncertain. Its last layer starts at zero, so an
untrained head is ``auto-tone``.

Like every normalisation it runs once per image (or once per whole image for
all its ROIs), so every tile sees the same curve; it costs a few thousand
multiply-accumulates per image, nothing per pixel.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from . import normalize
from .colour import linear_to_srgb_torch, srgb_to_linear, srgb_to_linear_torch

SIDE = 32  # thumbnail side
IMAGE_CHANNELS = 4  # log linear R, G, B and log noise level
COLOUR_BOUND = 0.5  # default bound of the white balance's log gains: +-0.5 (x0.61 .. x1.65)
VECTOR_SIZE = 9  # five statistics, the ridge's (log gain, tone), noise in the darkest and brightest thirds


def _block_mean(a: np.ndarray) -> np.ndarray:
    """``a`` (H, W, C) averaged over SIDE x SIDE blocks; images smaller than
    SIDE are first enlarged by repetition."""
    h, w = a.shape[:2]
    if min(h, w) < SIDE:
        a = np.repeat(np.repeat(a, math.ceil(SIDE / h), axis=0), math.ceil(SIDE / w), axis=1)
        h, w = a.shape[:2]
    h, w = h // SIDE * SIDE, w // SIDE * SIDE
    return a[:h, :w].reshape(SIDE, h // SIDE, SIDE, w // SIDE, -1).mean(axis=(1, 3))


def _log(x, floor: float = 1e-4):
    # Logs of light levels and noise sigmas span about -9..0; /5 + 1 brings them near [-1, 1].
    return np.log(np.maximum(x, floor)) / 5 + 1


def features(srgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The head's inputs for an sRGB float image (H, W, 3) in [0, 1].

    Returns
    -------
    image : ndarray, (4, 32, 32) float32
        Thumbnail of log linear RGB and of the local noise level (standard
        deviation of a 3x3 high-pass of the sRGB luminance).
    vector : ndarray, (9,) float32
        ``auto-tone``'s five log statistics, its ridge's (log gain, tone) and
        the noise level in the darkest and brightest thirds of the image.
    prior : ndarray, (2,) float32
        The ridge's (log gain, tone), which the head corrects.
    """
    srgb = np.clip(np.asarray(srgb, dtype=np.float32), 0.0, 1.0)
    luminance = srgb.mean(axis=-1)
    high_pass = np.zeros_like(luminance)
    high_pass[1:-1, 1:-1] = 4 * luminance[1:-1, 1:-1] - (
        luminance[:-2, 1:-1] + luminance[2:, 1:-1] + luminance[1:-1, :-2] + luminance[1:-1, 2:]
    )
    moments = _block_mean(np.stack([high_pass, high_pass**2], axis=-1))
    noise = np.sqrt(np.maximum(moments[..., 1] - moments[..., 0] ** 2, 0.0))
    linear = srgb_to_linear(srgb)  # decoded once: the thumbnail and the statistics share it
    image = np.concatenate([_log(_block_mean(linear)), _log(noise)[..., None]], axis=-1)
    statistics = normalize.linear_features(linear, normalize.TONE_PERCENTILES)
    prior = normalize.auto_tone_guess(normalize.exposure_design(statistics[None])[0])
    vector = np.concatenate([statistics / 5 + 1, prior, _third_noise(luminance, high_pass)])
    return image.transpose(2, 0, 1).astype(np.float32), vector.astype(np.float32), prior.astype(np.float32)


def _third_noise(luminance: np.ndarray, high_pass: np.ndarray) -> np.ndarray:
    """Scaled log noise level in the darkest and the brightest third of the pixels."""
    inner_l, inner_h = luminance[1:-1, 1:-1], high_pass[1:-1, 1:-1]
    if inner_l.size == 0:
        return _log(np.array([0.0, 0.0]))
    low, high = np.quantile(inner_l, [1 / 3, 2 / 3])
    masks = (inner_l <= low, inner_l >= high)
    return _log(np.array([inner_h[mask].std() if mask.any() else 0.0 for mask in masks]))


class ToneHead(nn.Module):
    """(log gain, tone) for a batch of :func:`features`: the ridge's guess plus
    a learned correction, kept within normalize's bounds."""

    def __init__(
        self, width: int = 16, colour: bool = False, tone_range: tuple | None = None,
        colour_bound: float | None = None,
    ):
        super().__init__()
        c = width
        # The tone's bounds; a narrower floor than normalize's keeps the noise floor of night skies
        # from being lifted (x ** 0.3 turns 8-bit JPEG noise at 2/255 into grey).
        self.tone_range = tuple(tone_range or normalize.TONE_RANGE)
        # With ``colour``, two more outputs: the log gains of red and blue relative to green,
        # a white balance (the exposure's gain applies to all three).
        self.colour = bool(colour)
        # A bound the head's wish sits beyond passes no gradient: the shipped `photo` (recipe C)
        # pins red at -0.5 on every LOL image. A record's "colour_bound" widens it (recipe D, 1.5,
        # which left the scores and the casts as they were: docs/results/real-photos.md).
        self.colour_bound = float(COLOUR_BOUND if colour_bound is None else colour_bound)
        self.thumbnail = nn.Sequential(
            nn.Conv2d(IMAGE_CHANNELS, c, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(2 * c, 2 * c, 3, 2, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        outputs = 4 if colour else 2
        self.correction = nn.Sequential(nn.Linear(2 * c + VECTOR_SIZE, 64), nn.ReLU(), nn.Linear(64, outputs))
        # Zero correction at the start: an untrained head is exactly auto-tone.
        nn.init.zeros_(self.correction[-1].weight)
        nn.init.zeros_(self.correction[-1].bias)

    def forward(self, image: torch.Tensor, vector: torch.Tensor, prior: torch.Tensor):
        delta = self.correction(torch.cat([self.thumbnail(image), vector], dim=1))
        bound = math.log(normalize.EXPOSURE_MAX_GAIN)
        log_gain = (prior[:, 0] + delta[:, 0]).clamp(-bound, bound)
        tone = (prior[:, 1] + delta[:, 1]).clamp(*self.tone_range)
        if not self.colour:
            return log_gain, tone
        balance = delta[:, 2:].clamp(-self.colour_bound, self.colour_bound)
        zero = torch.zeros_like(balance[:, :1])
        return log_gain, tone, torch.cat([balance[:, :1], zero, balance[:, 1:]], dim=1)

    @torch.no_grad()
    def estimate(self, srgb: np.ndarray) -> tuple:
        """(log gain, tone[, log colour gains (3,)]) for one sRGB float image
        (..., H, W, 3); the planes of a stack are read as one tall image, so
        they share one curve."""
        srgb = np.asarray(srgb).reshape(-1, *np.shape(srgb)[-2:])
        inputs = [torch.from_numpy(a)[None] for a in features(srgb)]
        param = next(self.parameters())
        log_gain, tone, *colour = self(*(a.to(param.device, param.dtype) for a in inputs))
        return (float(log_gain), float(tone), *(tuple(c[0].tolist()) for c in colour))


def attach(net: nn.Module, normalization: dict, inference: bool = True) -> nn.Module:
    """Give ``net`` a fresh :class:`ToneHead` (its ``tone_head`` submodule, so
    the weight file holds both) as a record's or config's ``normalization``
    describes it ("colour", "colour_bound", "tone_range"). The network's
    forward does not use it: the engine asks it for the curve once per image.
    Training (``inference=False``) leaves the tone free within normalize's range:
    a record's narrower "tone_range" is chosen afterwards and applies when enhancing."""
    net.tone_head = ToneHead(
        colour=bool(normalization.get("colour", False)),
        tone_range=normalization.get("tone_range") if inference else None,
        colour_bound=normalization.get("colour_bound"),
    )
    return net


def curve(srgb: torch.Tensor, log_gain: torch.Tensor, tone: torch.Tensor, colour=None) -> torch.Tensor:
    """The tone curve of :class:`normalize.Normalizer` in torch, differentiable
    in (log gain, tone[, log colour gains (N, 3)]), one set per image of the batch (N, C, H, W)."""
    shape = (-1, 1, 1, 1)
    linear = srgb_to_linear_torch(srgb)
    # Black stays black; the 1 in its place keeps d(x ** tone)/d(tone) = x ** tone * log(x) finite there.
    black = linear <= 0
    toned = torch.where(black, 0.0, torch.where(black, 1.0, linear) ** tone.reshape(shape))
    gain = log_gain.exp().reshape(shape)
    if colour is not None:
        gain = gain * colour.exp()[:, :, None, None]
    return linear_to_srgb_torch(toned * gain)
