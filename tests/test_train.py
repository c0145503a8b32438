import csv

import numpy as np
import pytest
import tifffile
from skimage import filters

from napari_lowlight import cli, weights
from napari_lowlight.train import TrainConfig, train


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


@pytest.mark.slow
def test_a_few_training_steps_reduce_the_loss_and_write_a_record(tmp_path):
    data = _fake_w2s(tmp_path / "data")
    cfg = TrainConfig(name="t", arch="llunet", domain="fluo", channels=1, steps=30, batch=4, patch=96, val_every=10, lr=2e-3)
    record = train(cfg, data, tmp_path / "out", tmp_path / "run", recipe="napari-lowlight train ...", quiet=True)
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert [int(r["step"]) for r in rows] == [10, 20, 30]
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert float(rows[-1]["val_loss"]) < float(rows[0]["val_loss"])
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000
    assert record.sha256 == weights.sha256sum(tmp_path / "out" / "t.safetensors")


@pytest.mark.slow
def test_training_resumes_from_its_checkpoint_exactly(tmp_path):
    data = _fake_w2s(tmp_path / "data")
    cfg = TrainConfig(name="t", arch="llunet", domain="fluo", channels=1, steps=6, batch=2, patch=96, val_every=3)
    straight = train(cfg, data, tmp_path / "a", tmp_path / "ra", quiet=True)
    assert train(cfg, data, tmp_path / "b", tmp_path / "rb", quiet=True, stop_at=4) is None
    assert not (tmp_path / "b" / "t.safetensors").exists()
    resumed = train(cfg, data, tmp_path / "b", tmp_path / "rb", quiet=True)
    # Same seeds, restored optimiser and RNG states: bit-identical weights.
    assert resumed.sha256 == straight.sha256


def test_train_command_reads_a_config(tmp_path):
    data = _fake_w2s(tmp_path / "data")
    config = tmp_path / "c.toml"
    config.write_text('name = "c"\narch = "llunet"\ndomain = "fluo"\nchannels = 1\nsteps = 2\nbatch = 2\nval_every = 1\n')
    code = cli.main(["train", "--config", str(config), "--data", str(data), "--out", str(tmp_path / "w"),
                     "--run-dir", str(tmp_path / "r"), "--quiet"])
    assert code == 0
    assert TrainConfig.load(config).name == "c"
    assert (tmp_path / "w" / "c.json").exists()
