"""LOL pairs are read by id ranges (train / validation / test), from a small fake tree."""

import numpy as np
import pytest

from napari_lowlight.training import lol

IDS = (2, 10, 560, 600, 700)


@pytest.fixture
def tree(tmp_path, lol_pair_writer):
    """``tmp_path/lol-train/{low,high}/NNN.webp`` for :data:`IDS`; returns (root, written pixels)."""
    rng = np.random.default_rng(0)
    written = {}
    for i in IDS:
        low, high = (rng.integers(0, 256, (12, 16, 3), dtype=np.uint8) for _ in range(2))
        lol_pair_writer(tmp_path, i, low, high)
        written[i] = (low, high)
    (tmp_path / "lol-train" / "low" / "notes.webp").write_bytes(b"")  # not an id: ignored
    return tmp_path, written


def test_ids_follow_the_split_ranges(tree):
    root, _ = tree
    assert lol.ids(root, "train") == [2, 10]
    assert lol.ids(root, "validation") == [560, 600]
    assert lol.ids(root, "test") == [700]


def test_load_gives_the_written_pixels_as_float32(tree):
    root, written = tree
    pairs = lol.load(root, "validation")
    assert [p.id for p in pairs] == [560, 600]
    for pair in pairs:
        for got, pixels in zip((pair.low, pair.high), written[pair.id], strict=True):
            assert got.dtype == np.float32 and got.shape == (12, 16, 3)
            assert got.min() >= 0.0 and got.max() <= 1.0
            np.testing.assert_array_equal(got, pixels.astype(np.float32) / 255)


def test_pairs_of_different_shapes_raise(tree, lol_pair_writer):
    root, written = tree
    lol_pair_writer(root, 10, written[10][0], np.zeros((10, 16, 3), np.uint8))  # a high of another shape
    with pytest.raises(ValueError, match="differ in shape"):
        lol.load(root, "train")


def test_unknown_split_raises(tree):
    root, _ = tree
    with pytest.raises(ValueError, match="Unknown LOL split 'val'"):
        lol.ids(root, "val")
    with pytest.raises(ValueError, match="Unknown LOL split"):
        lol.load(root, "training")


def test_empty_split_raises_file_not_found(tree, tmp_path_factory):
    root, _ = tree
    for i in (700,):
        (root / "lol-train" / "low" / f"{i:03d}.webp").unlink()
    with pytest.raises(FileNotFoundError, match="680-789"):
        lol.load(root, "test")
    with pytest.raises(FileNotFoundError):
        lol.ids(tmp_path_factory.mktemp("empty"), "train")  # no lol-train folder at all
