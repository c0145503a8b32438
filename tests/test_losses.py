import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage import data
from skimage.metrics import structural_similarity

from napari_lowlight.training import losses


@pytest.fixture(scope="module")
def pair():
    clean = data.camera()[100:292, 100:292].astype(np.float32) / 255
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    return clean, noisy


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))[None, None]


def test_loss_of_an_image_with_itself_is_zero(pair):
    clean, _ = pair
    assert losses.MixLoss()(_t(clean), _t(clean)).item() == pytest.approx(0.0, abs=1e-6)


def test_loss_grows_with_noise(pair):
    clean, noisy = pair
    loss = losses.MixLoss()
    mild = np.clip(clean + (noisy - clean) * 0.3, 0, 1)
    assert 0 < loss(_t(mild), _t(clean)).item() < loss(_t(noisy), _t(clean)).item()


def test_single_scale_ssim_agrees_with_scikit_image(pair):
    clean, noisy = pair
    lum, cs = losses.ssim_terms(_t(noisy), _t(clean), losses.gaussian_kernel())
    ours = (lum * cs)[0, 0, 5:-5, 5:-5].mean().item()  # skimage skips the padded band
    ref = structural_similarity(
        noisy, clean, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
    )
    assert ours == pytest.approx(ref, abs=2e-3)


def _ms_ssim_reference(x, y):
    """Independent MS-SSIM in numpy/scipy (Wang et al. 2003), same padding."""
    weights = np.array(losses.MS_WEIGHTS)
    c1, c2 = losses.C1, losses.C2
    def blur(a):
        return ndimage.gaussian_filter(a, 1.5, mode="mirror", truncate=3.5)
    result = 1.0
    for s, w in enumerate(weights):
        mx, my = blur(x), blur(y)
        sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
        cs = ((2 * sxy + c2) / (sxx + syy + c2)).mean()
        if s == len(weights) - 1:
            result *= (((2 * mx * my + c1) / (mx**2 + my**2 + c1)) * (2 * sxy + c2)
                       / (sxx + syy + c2)).mean() ** w
        else:
            result *= cs**w
            x = x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean(axis=(1, 3))
            y = y.reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2).mean(axis=(1, 3))
    return result


def test_ms_ssim_agrees_with_an_independent_implementation(pair):
    clean, noisy = pair
    ours = losses.ms_ssim(_t(noisy.astype(np.float64)), _t(clean.astype(np.float64))).item()
    ref = _ms_ssim_reference(noisy.astype(np.float64), clean.astype(np.float64))
    assert ours == pytest.approx(ref, abs=1e-3)
    assert 0.3 < ours < 0.95


def test_colour_channels_are_scored_separately_then_averaged(pair):
    clean, noisy = pair
    rgb_x = torch.stack([_t(noisy)[0, 0], _t(clean)[0, 0], _t(noisy)[0, 0]])[None]
    rgb_y = torch.stack([_t(clean)[0, 0]] * 3)[None]
    per = [losses.ms_ssim(rgb_x[:, c : c + 1], rgb_y[:, c : c + 1]).item() for c in range(3)]
    assert losses.ms_ssim(rgb_x, rgb_y).item() == pytest.approx(np.mean(per), abs=1e-6)


def test_gradients_are_finite_on_hard_inputs():
    x = torch.zeros(2, 3, 96, 96, requires_grad=True)
    y = torch.rand(2, 3, 96, 96)
    losses.MixLoss()(x, y).backward()
    assert torch.isfinite(x.grad).all()
