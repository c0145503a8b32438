import numpy as np
import pytest
import torch

from napari_lowlight import models


@pytest.fixture
def grey_net():
    """A randomly initialised single-channel network (tests need no weights)."""
    torch.manual_seed(0)
    return models.build("llunet", 1, 1)


@pytest.fixture
def rgb_net():
    torch.manual_seed(0)
    return models.build("llunet", 3, 3)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
