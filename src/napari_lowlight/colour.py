"""The sRGB transfer function (IEC 61966-2-1), for numpy arrays and torch tensors.

Photo normalisations work in linear light: decode sRGB, change the exposure
and tone there, encode again. The numpy pair serves inference and data
synthesis; the torch pair lets training differentiate through the tone curve.
Both pairs compute the same formulas, so a curve learned in torch is the
curve applied in numpy.
"""

from __future__ import annotations

import numpy as np

# Below these the curve is linear (slope 12.92); above, a 2.4 power law.
_SRGB_KNEE = 0.04045
_LINEAR_KNEE = 0.0031308


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Decode sRGB values to linear light; values above 1 follow the power law.

    Parameters
    ----------
    x : array_like
        sRGB values, nominally in [0, 1].

    Returns
    -------
    ndarray of float32
    """
    x = np.asarray(x, dtype=np.float32)
    return np.where(x <= _SRGB_KNEE, x / 12.92, ((np.maximum(x, _SRGB_KNEE) + 0.055) / 1.055) ** 2.4).astype(
        np.float32
    )


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Encode linear light as sRGB; the inverse of :func:`srgb_to_linear`.

    Parameters
    ----------
    x : array_like
        Linear-light values, nominally in [0, 1].

    Returns
    -------
    ndarray of float32
    """
    x = np.asarray(x, dtype=np.float32)
    return np.where(
        x <= _LINEAR_KNEE, 12.92 * x, 1.055 * np.maximum(x, _LINEAR_KNEE) ** (1 / 2.4) - 0.055
    ).astype(np.float32)


def srgb_to_linear_torch(x):
    """:func:`srgb_to_linear` for a torch tensor, clipped to [0, 1] first; differentiable."""
    import torch

    x = x.clamp(0.0, 1.0)
    return torch.where(x <= _SRGB_KNEE, x / 12.92, ((x.clamp(min=_SRGB_KNEE) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb_torch(x):
    """:func:`linear_to_srgb` for a torch tensor; differentiable."""
    import torch

    return torch.where(x <= _LINEAR_KNEE, 12.92 * x, 1.055 * x.clamp(min=_LINEAR_KNEE) ** (1 / 2.4) - 0.055)
