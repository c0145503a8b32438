"""The fits behind auto-exposure and auto-tone: the helpers and the coefficients file."""

import json

import numpy as np
import pytest

from napari_lowlight import normalize
from napari_lowlight.colour import linear_to_srgb, srgb_to_linear
from napari_lowlight.training import tone_fitting


def test_ridge_fit_recovers_known_coefficients(rng):
    features = rng.normal(size=(300, 3))
    truth = rng.normal(size=normalize.exposure_design(features[:1]).shape[1])
    targets = normalize.exposure_design(features) @ truth
    np.testing.assert_allclose(tone_fitting.ridge_fit(features, targets, ridge=1e-9), truth, atol=1e-6)


def test_the_grid_searches_find_a_known_darkening():
    # Ramps: the 8x8 thumbnails the tone search compares still span the tones.
    y, x = np.mgrid[0:64, 0:64] / 63
    clean = np.stack([0.05 + 0.85 * x, 0.05 + 0.85 * y, 0.05 + 0.4 * (x + y)], axis=-1).astype(np.float32)
    dark = linear_to_srgb(srgb_to_linear(clean) / 8.0)  # an exposure 8 times too short
    assert np.exp(tone_fitting.best_log_gain(dark, clean)) == pytest.approx(8.0, rel=0.05)
    log_gain, tone = tone_fitting.best_tone(dark, clean)
    assert tone == pytest.approx(1.0) and np.exp(log_gain) == pytest.approx(8.0, rel=0.07)
    restored = linear_to_srgb(np.clip(np.exp(log_gain) * srgb_to_linear(dark) ** tone, 0, 1))
    assert np.mean((restored - clean) ** 2) < 0.01 * np.mean((dark - clean) ** 2)

def test_the_fits_file_holds_what_normalize_uses():
    fits = json.loads(normalize.FITS_FILE.read_text())
    assert tuple(fits["auto_exposure"]["log_gain"]) == normalize.AUTO_EXPOSURE
    assert tuple(fits["auto_tone"]["tone"]) == normalize.AUTO_TONE_EXPONENT
    n_terms = normalize.exposure_design(np.zeros((1, 1 + len(normalize.TONE_PERCENTILES)))).shape[1]
    assert len(normalize.AUTO_TONE_LOG_GAIN) == len(normalize.AUTO_TONE_EXPONENT) == n_terms


def test_write_fit_replaces_one_section_and_keeps_the_rest(tmp_path):
    path = tmp_path / "fits.json"
    path.write_text(normalize.FITS_FILE.read_text())
    tone_fitting.write_fit("auto_exposure", {"log_gain": np.array([0.123456789, -2.0])}, path)
    fits = json.loads(path.read_text())
    assert fits["auto_exposure"]["log_gain"] == [0.12346, -2.0]
    assert fits["auto_exposure"]["percentiles"] == list(normalize.EXPOSURE_PERCENTILES)
    assert tuple(fits["auto_tone"]["log_gain"]) == normalize.AUTO_TONE_LOG_GAIN
    assert normalize._load_fits(path) == fits
    with pytest.raises(KeyError, match="no section 'auto_gamma'"):
        tone_fitting.write_fit("auto_gamma", {}, path)
