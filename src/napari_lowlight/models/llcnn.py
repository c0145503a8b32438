"""LLCNN (Tao et al., "LLCNN: A convolutional neural network for low-light
image enhancement", VCIP 2017), as its authors' Caffe definition has it.

One 3x3 conv to ``width`` channels + ReLU, three modules, one 3x3 conv to the
output. Each module is::

    x -> [1x1 conv] + [3x3 conv, ReLU, 3x3 conv] -> ReLU -> y
    y -> y + [3x3 conv, ReLU, 3x3 conv]          -> ReLU

17 convolutions, no batch norm, zero padding, full resolution throughout.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class _Module(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.shortcut = nn.Conv2d(width, width, 1)
        self.branch = nn.Sequential(_conv3(width, width), nn.ReLU(inplace=True), _conv3(width, width))
        self.block = nn.Sequential(_conv3(width, width), nn.ReLU(inplace=True), _conv3(width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.shortcut(x) + self.branch(x))
        return torch.relu(y + self.block(y))


class LLCNN(nn.Module):
    """The LLCNN network; output has the input's spatial size."""

    downsampling = 1

    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: int = 64):
        super().__init__()
        self.in_channels, self.out_channels, self.width = in_channels, out_channels, width
        self.head = nn.Sequential(_conv3(in_channels, width), nn.ReLU(inplace=True))
        self.body = nn.Sequential(*(_Module(width) for _ in range(3)))
        self.tail = _conv3(width, out_channels)
        # 1 head + 3 modules x 4 (3x3) + 1 tail convolutions of radius 1.
        self.receptive_field_radius = 1 + 3 * 4 + 1
        w = width
        self.macs_per_pixel = 9 * in_channels * w + 3 * (w * w + 4 * 9 * w * w) + 9 * w * out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.body(self.head(x)))
