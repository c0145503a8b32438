"""Training and validation pairs (noisy input, clean target), normalised the
way the engine normalises images at inference.

``fluo``: real W2S pairs (``DIR/w2s-train/{low,high}/NNN_C.tif``; fields
001-070 train, 071-080 validation) mixed with synthetic Poisson-Gaussian
noise on the clean (400-frame average) images of the training fields.

``fluo-nl``: noise-aware fluorescence (FMD confocal, W2S and synthetic noise, with
two noise maps beside the image): see :mod:`.fluo_data`.

``photo``: clean photos (``DIR/natural/CBSD68``, ``DIR/natural/Train400`` as
grey-as-RGB, and colour images that ship with scikit-image) darkened by the
physical low-light model or LLCNN's gamma protocol (70% and 30% unless the
config's ``physical_fraction`` says otherwise); Kodak24 is the validation set.

``photo-real``: real LOL pairs (:mod:`.lol`, training ids; ``real_fraction`` of
the patches) mixed with camera-like dark photos synthesised from clean ones
(:mod:`.unprocess`; CBSD432 and scikit-image's photos). Validation: LOL's
validation ids and Kodak24 through the same synthesis.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import numpy as np
from skimage import io

from .. import normalize, tone_head
from ..colour import linear_to_srgb, srgb_to_linear
from . import degrade, fluo_data, lol, unprocess

FLUO_VAL_FIELDS = range(71, 81)
_SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "retina", "immunohistochemistry")


def _percentile(img: np.ndarray) -> np.ndarray:
    return normalize.normalize(img[..., None], "percentile")[..., 0]


def _field(path: Path) -> int:
    return int(path.stem.split("_")[0])


def load_w2s(root: Path, validation: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Normalised (low, high) lists of the train or validation fields."""
    lows = sorted((Path(root) / "w2s-train" / "low").glob("*.tif"))
    if not lows:
        raise FileNotFoundError(f"No W2S pairs under {root}/w2s-train/low.")
    keep = [p for p in lows if (_field(p) in FLUO_VAL_FIELDS) == validation]
    low = [_percentile(io.imread(p)) for p in keep]
    high = [_percentile(io.imread(p.parent.parent / "high" / p.name)) for p in keep]
    return low, high


PHOTO_SETS = ("CBSD68", "Train400", "skimage")
_PHOTO_FOLDERS = {"CBSD68": "*.png", "Train400": "*.png", "CBSD432": "*.jpg"}


def load_photos(root: Path, validation: bool, sets: tuple[str, ...] = PHOTO_SETS) -> list[np.ndarray]:
    """Clean RGB photos in [0, 1]: Kodak24 for validation; for training the
    chosen ``sets`` (Train400 is grey, repeated to RGB)."""
    root = Path(root) / "natural"
    if validation:
        paths = sorted((root / "Kodak24").glob("*.png"))
        return [_rgb(io.imread(p)) for p in paths]
    images = []
    for folder, pattern in _PHOTO_FOLDERS.items():
        if folder in sets:
            images += [_rgb(io.imread(p)) for p in sorted((root / folder).glob(pattern))]
    if not images:  # the data folder is wrong: don't train on scikit-image's six photos alone
        raise FileNotFoundError(f"No training photos under {root}.")
    from skimage import data

    return images + [_rgb(getattr(data, name)()) for name in _SKIMAGE_PHOTOS if "skimage" in sets]


def _rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, dtype=np.float32) / (255.0 if img.dtype == np.uint8 else 1.0)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    return img[..., :3]


def _crop(rng: np.random.Generator, size: int, *arrays: np.ndarray) -> list[np.ndarray]:
    h, w = arrays[0].shape[:2]
    y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
    return [a[y : y + size, x : x + size] for a in arrays]


def _augment(rng: np.random.Generator, *arrays: np.ndarray) -> list[np.ndarray]:
    k, flip = int(rng.integers(4)), bool(rng.integers(2))
    out = [np.rot90(a, k) for a in arrays]
    return [np.ascontiguousarray(a[:, ::-1] if flip else a) for a in out]


