"""Tile grids with halos, aligned to the network's downsampling: pure numpy.

A plane is cut into *cores* of ``tile_size`` pixels. Each core is read with a
*halo* of context on every side, clipped at the true image border (the image
is never padded there), run through the network, and only the core is kept.
When the halo is at least the network's receptive-field radius and every
origin is a multiple of the downsampling factor, the stitched result equals
the untiled one.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np


@dataclass(frozen=True)
class Tile:
    """One tile: ``read`` is the input window, ``core`` the output window it
    owns, ``crop`` the core's position inside the network's output."""

    read: tuple[slice, slice]
    core: tuple[slice, slice]
    crop: tuple[slice, slice]

    @property
    def read_shape(self) -> tuple[int, int]:
        return tuple(s.stop - s.start for s in self.read)


def round_up(value: int, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is >= ``value``."""
    return -(-int(value) // multiple) * multiple


def _axis_plan(length: int, core: int, halo: int) -> list[tuple[slice, slice, slice]]:
    plans = []
    for start in range(0, length, core):
        stop = min(start + core, length)
        lo, hi = max(0, start - halo), min(length, stop + halo)
        plans.append((slice(lo, hi), slice(start, stop), slice(start - lo, stop - lo)))
    return plans


def plan_tiles(shape: tuple[int, int], tile_size: int, halo: int, align: int = 1) -> list[Tile]:
    """Cut a ``shape`` = (height, width) plane into aligned tiles.

    Parameters
    ----------
    shape : tuple of int
        Height and width of the plane.
    tile_size : int
        Core size in pixels, rounded up to a multiple of ``align``.
    halo : int
        Context read on each side, rounded up to a multiple of ``align``.
    align : int
        The network's downsampling factor; every read origin is a multiple.

    Returns
    -------
    list of Tile
        Row-major; the cores partition the plane exactly.
    """
    if tile_size < 1 or halo < 0 or align < 1:
        raise ValueError("tile_size must be >= 1, halo >= 0 and align >= 1.")
    core, halo = round_up(tile_size, align), round_up(halo, align)
    rows, cols = (_axis_plan(n, core, halo) for n in shape)
    return [
        Tile(read=(r[0], c[0]), core=(r[1], c[1]), crop=(r[2], c[2]))
        for r, c in product(rows, cols)
    ]


def group_by_shape(tiles: list[Tile], batch_size: int) -> list[list[Tile]]:
    """Batches of tiles with identical read shapes (so they stack), at most
    ``batch_size`` each, in a stable order."""
    groups: dict[tuple[int, int], list[Tile]] = {}
    for tile in tiles:
        groups.setdefault(tile.read_shape, []).append(tile)
    return [
        same[i : i + batch_size] for same in groups.values() for i in range(0, len(same), batch_size)
    ]


def stitch(out: np.ndarray, tile: Tile, result: np.ndarray) -> None:
    """Write a tile's core from the network output ``result`` (..., h, w) into
    ``out`` (..., H, W) in place."""
    out[(..., *tile.core)] = result[(..., *tile.crop)]
