"""Intensity normalisation to the [0, 1]-ish range the networks were trained on.

Two conventions:

``"percentile"`` (microscopy, CSBDeep's convention)
    Each channel is mapped so its ``low`` percentile goes to 0 and its
    ``high`` percentile to 1, computed over the whole array (all planes of a
    stack) before tiling, so every tile sees the same mapping. Defaults
    (1, 99.8). Values outside are kept (not clipped) for the network.
``"dtype"`` (photos)
    Unsigned integers are divided by their maximum (uint8 by 255, uint16 by
    65535); signed integers map their full range to [0, 1]; bool to {0, 1};
    floats are taken to be in [0, 1] already.
``"exposure"`` (low-light photos)
    The "dtype" mapping, then an exposure correction in linear light: the
    image is decoded from sRGB, scaled so its mean is ``EXPOSURE_TARGET_MEAN`` (0.18,
    photographic mid-grey) and re-encoded. The scale is one number for the
    whole array, so every tile sees the same mapping. The photo network
    refines this global guess locally.
``"auto-exposure"`` (low-light photos, the ``photo`` network)
    As ``"exposure"``, but the gain is predicted from three statistics of the
    image in linear light (its mean, and the median and 99.9th percentile of
    its 2x2-averaged luminance) by a ridge fit (quadratic in their logs) to
    the best gains of darkened training photos (``scripts/fits/fit_exposure.py``).
    The bright end tells how far the scene's highlights were pushed down,
    which the mean alone confuses with a dark scene, and how the tones were
    bent (highlights kept while shadows sink is a curve, not an exposure).
``"auto-tone"`` (low-light photos darkened either way)
    As ``"auto-exposure"``, with a tone curve as well: linear light ``x``
    becomes ``gain * x ** tone``. Both numbers are predicted by a ridge fit
    from five statistics (the mean in linear light and the 10th, 50th, 90th
    and 99.9th percentiles of the 2x2-averaged luminance) to the best
    (gain, tone) of training photos darkened by either protocol
    (``scripts/fits/fit_tone.py``). A physical under-exposure needs the gain
    alone (tone near 1); LLCNN's gamma darkening keeps the highlights where
    they were and needs a tone near 1/gamma, which no gain can give.
``"learned-tone"`` (the ``photo`` network)
    As ``"auto-tone"``, with the ridge's guess corrected by the network's own
    tone head (:mod:`napari_lowlight.tone_head`), trained through the network;
    it needs a model that has one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .colour import linear_to_srgb, srgb_to_linear

DEFAULT_PERCENTILES = (1.0, 99.8)
EXPOSURE_TARGET_MEAN = 0.18
# Cap on the brightening, so a black frame is not amplified to pure noise.
EXPOSURE_MAX_GAIN = 200.0
# The automatic exposure and tone are ridge fits (see the module notes); their coefficients are
# data, written by scripts/fits/fit_exposure.py and fit_tone.py into this file beside the module.
FITS_FILE = Path(__file__).with_name("normalize_fits.json")


def _load_fits(path: Path = FITS_FILE) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


_FITS = _load_fits()
# log(gain) = AUTO_EXPOSURE . exposure_design(exposure_features(image, EXPOSURE_PERCENTILES)).
EXPOSURE_PERCENTILES = tuple(_FITS["auto_exposure"]["percentiles"])
AUTO_EXPOSURE = tuple(_FITS["auto_exposure"]["log_gain"])
# (log(gain), tone) = (AUTO_TONE_LOG_GAIN, AUTO_TONE_EXPONENT) . exposure_design(exposure_features(image,
# TONE_PERCENTILES)); the tone is kept within TONE_RANGE.
TONE_PERCENTILES = tuple(_FITS["auto_tone"]["percentiles"])
AUTO_TONE_LOG_GAIN = tuple(_FITS["auto_tone"]["log_gain"])
AUTO_TONE_EXPONENT = tuple(_FITS["auto_tone"]["tone"])
TONE_RANGE = (0.15, 1.0)
EXPOSURE_MODES = ("exposure", "auto-exposure", "auto-tone", "learned-tone")  # photos, mapped in linear light
MODES = ("percentile", "dtype", *EXPOSURE_MODES)


def to_float(data: np.ndarray) -> np.ndarray:
    """float32 copy of ``data`` (bool as 0/1), rejecting unusable dtypes."""
    if data.dtype.kind not in "biuf":
        raise ValueError(
            f"Images of dtype {data.dtype} cannot be enhanced; use a bool, integer or float array."
        )
    return data.astype(np.float32, copy=True)


def dtype_range(dtype: np.dtype) -> tuple[float, float]:
    """The (min, max) that map to (0, 1) under the "dtype" convention."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return (0.0 if dtype.kind == "u" else float(info.min)), float(info.max)
    return 0.0, 1.0


