"""Noise-aware fluorescence data (the ``fluo-nl`` domain): real pairs from two
microscopes, synthetic noise at a wide range of levels, and the noise maps the
network reads beside the image.

Sources (one drawn per sample, shares from the config's ``fluo_mix``)
    ``fmd``: FMD confocal frames (``DIR/fmd-confocal-bpae-b``): the mean of a
    random 1-8 of a field's 8 raw frames against its 50-frame average.
    Fields 17 and 18 are held out (:data:`FMD_VAL_FIELDS`).
    ``w2s``: W2S widefield pairs (avg1 -> avg400) of fields 001-070.
    W2S's low and high frames were normalised separately, so the high frame
    is first mapped onto the low one's brightness by a least-squares affine
    fit over the whole image (``low ~ a * high + b``).
    ``synthetic``: Poisson-Gaussian noise (:func:`poisson_gaussian`) on the
    clean images of both (W2S avg400, FMD avg50 of the training fields), at
    photon levels from about one photon to tens of thousands (nearly clean),
    a share of it spatially correlated (:func:`correlate`).

Normalisation, as the engine does it
    The noisy context crop (twice the patch) is normalised by its (1, 99.8)
    percentiles and the target is mapped with the same (lo, hi): input and
    target share one brightness scale. The noise level is estimated on the
    normalised noisy crop with :func:`napari_lowlight.noise.estimate` (the
    engine estimates it once on the whole normalised image) and appended as
    two constant maps by :func:`napari_lowlight.noise.condition`.

True maps (``fluo_mix.true_maps = true``; off by default)
    FFDNet's recipe: the maps carry the noise level the sample really has, so
    the network learns to trust them (the ``strength`` control then works).
    Synthetic samples get the exact level (:func:`normalised_level`: the
    generated ``a * x + b`` in the normalised units); FMD samples the level
    fitted from the pair itself (:func:`pair_level`); W2S keeps the estimate.
    Validation stays estimated, as the engine runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage import io

from .. import noise, normalize
from .degrade import log_uniform

FMD_DIR = "fmd-confocal-bpae-b"
FMD_VAL_FIELDS = (17, 18)
FMD_LEVELS = (1, 2, 4, 8)
W2S_VAL_FIELDS = range(71, 81)
DEFAULT_MIX = {"fmd": 0.3, "w2s": 0.35, "synthetic": 0.35}


# ---- loading ---------------------------------------------------------------------------


def load_fmd(root: Path, validation: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(raw frames (8, H, W) uint8, 50-frame average (H, W) float32) per field of the split."""
    folder = Path(root) / FMD_DIR
    gts = sorted((folder / "gt").glob("*.png"))
    if not gts:
        raise FileNotFoundError(f"No FMD fields under {folder}/gt.")
    fields = []
    for gt in gts:
        if (int(gt.stem) in FMD_VAL_FIELDS) != validation:
            continue
        frames = np.stack([io.imread(p) for p in sorted((folder / "raw" / gt.stem).glob("*.png"))])
        fields.append((frames, io.imread(gt).astype(np.float32)))
    return fields


