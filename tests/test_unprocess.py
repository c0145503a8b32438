"""The camera-like dark photo synthesis (unprocessing) and its calibration, on small images
(no data folder needed)."""

from dataclasses import replace

import numpy as np
import pytest
from skimage import data

from napari_lowlight.colour import linear_to_srgb
from napari_lowlight.training import calibration, unprocess


@pytest.fixture(scope="module")
def clean():
    return (data.astronaut()[100:196, 150:278] / 255.0).astype(np.float32)  # (96, 128, 3)


def ideal_camera(rng, **changes):
    """A drawn camera made exact: no noise, right white balance, no tone curve, denoising or JPEG."""
    camera = unprocess.draw_camera(rng)
    fields = {"exposure": 1.0, "shot": 0.0, "read": 0.0, "white_balance_estimate": camera.white_balance,
              "blur": 0.0, "sharpen": 0.0, "jpeg_quality": 0}
    return replace(camera, **{**fields, **changes})


def test_same_seed_same_photo_other_seed_another(clean):
    a = unprocess.dark_photo(clean, np.random.default_rng(3))
    b = unprocess.dark_photo(clean, np.random.default_rng(3))
    c = unprocess.dark_photo(clean, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("seed", range(4))
def test_dark_photo_is_float32_rgb_8bit_in_unit_range(clean, seed):
    dark = unprocess.dark_photo(clean, np.random.default_rng(seed))
    assert dark.shape == clean.shape and dark.dtype == np.float32
    assert dark.min() >= 0.0 and dark.max() <= 1.0
    np.testing.assert_allclose(dark * 255, np.round(dark * 255), atol=1e-3)  # k / 255
    assert dark.mean() < clean.mean()


def test_non_rgb_input_raises(clean):
    with pytest.raises(ValueError, match=r"RGB image \(H, W, 3\)"):
        unprocess.dark_photo(clean[..., 0], np.random.default_rng(0))
    with pytest.raises(ValueError, match="RGB image"):
        unprocess.dark_photo(np.zeros((8, 8, 4), np.float32), np.random.default_rng(0))
    with pytest.raises(ValueError, match="RGB image"):
        calibration.measure(clean[..., 0])


@pytest.mark.parametrize("shape", [(8, 10), (7, 9)])
def test_mosaic_demosaic_round_trip_on_a_constant_colour(shape):
    colour = np.array([0.2, 0.5, 0.7], np.float32)
    image = np.broadcast_to(colour, (*shape, 3)).copy()
    raw = unprocess.mosaic(image)
    assert raw.shape == shape
    assert raw[0, 0] == colour[0] and raw[0, 1] == colour[1] and raw[1, 0] == colour[1]
    assert raw[1, 1] == colour[2]  # RGGB
    np.testing.assert_allclose(unprocess.demosaic(raw), image, atol=1e-6)  # borders included


def test_inverse_smoothstep_inverts_smoothstep():
    x = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(unprocess.inverse_smoothstep(unprocess.smoothstep(x)), x, atol=1e-6)
    np.testing.assert_allclose(unprocess.smoothstep(unprocess.inverse_smoothstep(x)), x, atol=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_colour_matrix_keeps_white_white(seed):
    camera = unprocess.draw_camera(np.random.default_rng(seed))
    np.testing.assert_allclose(camera.rgb_to_camera @ np.ones(3), np.ones(3), atol=1e-12)
    np.testing.assert_allclose(np.linalg.inv(camera.rgb_to_camera) @ np.ones(3), np.ones(3), atol=1e-9)


@pytest.mark.parametrize("s_curve", [False, True])
def test_an_exact_camera_gives_the_clean_colour_back(s_curve):
    image = np.broadcast_to(np.array([0.3, 0.55, 0.8], np.float32), (8, 8, 3)).copy()
    camera = ideal_camera(np.random.default_rng(1), s_curve=s_curve)
    out = unprocess.dark_photo(image, np.random.default_rng(0), camera=camera)
    np.testing.assert_allclose(out, image, atol=0.6 / 255)  # 8-bit rounding alone


def test_darker_exposure_gives_a_darker_photo(clean):
    camera = unprocess.draw_camera(np.random.default_rng(2))
    means = [unprocess.dark_photo(clean, np.random.default_rng(0), camera=replace(camera, exposure=k)).mean()
             for k in (0.01, 0.04, 0.16)]
    assert means[0] < means[1] < means[2]


def test_measure_recovers_a_known_noise_level():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:160, 0:160] / 160.0
    linear = 0.02 + 0.15 * x + 0.05 * np.sin(3 * y)  # smooth: the residual cancels it
    linear = np.stack([linear, 0.8 * linear, 1.1 * linear], axis=-1)
    a, b = 1e-3, 2e-5  # variance a * x + b
    noisy = linear + rng.normal(size=linear.shape) * np.sqrt(a * linear + b)
    brightness, relative_noise = calibration.measure(linear_to_srgb(noisy))  # float: no quantisation
    assert brightness == pytest.approx(noisy.mean(), rel=1e-3)
    truth = np.sqrt(a * brightness + b) / brightness
    assert relative_noise == pytest.approx(truth, rel=0.15)


def test_measure_all_gives_one_row_per_photo(clean):
    rows = calibration.measure_all([clean, clean[:64, :64]])
    assert rows.shape == (2, 2) and rows.dtype == np.float64
    assert calibration.measure_all([]).shape == (0, 2)


def test_scale_keeps_the_log_width():
    moved = calibration.scale((0.01, 0.08), 3.0)
    assert moved[1] / moved[0] == pytest.approx(8.0)
    assert calibration.centre(moved) == pytest.approx(3.0 * calibration.centre((0.01, 0.08)))


@pytest.fixture(scope="module")
def small_photos():
    photos = [(img[:80, :80] / 255.0).astype(np.float32) for img in
              (data.astronaut(), data.coffee(), data.chelsea(), data.rocket()[100:, 200:])]
    return photos + [np.ascontiguousarray(p[::-1, ::-1]) for p in photos]


def moved(exposure, shot):
    base = unprocess.DEFAULT_RANGES
    return replace(base, exposure=calibration.scale(base.exposure, exposure),
                   shot=calibration.scale(base.shot, shot))


def test_fit_ranges_recovers_the_ranges_that_made_the_photos(small_photos):
    # The "real" photos are synthesised under known ranges; fitting from the shipped ones, with the
    # same photos and seed, must find those ranges' centres again.
    base, truth = unprocess.DEFAULT_RANGES, moved(2.5, 0.4)
    real = calibration.synthetic_measures(small_photos, 7, truth)
    fitted = calibration.fit_ranges(real, small_photos, 7, base, iterations=5)
    for name in ("exposure", "shot"):
        assert calibration.centre(getattr(fitted, name)) == pytest.approx(
            calibration.centre(getattr(truth, name)), rel=0.1), name
        width = getattr(fitted, name)[1] / getattr(fitted, name)[0]
        assert width == pytest.approx(getattr(base, name)[1] / getattr(base, name)[0])
    assert replace(fitted, exposure=base.exposure, shot=base.shot) == base  # nothing else moved


def test_fit_ranges_matches_the_medians_where_read_noise_dominates(small_photos):
    # Darker and noisier than the shipped ranges: read noise and clipping at black make the
    # brightness follow the exposure less than linearly, and the laws' first move falls short.
    real = calibration.synthetic_measures(small_photos, 2, moved(0.5, 3.0))
    fitted = calibration.fit_ranges(real, small_photos, 2, iterations=5)
    got = calibration.medians(calibration.synthetic_measures(small_photos, 2, fitted))
    np.testing.assert_allclose(got, calibration.medians(real), rtol=0.1)


def test_fit_ranges_rejects_real_measures_without_a_level():
    with pytest.raises(ValueError, match="positive"):
        calibration.fit_ranges(np.zeros((3, 2)), [], 0)


def test_colour_cast_reads_a_known_white_balance_shift(clean):
    # Scaling the low's linear red by e^0.3 and its blue by e^-0.2 is a cast of (+0.3, -0.2).
    linear = np.stack([np.full((8, 8), v, np.float32) for v in (0.1, 0.2, 0.3)], axis=-1)
    shifted = linear * np.exp(np.array([0.3, 0.0, -0.2], np.float32))
    cast = calibration.colour_cast(linear_to_srgb(shifted), linear_to_srgb(linear))
    np.testing.assert_allclose(cast, [0.3, -0.2], atol=1e-3)
    np.testing.assert_allclose(calibration.colour_cast(clean, clean), [0.0, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="above black"):
        calibration.colour_cast(np.zeros((4, 4, 3), np.float32), clean[:4, :4])


def test_a_white_balance_bias_casts_the_synthetic_photos(small_photos):
    neutral = calibration.synthetic_casts(small_photos, 5).mean(axis=0)
    biased = replace(unprocess.DEFAULT_RANGES, white_balance_bias=(-0.3, 0.2))
    shift = calibration.synthetic_casts(small_photos, 5, biased).mean(axis=0) - neutral
    assert shift[0] < -0.15 and shift[1] > 0.1  # in the direction asked, bent by the tone curves


def test_fit_white_balance_recovers_the_bias_that_made_the_casts(small_photos):
    # "Real" casts synthesised under a known bias and no error spread; the fit, from the shipped
    # ranges with the same photos and seed, finds that bias and no error beyond the synthesis's own.
    truth = replace(unprocess.DEFAULT_RANGES, white_balance_bias=(-0.25, 0.15), white_balance_error=0.0)
    real = calibration.synthetic_casts(small_photos, 3, truth)
    fitted = calibration.fit_white_balance(real, small_photos, 3, iterations=5)
    np.testing.assert_allclose(fitted.white_balance_bias, truth.white_balance_bias, atol=0.03)
    assert fitted.white_balance_error == 0.0
    shipped = replace(fitted, white_balance_bias=(0.0, 0.0), white_balance_error=0.05)
    assert shipped == unprocess.DEFAULT_RANGES  # nothing else moved


def test_fit_white_balance_gives_the_spread_the_synthesis_lacks(small_photos):
    # Real casts that spread by 0.5 more than the synthesis: the fitted error makes up the rest.
    rng = np.random.default_rng(0)
    exact = replace(unprocess.DEFAULT_RANGES, white_balance_error=0.0)
    own = calibration.synthetic_casts(small_photos, 3, exact)
    real = own + rng.normal(0.0, 0.5, own.shape)
    fitted = calibration.fit_white_balance(real, small_photos, 3)
    expected = np.sqrt(calibration.cast_spread(real) ** 2 - calibration.cast_spread(own) ** 2)
    assert fitted.white_balance_error == pytest.approx(expected)
    assert 0.3 < fitted.white_balance_error < 0.7
