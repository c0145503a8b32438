"""Dark camera photos made from clean ones, the way a camera makes them.

The "unprocessing" idea of Brooks et al. (CVPR 2019, "Unprocessing Images for
Learned Raw Denoising"), written for this project: a clean sRGB photo is
walked back through a camera's processing to raw-like linear sensor data,
darkened and given sensor noise there, then processed forward again by a
(randomly drawn) camera, as the real dark frames of LOL were:

1. **Unprocess.** Invert the camera's tone curve (a smoothstep S-curve, for
   half the cameras) and the sRGB encoding; mix the colours by the inverse of
   a colour-correction matrix (sensors see less saturated colours than the
   sRGB primaries); divide by white-balance gains; keep one colour per pixel
   (an RGGB Bayer mosaic).
2. **Expose and add noise.** Scale by the exposure ``k``; add shot noise
   (variance ``shot * x``) and read noise (variance ``read``) to each mosaic
   sample, so each colour-filter site gets its own noise.
3. **Process.** White balance (the camera's own estimate, a little off),
   bilinear demosaicing (which correlates the noise of neighbours), the
   colour-correction matrix (which turns sensor noise into the colour noise of
   a dark photo's shadows), sRGB encoding and the tone curve; then, for some
   cameras, their own mild denoising and sharpening; 8 bits, and JPEG at a
   random quality for most.

The ranges of the exposure and of the noise (:class:`Ranges`) are calibrated
against the real low images of LOL's training ids by
``scripts/fits/fit_unprocess.py`` (:mod:`.calibration`; the figure is
``docs/results/unprocess-calibration.png``).

Every function takes a ``numpy.random.Generator`` and returns float32 in [0, 1],
channels last, so a seed gives the same photo on any machine.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..colour import linear_to_srgb, srgb_to_linear
from .degrade import log_uniform


@dataclass(frozen=True)
class Ranges:
    """Where the random camera's settings are drawn from.

    ``exposure`` and ``shot`` are log-uniform, the rest uniform. ``shot`` is
    the variance of the shot noise per unit of linear raw signal (1/photons
    at full scale), ``read`` ties the read noise to it as Brooks et al.
    found in real sensors: ``log(read) = read_slope * log(shot) +
    read_offset + N(0, read_spread)``.
    """

    # Calibrated on LOL's training lows (scripts/fits/fit_unprocess.py): the medians of their
    # brightness and of their relative noise, measured the same way on both.
    exposure: tuple[float, float] = (0.015, 0.12)
    shot: tuple[float, float] = (4e-4, 8e-3)
    read_slope: float = 2.18
    read_offset: float = 1.2
    read_spread: float = 0.26
    red_gain: tuple[float, float] = (1.9, 2.4)
    blue_gain: tuple[float, float] = (1.5, 1.9)
    white_balance_error: float = 0.05  # sigma of the camera's log-gain error
    # The mean of that error on red and blue (log gains). Default none; recipe E sets it from LOL's
    # training lows (calibration.fit_white_balance: their casts against their references).
    white_balance_bias: tuple[float, float] = (0.0, 0.0)
    desaturation: tuple[float, float] = (0.1, 0.4)  # the sensor's colour mixing
    s_curve: float = 0.5  # share of cameras with a smoothstep tone curve
    camera_denoise: float = 0.4  # share of cameras that blur a little (sigma 0.3-0.8 px)
    sharpen: float = 0.3  # share that sharpen (unsharp mask, amount up to 0.5)
    jpeg: float = 0.8  # share saved as JPEG
    jpeg_quality: tuple[int, int] = (60, 96)


DEFAULT_RANGES = Ranges()


@dataclass(frozen=True)
class Camera:
    """One drawn camera and exposure (see :class:`Ranges` for the units)."""

    exposure: float
    shot: float
    read: float
    white_balance: np.ndarray  # (3,) gains on R, G, B
    white_balance_estimate: np.ndarray  # (3,) what the camera applies back
    rgb_to_camera: np.ndarray  # (3, 3), rows summing to 1
    s_curve: bool
    blur: float  # 0: the camera does not denoise
    sharpen: float  # 0: nor sharpen
    jpeg_quality: int  # 0: saved losslessly


def draw_camera(rng: np.random.Generator, ranges: Ranges = DEFAULT_RANGES) -> Camera:
    """A random camera and exposure."""
    shot = log_uniform(rng, *ranges.shot)
    read = float(np.exp(ranges.read_slope * np.log(shot) + ranges.read_offset
                        + rng.normal(0.0, ranges.read_spread)))
    wb = np.array([rng.uniform(*ranges.red_gain), 1.0, rng.uniform(*ranges.blue_gain)])
    error = np.exp(rng.normal(0.0, ranges.white_balance_error, 3))
    error[1] = 1.0
    error[[0, 2]] *= np.exp(np.asarray(ranges.white_balance_bias, dtype=float))
    s = rng.uniform(*ranges.desaturation)
    mix = (1 - s) * np.eye(3) + s / 3 + rng.uniform(-0.05, 0.05, (3, 3))
    mix /= mix.sum(axis=1, keepdims=True)  # white stays white
    return Camera(
        exposure=log_uniform(rng, *ranges.exposure),
        shot=shot,
        read=read,
        white_balance=wb,
        white_balance_estimate=wb * error,
        rgb_to_camera=mix,
        s_curve=bool(rng.random() < ranges.s_curve),
        blur=float(rng.uniform(0.3, 0.8)) if rng.random() < ranges.camera_denoise else 0.0,
        sharpen=float(rng.uniform(0.1, 0.5)) if rng.random() < ranges.sharpen else 0.0,
        jpeg_quality=int(rng.integers(ranges.jpeg_quality[0], ranges.jpeg_quality[1] + 1))
        if rng.random() < ranges.jpeg else 0,
    )


def smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3 - 2 * x)


def inverse_smoothstep(y: np.ndarray) -> np.ndarray:
    y = np.clip(y, 0.0, 1.0)
    return 0.5 - np.sin(np.arcsin(1.0 - 2.0 * y) / 3.0)


# Which colour each site of the RGGB mosaic keeps: (row phase, column phase) -> channel.
_BAYER = {(0, 0): 0, (0, 1): 1, (1, 0): 1, (1, 1): 2}


def mosaic(rgb: np.ndarray) -> np.ndarray:
    """The (H, W) RGGB Bayer samples of a (H, W, 3) image."""
    out = np.empty(rgb.shape[:2], dtype=rgb.dtype)
    for (dy, dx), c in _BAYER.items():
        out[dy::2, dx::2] = rgb[dy::2, dx::2, c]
    return out


_RB_KERNEL = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32) / 4
_G_KERNEL = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], dtype=np.float32) / 4


def demosaic(raw: np.ndarray) -> np.ndarray:
    """Bilinear demosaicing of RGGB samples (H, W) into (H, W, 3)."""
    out = np.empty((*raw.shape, 3), dtype=raw.dtype)
    for c, kernel in ((0, _RB_KERNEL), (1, _G_KERNEL), (2, _RB_KERNEL)):
        plane = np.zeros_like(raw)
        for (dy, dx), channel in _BAYER.items():
            if channel == c:
                plane[dy::2, dx::2] = raw[dy::2, dx::2]
        out[..., c] = ndimage.convolve(plane, kernel, mode="mirror")
    return out


def unprocess(srgb: np.ndarray, camera: Camera) -> np.ndarray:
    """Raw-like linear Bayer samples (H, W) of a clean sRGB image, at full exposure."""
    x = inverse_smoothstep(srgb) if camera.s_curve else np.clip(srgb, 0.0, 1.0)
    linear = srgb_to_linear(x)
    sensor = linear @ camera.rgb_to_camera.T
    return mosaic(sensor / camera.white_balance)


def expose(raw: np.ndarray, camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """The samples of a ``camera.exposure`` times shorter exposure, with shot and read noise."""
    dark = raw * camera.exposure
    variance = camera.shot * np.clip(dark, 0.0, None) + camera.read
    return (dark + rng.normal(0.0, 1.0, dark.shape) * np.sqrt(variance)).astype(np.float32)


def process(raw: np.ndarray, camera: Camera) -> np.ndarray:
    """The camera's sRGB rendering (H, W, 3) of noisy Bayer samples, 8 bits or JPEG."""
    rgb = demosaic(np.clip(raw, 0.0, 1.0)) * camera.white_balance_estimate
    linear = np.clip(rgb @ np.linalg.inv(camera.rgb_to_camera).T, 0.0, 1.0)
    srgb = linear_to_srgb(linear)
    if camera.s_curve:
        srgb = smoothstep(srgb)
    if camera.blur:
        srgb = ndimage.gaussian_filter(srgb, (camera.blur, camera.blur, 0))
    if camera.sharpen:
        soft = ndimage.gaussian_filter(srgb, (1.0, 1.0, 0))
        srgb = srgb + camera.sharpen * (srgb - soft)
    return encode(np.clip(srgb, 0.0, 1.0), camera.jpeg_quality)


