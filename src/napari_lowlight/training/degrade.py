"""Synthetic low light and noise, seeded: training data and sample images.

All functions take float images in [0, 1] (channels last for colour) and a
``numpy.random.Generator``, and return float32.

* :func:`low_light_photo`: the physical model of a dark exposure. sRGB is
  decoded to linear light, the exposure reduced by a random factor k, photon
  shot noise (Poisson, k times fewer photons than a full exposure) plus
  Gaussian read noise added, re-encoded to sRGB and quantised to 8 bits.
* :func:`gamma_photo`: LLCNN's own protocol, a random gamma in (2, 5) then
  additive Gaussian noise.
* :func:`fluorescence`: Poisson-Gaussian noise at a random photon level on a
  normalised clean fluorescence image.
"""

from __future__ import annotations

import numpy as np

from ..colour import linear_to_srgb, srgb_to_linear


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A draw uniform in log between ``low`` and ``high``."""
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def low_light_photo(
    clean: np.ndarray,
    rng: np.random.Generator,
    exposure: tuple[float, float] = (0.02, 0.2),
    full_well: tuple[float, float] = (300.0, 3000.0),
    read_noise: tuple[float, float] = (0.0002, 0.002),
) -> np.ndarray:
    """A dark, noisy 8-bit exposure of a clean sRGB image.

    Parameters
    ----------
    clean : ndarray
        sRGB values in [0, 1].
    rng : numpy.random.Generator
    exposure : (float, float)
        Range of the exposure factor k in linear light (log-uniform).
    full_well : (float, float)
        Range (log-uniform) of the photons a white pixel would collect at
        full exposure; the dark frame collects k times fewer, so a white
        pixel sees 6-600 photons with the defaults: shorter exposures are
        noisier, as with a real sensor.
    read_noise : (float, float)
        Range of the Gaussian read-noise sigma in linear units (uniform).

    Returns
    -------
    ndarray of float32, values k/255.
    """
    k = log_uniform(rng, *exposure)
    photons = log_uniform(rng, *full_well) * k  # at a white pixel of the dark frame
    sigma = rng.uniform(*read_noise)
    dark = srgb_to_linear(clean) * k
    noisy = rng.poisson(dark / k * photons) * (k / photons) + rng.normal(0.0, sigma, dark.shape)
    srgb = linear_to_srgb(np.clip(noisy, 0.0, 1.0))
    return (np.round(srgb * 255.0) / 255.0).astype(np.float32)


def gamma_photo(
    clean: np.ndarray,
    rng: np.random.Generator,
    gamma: tuple[float, float] = (2.0, 5.0),
    sigma_max: float = 0.03,
) -> np.ndarray:
    """LLCNN's darkening: ``clean ** gamma`` plus Gaussian noise, clipped."""
    g = rng.uniform(*gamma)
    sigma = rng.uniform(0.0, sigma_max)
    dark = np.asarray(clean, dtype=np.float32) ** g
    return np.clip(dark + rng.normal(0.0, sigma, dark.shape), 0.0, 1.0).astype(np.float32)


def fluorescence(
    clean: np.ndarray,
    rng: np.random.Generator,
    photons: tuple[float, float] = (3.0, 100.0),
    read_noise: tuple[float, float] = (0.0, 0.05),
) -> np.ndarray:
    """Photon-starved version of a normalised fluorescence image.

    ``photons`` is the range (log-uniform) of photon counts at intensity 1;
    Gaussian read noise of a uniform random sigma is added on top. The result
    is in the clean image's units (not re-normalised).
    """
    n = log_uniform(rng, *photons)
    sigma = rng.uniform(*read_noise)
    clean = np.clip(np.asarray(clean, dtype=np.float32), 0.0, None)
    return (rng.poisson(clean * n) / n + rng.normal(0.0, sigma, clean.shape)).astype(np.float32)
