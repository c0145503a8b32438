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
