"""LLUNet: a small U-Net in LLCNN's spirit, for CPU speed.

LLCNN runs 17 full-resolution 64-channel convolutions (~456k MACs per pixel).
Most of that budget buys receptive field, which a downsampling body buys far
more cheaply: the deepest convolutions run at 1/4 (two levels) or 1/8 (three
levels) resolution, so the network sees 50-110 px around each pixel at 4-5%
of LLCNN's cost (width 16). Channels double at each level, so the low
resolutions hold most of the parameters, where a CPU computes them most
efficiently (wide matrix products on few pixels).

Design choices the engine depends on:

* Global residual: the network predicts a correction added to its input.
* Input sizes that are not a multiple of the downsampling are padded by edge
  replication at the bottom/right only, and cropped back. A tile whose origin
  is a multiple of the downsampling and that ends at the image's end is padded
  exactly as the whole image is, which keeps tiled output equal to untiled
  output.

The two-level network keeps its original module names (``enc1``, ``enc2``,
``bottom``, ``up2``, ``dec2``, ``up1``, ``dec1``, ``tail``) so its shipped
weights load unchanged; the three-level one adds ``enc3``, ``up3``, ``dec3``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


def _block(cin: int, cout: int, n: int, stride: int = 1) -> nn.Sequential:
    """``n`` 3x3 convolutions with ReLUs, the first one strided."""
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [_conv3(cin if i == 0 else cout, cout, stride if i == 0 else 1), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


# (levels, deep) -> radius; checked by tests/test_models.py with impulses at
# every phase of the grid.
_RECEPTIVE_FIELD_RADIUS = {(2, False): 24, (3, False): 46, (3, True): 64}


class LLUNet(nn.Module):
    """U-Net with ``levels`` resolutions (2 or 3), additive skips and a global
    residual.

    ``deep`` (three levels only) adds one convolution to each block below full
    resolution except the first encoder (``enc3``, ``bottom``, ``dec3``,
    ``dec2``): depth where the CPU computes it efficiently, 2,304 MACs per
    pixel each at width 16.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        width: int = 16,
        levels: int = 2,
        deep: bool = False,
        noise_channels: int = 0,
    ):
        super().__init__()
        if (levels, deep) not in _RECEPTIVE_FIELD_RADIUS:
            raise ValueError(f"levels must be 2 or 3 (3 when deep), got levels={levels}, deep={deep}.")
        c, extra = width, int(deep)
        self.in_channels, self.out_channels, self.width, self.levels = (
            in_channels, out_channels, width, levels
        )
        # Constant maps of the image's noise level appended to the input (FFDNet's idea; see
        # napari_lowlight.noise): the engine passes in_channels image channels plus these.
        self.noise_channels = int(noise_channels)
        self.downsampling = 2**levels
        self.receptive_field_radius = _RECEPTIVE_FIELD_RADIUS[levels, deep]
        self.enc1 = _block(in_channels + self.noise_channels, c, 2)
        self.enc2 = _block(c, 2 * c, 2, stride=2)
        if levels == 3:
            self.enc3 = _block(2 * c, 4 * c, 2 + extra, stride=2)
            self.bottom = _block(4 * c, 8 * c, 3 + extra, stride=2)
            self.up3 = nn.ConvTranspose2d(8 * c, 4 * c, 2, stride=2)
            self.dec3 = _block(4 * c, 4 * c, 1 + extra)
        else:
            self.bottom = _block(2 * c, 4 * c, 3, stride=2)
        self.up2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
        self.dec2 = _block(2 * c, 2 * c, 1 + extra)
        self.up1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.dec1 = _block(c, c, 1)
        self.tail = _conv3(c, out_channels)
        self.macs_per_pixel = self._count_macs()

    def _count_macs(self) -> int:
        """Multiply-accumulates per pixel, counted on a probe input: each
        convolution's weights once per output position it computes."""
        total = 0

        def count(module, _inputs, output):
            nonlocal total
            taps = (
                module.weight.numel() // module.out_channels
                if isinstance(module, nn.Conv2d)
                else module.in_channels
            )
            total += output[0, 0].numel() * taps * module.out_channels

        size = 8 * self.downsampling
        hooks = [
            m.register_forward_hook(count)
            for m in self.modules()
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
        ]
        with torch.no_grad():
            self(torch.zeros(1, self.in_channels + self.noise_channels, size, size))
        for hook in hooks:
            hook.remove()
        return total // size**2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.downsampling, (-w) % self.downsampling
        xp = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        e1 = self.enc1(xp)
        e2 = self.enc2(e1)
        if self.levels == 3:
            e3 = self.enc3(e2)
            deep = self.dec3(self.up3(self.bottom(e3)) + e3)
        else:
            deep = self.bottom(e2)
        d2 = self.dec2(self.up2(deep) + e2)
        d1 = self.dec1(self.up1(d2) + e1)
        out = self.tail(d1)
        if self.in_channels == self.out_channels:
            out = out + xp[:, : self.in_channels]
        return out[..., :h, :w]