class PairSampler:
    """Random (input, target) patches, channels first: (C, patch, patch).

    Degradation happens on a context crop twice the patch size and the input
    is normalised on that crop, as the engine normalises a whole image.
    """

    def __init__(
        self,
        domain: str,
        root: Path,
        patch: int,
        synthetic_fraction: float = 0.5,
        photo_sets=PHOTO_SETS,
        photo_normalization: str = "exposure",
        physical_fraction: float = 0.7,
        exposure: tuple[float, float] = (0.02, 0.2),
        gamma: tuple[float, float] = (2.0, 5.0),
        undarkened: float = 0.0,
        fluo_mix: dict | None = None,
        real_fraction: float = 0.0,
        synthesis_mix: dict | None = None,
        lol_exposure_jitter: tuple[float, float] = (1.0, 1.0),
        unprocess_ranges: dict | None = None,
    ):
        self.domain, self.patch, self.synthetic = domain, patch, synthetic_fraction
        self.photo_normalization = photo_normalization
        self.physical = physical_fraction
        self.exposure, self.gamma = exposure, gamma  # ranges of the two darkenings
        self.undarkened = undarkened
        self.noise_aware = None
        if domain == "fluo-nl":  # noise-aware: inputs carry the two noise maps (fluo_data)
            self.noise_aware = fluo_data.FluoNoiseSampler(root, patch, fluo_mix)
        elif domain == "fluo":
            self.low, self.high = load_w2s(root, validation=False)
        elif domain in ("photo", "photo-real"):
            photos = load_photos(root, validation=False, sets=tuple(photo_sets))
            self.clean = [im for im in photos if min(im.shape[:2]) >= patch]
            self.real_fraction = real_fraction if domain == "photo-real" else 0.0
            unknown = set(synthesis_mix or {}) - {"unprocess", "physical", "gamma"}
            if unknown:
                raise ValueError(f"synthesis_mix names {sorted(unknown)}; use unprocess, physical or gamma.")
            self.synthesis_mix = dict(synthesis_mix or {})
            self.lol_exposure_jitter = tuple(lol_exposure_jitter)
            self.ranges = camera_ranges(unprocess_ranges)
            if self.real_fraction:
                # The head reads the whole low image, as the engine does: its inputs once per pair,
                # unless every draw re-exposes the low (then they are read per draw).
                cache = self.lol_exposure_jitter == (1.0, 1.0)
                self.lol = [(p.low, p.high, tone_head.features(p.low) if cache else None)
                            for p in lol.load(root, "train")]
        else:
            raise ValueError(f"Unknown domain {domain!r}; use 'fluo', 'fluo-nl', 'photo' or 'photo-real'.")

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if self.noise_aware is not None:
            return self.noise_aware.sample(rng)
        context = 2 * self.patch
        if self.domain == "fluo":
            i = int(rng.integers(len(self.high)))
            context = min(context, *self.high[i].shape)
            if rng.random() < self.synthetic:
                (clean,) = _crop(rng, context, self.high[i])
                noisy = _percentile(degrade.fluorescence(clean, rng))
            else:
                noisy, clean = _crop(rng, context, self.low[i], self.high[i])
            noisy, clean = noisy[..., None], clean[..., None]
        elif self.domain == "photo-real":
            return self._camera_sample(rng)
        else:
            clean = self._clean_context(rng)
            # Drawn only when asked for, so configs without it keep their random streams.
            if self.undarkened and rng.random() < self.undarkened:
                dark = degrade.low_light_photo(clean, rng, exposure=(1.0, 1.0))
            else:
                dark = self._darken("physical" if rng.random() < self.physical else "gamma", clean, rng)
            if self.photo_normalization == "learned-tone":
                return _head_pair(rng, self.patch, dark, clean)
            noisy = normalize.normalize(dark, self.photo_normalization)
        noisy, clean = _augment(rng, *_crop(rng, self.patch, noisy, clean))
        return _channels_first(noisy, clean)

    def _camera_sample(self, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """A real LOL patch or a synthesised camera photo's, with the tone head's inputs
        ("learned-tone" only: the dark patch goes in as it is)."""
        if self.real_fraction and rng.random() < self.real_fraction:
            low, high, head_inputs = self.lol[int(rng.integers(len(self.lol)))]
            if head_inputs is None:
                # Another exposure of the same scene, same reference: 73 pairs are few enough for
                # the head to learn each one's reference brightness from its input brightness.
                low = reexpose(low, degrade.log_uniform(rng, *self.lol_exposure_jitter))
                head_inputs = tone_head.features(low)
            noisy, clean = _augment(rng, *_crop(rng, self.patch, low, high))
            return _channels_first(noisy, clean) + head_inputs
        clean = self._clean_context(rng)
        return _head_pair(rng, self.patch, self._darken(self._darkening(rng), clean, rng), clean)

    def _clean_context(self, rng: np.random.Generator) -> np.ndarray:
        """A random context crop (twice the patch, or the whole photo if smaller) of a clean photo."""
        image = self.clean[int(rng.integers(len(self.clean)))]
        (clean,) = _crop(rng, min(2 * self.patch, *image.shape[:2]), image)
        return clean

    def _darken(self, darkening: str, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``clean`` darkened by "physical", "gamma" (the configured ranges) or "unprocess"."""
        if darkening == "physical":
            return degrade.low_light_photo(clean, rng, exposure=self.exposure)
        if darkening == "gamma":
            return degrade.gamma_photo(clean, rng, gamma=self.gamma)
        # A few photos at nearly full exposure teach the head to leave well-exposed photos alone.
        undarkened = self.undarkened and rng.random() < self.undarkened
        return unprocess.dark_photo(
            clean, rng, replace(self.ranges, exposure=UNDARKENED_EXPOSURE) if undarkened else self.ranges)

    def _darkening(self, rng: np.random.Generator) -> str:
        """"unprocess", "physical" or "gamma", drawn by ``synthesis_mix`` (no draw without one)."""
        if not self.synthesis_mix:
            return "unprocess"
        names = sorted(self.synthesis_mix)
        shares = np.array([self.synthesis_mix[n] for n in names], dtype=float)
        return names[int(rng.choice(len(names), p=shares / shares.sum()))]

    def batch(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, ...]:
        """(inputs, targets), then the tone head's inputs for "learned-tone", each stacked."""
        samples = [self.sample(rng) for _ in range(size)]
        return tuple(np.stack(parts) for parts in zip(*samples, strict=False))


UNDARKENED_EXPOSURE = (0.5, 1.0)  # the camera synthesis's exposures for the nearly full ones


def camera_ranges(overrides: dict | None) -> unprocess.Ranges:
    """The camera synthesis's ranges: the shipped ones with a config's ``unprocess_ranges`` in place."""
    overrides = dict(overrides or {})
    known = {f.name for f in fields(unprocess.Ranges)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unprocess_ranges names {unknown}; known: {', '.join(sorted(known))}.")
    # TOML gives lists where the ranges hold tuples.
    return replace(unprocess.DEFAULT_RANGES, **{
        k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})


def _head_pair(rng: np.random.Generator, patch: int, dark: np.ndarray, clean: np.ndarray) -> tuple:
    """A "learned-tone" pair: the dark patch as it is (the curve is the tone head's, learned in
    the training step) and the clean one, then the head's inputs read from the whole dark crop.
    The head reads noise levels, so the dark photo is stored in 8 bits as a user's photo (and the
    benchmark's input) would be: the gamma protocol's floats are rounded; the other darkenings
    already lie on that grid and stay as they are."""
    dark = np.round(dark * 255) / 255
    noisy, clean = _augment(rng, *_crop(rng, patch, dark, clean))
    return _channels_first(noisy, clean) + tone_head.features(dark)


def reexpose(srgb: np.ndarray, factor: float) -> np.ndarray:
    """An 8-bit sRGB photo as if exposed ``factor`` times longer (in linear light, clipped, 8 bits again)."""
    linear = np.clip(srgb_to_linear(srgb) * factor, 0.0, 1.0)
    return (np.round(linear_to_srgb(linear) * 255) / 255).astype(np.float32)


def _channels_first(*images: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(a.transpose(2, 0, 1).copy() for a in images)


def validation_pairs(
    domain: str, root: Path, size: int = 256, seed: int = 1234, photo_normalization: str = "exposure"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fixed validation pairs (input, target), channels first, centre crops of
    ``size`` from whole images degraded and normalised like at inference
    (photos with ``photo_normalization``, the model's mode)."""
    if domain == "fluo-nl":
        return fluo_data.validation_pairs(root)  # 160 px crops: 38 of them
    rng = np.random.default_rng(seed)
    pairs = []
    if domain == "photo-real":
        # The whole image's head inputs, as the engine reads them.
        pairs += [(p.low, p.high, *tone_head.features(p.low)) for p in lol.load(root, "validation")]
        for clean in load_photos(root, validation=True):
            dark = unprocess.dark_photo(clean, rng)
            pairs.append((dark, clean, *tone_head.features(dark)))
    elif domain == "fluo":
        for low, high in zip(*load_w2s(root, validation=True), strict=False):
            pairs.append((low[..., None], high[..., None]))
    else:
        for clean in load_photos(root, validation=True):
            dark = degrade.low_light_photo(clean, rng)
            if photo_normalization == "learned-tone":
                # The whole image's head inputs, as the engine reads them.
                pairs.append((dark, clean, *tone_head.features(dark)))
            else:
                pairs.append((normalize.normalize(dark, photo_normalization), clean))
    return [
        _channels_first(centre_crop(noisy, size), centre_crop(clean, size)) + tuple(head_inputs)
        for noisy, clean, *head_inputs in pairs
    ]


def centre_crop(a: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` (at most the image) of ``a``; 0: all of it."""
    if not size:
        return a
    h, w = a.shape[:2]
    s = min(size, h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return a[y : y + s, x : x + s]
