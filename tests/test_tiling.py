import numpy as np
import pytest
import torch

from napari_lowlight import enhance, models
from napari_lowlight.tiling import group_by_shape, plan_tiles


@pytest.mark.parametrize("shape", [(203, 157), (64, 64), (5, 300)])
@pytest.mark.parametrize("tile", [16, 50, 128])
def test_cores_partition_the_plane_and_reads_are_aligned(shape, tile):
    tiles = plan_tiles(shape, tile, halo=10, align=4)
    cover = np.zeros(shape, int)
    for t in tiles:
        cover[t.core] += 1
        for s, n in zip(t.read, shape, strict=False):
            assert s.start % 4 == 0 and s.start >= 0 and s.stop <= n
            assert s.stop == n or s.stop % 4 == 0
        # halo of at least 10 (12 aligned) unless at a border
        for r, c, n in zip(t.read, t.core, shape, strict=False):
            assert r.start == 0 or c.start - r.start >= 10
            assert r.stop == n or r.stop - c.stop >= 10
    assert (cover == 1).all()


def test_batches_hold_one_shape_each():
    tiles = plan_tiles((300, 300), 64, 8, 4)
    for batch in group_by_shape(tiles, 3):
        assert 1 <= len(batch) <= 3
        assert len({t.read_shape for t in batch}) == 1
    assert sum(len(b) for b in group_by_shape(tiles, 3)) == len(tiles)


@pytest.mark.parametrize("arch", ["llunet", "llunet3", "llcnn32"])
@pytest.mark.parametrize("tile_size", [16, 44, 100])
def test_tiled_output_equals_untiled_output(arch, tile_size):
    torch.manual_seed(0)
    net = models.build(arch)
    image = np.random.default_rng(0).random((131, 97)).astype(np.float32)
    whole = enhance(image, model=net, tile_size=1024)
    tiled = enhance(image, model=net, tile_size=tile_size, batch_size=3)
    assert np.abs(tiled - whole).max() <= 1e-5


def test_untiled_reference_is_the_plain_network():
    """The 1-tile path is the network itself (normalisation aside)."""
    torch.manual_seed(1)
    net = models.build("llunet")
    image = np.random.default_rng(1).random((45, 61)).astype(np.float32)
    out = enhance(image, model=net, normalization="dtype", tile_size=4096)
    with torch.no_grad():
        ref = net(torch.from_numpy(image)[None, None])[0, 0].clamp(0, 1).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-6)
