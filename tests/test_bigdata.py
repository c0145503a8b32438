"""Out-of-core enhancement: dask blocks with overlap equal the in-memory engine, on threads,
processes and a dask.distributed cluster; Zarr/TIFF in, Zarr out."""

import os
import pickle

import dask.array as da
import numpy as np
import pytest
import tifffile
import torch
import zarr

from napari_lowlight import bigdata, enhance, models, region_job, weights
from napari_lowlight.bigdata import aligned_chunks, enhance_dask
from napari_lowlight.engine import EnhanceJob, Progress


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


# -- schedulers, the model on workers, I/O --------------------------------------------------------


@pytest.fixture
def tiny_weights(tmp_path, monkeypatch):
    """A small exported weight set ("tiny", llunet) in a folder the environment points to:
    worker processes started afterwards inherit it."""
    from napari_lowlight.training.train import TrainConfig, export

    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(folder))
    torch.manual_seed(0)
    return export(TrainConfig(name="tiny", arch="llunet", domain="fluo", channels=1, steps=0),
                  models.build("llunet"), folder, [], recipe="test")


def test_the_graph_carries_the_weight_set_by_name_never_the_network(tiny_weights, rng):
    lazy = bigdata.enhance_dask(rng.random((64, 64)), model="tiny", tile_size=32)
    assert bigdata.models_in(lazy) == (bigdata.ModelRef("tiny", tiny_weights.sha256),)
    # The unmodified cached network counts as the weight set too.
    same = bigdata.enhance_dask(rng.random((64, 64)), model=weights.load_model("tiny"), tile_size=32)
    assert bigdata.models_in(same) == bigdata.models_in(lazy)
    (block_function,) = bigdata._enhancers(lazy)
    assert len(pickle.dumps(block_function)) < 4000  # the network's tensors would be over 500 kB
    with pytest.raises(weights.WeightsError, match="differ"):
        bigdata.ModelRef("tiny", "0" * 64).load()


def test_a_custom_module_runs_on_threads_only_with_a_clear_error(grey_net, rng):
    image = rng.random((64, 80)).astype(np.float32)
    lazy = bigdata.enhance_dask(image, model=grey_net, tile_size=32)
    np.testing.assert_allclose(bigdata.compute(lazy), enhance(image, model=grey_net), atol=1e-5)
    for scheduler in ("processes", "distributed"):
        runner = bigdata.Runner(scheduler)
        with pytest.raises(ValueError, match="only run with the threads scheduler"):
            runner.compute(lazy)  # refused before a pool or cluster starts
        assert runner.client is None and runner._pool is None
    with pytest.raises(TypeError, match="only run with the threads scheduler"):
        pickle.dumps(bigdata._enhancers(lazy)[0])


def test_threads_report_each_block_and_restore_torch_threads(grey_net, rng):
    image = rng.random((100, 150)).astype(np.float32)
    lazy = bigdata.enhance_dask(image, model=grey_net, tile_size=32)
    before = torch.get_num_threads()
    steps: list[Progress] = []
    with bigdata.Runner("threads", workers=2) as runner:
        out = runner.compute(lazy, progress=steps.append)
    assert torch.get_num_threads() == before
    blocks = lazy.numblocks[0] * lazy.numblocks[1]
    assert steps[0] == Progress(0, blocks) and steps[-1] == Progress(blocks, blocks)
    assert [s.done for s in steps] == list(range(blocks + 1))
    np.testing.assert_allclose(out, enhance(image, model=grey_net), atol=1e-5)


