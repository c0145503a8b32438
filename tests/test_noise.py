"""The noise estimator on known Poisson-Gaussian levels, and noise-aware networks in the engine."""

import numpy as np
import pytest
import torch
from skimage import data, filters

from napari_lowlight import EnhanceJob, enhance, enhance_regions, models, noise


def _clean(name):
    """A clean image in [0, 1]: "blobs" is synthetic (smoothed blobs, truly noise-free); the
    others ship with scikit-image."""
    if name == "blobs":
        image = filters.gaussian(data.binary_blobs(384, blob_size_fraction=0.05, rng=0).astype(float), 2.0)
    else:
        image = getattr(data, name)().astype(np.float64)
    return (image - image.min()) / np.ptp(image)


def _noisy(clean, a, b, rng):
    shot = rng.poisson(clean / a) * a if a > 0 else clean
    return shot + rng.normal(0.0, np.sqrt(b), clean.shape)


@pytest.mark.parametrize("name", ["blobs", "cell"])  # fluorescence-like: smooth shapes on a dark ground
@pytest.mark.parametrize(
    "a, b", [(0.05, 0.002), (0.01, 0.0004), (0.002, 0.0), (0.0, 0.001), (0.0005, 0.00005)]
)
def test_the_estimate_recovers_known_noise_levels(name, a, b):
    rng = np.random.default_rng(0)
    level = noise.estimate(_noisy(_clean(name), a, b, rng))
    for x in (0.2, 0.5, 0.8):
        true = np.sqrt(a * x + b)
        assert level.sigma(x) == pytest.approx(true, rel=0.15), (x, level)


def test_the_estimate_orders_levels_and_sees_a_clean_image_as_nearly_clean():
    rng = np.random.default_rng(1)
    clean = _clean("blobs")
    sigmas = [float(noise.estimate(_noisy(clean, a, a / 20, rng)).sigma(0.5)) for a in (0.04, 0.01, 0.0025)]
    assert sigmas[0] > sigmas[1] > sigmas[2]
    assert noise.estimate(clean).sigma(0.5) < 0.01


def test_averaging_frames_divides_the_estimated_variance():
    # What the FMD data set does: averaging n frames divides both a and b by n.
    rng = np.random.default_rng(2)
    clean = _clean("cell")
    frames = [_noisy(clean, 0.02, 0.001, rng) for _ in range(4)]
    one, four = noise.estimate(frames[0]), noise.estimate(np.mean(frames, axis=0))
    assert four.sigma(0.5) ** 2 == pytest.approx(one.sigma(0.5) ** 2 / 4, rel=0.2)


def test_a_stack_shares_one_estimate_and_the_sample_is_bounded():
    rng = np.random.default_rng(3)
    stack = np.stack([_noisy(_clean("blobs"), 0.01, 0.0004, rng) for _ in range(3)])
    whole = noise.estimate(stack)
    sampled = noise.estimate(stack, max_pixels=64 * 64 * 12)
    assert sampled.sigma(0.5) == pytest.approx(whole.sigma(0.5), rel=0.1)
    assert noise.estimate(np.zeros((2, 2))) == noise.NoiseLevel(0.0, 0.0)


def test_maps_are_the_two_parameters_times_strength():
    level = noise.NoiseLevel(a=0.04, b=0.0009)
    np.testing.assert_allclose(level.maps(), [0.03, 0.2], rtol=1e-6)
    np.testing.assert_allclose(level.maps(2.0), [0.06, 0.4], rtol=1e-6)
    batch = noise.condition(np.zeros((2, 1, 5, 7), np.float32), level, 0.5)
    assert batch.shape == (2, 3, 5, 7) and batch.dtype == np.float32
    np.testing.assert_allclose(batch[:, 1:, 2, 3], [[0.015, 0.1]] * 2, rtol=1e-6)


@pytest.fixture(scope="module")
def aware_net():
    torch.manual_seed(0)
    return models.build("llunet3-nl", 1, 1)


def test_a_noise_aware_network_is_tile_exact_and_roi_exact(aware_net):
    rng = np.random.default_rng(4)
    image = (rng.poisson(_clean("blobs")[:150, :170] * 40)).astype(np.uint16)
    whole = enhance(image, model=aware_net)
    np.testing.assert_allclose(enhance(image, model=aware_net, tile_size=48), whole, atol=1e-5)
    # An ROI gets the whole image's noise level, so it equals the same region of the whole result.
    (crop,) = enhance_regions(image, [np.s_[40:100, 50:120]], model=aware_net)
    np.testing.assert_allclose(crop, whole[40:100, 50:120], atol=1e-5)


def test_strength_reaches_the_network_and_is_checked(aware_net):
    rng = np.random.default_rng(5)
    image = rng.poisson(_clean("cell")[:96, :96] * 30).astype(np.uint16)
    job = EnhanceJob(image, model=aware_net, strength=2.0)
    stronger = job.run()
    assert job.noise_levels is not None and job.strength == 2.0
    assert not np.allclose(stronger, enhance(image, model=aware_net))
    with pytest.raises(ValueError, match="strength must be a positive number"):
        enhance(image, model=aware_net, strength=0)


def test_each_channel_gets_its_own_noise_level(aware_net):
    rng = np.random.default_rng(6)
    clean = _clean("blobs")[:80, :80]
    image = np.stack([_noisy(clean, 0.05, 0.001, rng), _noisy(clean, 0.001, 0.0, rng)])
    job = EnhanceJob(image.astype(np.float32), model=aware_net, channel_axis=0)
    job.run()
    noisy, mild = job.noise_levels
    assert noisy.sigma(0.5) > 2 * mild.sigma(0.5)


def test_strength_smooths_more_as_it_grows_with_the_shipped_fluo():
    # The shipped fluo was trained on exact noise levels so that it trusts the maps
    # (docs/results/strength.md): lower strength keeps more texture, higher smooths more.
    rng = np.random.default_rng(7)
    noisy = rng.poisson(_clean("cell") * 20 + 1).astype(np.float32)

    def total_variation(image):
        return np.abs(np.diff(image, axis=0)).mean() + np.abs(np.diff(image, axis=1)).mean()

    variation = [total_variation(enhance(noisy, model="fluo", strength=s)) for s in (0.5, 1.0, 2.0)]
    assert variation[0] > variation[1] > variation[2], variation
