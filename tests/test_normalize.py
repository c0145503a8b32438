import numpy as np
import pytest
from skimage import data

from napari_lowlight import normalize
from napari_lowlight.training import degrade


@pytest.fixture(scope="module")
def photo():
    return data.astronaut()[:256, 128:384] / 255.0


@pytest.mark.parametrize("k", [0.02, 0.06, 0.2])
def test_auto_exposure_finds_the_exposure_of_a_dark_photo(photo, k):
    dark = degrade.low_light_photo(photo, np.random.default_rng(0), exposure=(k, k))
    gain = normalize.statistics(dark, "auto-exposure").gain
    # Within a factor 2 of the true 1/k (the fit aims at the best-looking
    # gain, which clipping and noise keep a little under 1/k).
    assert 0.5 / k < gain < 2 / k


def test_auto_exposure_leaves_a_well_exposed_photo_about_as_it_is(photo):
    assert 0.7 < normalize.statistics(photo, "auto-exposure").gain < 2.0


def test_auto_exposure_follows_the_exposure(photo):
    """Ten times less light asks for about ten times more gain."""
    rng = np.random.default_rng(3)
    gains = [normalize.statistics(degrade.low_light_photo(photo, rng, exposure=(k, k)), "auto-exposure").gain
             for k in (0.02, 0.2)]
    assert 6 < gains[0] / gains[1] < 15


def test_exposure_features_ignore_a_few_hot_pixels(photo):
    dark = degrade.low_light_photo(photo, np.random.default_rng(2), exposure=(0.05, 0.05))
    hot = dark.copy()
    hot[[10, 100, 200], [20, 90, 250]] = 1.0
    np.testing.assert_allclose(normalize.exposure_features(hot), normalize.exposure_features(dark), atol=0.05)


@pytest.mark.parametrize("mode", ["auto-exposure", "auto-tone"])
def test_automatic_gain_and_tone_are_bounded_on_black_and_white(mode):
    for value in (0.0, 1.0):
        stats = normalize.statistics(np.full((32, 32, 3), value, np.float32), mode)
        assert 1 / normalize.EXPOSURE_MAX_GAIN <= stats.gain <= normalize.EXPOSURE_MAX_GAIN
        assert normalize.TONE_RANGE[0] <= stats.tone <= normalize.TONE_RANGE[1]
        assert np.isfinite(stats.apply(np.full((4, 4, 3), value, np.float32))).all()


@pytest.mark.parametrize("gamma", [3.0, 4.5])
def test_auto_tone_bends_back_a_gamma_darkening(photo, gamma):
    """LLCNN's protocol keeps the highlights: a tone curve undoes it far
    better than any exposure gain."""
    dark = degrade.gamma_photo(photo, np.random.default_rng(0), gamma=(gamma, gamma), sigma_max=0.01)
    tone = normalize.statistics(dark, "auto-tone")
    gain = normalize.statistics(dark, "auto-exposure")
    assert tone.tone < 0.8
    assert np.mean((tone.apply(dark) - photo) ** 2) < 0.5 * np.mean((gain.apply(dark) - photo) ** 2)


@pytest.mark.parametrize("k", [0.02, 0.2])
def test_auto_tone_treats_a_physical_underexposure_as_a_gain(photo, k):
    dark = degrade.low_light_photo(photo, np.random.default_rng(1), exposure=(k, k))
    stats = normalize.statistics(dark, "auto-tone")
    assert stats.tone > 0.9
    # The fit aims at the best-looking gain, which clipped highlights keep under 1/k.
    assert 0.3 / k < stats.gain < 2 / k


def test_auto_tone_maps_every_crop_like_the_whole_image(photo):
    dark = degrade.gamma_photo(photo, np.random.default_rng(2), gamma=(3.0, 3.0))
    stats = normalize.statistics(dark, "auto-tone")
    np.testing.assert_array_equal(stats.apply(dark[40:90, 10:200]), stats.apply(dark)[40:90, 10:200])


def test_unknown_normalization_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown normalization 'bright'.*auto-exposure"):
        normalize.statistics(np.zeros((4, 4, 1)), "bright")
