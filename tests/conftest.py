import numpy as np
import pytest
import torch

from napari_lowlight import models


@pytest.fixture(scope="module")
def grey_net():
    """A randomly initialised single-channel network: tests need no trained
    weights, and a U-Net (downsampling 4) is the demanding case for alignment."""
    torch.manual_seed(0)
    return models.build("llunet", 1, 1)


@pytest.fixture(scope="module")
def rgb_net():
    torch.manual_seed(1)
    return models.build("llunet", 3, 3)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def write_lol_pair(root, pair_id, low, high):
    """A LOL-like pair ``root/lol-train/{low,high}/NNN.webp`` (lossless WebP, as the data set ships)."""
    from PIL import Image

    for sub, pixels in (("low", low), ("high", high)):
        path = root / "lol-train" / sub / f"{pair_id:03d}.webp"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path, lossless=True)


@pytest.fixture
def lol_pair_writer():
    """:func:`write_lol_pair`, for tests that build a fake LOL tree."""
    return write_lol_pair


@pytest.fixture
def random_weights(tmp_path, monkeypatch):
    """``make(name, domain, channels)`` exports a randomly initialised ``llunet`` weight set into a
    fresh weights folder, the only one the API sees, and returns that folder."""
    from napari_lowlight import weights
    from napari_lowlight.training.train import TrainConfig, export

    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(folder))

    def make(name, domain, channels):
        torch.manual_seed(0)
        export(TrainConfig(name=name, arch="llunet", domain=domain, channels=channels, steps=0),
               models.build("llunet", channels, channels), folder, [], recipe="test")
        return folder

    return make
