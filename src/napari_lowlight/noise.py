"""The noise level of an image, estimated from the image alone, and the maps that tell it to a network.

Noise model
    Fluorescence noise is Poisson-Gaussian: a (normalised) pixel of true
    value ``x`` carries noise of variance ``a * x + b``; ``a`` is the shot
    noise of counting photons (scaled by the normalisation), ``b`` the
    camera's read noise. Averaging ``n`` frames divides both by ``n``.

Estimator (:func:`estimate`)
    1. A high-pass residual ``r = (4 x[i, j] - x[i-1, j] - x[i+1, j] - x[i, j-1] - x[i, j+1]) / sqrt(20)``:
       smooth structure cancels and, for noise independent from pixel to
       pixel, ``r`` has the noise's variance (the kernel's squares sum to 1).
    2. The local level ``m``: the mean of the 3 x 3 neighbourhood.
    3. Pixels are sorted by ``m`` into :data:`BINS` bins of equal count; in
       each, the noise variance is ``(1.4826 * MAD(r))**2``, the median
       absolute deviation being robust to the edges and spots that a bin
       also holds.
    4. ``a`` and ``b`` come from a least-squares fit of those variances
       against the bins' mean levels, both kept >= 0.
    At most ``max_pixels`` pixels (a regular subsample of whole rows and
    columns kept together) are used. Noise correlated between neighbouring
    pixels (some scanners and cameras) is underestimated by the residual; the
    networks are trained with the same estimator on such noise, so they learn
    what its numbers mean.

Maps (:func:`condition`)
    A noise-aware network (``noise_channels`` = 2) reads two constant maps
    beside each image channel: ``sqrt(b)`` and ``sqrt(a)``, each times the
    user's ``strength`` (1: the estimate; below 1 the network believes the
    image cleaner and keeps more texture; above, noisier, and smooths more).
    Constant maps keep tiles and ROIs exact: every tile of a plane sees the
    same numbers, estimated once from the whole image (FFDNet's idea, with
    the noise's two parameters instead of one sigma).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BINS = 16
MAX_PIXELS = 1 << 20
MAPS = 2  # channels a noise-aware network reads beside each image channel
_MAD_TO_SIGMA = 1.4826
_KERNEL_NORM = float(np.sqrt(20.0))
_BLOCK = 64


@dataclass(frozen=True)
class NoiseLevel:
    """Poisson-Gaussian noise of a normalised image: variance ``a * x + b``."""

    a: float
    b: float

    def sigma(self, level: float | np.ndarray) -> float | np.ndarray:
        """The noise's standard deviation at a signal level."""
        return np.sqrt(np.maximum(self.a * np.asarray(level) + self.b, 0.0))

    def maps(self, strength: float = 1.0) -> np.ndarray:
        """The two constant values a noise-aware network reads: (sqrt(b), sqrt(a)) x strength."""
        return (float(strength) * np.sqrt([max(self.b, 0.0), max(self.a, 0.0)])).astype(np.float32)


