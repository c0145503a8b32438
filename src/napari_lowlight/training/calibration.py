"""Calibrating the unprocessing ranges against real dark photos.

:mod:`.unprocess` draws its exposure and shot noise from log-uniform ranges
(:class:`.unprocess.Ranges`). Those ranges are set so that synthetic dark
photos look, to one simple statistic, like the real low images of LOL's
training ids:

* **brightness**: the mean of the photo in linear light;
* **relative noise**: the noise's standard deviation at that mean level,
  divided by it, with the noise estimated from the photo alone
  (:func:`napari_lowlight.noise.estimate` over the three channel planes).

:func:`measure` takes both from one sRGB photo, :func:`measure_all` from
many; :func:`fit_ranges` shifts the log-centres of ``exposure`` and
``shot`` (their widths kept) until the medians of the synthetic photos match
the real ones. ``scripts/fits/fit_unprocess.py`` runs it on the real data
(``docs/results/unprocess-calibration.md``).

Numpy in, numpy out; nothing here needs napari, Qt or a GPU.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np

from .. import noise
from ..colour import srgb_to_linear
from . import unprocess


def measure(srgb: np.ndarray) -> tuple[float, float]:
    """The brightness and relative noise of one photo.

    Both are measured in linear light (the sRGB values decoded by
    :func:`napari_lowlight.colour.srgb_to_linear`), where the camera's noise
    has its physical form: shot noise whose variance grows in proportion to
    the signal plus a constant read noise, ``a * x + b``, which
    :func:`napari_lowlight.noise.estimate` fits. In sRGB the encoding's
    steep slope near black would stretch the noise of the shadows, and by a
    different factor at each level, so neither number would compare across
    photos of different brightness; in linear light the brightness is
    proportional to the exposure, and the relative noise of a shot-noise
    limited photo falls as one over its square root.

    Parameters
    ----------
    srgb : ndarray, shape (H, W, 3)
        An sRGB photo, values in [0, 1] (8-bit values divided by 255).

    Returns
    -------
    brightness : float
        ``m``, the mean linear value over all pixels and channels.
    relative_noise : float
        ``sigma(m) / m``: the estimated noise's standard deviation at the
        level ``m``, over ``m`` (NaN for a black photo).
    """
    srgb = np.asarray(srgb, dtype=np.float32)
    if srgb.ndim != 3 or srgb.shape[-1] != 3:
        raise ValueError(f"measure takes an RGB image (H, W, 3), got shape {srgb.shape}.")
    linear = srgb_to_linear(srgb)
    level = noise.estimate(np.moveaxis(linear, -1, 0))
    m = float(linear.mean(dtype=np.float64))
    return m, float(level.sigma(m) / m) if m > 0 else float("nan")


def measure_all(images: Iterable[np.ndarray]) -> np.ndarray:
    """:func:`measure` of each photo.

    Parameters
    ----------
    images : iterable of ndarray
        sRGB photos (H, W, 3) in [0, 1]; they may differ in size.

    Returns
    -------
    ndarray of float64, shape (N, 2)
        One row per photo: brightness, relative noise.
    """
    return np.array([measure(image) for image in images], dtype=np.float64).reshape(-1, 2)


def synthetic_measures(
    clean_photos: Sequence[np.ndarray], rng_seed: int, ranges: unprocess.Ranges = unprocess.DEFAULT_RANGES
) -> np.ndarray:
    """:func:`measure` of a dark photo synthesised from each clean photo.

    One generator seeded with ``rng_seed`` draws every camera and all the
    noise, in photo order. A camera takes the same draws whatever its
    exposure and shot ranges, so two calls with the same seed and ranges
    that differ only there see the same underlying random numbers (the
    fit's comparisons are then not blurred by a new draw each time).

    Parameters
    ----------
    clean_photos : sequence of ndarray
        Clean sRGB photos (H, W, 3) in [0, 1].
    rng_seed : int
    ranges : unprocess.Ranges, optional

    Returns
    -------
    ndarray of float64, shape (N, 2)
        Brightness and relative noise of each synthetic photo.
    """
    return measure_all(_synthesised(clean_photos, rng_seed, ranges))


def _synthesised(
    clean_photos: Sequence[np.ndarray], rng_seed: int, ranges: unprocess.Ranges
) -> Iterable[np.ndarray]:
    """A dark photo of each clean photo, in order, all drawn from one generator seeded ``rng_seed``."""
    rng = np.random.default_rng(rng_seed)
    return (unprocess.dark_photo(photo, rng, ranges) for photo in clean_photos)


def medians(measures: np.ndarray) -> tuple[float, float]:
    """The medians of brightness and of relative noise (NaNs ignored).

    Parameters
    ----------
    measures : ndarray, shape (N, 2)

    Returns
    -------
    tuple of float
    """
    med = np.nanmedian(np.asarray(measures, dtype=np.float64).reshape(-1, 2), axis=0)
    return float(med[0]), float(med[1])


def centre(bounds: tuple[float, float]) -> float:
    """The log-centre (geometric mean) of a log-uniform range."""
    return float(np.sqrt(bounds[0] * bounds[1]))


def scale(bounds: tuple[float, float], factor: float) -> tuple[float, float]:
    """A log-uniform range moved by ``factor`` (its log-centre times ``factor``, its width kept)."""
    return (float(bounds[0] * factor), float(bounds[1] * factor))


# d log(median brightness, median relative noise) / d log(exposure, shot) by the two laws.
_LAWS = np.array([[1.0, 0.0], [-0.5, 0.5]])
_MAX_STEP = float(np.log(4.0))  # at most a factor of 4 per iteration


def fit_ranges(
    real_measures: np.ndarray,
    clean_photos: Sequence[np.ndarray],
    rng_seed: int,
    base: unprocess.Ranges = unprocess.DEFAULT_RANGES,
    iterations: int = 3,
    synthetic: np.ndarray | None = None,
    tolerance: float = 0.01,
) -> unprocess.Ranges:
    """Shift ``exposure`` and ``shot`` so that synthetic photos match real ones in median.

    Each iteration synthesises a dark photo from every clean photo
    (:func:`synthetic_measures`, same seed each time) and moves the two
    ranges by factors (their log-widths kept). The first move follows two
    approximate laws: the brightness grows in proportion to the exposure,
    and the relative noise as ``sqrt(shot / brightness)``. With ``B`` and
    ``N`` the median brightness and relative noise, real (r) and synthetic
    (s)::

        exposure *= B_r / B_s
        shot     *= (N_r / N_s) ** 2 * (B_r / B_s)

    The laws are not exact: read noise, clipping at black and 8-bit
    quantisation add a noise floor to the brightness of the darkest photos
    (which then follows the exposure less than linearly), and JPEG and the
    cameras' denoising lower the measured noise. So later moves correct the
    laws' slopes by what the previous moves did (Broyden's secant update, in
    log space; a correction that would make the two unknowns inseparable is
    ignored), and no move exceeds a factor of 4.

    Parameters
    ----------
    real_measures : ndarray, shape (N, 2)
        :func:`measure_all` of the real dark photos.
    clean_photos : sequence of ndarray
        Clean sRGB photos (H, W, 3) in [0, 1] to synthesise from; small
        crops will do and cost less (one 481 x 321 photo takes about 0.1 s).
    rng_seed : int
        Seeds the synthesis (the same at every iteration).
    base : unprocess.Ranges, optional
        The starting ranges; every other setting is kept.
    iterations : int, optional
        At most this many synthesise-and-move steps.
    synthetic : ndarray, shape (M, 2), optional
        :func:`synthetic_measures` of ``clean_photos`` under ``base`` with
        ``rng_seed``, when already computed: the first iteration uses it
        instead of synthesising again.
    tolerance : float, optional
        Stop early once both synthetic medians are within this relative
        distance (in log) of the real ones.

    Returns
    -------
    unprocess.Ranges
        ``base`` with ``exposure`` and ``shot`` moved.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        target = np.log(medians(real_measures))
    if not np.all(np.isfinite(target)):
        raise ValueError(f"The real medians must be positive, got {np.exp(target)}.")
    ranges, slopes, previous = base, _LAWS.copy(), None
    for step in range(iterations):
        measures = synthetic if step == 0 and synthetic is not None else synthetic_measures(
            clean_photos, rng_seed, ranges)
        here = np.log([centre(ranges.exposure), centre(ranges.shot)])
        got = np.log(medians(measures))
        if np.max(np.abs(target - got)) < tolerance:
            break
        if previous is not None and np.any(here != previous[0]):
            moved, changed = here - previous[0], got - previous[1]
            updated = slopes + np.outer(changed - slopes @ moved, moved) / (moved @ moved)
            if np.all(np.isfinite(updated)) and np.linalg.det(updated) > 0.1 * np.linalg.det(_LAWS):
                slopes = updated
        previous = (here, got)
        move = np.linalg.solve(slopes, target - got)
        move *= min(1.0, _MAX_STEP / max(float(np.max(np.abs(move))), 1e-12))
        ranges = replace(ranges, exposure=scale(ranges.exposure, float(np.exp(move[0]))),
                         shot=scale(ranges.shot, float(np.exp(move[1]))))
    return ranges


