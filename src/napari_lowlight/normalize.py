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
    image is decoded from sRGB, scaled so its mean is ``target_mean`` (0.18,
    photographic mid-grey) and re-encoded. The scale is one number for the
    whole array, so every tile sees the same mapping. The photo network
    refines this global guess locally.
"""

from __future__ import annotations

import numpy as np

from .degrade import linear_to_srgb, srgb_to_linear

DEFAULT_PERCENTILES = (1.0, 99.8)
EXPOSURE_TARGET_MEAN = 0.18
# Cap on the brightening, so a black frame is not amplified to pure noise.
EXPOSURE_MAX_GAIN = 200.0
MODES = ("percentile", "dtype", "exposure")


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


def normalize(
    data: np.ndarray,
    mode: str,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    channel_last: bool = True,
) -> np.ndarray:
    """Normalise ``data`` (channels on the last axis) to float32.

    Parameters
    ----------
    data : ndarray
        Any numeric array, channels last.
    mode : {"percentile", "dtype", "exposure"}
    percentiles : (float, float)
        Low and high percentiles for ``"percentile"`` mode, 0 <= low < high <= 100.

    Returns
    -------
    ndarray of float32, same shape.
    """
    if mode not in MODES:
        raise ValueError(f"Unknown normalization {mode!r}; use one of {', '.join(MODES)}.")
    out = to_float(data)
    if mode in ("dtype", "exposure"):
        lo, hi = dtype_range(data.dtype)
        if (lo, hi) != (0.0, 1.0):
            out -= lo
            out /= hi - lo
        return expose(out) if mode == "exposure" else out
    low, high = percentiles
    if not 0 <= low < high <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}.")
    flat = out.reshape(-1, out.shape[-1]) if channel_last else out.reshape(-1, 1)
    lo, hi = np.percentile(flat, [low, high], axis=0)
    # A flat channel (hi == lo) maps to 0 instead of dividing by zero.
    scale = np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
    out -= lo.astype(np.float32)
    out /= scale
    return out


def expose(srgb: np.ndarray, target_mean: float = EXPOSURE_TARGET_MEAN) -> np.ndarray:
    """Scale an sRGB image in linear light so its mean becomes ``target_mean``."""
    linear = srgb_to_linear(np.clip(srgb, 0.0, 1.0))
    gain = min(target_mean / max(float(linear.mean()), 1e-8), EXPOSURE_MAX_GAIN)
    return linear_to_srgb(linear * gain)
