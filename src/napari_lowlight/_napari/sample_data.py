"""napari sample data: two dark, noisy images made by :mod:`napari_lowlight.training.degrade`.

Both start from images that are installed with scikit-image (read from its
data folder on disk; nothing is downloaded) and are degraded with a fixed
seed, so every user sees the same pixels.

* "Dark noisy nuclei (fluorescence)": the haematoxylin (nuclear stain)
  channel of scikit-image's immunohistochemistry slide, separated by colour
  deconvolution and shown as a nuclear fluorescence stain would be (bright
  nuclei on black), then starved of photons with Poisson-Gaussian noise and
  stored as a 12-bit camera would (uint16).
* "Low-light photo": scikit-image's ``motorcycle_left`` photo (not among
  the photos the shipped networks were trained on) under the physical
  low-light model: an under-exposure, photon shot noise and read noise,
  quantised to 8 bits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..training import degrade

SEED = 2024
_FLUO_SOURCE = "ihc.png"
_PHOTO_SOURCE = "motorcycle_left.png"


def skimage_file(name: str) -> Path:
    """Path of an image installed with scikit-image (never downloaded)."""
    import skimage.data

    path = Path(skimage.data.__file__).parent / name
    if not path.is_file():
        raise FileNotFoundError(f"{name} is not installed with scikit-image here ({path}).")
    return path


def dark_fluorescence() -> np.ndarray:
    """The dark, noisy nuclei image, uint16 (12-bit range), 512 x 512."""
    from skimage import color, io

    rgb = io.imread(skimage_file(_FLUO_SOURCE))[..., :3]
    nuclei = color.rgb2hed(rgb)[..., 0]
    lo, hi = np.percentile(nuclei, [1, 99.8])
    clean = np.clip((nuclei - lo) / (hi - lo), 0, 1).astype(np.float32)
    rng = np.random.default_rng(SEED)
    noisy = degrade.fluorescence(clean, rng, photons=(8.0, 8.0), read_noise=(0.04, 0.04))
    # A camera's offset and gain: 100 counts of bias, 400 counts per unit.
    return np.clip(np.round(100 + 400 * noisy), 0, 4095).astype(np.uint16)


def low_light_photo() -> np.ndarray:
    """The dark, noisy photo, uint8 RGB, 500 x 741."""
    from skimage import io

    rgb = io.imread(skimage_file(_PHOTO_SOURCE))[..., :3].astype(np.float32) / 255.0
    rng = np.random.default_rng(SEED)
    dark = degrade.low_light_photo(rgb, rng, exposure=(0.05, 0.05), full_well=(600.0, 600.0),
                                   read_noise=(0.002, 0.002))
    return np.round(dark * 255).astype(np.uint8)


def fluorescence_sample() -> list[tuple]:
    """napari sample: the dark nuclei image, with a contrast that shows how dark it is."""
    data = dark_fluorescence()
    return [(data, {"name": "dark nuclei (fluorescence)", "colormap": "green",
                    "contrast_limits": (0, 4095)}, "image")]


def photo_sample() -> list[tuple]:
    """napari sample: the low-light photo."""
    return [(low_light_photo(), {"name": "low-light photo", "rgb": True}, "image")]