def _residual_and_level(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(plane, dtype=np.float64)
    centre = x[1:-1, 1:-1]
    up, down, left, right = x[:-2, 1:-1], x[2:, 1:-1], x[1:-1, :-2], x[1:-1, 2:]
    residual = (4 * centre - up - down - left - right) / _KERNEL_NORM
    corners = x[:-2, :-2] + x[:-2, 2:] + x[2:, :-2] + x[2:, 2:]
    level = (centre + up + down + left + right + corners) / 9.0
    return residual.ravel(), level.ravel()


def _pieces(planes: np.ndarray, max_pixels: int) -> list[np.ndarray]:
    """Planes (..., H, W) as 2-D pieces, at most about ``max_pixels`` pixels in all: whole
    planes when they fit, else 64 x 64 blocks spread evenly over every plane (the
    residual needs each pixel's neighbours, so blocks stay whole)."""
    planes = np.asarray(planes)
    planes = planes.reshape(-1, *planes.shape[-2:])
    n, h, w = planes.shape
    if planes.size <= max_pixels or min(h, w) < _BLOCK:
        step = max(1, int(np.ceil(planes.size / max_pixels)))
        return list(planes[::step])
    origins = [(k, i, j) for k in range(n) for i in range(0, h - _BLOCK + 1, _BLOCK)
               for j in range(0, w - _BLOCK + 1, _BLOCK)]
    keep = np.linspace(0, len(origins) - 1, max(1, min(len(origins), max_pixels // _BLOCK**2))).round()
    return [planes[k, i : i + _BLOCK, j : j + _BLOCK] for k, i, j in (origins[int(t)] for t in keep)]


def estimate(planes: np.ndarray, max_pixels: int = MAX_PIXELS, bins: int = BINS) -> NoiseLevel:
    """Estimate the Poisson-Gaussian noise of normalised grey planes.

    Parameters
    ----------
    planes : ndarray, shape (..., H, W)
        One or more planes of the same image (a stack shares one estimate),
        float, normalised as the network sees them. Planes smaller than 3 x 3
        carry no residual.
    max_pixels : int, optional
        Work on a regular subsample of about this many pixels.
    bins : int, optional
        Signal-level bins of the fit.

    Returns
    -------
    NoiseLevel
        ``a`` and ``b`` (>= 0) of the variance ``a * x + b``.
    """
    residuals, levels = [], []
    for plane in _pieces(planes, max_pixels):
        if min(plane.shape) < 3:
            continue
        r, m = _residual_and_level(plane)
        residuals.append(r)
        levels.append(m)
    if not residuals:
        return NoiseLevel(0.0, 0.0)
    return fit_binned(np.concatenate(levels), np.concatenate(residuals), robust_variance, bins)


def robust_variance(values: np.ndarray) -> float:
    """``(1.4826 * MAD)**2``: the variance of Gaussian values, little moved by outliers
    (edges, spots)."""
    return float((_MAD_TO_SIGMA * np.median(np.abs(values - np.median(values)))) ** 2)


def fit_binned(
    level: np.ndarray, residual: np.ndarray, variance=robust_variance, bins: int = BINS
) -> NoiseLevel:
    """Fit ``variance = a * x + b``: the values sorted by ``level`` into up to ``bins`` bins of
    equal count (about 50 values at least), each bin's ``variance(residual)`` against its mean
    level, a weighted least-squares line with a, b >= 0.

    Parameters
    ----------
    level, residual : ndarray
        One value each per pixel: the signal level there and a sample of the noise.
    variance : callable, optional
        A bin's noise variance from its residuals (default :func:`robust_variance`).
    bins : int, optional

    Returns
    -------
    NoiseLevel
    """
    order = np.argsort(level, kind="stable")
    groups = [g for g in np.array_split(order, min(bins, max(1, len(order) // 50))) if len(g)]
    mean_level = np.array([level[g].mean() for g in groups])
    variances = np.array([variance(residual[g]) for g in groups])
    return _fit_line(mean_level, variances, np.array([len(g) for g in groups], dtype=float))


def _fit_line(level: np.ndarray, variance: np.ndarray, weight: np.ndarray) -> NoiseLevel:
    """Least-squares ``variance = a * level + b`` with a, b >= 0 (a constant when the levels
    do not spread)."""
    if np.ptp(level) <= 1e-12 or len(level) < 2:
        return NoiseLevel(0.0, float(max(np.average(variance, weights=weight), 0.0)))
    design = np.column_stack([level, np.ones_like(level)]) * np.sqrt(weight)[:, None]
    (a, b), *_ = np.linalg.lstsq(design, variance * np.sqrt(weight), rcond=None)
    if a < 0:  # noise that does not grow with the signal: read noise alone
        return NoiseLevel(0.0, float(max(np.average(variance, weights=weight), 0.0)))
    if b < 0:  # shot noise alone: refit through the origin
        a = float(np.sum(weight * level * variance) / np.sum(weight * level * level))
        return NoiseLevel(max(a, 0.0), 0.0)
    return NoiseLevel(float(a), float(b))


def describe(levels) -> list[dict] | None:
    """Noise levels (one per channel) as plain numbers for metadata: ``[{"a": ..., "b": ...}]``."""
    return None if levels is None else [{"a": round(lv.a, 8), "b": round(lv.b, 8)} for lv in levels]


def condition(batch: np.ndarray, level: NoiseLevel, strength: float = 1.0) -> np.ndarray:
    """``batch`` (N, C, H, W) with the noise maps appended as constant channels (N, C + 2, H, W)."""
    n, _, h, w = batch.shape
    maps = np.broadcast_to(level.maps(strength)[None, :, None, None], (n, MAPS, h, w))
    return np.concatenate([batch, maps.astype(batch.dtype)], axis=1)
