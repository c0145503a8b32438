"""Real low-light photo pairs: LOL (Wei et al., BMVC 2018), split by id ranges.

``DIR/lol-train/{low,high}/NNN.webp``: a short and a long exposure of the same
indoor scene, lossless WebP, 600 x 400 RGB. Consecutive ids are often the same
room, so the splits are id ranges (the folder's README): 2-559 train, 560-679
validation (choosing recipes), 680-789 test (reported once).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = {"train": (2, 559), "validation": (560, 679), "test": (680, 789)}


@dataclass(frozen=True)
class Pair:
    """One LOL pair, sRGB float32 in [0, 1], (H, W, 3)."""

    id: int
    low: np.ndarray
    high: np.ndarray


def ids(root: Path, split: str) -> list[int]:
    """The ids of ``split`` present under ``root/lol-train``."""
    if split not in SPLITS:
        raise ValueError(f"Unknown LOL split {split!r}; use one of {', '.join(SPLITS)}.")
    first, last = SPLITS[split]
    folder = Path(root) / "lol-train" / "low"
    # LOL's names are three digits (002.webp); load() rebuilds them so.
    found = sorted(int(p.stem) for p in folder.glob("[0-9][0-9][0-9].webp"))
    chosen = [i for i in found if first <= i <= last]
    if not chosen:
        raise FileNotFoundError(f"No LOL pairs with ids {first}-{last} under {folder}.")
    return chosen


def read(path: Path) -> np.ndarray:
    """An 8-bit RGB file as float32 in [0, 1]."""
    from skimage import io

    pixels = io.imread(path)
    if pixels.ndim != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"{path}: expected an 8-bit RGB image, got {pixels.dtype} {pixels.shape}.")
    return pixels[..., :3].astype(np.float32) / 255


def load(root: Path, split: str) -> list[Pair]:
    """Every pair of ``split``, in id order."""
    folder = Path(root) / "lol-train"
    pairs = []
    for i in ids(root, split):
        high_path = folder / "high" / f"{i:03d}.webp"
        if not high_path.exists():
            raise FileNotFoundError(f"LOL pair {i}: its reference {high_path} is missing.")
        low, high = read(folder / "low" / f"{i:03d}.webp"), read(high_path)
        if low.shape != high.shape:
            raise ValueError(f"LOL pair {i}: low {low.shape} and high {high.shape} differ in shape.")
        pairs.append(Pair(i, low, high))
    return pairs