@dataclass(frozen=True)
class Normalizer:
    """Normalisation statistics fixed once, applicable to any crop of the
    image they were taken from (channels last), so every tile and every ROI
    sees the same mapping."""

    mode: str
    low: np.ndarray | None = None  # per channel, "percentile"
    high: np.ndarray | None = None
    gain: float | None = None  # the exposure modes, in linear light
    tone: float = 1.0  # "auto-tone": the exponent applied in linear light before the gain
    colour: tuple | None = None  # "learned-tone" with colour: per-channel gains (a white balance)
    # Per channel, the noise of the normalised image (napari_lowlight.noise.NoiseLevel), for
    # noise-aware networks; estimated once with the other statistics, so every tile and ROI shares it.
    noise: tuple | None = None

    def apply(self, data: np.ndarray) -> np.ndarray:
        """float32 normalised copy of ``data`` (channels last)."""
        out = to_float(data)
        if self.mode == "percentile":
            # A flat channel (high == low) maps to 0 instead of dividing by zero.
            scale = np.where(self.high > self.low, self.high - self.low, 1.0).astype(np.float32)
            out -= self.low.astype(np.float32)
            out /= scale
            return out
        lo, hi = dtype_range(data.dtype)
        if (lo, hi) != (0.0, 1.0):
            out -= lo
            out /= hi - lo
        if self.mode in EXPOSURE_MODES:
            linear = srgb_to_linear(np.clip(out, 0.0, 1.0))
            if self.tone != 1.0:
                linear **= self.tone
            gain = self.gain if self.colour is None else self.gain * np.asarray(self.colour, np.float32)
            return linear_to_srgb(linear * gain)
        return out


def statistics(
    reference: np.ndarray, mode: str, percentiles: tuple[float, float] = DEFAULT_PERCENTILES, tone_head=None
) -> Normalizer:
    """The :class:`Normalizer` of ``reference`` (channels last) for ``mode``.

    Parameters
    ----------
    reference : ndarray
        The image (or a representative subsample of it), channels last.
    mode : {"percentile", "dtype", "exposure", "auto-exposure", "auto-tone", "learned-tone"}
    percentiles : (float, float)
        Low and high percentiles for ``"percentile"`` mode, 0 <= low < high <= 100.
    tone_head : ToneHead, optional
        The model's tone head, which ``"learned-tone"`` needs.
    """
    if mode == "percentile":
        low, high = percentiles
        if not 0 <= low < high <= 100:
            raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}.")
        flat = to_float(reference).reshape(-1, reference.shape[-1])
        lo, hi = np.percentile(flat, [low, high], axis=0)
        return Normalizer(mode, low=lo, high=hi)
    if mode == "exposure":
        srgb = Normalizer("dtype").apply(reference)
        mean = float(srgb_to_linear(np.clip(srgb, 0.0, 1.0)).mean())
        return Normalizer(mode, gain=min(EXPOSURE_TARGET_MEAN / max(mean, 1e-8), EXPOSURE_MAX_GAIN))
    if mode == "auto-exposure":
        terms = _exposure_terms(reference, EXPOSURE_PERCENTILES)
        return Normalizer(mode, gain=_bounded_gain(terms @ np.asarray(AUTO_EXPOSURE)))
    if mode == "auto-tone":
        return tone_curve(*auto_tone_guess(_exposure_terms(reference, TONE_PERCENTILES)))
    if mode == "learned-tone":
        if tone_head is None:
            raise ValueError(
                "The 'learned-tone' normalisation needs a model with a tone head (the 'photo' weights); "
                "use 'auto-tone' with other models."
            )
        return tone_curve(*tone_head.estimate(Normalizer("dtype").apply(reference)))
    if mode == "dtype":
        return Normalizer(mode)
    raise ValueError(f"Unknown normalization {mode!r}; use one of {', '.join(MODES)}.")


