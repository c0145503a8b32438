"""Out-of-core enhancement: dask blocks with overlap equal the in-memory engine."""

import dask.array as da
import numpy as np
import pytest
import torch
import zarr

from napari_lowlight import enhance, region_job
from napari_lowlight.bigdata import aligned_chunks, enhance_dask
from napari_lowlight.engine import EnhanceJob


@pytest.mark.parametrize("chunks", [(1, 32, 48), (2, 150, 203), (1, 71, 64)])
def test_blocks_equal_the_in_memory_result_on_odd_sizes(grey_net, rng, chunks):
    image = (rng.random((2, 150, 203)) * 1000).astype(np.uint16)
    expected = enhance(image, model=grey_net, tile_size=64)
    lazy = enhance_dask(da.from_array(image, chunks=chunks), model=grey_net, tile_size=40)
    assert lazy.dtype == np.float32 and lazy.shape == image.shape
    np.testing.assert_allclose(lazy.compute(), expected, atol=1e-5)


def test_rgb_blocks_equal_the_in_memory_result(rgb_net, rng):
    image = (rng.random((97, 131, 3)) * 255).astype(np.uint8)
    expected = enhance(image, model=rgb_net, channel_axis=-1)
    blocks = da.from_array(image, chunks=(50, 50, 1))
    lazy = enhance_dask(blocks, model=rgb_net, channel_axis=-1, tile_size=32)
    assert lazy.chunks[-1] == (3,)  # colour is enhanced jointly: one chunk
    np.testing.assert_allclose(lazy.compute(), expected, atol=1e-5)


def test_block_edges_fall_on_multiples_of_the_chunk():
    assert aligned_chunks(150, 40, 24) == (40, 40, 40, 30)
    assert aligned_chunks(130, 40, 24) == (40, 40, 50)  # a 10-pixel tail joins its neighbour
    assert aligned_chunks(20, 40, 24) == (20,)


class Exploding(torch.nn.Module):
    in_channels = out_channels = 1
    receptive_field_radius, downsampling = 2, 1

    def forward(self, x):
        raise RuntimeError("the network ran")


def test_building_the_graph_runs_no_network(rng):
    lazy = enhance_dask(da.from_array(rng.random((64, 64)), chunks=16), model=Exploding(), tile_size=16)
    assert lazy._meta.dtype == np.float32
    with pytest.raises(RuntimeError, match="the network ran"):
        lazy.compute()


def test_every_block_shares_statistics_from_a_bounded_sample(grey_net, rng):
    image = rng.gamma(2.0, 100.0, (120, 120)).astype(np.float32)
    lazy = enhance_dask(da.from_array(image, chunks=40), model=grey_net, tile_size=40, max_sample=900)
    job = EnhanceJob(image, model=grey_net)
    sample = region_job.subsample(image, None, 900)
    assert sample.size <= 900
    shared = EnhanceJob(image, model=grey_net, normalizer=job.statistics(sample)).run()
    np.testing.assert_allclose(lazy.compute(), shared, atol=1e-5)
    assert not np.allclose(shared, job.run(), atol=1e-5)  # the sample's curve, not the whole image's


def test_zarr_in_zarr_out_block_by_block(grey_net, rng, tmp_path):
    image = (rng.random((90, 110)) * 4095).astype(np.uint16)
    source = zarr.create_array(tmp_path / "in.zarr", shape=image.shape, chunks=(32, 32), dtype=image.dtype)
    source[:] = image
    enhance_dask(zarr.open_array(tmp_path / "in.zarr", mode="r"), model=grey_net, tile_size=32).to_zarr(
        str(tmp_path / "out.zarr")
    )
    out = zarr.open_array(tmp_path / "out.zarr", mode="r")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:], enhance(image, model=grey_net), atol=1e-5)
    # The input is untouched.
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "in.zarr", mode="r")[:], image)


def test_colour_without_channel_axis_is_refused_before_any_work(grey_net):
    with pytest.raises(ValueError, match="channel_axis=-1"):
        enhance_dask(da.zeros((64, 64, 3), chunks=32), model=grey_net)
