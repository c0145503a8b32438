"""Architecture registry: ``build(name, in_channels, out_channels)``.

Every architecture is a ``torch.nn.Module`` with three attributes the engine
relies on:

``receptive_field_radius``
    How far (in pixels) an input pixel can influence the output. The tiler
    uses it as the halo; ``tests/test_models.py`` checks it with an impulse.
``downsampling``
    The total stride of the network. Tile origins are aligned to it so a tile
    sees the same pooling grid as the whole image.
``macs_per_pixel``
    Multiply-accumulates per output pixel (an analytic count).

and may have ``noise_channels``: constant noise-level maps appended to the
``in_channels`` image channels (:mod:`napari_lowlight.noise`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .llcnn import LLCNN
from .llunet import LLUNet

_REGISTRY: dict[str, Callable[..., torch.nn.Module]] = {
    "llcnn": lambda i, o: LLCNN(i, o, width=64),
    "llcnn32": lambda i, o: LLCNN(i, o, width=32),
    "llunet": lambda i, o: LLUNet(i, o, width=16),
    "llunet24": lambda i, o: LLUNet(i, o, width=24),
    "llunet3": lambda i, o: LLUNet(i, o, width=16, levels=3),
    "llunet3-deep": lambda i, o: LLUNet(i, o, width=16, levels=3, deep=True),
    # llunet3 told the noise level (napari_lowlight.noise.MAPS constant maps beside the image).
    "llunet3-nl": lambda i, o: LLUNet(i, o, width=16, levels=3, noise_channels=2),
}


def available() -> list[str]:
    """Names of the registered architectures."""
    return sorted(_REGISTRY)


def build(name: str, in_channels: int = 1, out_channels: int = 1) -> torch.nn.Module:
    """Build a randomly initialised network by architecture name.

    Parameters
    ----------
    name : str
        One of :func:`available`.
    in_channels, out_channels : int
        Channel counts (1 for grey/fluorescence, 3 for RGB).

    Returns
    -------
    torch.nn.Module
        The network in eval mode, on the CPU, in float32.
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"Unknown architecture {name!r}; choose one of {', '.join(available())}."
        ) from None
    if in_channels < 1 or out_channels < 1:
        raise ValueError("in_channels and out_channels must be positive.")
    net = factory(int(in_channels), int(out_channels))
    net.arch = name
    return net.eval()


def count_parameters(net: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


__all__ = ["LLCNN", "LLUNet", "available", "build", "count_parameters"]