def _exposure_terms(reference: np.ndarray, percentiles: tuple[float, ...]) -> np.ndarray:
    """The regression terms of ``reference`` (one row of :func:`exposure_design`)."""
    features = exposure_features(Normalizer("dtype").apply(reference), percentiles)
    return exposure_design(features[None])[0]


def auto_tone_guess(terms: np.ndarray) -> np.ndarray:
    """The ridge's (log gain, tone), before bounds, for one row of :func:`exposure_design`
    made of ``exposure_features(image, TONE_PERCENTILES)``."""
    return np.array([terms @ np.asarray(AUTO_TONE_LOG_GAIN), terms @ np.asarray(AUTO_TONE_EXPONENT)])


def _bounded_gain(log_gain: float) -> float:
    return float(np.clip(np.exp(log_gain), 1.0 / EXPOSURE_MAX_GAIN, EXPOSURE_MAX_GAIN))


def tone_curve(log_gain: float, tone: float, log_colour: tuple | None = None) -> Normalizer:
    """The "auto-tone" :class:`Normalizer` for an estimated (log gain, tone), each
    kept within its bounds (``EXPOSURE_MAX_GAIN``, ``TONE_RANGE``), and the
    tone head's white balance (log gains per channel) when it has one."""
    colour = None if log_colour is None else tuple(float(np.exp(c)) for c in log_colour)
    return Normalizer(
        "auto-tone", gain=_bounded_gain(log_gain), tone=float(np.clip(tone, *TONE_RANGE)), colour=colour
    )


def exposure_features(srgb: np.ndarray, percentiles: tuple[float, ...] = EXPOSURE_PERCENTILES) -> np.ndarray:
    """log of: the mean in linear light, and the ``percentiles`` (default the
    median and the 99.9th) of the luminance averaged over 2x2 blocks (which
    tames single noisy or hot pixels), for an sRGB float image (channels
    last, any leading axes)."""
    return linear_features(srgb_to_linear(np.clip(srgb, 0.0, 1.0)), percentiles)


def linear_features(linear: np.ndarray, percentiles: tuple[float, ...] = EXPOSURE_PERCENTILES) -> np.ndarray:
    """:func:`exposure_features` of an image already decoded to linear light."""
    luminance = linear.mean(axis=-1)
    if luminance.ndim >= 2 and min(luminance.shape[-2:]) >= 2:
        h, w = (luminance.shape[-2] // 2) * 2, (luminance.shape[-1] // 2) * 2
        blocks = luminance[..., :h, :w].reshape(*luminance.shape[:-2], h // 2, 2, w // 2, 2)
        luminance = blocks.mean(axis=(-3, -1))
    levels = np.percentile(luminance, list(percentiles))
    return np.log(np.maximum([float(linear.mean()), *levels], 1e-6))


def exposure_design(features: np.ndarray) -> np.ndarray:
    """Rows of (features, their pairwise products and squares, 1) for
    ``features`` of shape (n, k): the terms the automatic exposure and tone weigh."""
    n = features.shape[1]
    products = [features[:, i] * features[:, j] for i in range(n) for j in range(i, n)]
    return np.column_stack([features, *products, np.ones(len(features))])


def normalize(
    data: np.ndarray, mode: str, percentiles: tuple[float, float] = DEFAULT_PERCENTILES, tone_head=None
) -> np.ndarray:
    """Normalise ``data`` (channels on the last axis) with its own statistics
    (see :func:`statistics` for the arguments).

    Returns
    -------
    ndarray of float32, same shape.
    """
    return statistics(data, mode, percentiles, tone_head).apply(data)