def encode(srgb: np.ndarray, quality: int) -> np.ndarray:
    """``srgb`` stored in 8 bits, through JPEG at ``quality`` when it is not 0."""
    pixels = np.round(srgb * 255).astype(np.uint8)
    if quality:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        pixels = np.asarray(Image.open(buffer).convert("RGB"))
    return pixels.astype(np.float32) / 255


def dark_photo(
    clean: np.ndarray, rng: np.random.Generator, ranges: Ranges = DEFAULT_RANGES, camera: Camera | None = None
) -> np.ndarray:
    """A dark, noisy camera photo of the clean sRGB image ``clean`` (H, W, 3) in [0, 1].

    Parameters
    ----------
    clean : ndarray
        sRGB values in [0, 1], channels last.
    rng : numpy.random.Generator
        Draws the camera (unless given) and the noise.
    ranges : Ranges
        Where the camera is drawn from.
    camera : Camera, optional
        A fixed camera instead of a random one.

    Returns
    -------
    ndarray of float32, same shape, values k/255.
    """
    clean = np.asarray(clean, dtype=np.float32)
    if clean.ndim != 3 or clean.shape[-1] != 3:
        raise ValueError(f"dark_photo takes an RGB image (H, W, 3), got shape {clean.shape}.")
    camera = camera or draw_camera(rng, ranges)
    return process(expose(unprocess(clean, camera), camera, rng), camera)
