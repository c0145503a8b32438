import numpy as np
from skimage import data

from napari_lowlight.training import degrade


def test_srgb_round_trip():
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    np.testing.assert_allclose(degrade.linear_to_srgb(degrade.srgb_to_linear(x)), x, atol=1e-5)


def test_low_light_photo_is_dark_noisy_8bit_and_seeded():
    clean = data.astronaut()[:128, :128] / 255.0
    a = degrade.low_light_photo(clean, np.random.default_rng(3))
    b = degrade.low_light_photo(clean, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.mean() < clean.mean() * 0.8
    np.testing.assert_allclose(a * 255, np.round(a * 255), atol=1e-3)  # quantised to 8 bits


def test_gamma_photo_darkens_with_gamma_between_2_and_5():
    clean = np.full((64, 64), 0.5, np.float32)
    dark = degrade.gamma_photo(clean, np.random.default_rng(0), sigma_max=0.0)
    assert 0.5**5 - 1e-6 <= dark.mean() <= 0.5**2 + 1e-6


def test_fluorescence_noise_is_poisson_gaussian_at_the_drawn_level():
    clean = np.full((256, 256), 0.5, np.float32)
    noisy = degrade.fluorescence(clean, np.random.default_rng(0), photons=(20, 20), read_noise=(0, 0))
    assert abs(noisy.mean() - 0.5) < 0.01
    assert abs(noisy.var() - 0.5 / 20) < 0.003  # Poisson: variance = mean / photons
