"""The camera-photo recipe: the tone head's white balance, the photo-real sampler, a short training run."""

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from napari_lowlight import enhance, normalize, tone_head, weights
from napari_lowlight.training import datasets, lol
from napari_lowlight.training.train import TrainConfig, train


@pytest.fixture(scope="module")
def dark():
    clean = data.astronaut()[:160, :200] / 255.0
    return datasets.unprocess.dark_photo(clean, np.random.default_rng(0))


@pytest.fixture
def fake_data(tmp_path, lol_pair_writer):
    """LOL-like pairs (ids 2, 10, 560, 700) and a few clean photos for the synthesis, in tmp_path/data."""
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    photo = data.astronaut()
    for n, i in enumerate((2, 10, 560, 700)):
        high = photo[40 * n : 40 * n + 160, 50 : 50 + 240]
        low = np.clip(high * 0.1 + rng.normal(0, 3, high.shape), 0, 255).astype(np.uint8)
        lol_pair_writer(root, i, low, high)
    for folder, suffix in (("CBSD432", "jpg"), ("Kodak24", "png")):
        (root / "natural" / folder).mkdir(parents=True)
        for k in range(2):
            Image.fromarray(photo[100 * k : 100 * k + 200, 200:400]).save(
                root / "natural" / folder / f"{k}.{suffix}")
    return root


def test_an_untrained_colour_head_is_auto_tone_with_a_neutral_balance(dark):
    ridge = normalize.statistics(dark, "auto-tone")
    learned = normalize.statistics(dark, "learned-tone", tone_head=tone_head.ToneHead(colour=True))
    assert learned.gain == pytest.approx(ridge.gain, rel=1e-5)
    assert learned.colour == pytest.approx((1.0, 1.0, 1.0))
    np.testing.assert_allclose(learned.apply(dark), ridge.apply(dark), atol=1e-6)


def test_the_torch_curve_with_a_balance_is_the_normalizers(dark):
    balance = np.log([1.3, 1.0, 0.8])
    expected = normalize.tone_curve(np.log(3.0), 0.7, tuple(balance)).apply(dark)
    x = torch.from_numpy(dark).permute(2, 0, 1)[None]
    out = tone_head.curve(x, torch.tensor([np.log(3.0)]), torch.tensor([0.7]),
                          torch.tensor(balance, dtype=torch.float32)[None])
    np.testing.assert_allclose(out[0].permute(1, 2, 0).numpy(), expected, atol=2e-5)


@pytest.mark.parametrize("bound", [None, 1.5])
def test_the_balance_is_bounded_and_leaves_green_alone(dark, bound):
    head = tone_head.ToneHead(colour=True, colour_bound=bound)
    torch.nn.init.constant_(head.correction[-1].bias, 5.0)  # far beyond the bound
    log_gain, tone, balance = head.estimate(dark)
    limit = tone_head.COLOUR_BOUND if bound is None else bound
    assert balance == pytest.approx((limit, 0.0, limit))


def test_a_records_colour_bound_and_tone_range_reach_the_head_and_training_leaves_the_tone_free():
    normalization = {"mode": "learned-tone", "colour": True, "colour_bound": 1.5, "tone_range": [0.75, 1.0]}
    net = tone_head.attach(torch.nn.Module(), normalization)
    head = net.tone_head
    assert (head.colour, head.colour_bound, head.tone_range) == (True, 1.5, (0.75, 1.0))
    training = tone_head.attach(torch.nn.Module(), normalization, inference=False).tone_head
    assert training.tone_range == normalize.TONE_RANGE and training.colour_bound == 1.5