def test_runner_refuses_contradicting_settings():
    with pytest.raises(ValueError, match="Unknown scheduler"):
        bigdata.Runner("gpu")
    with pytest.raises(ValueError, match="needs scheduler='distributed'"):
        bigdata.Runner("threads", address="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="own workers"):
        bigdata.Runner("distributed", address="tcp://127.0.0.1:8786", workers=2)
    with pytest.raises(ValueError, match="positive"):
        bigdata.Runner("processes", workers=0)


def test_torch_threads_split_the_cores_workers_share():
    class Client:  # two workers sharing 4 cores, one with 8 of its own and 2 dask threads
        def run(self, fn):
            return {"a": ("h1", (0, 1, 2, 3)), "b": ("h1", (0, 1, 2, 3)), "c": ("h2", tuple(range(8)))}

        def nthreads(self):
            return {"a": 1, "b": 1, "c": 2}

    assert bigdata.torch_threads_plan(Client()) == {"a": 2, "b": 2, "c": 4}


def test_store_zarr_block_by_block_with_attributes_never_over_an_existing_path(grey_net, rng, tmp_path):
    image = (rng.random((90, 130)) * 4095).astype(np.uint16)
    lazy = bigdata.enhance_dask(image, model=grey_net, tile_size=32)
    steps = []
    out = bigdata.store_zarr(lazy, tmp_path / "out.zarr", attrs={"source": "dark.tif", "model": "grey"},
                             progress=steps.append, dimension_names=["y", "x"])
    assert out.metadata.dimension_names == ("y", "x")
    assert out.chunks == tuple(c[0] for c in lazy.chunks)  # one block per chunk: writers never race
    assert dict(out.attrs) == {"source": "dark.tif", "model": "grey"}
    np.testing.assert_allclose(out[:], enhance(image, model=grey_net), atol=1e-5)
    assert steps[-1].done == steps[-1].total == lazy.npartitions
    with pytest.raises(FileExistsError, match="overwrite"):
        bigdata.store_zarr(lazy, tmp_path / "out.zarr")
    bigdata.store_zarr(lazy * 0, tmp_path / "out.zarr", overwrite=True)
    assert not zarr.open_array(tmp_path / "out.zarr", mode="r")[:].any()


def test_open_lazy_reads_zarr_ome_zarr_and_tiff_without_loading(rng, tmp_path):
    image = (rng.random((2, 70, 90)) * 60000).astype(np.uint16)
    zarr.create_array(tmp_path / "plain.zarr", data=image, chunks=(1, 32, 32))
    ome = zarr.open_group(tmp_path / "ome.zarr", mode="w")
    ome.create_array("0", data=image, chunks=(1, 32, 32))
    ome.create_array("1", data=image[:, ::2, ::2], chunks=(1, 32, 32))
    ome.attrs["ome"] = {"version": "0.5", "multiscales": [{"datasets": [{"path": "0"}, {"path": "1"}]}]}
    tifffile.imwrite(tmp_path / "tiled.tif", image, tile=(32, 32), compression="zlib")
    tifffile.imwrite(tmp_path / "strips.tif", image, compression="zlib", rowsperstrip=8)
    tifffile.imwrite(tmp_path / "raw.tif", image)  # contiguous: memory-mapped
    for name in ("plain.zarr", "ome.zarr", "tiled.tif", "strips.tif", "raw.tif"):
        lazy = bigdata.open_lazy(tmp_path / name)
        assert isinstance(lazy, da.Array) and lazy.shape == image.shape, name
        assert len(pickle.dumps(lazy.__dask_graph__())) < 20_000, name  # the graph holds no pixels
        np.testing.assert_array_equal(lazy.compute(), image, err_msg=name)
    np.testing.assert_array_equal(bigdata.open_lazy(tmp_path / "ome.zarr", level=1), image[:, ::2, ::2])
    with pytest.raises(ValueError, match="levels 0..1"):
        bigdata.open_lazy(tmp_path / "ome.zarr", level=2)
    with pytest.raises(FileNotFoundError):
        bigdata.open_lazy(tmp_path / "missing.zarr")


def test_processes_read_a_tiff_and_write_zarr_equal_to_in_memory(tiny_weights, rng, tmp_path):
    image = (rng.random((150, 170)) * 3000).astype(np.uint16)
    tifffile.imwrite(tmp_path / "dark.tif", image, tile=(64, 64))
    lazy = bigdata.enhance_dask(bigdata.open_lazy(tmp_path / "dark.tif"), model="tiny", tile_size=64)
    out = bigdata.store_zarr(lazy, tmp_path / "out.zarr", scheduler="processes", workers=2)
    np.testing.assert_allclose(out[:], enhance(image, model="tiny"), atol=1e-5)


def test_a_local_cluster_of_two_processes_equals_the_single_process_result(tiny_weights, rng, tmp_path):
    image = (rng.random((2, 150, 170)) * 3000).astype(np.uint16)
    expected = enhance(image, model="tiny")
    lazy = bigdata.enhance_dask(da.from_array(image, chunks=(1, 150, 170)), model="tiny", tile_size=64)
    steps = []
    with bigdata.Runner("distributed", workers=2) as runner:
        assert runner.client.scheduler.address.startswith("tcp://127.0.0.1:")
        out = runner.compute(lazy, progress=steps.append)
        stored = runner.store_zarr(lazy, tmp_path / "out.zarr", attrs={"model": "tiny"})

        def loaded(dask_worker):
            plugin = dask_worker.plugins[bigdata.PLUGIN_NAME]
            return plugin.threads, list(plugin._models), os.environ[weights.WEIGHTS_ENV]

        on_workers = runner.client.run(loaded)
        threads_in_tasks = runner.client.gather(
            [runner.client.submit(torch.get_num_threads, pure=False, workers=[w]) for w in on_workers]
        )
        # The same cluster by its address, as an existing cluster is used: closing leaves it running.
        with bigdata.Runner("distributed", address=runner.client.scheduler.address) as remote:
            again = remote.compute(lazy)
        assert runner.client.run(lambda: 1) == dict.fromkeys(on_workers, 1)
    np.testing.assert_allclose(again, out, atol=0)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_allclose(stored[:], expected, atol=1e-5)
    assert steps[-1] == Progress(lazy.npartitions, lazy.npartitions)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ref = bigdata.ModelRef("tiny", tiny_weights.sha256)
    assert len(on_workers) == 2
    for threads, loaded_models, folder in on_workers.values():
        # Loaded once at setup from the same folder; 2 workers x threads never exceed the cores.
        assert loaded_models == [ref] and folder == os.environ[weights.WEIGHTS_ENV]
        assert threads == max(1, cores // 2)
    assert threads_in_tasks == [max(1, cores // 2)] * 2


def test_a_failed_store_leaves_nothing_behind_and_keeps_what_was_there(grey_net, rng, tmp_path):
    image = rng.random((64, 64)).astype(np.float32)
    failing = enhance_dask(image, model=Exploding(), tile_size=16)
    with pytest.raises(RuntimeError, match="the network ran"):
        bigdata.store_zarr(failing, tmp_path / "out.zarr")
    assert list(tmp_path.iterdir()) == []  # neither the output nor its partial sibling
    good = bigdata.store_zarr(enhance_dask(image, model=grey_net, tile_size=16), tmp_path / "out.zarr")
    before = good[:]
    with pytest.raises(RuntimeError, match="the network ran"):
        bigdata.store_zarr(failing, tmp_path / "out.zarr", overwrite=True)
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "out.zarr", mode="r")[:], before)
    assert [p.name for p in tmp_path.iterdir()] == ["out.zarr"]