def colour_cast(low: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """How the low photo's white balance differs from its reference's.

    The log of the red / green and blue / green ratios of the mean linear
    values, the low's minus the reference's: 0 when the two exposures have
    the same balance, +0.2 in red when the low is 22% redder. Two exposures
    of one scene see the same objects, so what is left is the camera's doing
    (its white balance, which drifts in the dark, and its colour noise).

    Parameters
    ----------
    low, reference : ndarray, shape (H, W, 3)
        sRGB photos of the same scene, values in [0, 1].

    Returns
    -------
    ndarray of float64, shape (2,)
        Log cast in red and in blue, relative to green.
    """
    ratios = []
    for srgb in (low, reference):
        srgb = np.asarray(srgb, dtype=np.float32)
        if srgb.ndim != 3 or srgb.shape[-1] != 3:
            raise ValueError(f"colour_cast takes RGB images (H, W, 3), got shape {srgb.shape}.")
        mean = srgb_to_linear(srgb).reshape(-1, 3).mean(axis=0, dtype=np.float64)
        if np.any(mean <= 0):
            raise ValueError("colour_cast needs every channel above black in both photos.")
        ratios.append(np.log(mean[[0, 2]] / mean[1]))
    return ratios[0] - ratios[1]


def synthetic_casts(
    clean_photos: Sequence[np.ndarray], rng_seed: int, ranges: unprocess.Ranges = unprocess.DEFAULT_RANGES
) -> np.ndarray:
    """:func:`colour_cast` of a dark photo synthesised from each clean photo, against it.

    Seeded as :func:`synthetic_measures` (one generator, photo order).

    Returns
    -------
    ndarray of float64, shape (N, 2)
    """
    darks = _synthesised(clean_photos, rng_seed, ranges)
    return np.array([colour_cast(dark, photo) for dark, photo in zip(darks, clean_photos, strict=True)],
                    dtype=np.float64).reshape(-1, 2)


def cast_spread(casts: np.ndarray) -> float:
    """The standard deviation of log casts, red and blue pooled (about their own means)."""
    casts = np.asarray(casts, dtype=np.float64).reshape(-1, 2)
    return float(np.sqrt(np.mean((casts - casts.mean(axis=0)) ** 2)))


def fit_white_balance(
    real_casts: np.ndarray, clean_photos: Sequence[np.ndarray], rng_seed: int,
    base: unprocess.Ranges = unprocess.DEFAULT_RANGES, iterations: int = 3, tolerance: float = 0.01,
) -> unprocess.Ranges:
    """Set the camera's white-balance error so that synthetic casts match real ones.

    The error is a log-normal gain on red and on blue
    (:func:`.unprocess.draw_camera`): mean ``white_balance_bias``, standard
    deviation ``white_balance_error``. The rest of the synthesis casts too
    (the colour mixing, noise clipped at black), independently of the error.
    That rest is measured by synthesising with no error (same seed). Its
    spread and the error's add in variance, so the error is what remains of
    the real spread (0 if the synthesis already spreads more). Its mean and
    the bias add too, but bent by the tone curves applied after the white
    balance, so the bias starts at the difference of the means and is refined
    by secant steps until the synthetic mean is within ``tolerance`` of the
    real one.

    Parameters
    ----------
    real_casts : ndarray, shape (N, 2)
        :func:`colour_cast` of real low/reference pairs.
    clean_photos : sequence of ndarray
        Clean sRGB photos (H, W, 3) in [0, 1] to synthesise from.
    rng_seed : int
    base : unprocess.Ranges, optional
        Every other setting is kept.
    iterations : int, optional
        At most this many synthesise-and-move steps for the bias.
    tolerance : float, optional
        Stop once both mean casts are within this of the real ones (log).

    Returns
    -------
    unprocess.Ranges
        ``base`` with ``white_balance_bias`` and ``white_balance_error`` set.
    """
    real_casts = np.asarray(real_casts, dtype=np.float64).reshape(-1, 2)
    target = real_casts.mean(axis=0)
    neutral = replace(base, white_balance_error=0.0, white_balance_bias=(0.0, 0.0))
    other = synthetic_casts(clean_photos, rng_seed, neutral)
    error = float(np.sqrt(max(cast_spread(real_casts) ** 2 - cast_spread(other) ** 2, 0.0)))
    # The tone curves after the white balance bend its effect on the measured cast (about x1.5 on
    # LOL's): secant steps, per channel, from the additive guess.
    bias, reached = np.zeros(2), other.mean(axis=0)
    step = target - reached
    for _ in range(iterations):
        moved = bias + step
        ranges = replace(neutral, white_balance_bias=tuple(moved))
        got = synthetic_casts(clean_photos, rng_seed, ranges).mean(axis=0)
        moving = np.abs(step) > 1e-9
        slope = np.where(moving, (got - reached) / np.where(moving, step, 1.0), 1.0)
        slope = np.where(np.abs(slope) > 0.1, slope, 1.0)  # a flat response: fall back to additive
        bias, reached = moved, got
        if np.max(np.abs(target - reached)) < tolerance:
            break
        step = (target - reached) / slope
    return replace(base, white_balance_bias=(float(bias[0]), float(bias[1])), white_balance_error=error)