def test_real_pairs_come_from_lol_training_ids_only(fake_data):
    root = fake_data
    sampler = datasets.PairSampler("photo-real", root, 64, photo_sets=["CBSD432"],
                                   photo_normalization="learned-tone", real_fraction=1.0)
    assert [len(sampler.lol), len(sampler.clean)] == [2, 2]  # ids 2 and 10: the training range
    noisy, clean, image, vector, prior = sampler.batch(np.random.default_rng(0), 3)
    assert noisy.shape == clean.shape == (3, 3, 64, 64) and noisy.dtype == np.float32
    assert image.shape == (3, tone_head.IMAGE_CHANNELS, tone_head.SIDE, tone_head.SIDE)
    # every patch comes from a real training pair: the head reads that whole low image
    assert np.allclose(noisy * 255, np.round(noisy * 255), atol=1e-4)
    heads = {tuple(tone_head.features(p.low)[1].round(5)) for p in lol.load(root, "train")}
    assert {tuple(v.round(5)) for v in vector} <= heads


def test_synthetic_pairs_are_darker_camera_photos_of_the_clean_ones(fake_data):
    root = fake_data
    sampler = datasets.PairSampler("photo-real", root, 64, photo_sets=["CBSD432"],
                                   photo_normalization="learned-tone", real_fraction=0.0)
    noisy, clean, *_ = sampler.batch(np.random.default_rng(0), 4)
    assert noisy.mean() < 0.5 * clean.mean()
    again = sampler.batch(np.random.default_rng(0), 4)
    np.testing.assert_array_equal(again[0], noisy)  # seeded


def test_validation_holds_lol_validation_ids_and_synthetic_kodak(fake_data):
    root = fake_data
    pairs = datasets.validation_pairs("photo-real", root, size=64, photo_normalization="learned-tone")
    low, high, *head_inputs = pairs[0]
    (pair,) = lol.load(root, "validation")
    np.testing.assert_allclose(low, datasets.centre_crop(pair.low, 64).transpose(2, 0, 1))
    for got, expected in zip(head_inputs, tone_head.features(pair.low), strict=True):
        np.testing.assert_allclose(got, expected)
    assert len(pairs) == 1 + 2


def test_a_colour_head_recipe_trains_exports_and_enhances(tmp_path, fake_data):
    root = fake_data
    cfg = TrainConfig(
        name="tiny-photo-real", arch="llunet", domain="photo-real", channels=3, steps=4, batch=2, patch=128,
        val_every=2, photo_sets=["CBSD432"], real_fraction=0.5,
        normalization={"mode": "learned-tone", "colour": True},
    )
    record = train(cfg, root, tmp_path / "out", run_dir=tmp_path / "run", quiet=True)
    assert record.domain == "photo" and record.normalization["colour"] is True
    net = weights.build_from_record(record, folder=tmp_path / "out")
    assert net.tone_head.colour
    low = np.round(lol.load(root, "test")[0].low * 255).astype(np.uint8)
    out = enhance(low, model=net, channel_axis=-1)
    assert out.shape == low.shape and out.dtype == np.float32 and np.isfinite(out).all()


def test_reexposure_scales_linear_light_and_stays_8_bit():
    low = np.linspace(0, 0.3, 300, dtype=np.float32).reshape(10, 10, 3)
    low = np.round(low * 255) / 255
    brighter = datasets.reexpose(low, 1.5)
    assert np.allclose(brighter * 255, np.round(brighter * 255), atol=1e-4)
    lin, lin2 = datasets.srgb_to_linear(low), datasets.srgb_to_linear(brighter)
    bright = lin > 0.01  # away from 8-bit rounding
    np.testing.assert_allclose(lin2[bright] / lin[bright], 1.5, rtol=0.05)


def test_jittered_lol_lows_change_exposure_and_the_heads_inputs(fake_data):
    root = fake_data
    sampler = datasets.PairSampler("photo-real", root, 64, photo_sets=["CBSD432"],
                                   photo_normalization="learned-tone", real_fraction=1.0,
                                   lol_exposure_jitter=(0.5, 2.0))
    _, clean, _, vector, _ = sampler.batch(np.random.default_rng(0), 6)
    heads = {tuple(tone_head.features(p.low)[1].round(5)) for p in lol.load(root, "train")}
    assert not {tuple(v.round(5)) for v in vector} & heads  # each low re-exposed, its head inputs anew
    highs = np.concatenate([p.high.ravel() for p in lol.load(root, "train")])
    assert np.isin(clean.ravel().round(5), highs.round(5)).all()  # the references are untouched


