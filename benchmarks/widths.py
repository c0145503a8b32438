"""Would a wider or deeper `llunet3` still meet 1 Mpx/s? Cost and speed, same run.

    python benchmarks/widths.py [--size 1024] [--widths 16 20 24]

Prints a markdown table: for each width of the 3-level LLUNet (the shipped
`fluo` and `photo` use 16), and for `llunet3-deep` (width 16, one more
convolution per low-resolution block), its parameters, multiply-accumulates
per pixel and Mpx/s of the network alone (fp32, channels-last, this
machine's threads, best of three after a warm-up) on one size x size grey
image, and its speed as a share of width 16's, measured in the same run.
"""

from __future__ import annotations

import argparse

import torch
from speed import best_of

from napari_lowlight import models


def megapixels_per_second(net: torch.nn.Module, size: int, repeats: int = 3) -> float:
    x = torch.rand(1, 1, size, size).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        return size * size / 1e6 / best_of(lambda: net(x), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 20, 24])
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.size}x{args.size} grey image\n")
    print("| width | parameters | MACs/pixel | Mpx/s | vs width 16 |")
    print("|---|---|---|---|---|")
    nets = {str(w): models.LLUNet(1, 1, width=w, levels=3) for w in args.widths}
    nets["16, deep"] = models.build("llunet3-deep")
    nets = {label: net.eval().to(memory_format=torch.channels_last) for label, net in nets.items()}
    speeds = {label: megapixels_per_second(net, args.size) for label, net in nets.items()}
    for label, net in nets.items():
        share = f"{speeds[label] / speeds['16']:.2f}x" if "16" in speeds else "-"
        print(f"| {label} | {models.count_parameters(net):,} | {net.macs_per_pixel:,} "
              f"| {speeds[label]:.2f} | {share} |")


if __name__ == "__main__":
    main()
