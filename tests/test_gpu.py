"""Checks that need a CUDA GPU. CI has none, so they are skipped there; they
run wherever PyTorch sees one (``pytest tests/test_gpu.py``)."""

import csv

import numpy as np
import pytest
import torch

from napari_lowlight import enhance, models
from napari_lowlight.training.train import TrainConfig, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return models.build("llunet3", 1, 1)


def test_cuda_fp32_matches_the_cpu(net, rng):
    image = rng.random((300, 200)).astype(np.float32)
    cpu = enhance(image, model=net, device="cpu", precision="fp32")
    gpu = enhance(image, model=net, device="cuda", precision="fp32")
    # PyTorch lets cuDNN use TF32 for fp32 convolutions on Ampere and newer GPUs (its default).
    assert np.abs(gpu - cpu).max() < 1e-3


def test_cuda_fp16_default_stays_close_to_fp32(net, rng):
    image = rng.random((256, 256)).astype(np.float32)
    ref = enhance(image, model=net, device="cpu", precision="fp32")
    half = enhance(image, model=net, device="cuda")  # precision "auto" is fp16 on CUDA
    assert half.dtype == np.float32
    assert np.abs(half - ref).max() < 0.02


def test_cuda_tiles_join_like_the_whole_image(net, rng):
    image = rng.random((260, 330)).astype(np.float32)
    whole = enhance(image, model=net, device="cuda", precision="fp32", tile_size=1024)
    tiled = enhance(image, model=net, device="cuda", precision="fp32", tile_size=64)
    assert np.abs(tiled - whole).max() < 1e-4


def test_training_on_cuda_reduces_the_loss(tmp_path):
    from test_train import _fake_w2s

    data = _fake_w2s(tmp_path / "data")
    cfg = TrainConfig(name="g", arch="llunet", domain="fluo", channels=1, steps=30, batch=4, patch=96,
                      val_every=10, lr=2e-3)
    record = train(cfg, data, tmp_path / "out", tmp_path / "run", quiet=True, device="cuda", workers=2)
    with open(tmp_path / "run" / "log.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert float(rows[-1]["val_loss"]) < float(rows[0]["val_loss"])
    assert record.metrics["trained_on"] == "cuda"