@pytest.mark.parametrize("kind", ["physical", "gamma", "unprocess"])
def test_the_synthesis_mix_picks_the_darkening(fake_data, monkeypatch, kind):
    root = fake_data
    calls = []
    for name, module, attr in (("physical", datasets.degrade, "low_light_photo"),
                               ("gamma", datasets.degrade, "gamma_photo"),
                               ("unprocess", datasets.unprocess, "dark_photo")):
        original = getattr(module, attr)
        def counted(*a, _o=original, _n=name, **k):
            calls.append(_n)
            return _o(*a, **k)

        monkeypatch.setattr(module, attr, counted)
    sampler = datasets.PairSampler("photo-real", root, 64, photo_sets=["CBSD432"],
                                   photo_normalization="learned-tone", synthesis_mix={kind: 1.0})
    sampler.batch(np.random.default_rng(0), 3)
    assert calls == [kind] * 3


def test_an_unknown_darkening_is_refused(fake_data):
    with pytest.raises(ValueError, match="synthesis_mix"):
        datasets.PairSampler("photo-real", fake_data, 64, photo_sets=["CBSD432"],
                             photo_normalization="learned-tone", synthesis_mix={"fog": 1.0})


def test_a_configs_unprocess_ranges_reach_the_camera_synthesis(fake_data, monkeypatch):
    seen = []
    original = datasets.unprocess.dark_photo
    def recorded(clean, rng, ranges, **k):
        seen.append(ranges)
        return original(clean, rng, ranges, **k)

    monkeypatch.setattr(datasets.unprocess, "dark_photo", recorded)
    changes = {"white_balance_bias": [-0.1, -0.2], "white_balance_error": 0.0}
    sampler = datasets.PairSampler("photo-real", fake_data, 64, photo_sets=["CBSD432"], undarkened=0.5,
                                   photo_normalization="learned-tone", unprocess_ranges=changes)
    sampler.batch(np.random.default_rng(0), 8)
    assert {r.white_balance_bias for r in seen} == {(-0.1, -0.2)}  # TOML's list held as the ranges' tuple
    assert {r.white_balance_error for r in seen} == {0.0}
    # The nearly undarkened photos keep the config's camera, only their exposure changes.
    exposures = {datasets.unprocess.DEFAULT_RANGES.exposure, datasets.UNDARKENED_EXPOSURE}
    assert {r.exposure for r in seen} == exposures
    with pytest.raises(ValueError, match="unprocess_ranges names \\['tint'\\]"):
        datasets.camera_ranges({"tint": 1.0})
    assert datasets.camera_ranges(None) == datasets.unprocess.DEFAULT_RANGES


def test_a_tone_floor_bounds_the_heads_tone(dark):
    free, floored = tone_head.ToneHead(), tone_head.ToneHead(tone_range=(0.75, 1.0))
    for head in (free, floored):
        torch.nn.init.constant_(head.correction[-1].bias, -5.0)  # asks for the lowest tone
    assert free.estimate(dark)[1] == pytest.approx(normalize.TONE_RANGE[0])
    assert floored.estimate(dark)[1] == pytest.approx(0.75)


def test_the_shipped_photo_record_carries_its_tone_floor_and_white_balance():
    net = weights.load_model("photo")
    assert net.weights.domain == "photo" and net.tone_head.colour
    assert net.tone_head.tone_range == tuple(net.weights.normalization["tone_range"])
    assert net.macs_per_pixel <= 100_000  # issue 20's budget