def w2s_affine(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``high`` mapped by the least-squares affine fit onto ``low``'s brightness (float32)."""
    a, b = np.polyfit(high.ravel().astype(np.float64), low.ravel().astype(np.float64), 1)
    return (a * high.astype(np.float32) + b).astype(np.float32)


def load_w2s_raw(root: Path, validation: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(low uint8, high fitted to low's brightness, float32) per W2S image of the split."""
    lows = sorted((Path(root) / "w2s-train" / "low").glob("*.tif"))
    if not lows:
        raise FileNotFoundError(f"No W2S pairs under {root}/w2s-train/low.")
    pairs = []
    for p in lows:
        if (int(p.stem.split("_")[0]) in W2S_VAL_FIELDS) != validation:
            continue
        low = io.imread(p)
        pairs.append((low, w2s_affine(low, io.imread(p.parent.parent / "high" / p.name))))
    return pairs


# ---- synthetic noise -------------------------------------------------------------------


def correlation_kernel(rng: np.random.Generator) -> np.ndarray:
    """A small positive kernel with unit sum of squares (white noise keeps its variance):
    a Gaussian (sigma 0.4-1.2 px) or a random 2-3 tap line along one axis (scanner lines)."""
    if rng.random() < 0.5:
        s = rng.uniform(0.4, 1.2)
        t = np.arange(-2, 3)
        g = np.exp(-0.5 * (t / s) ** 2)
        k = np.outer(g, g)
    else:
        taps = int(rng.integers(2, 4))
        k = np.concatenate([[1.0], rng.uniform(0.2, 1.0, taps - 1)])[None, :]
        if rng.random() < 0.5:
            k = k.T
    return (k / np.sqrt(np.sum(k**2))).astype(np.float64)


def correlate(white: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Unit-variance white noise filtered by ``kernel``: still unit variance, now correlated."""
    return ndimage.convolve(white, kernel, mode="reflect")


def poisson_gaussian(
    clean: np.ndarray,
    rng: np.random.Generator,
    photons: tuple[float, float] = (1.0, 30000.0),
    read_noise: tuple[float, float] = (1e-3, 0.1),
    read_fraction: float = 0.7,
    correlated_fraction: float = 0.0,
) -> tuple[np.ndarray, float, float]:
    """Noise of variance ``a * x + b`` on a clean image ``x`` (about [0, 1]).

    ``a = 1 / n`` with ``n`` photons at intensity 1, log-uniform over
    ``photons`` (1: starved, 30,000: nearly clean); ``b = sigma**2`` with a
    read noise sigma log-uniform over ``read_noise`` in ``read_fraction`` of
    the draws (else 0). White noise is Poisson (exact); correlated noise (in
    ``correlated_fraction`` of draws) is Gaussian of the same per-pixel
    variance filtered by :func:`correlation_kernel`.

    Returns
    -------
    (noisy float32, a, b)
    """
    x = np.clip(np.asarray(clean, dtype=np.float64), 0.0, None)
    n = log_uniform(rng, *photons)
    sigma = log_uniform(rng, *read_noise) if rng.random() < read_fraction else 0.0
    if rng.random() < correlated_fraction:
        kernel = correlation_kernel(rng)
        shot = np.sqrt(x / n) * correlate(rng.standard_normal(x.shape), kernel)
        read = sigma * correlate(rng.standard_normal(x.shape), kernel)
        noisy = x + shot + read
    else:
        noisy = rng.poisson(x * n) / n + rng.normal(0.0, sigma, x.shape)
    return noisy.astype(np.float32), 1.0 / n, sigma**2


# ---- samples ---------------------------------------------------------------------------


def normalise_pair(noisy: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both mapped by the noisy image's (1, 99.8) percentiles, as the engine maps the input."""
    stats = normalize.statistics(np.asarray(noisy, dtype=np.float32)[..., None], "percentile")
    return stats.apply(np.asarray(noisy, np.float32)[..., None])[..., 0], stats.apply(
        np.asarray(clean, np.float32)[..., None])[..., 0]


def normalised_level(a: float, b: float, lo: float, d: float) -> noise.NoiseLevel:
    """Noise of variance ``a * x + b`` seen through ``x' = (x - lo) / d``: at the true normalised
    value ``x'`` the variance is ``a / d * x' + (a * lo + b) / d**2`` (the offset kept >= 0)."""
    d = float(d) if d > 0 else 1.0
    return noise.NoiseLevel(float(a) / d, max(float(a) * float(lo) + float(b), 0.0) / d**2)


def pair_level(noisy: np.ndarray, reference: np.ndarray, reference_ratio: float = 0.0,
               bins: int = noise.BINS) -> noise.NoiseLevel:
    """The noise of ``noisy`` fitted from a (normalised) pair: the variance of ``noisy - reference``
    in equal-count bins of the reference, a least-squares ``a * x + b`` (a, b >= 0). The
    reference's own noise (``reference_ratio`` times the noisy image's variance, e.g. ``n / 50``
    for the mean of n frames against a 50-frame average) is taken out."""
    diff = (np.asarray(noisy, np.float64) - np.asarray(reference, np.float64)).ravel()
    ref = np.asarray(reference, np.float64).ravel()
    return noise.fit_binned(ref, diff, lambda d: d.var() / (1.0 + reference_ratio), bins)


def conditioned(noisy: np.ndarray, level: noise.NoiseLevel) -> np.ndarray:
    """(3, H, W): the normalised image and its two noise maps."""
    return noise.condition(noisy[None, None].astype(np.float32), level)[0]


def _crop(rng, size, *arrays):
    h, w = arrays[0].shape[-2:]
    y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
    return [a[..., y : y + size, x : x + size] for a in arrays]


class FluoNoiseSampler:
    """``sample(rng) -> (input (3, p, p), target (1, p, p))`` for the ``fluo-nl`` domain."""

    def __init__(self, root: Path, patch: int, mix: dict | None = None):
        self.patch = patch
        self.mix = {**DEFAULT_MIX, **(mix or {})}
        self.photons = tuple(self.mix.pop("photons", (1.0, 30000.0)))
        self.read_noise = tuple(self.mix.pop("read_noise", (1e-3, 0.1)))
        self.correlated = float(self.mix.pop("correlated", 0.3))
        self.true_maps = bool(self.mix.pop("true_maps", False))
        unknown = set(self.mix) - set(DEFAULT_MIX)
        if unknown:
            raise ValueError(f"fluo_mix: unknown key(s) {sorted(unknown)}.")
        total = sum(self.mix.values())
        self.sources = list(self.mix)
        self.shares = np.array([self.mix[k] / total for k in self.sources])
        self.fmd = load_fmd(root, validation=False) if self.mix["fmd"] > 0 else []
        self.w2s = load_w2s_raw(root, validation=False) if self.mix["w2s"] > 0 else []
        # Clean images for synthetic noise: each normalised by its own percentiles.
        cleans = [gt for _, gt in self.fmd] + [high for _, high in self.w2s]
        if self.mix["synthetic"] > 0 and not cleans:
            cleans = [gt for _, gt in load_fmd(root, False)] + [h for _, h in load_w2s_raw(root, False)]
        self.clean = [normalize.normalize(c[..., None], "percentile")[..., 0] for c in cleans]

    def context_pair(self, rng: np.random.Generator, source: str) -> tuple[np.ndarray, np.ndarray]:
        """A noisy and clean context crop (twice the patch), not yet normalised."""
        return self._context(rng, source)[:2]

    def _context(self, rng: np.random.Generator, source: str):
        """(noisy, clean, known): ``known`` is the synthetic noise's (a, b) in the clean image's
        units, the number of averaged frames for FMD, None for W2S."""
        context = 2 * self.patch
        if source == "fmd":
            frames, gt = self.fmd[int(rng.integers(len(self.fmd)))]
            c = min(context, *gt.shape)
            frames, gt = _crop(rng, c, frames, gt)
            n = int(rng.integers(1, len(frames) + 1))
            pick = np.sort(rng.choice(len(frames), n, replace=False))
            return frames[pick].astype(np.float32).mean(axis=0), gt, n
        if source == "w2s":
            low, high = self.w2s[int(rng.integers(len(self.w2s)))]
            return (*_crop(rng, min(context, *low.shape), low.astype(np.float32), high), None)
        image = self.clean[int(rng.integers(len(self.clean)))]
        (clean,) = _crop(rng, min(context, *image.shape), image)
        noisy, a, b = poisson_gaussian(clean, rng, self.photons, self.read_noise,
                                       correlated_fraction=self.correlated)
        return noisy, clean, (a, b)

    def level(self, source: str, noisy: np.ndarray, clean: np.ndarray, known, lo: float, d: float):
        """The noise level the maps carry for a normalised context crop (see the module notes)."""
        if self.true_maps and source == "synthetic":
            return normalised_level(*known, lo, d)
        if self.true_maps and source == "fmd":
            return pair_level(noisy, clean, reference_ratio=known / 50.0)
        return noise.estimate(noisy)

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        source = self.sources[min(int(np.searchsorted(np.cumsum(self.shares), rng.random())),
                                  len(self.sources) - 1)]
        noisy, clean, known = self._context(rng, source)
        stats = normalize.statistics(np.asarray(noisy, dtype=np.float32)[..., None], "percentile")
        noisy, clean = normalise_pair(noisy, clean)
        lo, hi = float(stats.low[0]), float(stats.high[0])
        level = self.level(source, noisy, clean, known, lo, hi - lo if hi > lo else 1.0)
        noisy, clean = _crop(rng, self.patch, noisy, clean)
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        noisy, clean = np.rot90(noisy, k), np.rot90(clean, k)
        if flip:
            noisy, clean = noisy[:, ::-1], clean[:, ::-1]
        return conditioned(np.ascontiguousarray(noisy), level), np.ascontiguousarray(clean)[None].copy()


def validation_pairs(root: Path, size: int = 160) -> list[tuple[np.ndarray, np.ndarray]]:
    """Held-out (input (3, s, s), target (1, s, s)) centre crops: W2S fields 071-080 (all
    channels) and FMD fields 17-18 at 1, 2, 4 and 8 frames; normalised and noise-estimated
    on the whole image, as the engine does."""
    from .datasets import centre_crop

    wholes = [(low.astype(np.float32), high) for low, high in load_w2s_raw(root, validation=True)]
    for frames, gt in load_fmd(root, validation=True):
        wholes += [(frames[:n].astype(np.float32).mean(axis=0), gt) for n in FMD_LEVELS]
    pairs = []
    for noisy, clean in wholes:
        noisy, clean = normalise_pair(noisy, clean)
        level = noise.estimate(noisy)
        pairs.append((conditioned(centre_crop(noisy, size), level), centre_crop(clean, size)[None].copy()))
    return pairs
