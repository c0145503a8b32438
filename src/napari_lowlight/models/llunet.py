"""LLUNet: a small two-level U-Net in LLCNN's spirit, for CPU speed.

LLCNN runs 17 full-resolution 64-channel convolutions (~456k MACs per pixel).
Most of that budget buys receptive field, which a downsampling body buys far
more cheaply: here the deepest convolutions run at quarter resolution, so the
network sees ~50 px around each pixel at ~5% of LLCNN's cost (width 16).

Design choices the engine depends on:

* Global residual: the network predicts a correction added to its input.
* Input sizes that are not a multiple of 4 are padded by edge replication at
  the bottom/right only, and cropped back. A tile whose origin is a multiple of
  4 and that ends at the image's end is padded exactly as the whole image is,
  which keeps tiled output equal to untiled output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class LLUNet(nn.Module):
    """Two-level U-Net with additive skips and a global residual."""

    downsampling = 4

    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: int = 16):
        super().__init__()
        c = width
        self.in_channels, self.out_channels, self.width = in_channels, out_channels, width
        relu = nn.ReLU(inplace=True)
        self.enc1 = nn.Sequential(_conv3(in_channels, c), relu, _conv3(c, c), relu)
        self.enc2 = nn.Sequential(_conv3(c, 2 * c, 2), relu, _conv3(2 * c, 2 * c), relu)
        self.bottom = nn.Sequential(
            _conv3(2 * c, 4 * c, 2), relu, _conv3(4 * c, 4 * c), relu, _conv3(4 * c, 4 * c), relu
        )
        self.up2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
        self.dec2 = nn.Sequential(_conv3(2 * c, 2 * c), relu)
        self.up1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.dec1 = nn.Sequential(_conv3(c, c), relu)
        self.tail = _conv3(c, out_channels)
        # Bound checked by tests/test_models.py with impulses at every phase.
        self.receptive_field_radius = 24
        self.macs_per_pixel = int(
            9 * in_channels * c + 9 * c * c  # enc1
            + (9 * c * 2 * c + 9 * 4 * c * c) / 4  # enc2 at 1/2
            + (9 * 2 * c * 4 * c + 2 * 9 * 16 * c * c) / 16  # bottom at 1/4
            + 4 * c * 2 * c / 4 + 9 * 4 * c * c / 4  # up2 + dec2
            + 2 * c * c + 9 * c * c  # up1 + dec1
            + 9 * c * out_channels  # tail
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.downsampling, (-w) % self.downsampling
        xp = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        e1 = self.enc1(xp)
        e2 = self.enc2(e1)
        b = self.bottom(e2)
        d2 = self.dec2(self.up2(b) + e2)
        d1 = self.dec1(self.up1(d2) + e1)
        out = self.tail(d1)
        if self.in_channels == self.out_channels:
            out = out + xp
        return out[..., :h, :w]
