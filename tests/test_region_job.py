"""Region enhancement without a viewer: context margin, statistics, lazy reads."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import napari_lowlight
from napari_lowlight import region_job
from napari_lowlight.engine import Progress

TOL = 1e-4


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    base = np.zeros((128, 144), np.float32)
    base[30:90, 40:120] = 40.0
    return (rng.poisson(base + 5.0) * 7).astype(np.uint16)


@pytest.fixture(scope="module")
def whole(image, grey_net):
    return napari_lowlight.enhance(image, model=grey_net, tile_size=48, device="cpu")


BOX = np.s_[41:83, 47:101]  # away from the border by more than the margin (24)


def test_roi_equals_whole_image_enhancement(image, whole, grey_net):
    (out,) = napari_lowlight.enhance_regions(image, [BOX], model=grey_net, tile_size=32, device="cpu")
    assert out.shape == (42, 54) and out.dtype == np.float32
    assert whole[BOX].std() > 0.01  # the network does something position-dependent
    np.testing.assert_allclose(out, whole[BOX], atol=TOL, rtol=0)


def test_without_margin_the_edges_differ(image, whole, grey_net):
    # The same comparison fails without context: the margin is what makes it pass.
    with pytest.warns(UserWarning, match="receptive-field radius"):
        (out,) = napari_lowlight.enhance_regions(image, [BOX], margin=0, model=grey_net, device="cpu")
    assert np.abs(out - whole[BOX]).max() > 10 * TOL


def test_crop_statistics_differ_from_image_statistics(image, whole, grey_net):
    (out,) = napari_lowlight.enhance_regions(image, [BOX], stats="crop", model=grey_net, device="cpu")
    assert np.abs(out - whole[BOX]).max() > 10 * TOL
    job = region_job.RegionJob(image, [BOX], model=grey_net, device="cpu")
    assert job.stats == "image" and job.normalization == "percentile"


def test_rgb_exposure_roi_equals_whole(rgb_net):
    rng = np.random.default_rng(3)
    img = (rng.random((96, 112, 3)) ** 4 * 60).astype(np.uint8)
    opts = {"model": rgb_net, "channel_axis": -1, "normalization": "exposure", "device": "cpu",
            "tile_size": 40}
    whole = napari_lowlight.enhance(img, **opts)
    box = np.s_[30:62, 33:77]
    (out,) = napari_lowlight.enhance_regions(img, [box], **opts)
    assert out.shape == (32, 44, 3)
    np.testing.assert_allclose(out, whole[box], atol=TOL, rtol=0)


def test_stack_boxes_one_slice_and_every_slice(grey_net):
    rng = np.random.default_rng(4)
    stack = rng.poisson(6.0, (3, 72, 80)).astype(np.uint16)
    whole = napari_lowlight.enhance(stack, model=grey_net, device="cpu")
    one, every = napari_lowlight.enhance_regions(
        stack, [np.s_[1, 26:50, 27:55], np.s_[:, 26:50, 27:55]], model=grey_net, device="cpu"
    )
    assert one.shape == (1, 24, 28) and every.shape == (3, 24, 28)
    np.testing.assert_allclose(one, whole[1:2, 26:50, 27:55], atol=TOL, rtol=0)
    np.testing.assert_allclose(every, whole[:, 26:50, 27:55], atol=TOL, rtol=0)


def test_progress_counts_tiles_of_all_rois(image, grey_net):
    seen: list[Progress] = []
    boxes = [np.s_[0:40, 0:40], np.s_[60:128, 70:144]]
    job = region_job.RegionJob(image, boxes, model=grey_net, device="cpu", tile_size=32)
    out = job.run(seen.append)
    assert len(out) == 2 and out[1].shape == (68, 74)
    assert seen[0] == Progress(0, job.total) and seen[-1] == Progress(job.total, job.total)
    assert job.total > 2 and all(a.done <= b.done for a, b in itertools.pairwise(seen))
    assert len(job.elapsed) == 2 and all(t > 0 for t in job.elapsed)


class RecordingArray:
    """An array-like that logs every read and refuses to be read whole."""

    def __init__(self, data: np.ndarray):
        self._data, self.reads = data, []
        self.shape, self.dtype, self.ndim = data.shape, data.dtype, data.ndim

    def __getitem__(self, key):
        self.reads.append(key)
        return self._data[key]

    def __array__(self, *args, **kwargs):
        raise AssertionError("the whole array was read")

    def read_boxes(self):
        """Each read as (start, stop) per axis."""
        def span(s, n):
            return (s.start or 0, n if s.stop is None else s.stop)

        return [[span(s, n) for s, n in zip(k, self.shape, strict=False)] for k in self.reads]


def _inside(read, crop):
    return all(a >= ca and b <= cb for (a, b), ca, cb in zip(read, crop.start, crop.stop, strict=False))


def test_lazy_array_reads_only_the_roi_and_margin(image, grey_net):
    lazy = RecordingArray(image)
    job = region_job.RegionJob(lazy, [BOX], model=grey_net, device="cpu")
    assert lazy.reads == []  # building the job reads nothing
    (out,) = job.run()
    assert job.stats == "crop"  # a single-level lazy array is never read whole for statistics
    assert len(lazy.reads) == 1 and _inside(lazy.read_boxes()[0], job.crops[0])
    # Margin 24 (the U-Net's receptive-field radius), origin aligned down to its downsampling (4).
    assert job.crops[0].start == (16, 20) and job.crops[0].stop == (107, 125)
    expected = napari_lowlight.enhance_regions(image, [BOX], stats="crop", model=grey_net, device="cpu")[0]
    np.testing.assert_allclose(out, expected, atol=TOL, rtol=0)


def test_dask_reads_only_chunks_touching_the_crop(image, grey_net):
    da = pytest.importorskip("dask.array")
    lazy = RecordingArray(image)
    darr = da.from_array(lazy, chunks=(32, 32), asarray=False)
    job = region_job.RegionJob(darr, [np.s_[70:90, 90:110]], model=grey_net, device="cpu")
    job.run()
    crop = job.crops[0]
    grown = type(crop)(
        tuple(a // 32 * 32 for a in crop.start),
        tuple(min(n, -(-b // 32) * 32) for b, n in zip(crop.stop, image.shape, strict=False)),
    )
    # dask also reads a 0 x 0 slice for its metadata: no pixels.
    reads = [r for r in lazy.read_boxes() if all(b > a for a, b in r)]
    assert reads and all(_inside(r, grown) for r in reads)
    assert len(reads) < (128 // 32) * (144 // 32 + 1)


def test_zarr_array_is_read_by_box(image, grey_net):
    zarr = pytest.importorskip("zarr")
    z = zarr.create_array(store={}, shape=image.shape, chunks=(32, 32), dtype=image.dtype)
    z[:] = image
    (out,) = napari_lowlight.enhance_regions(z, [BOX], model=grey_net, device="cpu")
    (ref,) = napari_lowlight.enhance_regions(image, [BOX], stats="crop", model=grey_net, device="cpu")
    np.testing.assert_allclose(out, ref, atol=TOL, rtol=0)


def test_multiscale_uses_full_resolution_and_small_level_for_statistics(image, whole, grey_net):
    level0 = RecordingArray(image)
    level1 = image[::2, ::2]
    job = region_job.RegionJob([level0, level1], [BOX], model=grey_net, device="cpu")
    (out,) = job.run()
    assert job.stats == "image" and len(level0.reads) == 1
    assert out.shape == (42, 54)
    # Statistics from the half-resolution level are close to the whole image's, not equal.
    assert np.abs(out - whole[BOX]).max() < 0.05


def test_bad_boxes_and_options_raise_clearly(image, grey_net):
    with pytest.raises(ValueError, match="empty"):
        napari_lowlight.enhance_regions(image, [np.s_[10:10, 0:5]], model=grey_net)
    with pytest.raises(ValueError, match="outside"):
        napari_lowlight.enhance_regions(image, [np.s_[100:200, 0:5]], model=grey_net)
    with pytest.raises(ValueError, match="No regions"):
        napari_lowlight.enhance_regions(image, [], model=grey_net)
    with pytest.raises(ValueError, match="stats"):
        napari_lowlight.enhance_regions(image, [BOX], stats="median", model=grey_net)
    with pytest.raises(ValueError, match="axes"):
        napari_lowlight.enhance_regions(image, [np.s_[1, 2:5, 3:9]], model=grey_net)


def test_auto_model_without_weights_raises_weights_error(image, tmp_path, monkeypatch):
    monkeypatch.setenv("NAPARI_LOWLIGHT_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(napari_lowlight.WeightsError, match="fluo"):
        napari_lowlight.enhance_regions(image, [BOX], model="auto")
