import csv
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from skimage import filters

from napari_lowlight import cli, weights
from napari_lowlight.training import datasets
from napari_lowlight.training.train import TrainConfig, batches, train


def _fake_w2s(root, fields=(1, 2, 71)):
    """A tiny W2S-like folder: smooth blobs (high) and their noisy frames (low)."""
    rng = np.random.default_rng(0)
    for sub in ("low", "high"):
        (root / "w2s-train" / sub).mkdir(parents=True)
    for f in fields:
        clean = filters.gaussian(rng.random((128, 128)) ** 8, 3)
        clean = (255 * clean / clean.max()).astype(np.uint8)
        noisy = np.clip(rng.poisson(clean / 8.0) * 8.0, 0, 255).astype(np.uint8)
        tifffile.imwrite(root / "w2s-train" / "high" / f"{f:03d}_0.tif", clean)
        tifffile.imwrite(root / "w2s-train" / "low" / f"{f:03d}_0.tif", noisy)
    return root


def _log(run_dir):
    with open(run_dir / "log.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_a_few_training_steps_reduce_the_loss_and_write_a_record(tmp_path):
    data = _fake_w2s(tmp_path / "data")
    cfg = TrainConfig(name="t", arch="llunet", domain="fluo", channels=1, steps=30, batch=4, patch=96,
                      val_every=10, lr=2e-3)
    record = train(cfg, data, tmp_path / "out", tmp_path / "run", recipe="napari-lowlight train ...",
                   quiet=True)
    rows = _log(tmp_path / "run")
    assert [int(r["step"]) for r in rows] == [10, 20, 30]
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert float(rows[-1]["val_loss"]) < float(rows[0]["val_loss"])
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000
    assert record.sha256 == weights.sha256sum(tmp_path / "out" / "t.safetensors")


@pytest.mark.slow
def test_training_resumes_from_its_checkpoint_exactly(tmp_path):
    data = _fake_w2s(tmp_path / "data")
    cfg = TrainConfig(name="t", arch="llunet", domain="fluo", channels=1, steps=6, batch=2, patch=96,
                      val_every=3)
    straight = train(cfg, data, tmp_path / "a", tmp_path / "ra", quiet=True, device="cpu")
    assert train(cfg, data, tmp_path / "b", tmp_path / "rb", quiet=True, stop_at=4, device="cpu") is None
    assert not (tmp_path / "b" / "t.safetensors").exists()
    resumed = train(cfg, data, tmp_path / "b", tmp_path / "rb", quiet=True, device="cpu")
    # Same seeds, restored optimiser and RNG states: bit-identical weights.
    assert resumed.sha256 == straight.sha256


@pytest.mark.slow
def test_a_weight_average_is_exported_logged_and_resumed_exactly(tmp_path):
    import torch
    from safetensors.torch import load_file

    data = _fake_w2s(tmp_path / "data")
    kw = {"name": "t", "arch": "llunet", "domain": "fluo", "channels": 1, "steps": 6, "batch": 2, "patch": 96,
          "val_every": 3}
    plain = train(TrainConfig(**kw), data, tmp_path / "p", tmp_path / "rp", quiet=True, device="cpu")
    cfg = TrainConfig(**kw, ema=0.5)
    averaged = train(cfg, data, tmp_path / "a", tmp_path / "ra", quiet=True, device="cpu")
    assert train(cfg, data, tmp_path / "b", tmp_path / "rb", quiet=True, stop_at=4, device="cpu") is None
    resumed = train(cfg, data, tmp_path / "b", tmp_path / "rb", quiet=True, device="cpu")
    assert resumed.sha256 == averaged.sha256 != plain.sha256
    assert averaged.metrics["weight_average_decay"] == 0.5
    # The average does not steer training: the same training losses as without it, and the raw
    # validation loss of the averaged run is the plain run's validation loss.
    rows_plain = _log(tmp_path / "rp")
    rows_avg = _log(tmp_path / "ra")
    assert [r["train_loss"] for r in rows_avg] == [r["train_loss"] for r in rows_plain]
    assert [r["raw_val_loss"] for r in rows_avg] == [r["val_loss"] for r in rows_plain]
    assert rows_plain[0]["raw_val_loss"] == ""
    # What is exported is the average, not the last trained weights.
    last = load_file(tmp_path / "p" / "t.safetensors")
    avg = load_file(tmp_path / "a" / "t.safetensors")
    assert set(avg) == set(last)
    assert any(not torch.equal(avg[k], last[k]) for k in avg)


def test_a_checkpoint_without_an_average_is_not_resumed_with_one(tmp_path):
    data = _fake_w2s(tmp_path / "data")
    kw = {"name": "t", "arch": "llunet", "domain": "fluo", "channels": 1, "steps": 4, "batch": 2, "patch": 96,
          "val_every": 2}
    assert train(TrainConfig(**kw), data, tmp_path / "o", tmp_path / "r", quiet=True, stop_at=2,
                 device="cpu") is None
    with pytest.raises(ValueError, match="without a weight average"):
        train(TrainConfig(**kw, ema=0.9), data, tmp_path / "o", tmp_path / "r", quiet=True, device="cpu")
    assert not (tmp_path / "o" / "t.safetensors").exists()


def test_the_weight_average_decay_is_checked():
    import torch

    from napari_lowlight.training.train import moving_average

    assert moving_average(torch.nn.Conv2d(1, 1, 3), 0.0) is None
    with pytest.raises(ValueError, match="between 0 and 1"):
        moving_average(torch.nn.Conv2d(1, 1, 3), 1.5)


def test_the_weight_average_follows_the_ema_formula():
    import torch

    from napari_lowlight.training.train import moving_average

    net = torch.nn.Linear(1, 1, bias=False)
    average = moving_average(net, 0.75)
    seen = []
    for w in (4.0, 8.0, 0.0):
        net.weight.data.fill_(w)
        average.update_parameters(net)
        seen.append(average.module.weight.item())
    # The first update copies; then 0.75 * average + 0.25 * new.
    assert seen == [4.0, 5.0, 3.75]


def test_worker_processes_prepare_the_same_batches_as_the_main_process(tmp_path):
    sampler = datasets.PairSampler("fluo", _fake_w2s(tmp_path / "data"), 64, synthetic_fraction=0.5)
    here = list(batches(sampler, seed=3, size=2, start=5, stop=11))
    parallel = list(batches(sampler, seed=3, size=2, start=5, stop=11, workers=2))
    assert len(here) == len(parallel) == 6
    for (x0, y0), (x1, y1) in zip(here, parallel, strict=True):
        np.testing.assert_array_equal(x0, x1)
        np.testing.assert_array_equal(y0, y1)
    # Each step draws its own patches.
    assert not np.array_equal(here[0][0], here[1][0])


def test_train_command_reads_a_config(tmp_path):
    data = _fake_w2s(tmp_path / "data")
    config = tmp_path / "c.toml"
    config.write_text('name = "c"\narch = "llunet"\ndomain = "fluo"\nchannels = 1\nsteps = 2\nbatch = 2\n'
                      'val_every = 1\n')
    code = cli.main(["train", "--config", str(config), "--data", str(data), "--out", str(tmp_path / "w"),
                     "--run-dir", str(tmp_path / "r"), "--quiet", "--device", "cpu", "--workers", "1"])
    assert code == 0
    assert TrainConfig.load(config).name == "c"
    assert (tmp_path / "w" / "c.json").exists()
    assert json.loads((tmp_path / "w" / "c.json").read_text())["metrics"]["trained_on"] == "cpu"


def _fake_photos(root):
    """A tiny natural/ folder: crops of a scikit-image photo as CBSD68 and Kodak24."""
    from skimage import data, io

    photo = data.astronaut()
    for folder, crops in (("CBSD68", [(0, 0), (200, 200)]), ("Kodak24", [(300, 100)])):
        (root / "natural" / folder).mkdir(parents=True)
        for i, (y, x) in enumerate(crops):
            io.imsave(root / "natural" / folder / f"{i}.png", photo[y : y + 200, x : x + 200],
                      check_contrast=False)
    return root


def test_learned_tone_pairs_carry_the_dark_patch_and_the_heads_inputs(tmp_path):
    from napari_lowlight import tone_head

    root = _fake_photos(tmp_path)
    sampler = datasets.PairSampler("photo", root, 64, photo_sets=["CBSD68"],
                                   photo_normalization="learned-tone")
    noisy, clean, image, vector, prior = sampler.batch(np.random.default_rng(0), 4)
    assert vector.shape == (4, tone_head.VECTOR_SIZE)
    assert noisy.shape == clean.shape == (4, 3, 64, 64)
    assert (image.shape == (4, tone_head.IMAGE_CHANNELS, tone_head.SIDE, tone_head.SIDE)
            and prior.shape == (4, 2))
    assert noisy.mean() < clean.mean()  # left dark: the head's curve brightens it in the training step
    (val_noisy, _, *head_inputs), = datasets.validation_pairs("photo", root, size=128,
                                                              photo_normalization="learned-tone")
    dark = datasets.degrade.low_light_photo(datasets.load_photos(root, True)[0], np.random.default_rng(1234))
    np.testing.assert_allclose(val_noisy, datasets.centre_crop(dark, 128).transpose(2, 0, 1))
    # read from the whole image
    for got, expected in zip(head_inputs, tone_head.features(dark), strict=False):
        np.testing.assert_allclose(got, expected)


@pytest.mark.parametrize("mode", ["exposure", "auto-exposure", "auto-tone"])
def test_photo_pairs_are_normalised_with_the_models_mode(tmp_path, mode):
    from napari_lowlight import normalize
    from napari_lowlight.training import datasets

    root = _fake_photos(tmp_path)
    sampler = datasets.PairSampler("photo", root, 64, photo_sets=["CBSD68"], photo_normalization=mode)
    noisy, clean = sampler.batch(np.random.default_rng(0), 4)
    assert noisy.shape == clean.shape == (4, 3, 64, 64)
    assert clean.min() >= 0 and clean.max() <= 1
    (val_noisy, val_clean), = datasets.validation_pairs("photo", root, size=128, photo_normalization=mode)
    # The validation input is the dark image after this mode's exposure correction.
    dark = datasets.degrade.low_light_photo(datasets.load_photos(root, True)[0], np.random.default_rng(1234))
    expected = datasets.centre_crop(normalize.normalize(dark, mode), 128).transpose(2, 0, 1)
    np.testing.assert_allclose(val_noisy, expected, atol=1e-6)
    assert abs(val_noisy.mean() - val_clean.mean()) < 0.25  # brightened, not left dark


@pytest.mark.parametrize("fraction, expected",
                         [(1.0, {"physical"}), (0.0, {"gamma"}), (0.5, {"physical", "gamma"})])
def test_physical_fraction_picks_the_darkening(tmp_path, monkeypatch, fraction, expected):
    root = _fake_photos(tmp_path)
    used = set()

    def spy(name, darken):
        def wrapped(clean, rng, **ranges):
            used.add(name)
            return darken(clean, rng, **ranges)

        return wrapped

    monkeypatch.setattr(datasets.degrade, "low_light_photo",
                        spy("physical", datasets.degrade.low_light_photo))
    monkeypatch.setattr(datasets.degrade, "gamma_photo", spy("gamma", datasets.degrade.gamma_photo))
    sampler = datasets.PairSampler("photo", root, 64, photo_sets=["CBSD68"], physical_fraction=fraction)
    sampler.batch(np.random.default_rng(0), 16)
    assert used == expected


def test_the_darkening_ranges_reach_the_sampler(tmp_path):
    root = _fake_photos(tmp_path)

    def mean_darkening(**ranges):
        sampler = datasets.PairSampler("photo", root, 64, photo_sets=["CBSD68"],
                                       photo_normalization="learned-tone", physical_fraction=1.0, **ranges)
        noisy, clean, *_ = sampler.batch(np.random.default_rng(0), 8)
        return noisy.mean() / clean.mean()

    assert mean_darkening() < 0.6  # the benchmark's exposures, 0.02-0.2 in linear light
    assert mean_darkening(exposure=(1.0, 1.0)) == pytest.approx(1.0, abs=0.05)  # full exposure: only noise
    assert mean_darkening(undarkened=1.0) == pytest.approx(1.0, abs=0.05)


def test_config_reads_physical_fraction(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('name = "p"\narch = "llunet3"\ndomain = "photo"\nchannels = 3\nsteps = 1\n'
                    'physical_fraction = 0.25\n')
    assert TrainConfig.load(path).physical_fraction == 0.25
    for name in ("photo-ridge", "photo"):
        shipped = Path(__file__).parents[1] / "configs" / f"{name}.toml"
        assert TrainConfig.load(shipped).physical_fraction == 0.7


@pytest.mark.slow
def test_a_tone_head_stage_trains_only_the_head_and_reloads(tmp_path):
    import torch

    from napari_lowlight import tone_head

    root = _fake_photos(tmp_path / "data")
    first = TrainConfig(name="base", arch="llunet", domain="photo", channels=3, steps=2, batch=2, patch=96,
                        val_every=2, photo_sets=["CBSD68"], normalization={"mode": "auto-tone"})
    train(first, root, tmp_path / "w", tmp_path / "r1", quiet=True, device="cpu")
    second = TrainConfig(name="head", arch="llunet", domain="photo", channels=3, steps=4, batch=2, patch=96,
                         val_every=2, photo_sets=["CBSD68"], normalization={"mode": "learned-tone"},
                         init="base", train_only="tone_head", weight_decay=0.01)
    record = train(second, root, tmp_path / "w", tmp_path / "r2", quiet=True, device="cpu")
    base = weights.build_from_record(
        weights.Weights(**json.loads((tmp_path / "w" / "base.json").read_text())), folder=tmp_path / "w")
    net = weights.build_from_record(record, folder=tmp_path / "w")
    assert record.parameters == models_count(base) + models_count(net.tone_head)
    for name, value in base.state_dict().items():
        assert torch.equal(net.state_dict()[name], value), name  # the network stayed frozen
    assert any(p.abs().sum() > 0 for p in net.tone_head.correction[-1].parameters())  # the head learned
    assert isinstance(net.tone_head, tone_head.ToneHead)


def models_count(module):
    return sum(p.numel() for p in module.parameters())


def test_train_only_must_name_a_part_of_the_network(tmp_path):
    root = _fake_photos(tmp_path / "data")
    cfg = TrainConfig(name="x", arch="llunet", domain="photo", channels=3, steps=1, batch=1, patch=64,
                      photo_sets=["CBSD68"], normalization={"mode": "auto-tone"}, train_only="tone_head")
    with pytest.raises(ValueError, match="tone_head"):
        train(cfg, root, tmp_path / "w", tmp_path / "r", quiet=True, device="cpu")


# ---- noise-aware fluorescence (fluo-nl): FMD frames, synthetic noise, noise maps -------------


def _fake_fmd(root, fields=("01", "02", "17"), size=96):
    """A tiny FMD-like folder: a smooth clean field (gt) and 8 Poisson frames of it (raw)."""
    from PIL import Image

    rng = np.random.default_rng(1)
    folder = root / "fmd-confocal-bpae-b"
    (folder / "gt").mkdir(parents=True)
    for f in fields:
        clean = filters.gaussian(rng.random((size, size)) ** 6, 2)
        clean = 200 * clean / clean.max() + 5
        (folder / "raw" / f).mkdir(parents=True)
        for k in range(8):
            frame = np.clip(rng.poisson(clean / 4) * 4, 0, 255).astype(np.uint8)
            Image.fromarray(frame).save(folder / "raw" / f / f"{k:02d}.png")
        Image.fromarray(np.round(clean).astype(np.uint8)).save(folder / "gt" / f"{f}.png")
    return root


def test_fmd_fields_split_into_training_and_held_out(tmp_path):
    from napari_lowlight.training import fluo_data

    data = _fake_fmd(tmp_path)
    train_fields = fluo_data.load_fmd(data, validation=False)
    held_out = fluo_data.load_fmd(data, validation=True)
    assert len(train_fields) == 2 and len(held_out) == 1  # field 17 is held out
    frames, gt = held_out[0]
    assert frames.shape == (8, 96, 96) and frames.dtype == np.uint8
    assert gt.shape == (96, 96) and gt.dtype == np.float32


def test_poisson_gaussian_noise_is_seeded_and_has_the_drawn_variance():
    from napari_lowlight.training import fluo_data

    clean = np.full((128, 128), 0.5, np.float32)
    kw = {"photons": (50, 50), "read_noise": (0.05, 0.05), "read_fraction": 1.0}
    a1 = fluo_data.poisson_gaussian(clean, np.random.default_rng(3), **kw)
    a2 = fluo_data.poisson_gaussian(clean, np.random.default_rng(3), **kw)
    noisy, a, b = a1
    assert np.array_equal(noisy, a2[0]) and noisy.dtype == np.float32 and noisy.shape == clean.shape
    assert a == pytest.approx(1 / 50) and b == pytest.approx(0.05**2)
    assert abs(noisy.mean() - 0.5) < 0.01
    assert noisy.var() == pytest.approx(a * 0.5 + b, rel=0.1)
    # Nearly clean at the mild end of the range.
    mild, _, _ = fluo_data.poisson_gaussian(clean, np.random.default_rng(0), photons=(30000, 30000),
                                            read_fraction=0.0)
    assert np.abs(mild - clean).max() < 0.05


def _neighbour_correlation(x):
    x = x - x.mean()
    return max(float(np.mean(x[:, 1:] * x[:, :-1])), float(np.mean(x[1:] * x[:-1]))) / float(x.var())


def test_correlated_noise_keeps_its_variance_and_correlates_neighbours():
    from napari_lowlight.training import fluo_data

    rng = np.random.default_rng(5)
    clean = np.full((128, 128), 0.4, np.float32)
    white, _, _ = fluo_data.poisson_gaussian(clean, np.random.default_rng(5), photons=(100, 100),
                                             read_fraction=0.0, correlated_fraction=0.0)
    assert abs(_neighbour_correlation(white)) < 0.05
    for seed in range(4):
        kernel = fluo_data.correlation_kernel(np.random.default_rng(seed))
        assert np.sum(kernel**2) == pytest.approx(1.0)
        noise_map = fluo_data.correlate(rng.standard_normal((256, 256)), kernel)
        assert noise_map.var() == pytest.approx(1.0, rel=0.15)
        assert _neighbour_correlation(noise_map) > 0.15
    noisy, a, b = fluo_data.poisson_gaussian(clean, np.random.default_rng(2), photons=(100, 100),
                                             read_fraction=0.0, correlated_fraction=1.0)
    assert noisy.var() == pytest.approx(a * 0.4 + b, rel=0.2) and _neighbour_correlation(noisy) > 0.15


def test_the_fluo_nl_sampler_gives_the_image_and_two_noise_maps(tmp_path):
    from napari_lowlight import noise

    data = _fake_fmd(_fake_w2s(tmp_path / "data"))
    for source in ("fmd", "w2s", "synthetic"):
        mix = {"fmd": 0.0, "w2s": 0.0, "synthetic": 0.0, source: 1.0}
        sampler = datasets.PairSampler("fluo-nl", data, 32, fluo_mix=mix)
        x, y = sampler.batch(np.random.default_rng(0), 3)
        again = sampler.batch(np.random.default_rng(0), 3)
        assert np.array_equal(x, again[0]) and np.array_equal(y, again[1])
        assert x.shape == (3, 1 + noise.MAPS, 32, 32) and y.shape == (3, 1, 32, 32)
        assert x.dtype == np.float32 and y.dtype == np.float32
        for maps in x[:, 1:]:  # constant per sample, >= 0, not all zero for noisy inputs
            assert np.all(maps == maps[:, :1, :1]) and np.all(maps >= 0)
        assert x[:, 1:].max() > 0
        # Normalised as the engine does: about [0, 1] for the input, the target on its scale.
        assert x[:, 0].min() > -0.5 and x[:, 0].max() < 2.5 and y.min() > -0.5 and y.max() < 2.5


def test_true_maps_give_the_synthetic_noise_its_known_level(tmp_path):
    """``fluo_mix.true_maps``: the maps of a synthetic sample are sqrt(b'), sqrt(a') of the noise as
    generated, seen through the input's normalisation; they predict the noise's variance."""
    from napari_lowlight import noise
    from napari_lowlight.training import fluo_data

    data = _fake_fmd(_fake_w2s(tmp_path / "data"))
    mix = {"fmd": 0.0, "w2s": 0.0, "synthetic": 1.0, "photons": [40.0, 40.0], "read_noise": [0.03, 0.03],
           "correlated": 0.0, "true_maps": True}
    sampler = datasets.PairSampler("fluo-nl", data, 48, fluo_mix=mix)
    x, y = sampler.batch(np.random.default_rng(0), 24)
    sqrt_b, sqrt_a = x[:, 1, 0, 0], x[:, 2, 0, 0]
    predicted = np.maximum(sqrt_a[:, None, None] ** 2 * y[:, 0] + sqrt_b[:, None, None] ** 2, 0).mean()
    assert abs(((x[:, 0] - y[:, 0]) ** 2).mean() / predicted - 1) < 0.05
    # The algebra: n = 40 photons, sigma = 0.03 through x' = (x - lo) / d.
    level = fluo_data.normalised_level(1 / 40, 0.03**2, lo=0.1, d=0.8)
    assert np.allclose(level.maps(), [np.sqrt((0.1 / 40 + 0.03**2) / 0.8**2), np.sqrt(1 / (40 * 0.8))])
    # A pair's own noise, fitted back within a few %.
    rng = np.random.default_rng(1)
    clean = np.tile(np.linspace(0, 1, 512), (512, 1))
    noisy, a, b = fluo_data.poisson_gaussian(clean, rng, photons=(40, 40), read_noise=(0.1, 0.1),
                                             read_fraction=1.0)
    fitted = fluo_data.pair_level(noisy, clean)
    assert np.allclose(fitted.maps(), noise.NoiseLevel(a, b).maps(), rtol=0.05)
    # Off by default: the maps are the estimate.
    mix["true_maps"] = False
    estimated = datasets.PairSampler("fluo-nl", data, 48, fluo_mix=mix).batch(np.random.default_rng(0), 24)[0]
    assert np.array_equal(estimated[:, 0], x[:, 0]) and not np.array_equal(estimated[:, 1:], x[:, 1:])


def test_fluo_nl_validation_pairs_carry_the_maps(tmp_path):
    from napari_lowlight import noise
    from napari_lowlight.training import fluo_data

    data = _fake_fmd(_fake_w2s(tmp_path / "data"))
    pairs = datasets.validation_pairs("fluo-nl", data)
    assert len(pairs) == 1 + len(fluo_data.FMD_LEVELS)  # W2S field 071, FMD field 17 at four levels
    for x, y in pairs:
        assert x.shape[0] == 1 + noise.MAPS and y.shape[0] == 1 and x.shape[1:] == y.shape[1:]
    # More frames averaged: a lower noise estimate.
    shot = [x[2, 0, 0] for x, _ in pairs[1:]]
    assert shot[0] > shot[-1]


def test_a_noise_aware_network_starts_from_the_same_network_without_maps():
    import torch

    from napari_lowlight import models
    from napari_lowlight.training.train import widen_inputs

    torch.manual_seed(0)
    old = models.build("llunet3", 1, 1)
    new = widen_inputs(old, "llunet3-nl", 1)
    x = torch.rand(1, 1, 32, 32)
    maps = torch.full((1, 2, 32, 32), 0.3)
    with torch.no_grad():
        assert torch.equal(new(torch.cat([x, maps], 1)), old(x))


def test_the_fmd_suite_scores_each_noise_level(tmp_path):
    from napari_lowlight.training import evaluate

    data = _fake_fmd(tmp_path)
    cases = evaluate.load_cases("fmd", data)
    assert [c.group for c in cases] == ["avg1", "avg2", "avg4", "avg8"]
    rows = evaluate.evaluate("fmd", cases[:4], (), progress=lambda _: None, classical=False)
    assert rows == []
    row = evaluate.Row("x", psnr=[1, 2, 3, 4], ssim=[0.1, 0.2, 0.3, 0.4], groups=[c.group for c in cases])
    assert row.by_group()["avg4"] == (3, pytest.approx(0.3))
    assert "avg8 PSNR / SSIM" in evaluate.level_table([row])


@pytest.mark.slow
def test_a_noise_aware_network_trains_a_few_steps(tmp_path):
    data = _fake_fmd(_fake_w2s(tmp_path / "data"))
    cfg = TrainConfig(name="t", arch="llunet3-nl", domain="fluo-nl", channels=1, steps=2, batch=2, patch=96,
                      val_every=2)
    record = train(cfg, data, tmp_path / "out", tmp_path / "run", quiet=True, device="cpu")
    assert record.arch == "llunet3-nl" and record.in_channels == 1
    assert weights.build_from_record(record, folder=tmp_path / "out").noise_channels == 2
