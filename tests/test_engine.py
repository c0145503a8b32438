import itertools

import numpy as np
import pytest
import torch

import napari_lowlight
from napari_lowlight import EnhanceJob, enhance, models
from napari_lowlight.engine import EnhanceOptions, Progress, drain
from napari_lowlight.weights import WeightsError


@pytest.mark.parametrize(
    "dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float16, np.float32, np.float64, bool]
)
def test_every_supported_dtype_gives_float32_in_unit_range(dtype, grey_net, rng):
    image = (rng.random((40, 50)) * (200 if dtype not in (np.float16, np.float32, np.float64, bool) else 1))
    image = (image > 0.5) if dtype is bool else image.astype(dtype)
    out = enhance(image, model=grey_net)
    assert out.dtype == np.float32 and out.shape == image.shape
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_rgb_is_processed_jointly_and_alpha_passes_through(rgb_net, rng):
    rgba = (rng.random((33, 47, 4)) * 255).astype(np.uint8)
    out = enhance(rgba, model=rgb_net, channel_axis=-1)
    assert out.shape == rgba.shape
    np.testing.assert_allclose(out[..., 3], rgba[..., 3] / 255.0, atol=1e-6)
    rgb = enhance(rgba[..., :3], model=rgb_net, channel_axis=-1)
    np.testing.assert_allclose(out[..., :3], rgb, atol=1e-6)


def test_channel_axis_first_matches_channel_axis_last(rgb_net, rng):
    rgb = rng.random((3, 30, 40)).astype(np.float32)
    first = enhance(rgb, model=rgb_net, channel_axis=0)
    last = enhance(np.moveaxis(rgb, 0, -1), model=rgb_net, channel_axis=-1)
    np.testing.assert_allclose(first, np.moveaxis(last, -1, 0), atol=1e-6)


def test_single_channel_model_runs_per_channel(grey_net, rng):
    image = rng.random((30, 40, 5)).astype(np.float32)
    out = enhance(image, model=grey_net, channel_axis=2, normalization="dtype")
    for c in range(5):
        alone = enhance(image[..., c], model=grey_net, normalization="dtype")
        np.testing.assert_allclose(out[..., c], alone, atol=1e-6)


def test_leading_axes_are_independent_planes(grey_net, rng):
    stack = rng.random((2, 3, 24, 28)).astype(np.float32)
    out = enhance(stack, model=grey_net, normalization="dtype")
    assert out.shape == stack.shape
    np.testing.assert_allclose(out[1, 2], enhance(stack[1, 2], model=grey_net, normalization="dtype"),
                               atol=1e-6)


def test_percentile_normalisation_makes_output_independent_of_scale(grey_net, rng):
    image = rng.random((40, 40)).astype(np.float32)
    a = enhance(image, model=grey_net)
    b = enhance((image * 5000 + 100).astype(np.float64), model=grey_net)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_image_smaller_than_a_tile_works(grey_net):
    out = enhance(np.ones((3, 5), np.uint8), model=grey_net, tile_size=256)
    assert out.shape == (3, 5)


@pytest.mark.parametrize(
    "image, kwargs, message",
    [
        (np.zeros(5), {}, "at least a 2-D"),
        (np.zeros((0, 5)), {}, "empty"),
        (np.array([[0.0, np.nan]]), {}, "NaN or infinite"),
        (np.array([[0.0, np.inf]]), {}, "NaN or infinite"),
        (np.zeros((4, 4), complex), {}, "complex"),
        (np.zeros((4, 4, 3)), {"channel_axis": 5}, "out of range"),
        (np.zeros((4, 3)), {"channel_axis": -1}, "at least a 2-D"),
        (np.zeros((8, 8)), {"device": "tpu"}, "Unknown device|not supported"),
        (np.zeros((8, 8)), {"precision": "fp8"}, "Unknown precision"),
        (np.zeros((8, 8)), {"tile_size": -3}, "positive"),
        (np.zeros((8, 8)), {"tile_size": 0}, "tile_size must be a positive"),
        (np.zeros((8, 8)), {"batch_size": 0}, "batch_size must be a positive"),
        (np.zeros((8, 8)), {"batch_size": -1}, "batch_size must be a positive"),
        (np.zeros((8, 8)), {"tile_size": 2.5}, "tile_size must be a positive"),
        (np.zeros((8, 8)), {"normalization": "gamma"}, "Unknown normalization"),
        (np.zeros((8, 8)), {"percentiles": (50, 10)}, "0 <= low < high <= 100"),
    ],
)
def test_bad_input_is_a_clear_value_error(image, kwargs, message, grey_net):
    with pytest.raises(ValueError, match=message):
        enhance(image, model=grey_net, **kwargs)


def test_channel_count_the_model_cannot_take(rgb_net):
    with pytest.raises(ValueError, match="takes 3 channels, the image has 2"):
        enhance(np.zeros((8, 8, 2)), model=rgb_net, channel_axis=-1)


def test_auto_without_installed_weights_is_an_error_not_a_pass_through(tmp_path, monkeypatch):
    monkeypatch.setenv("NAPARI_LOWLIGHT_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsError, match="No trained weights named 'fluo'"):
        enhance(np.zeros((8, 8)))
    with pytest.raises(WeightsError, match="'photo'"):
        enhance(np.zeros((8, 8, 3)), channel_axis=-1)


def test_progress_counts_every_tile_of_every_plane(grey_net, rng):
    seen = []
    enhance(rng.random((2, 70, 70)), model=grey_net, tile_size=32, batch_size=2, progress=seen.append)
    job = EnhanceJob(rng.random((2, 70, 70)), model=grey_net, tile_size=32)
    assert job.total == 2 * 9
    assert seen[0].done == 0 and seen[-1].done == seen[-1].total == 18
    assert all(a.done <= b.done for a, b in itertools.pairwise(seen))


def test_the_callers_network_is_not_modified(grey_net, rng):
    before = {k: v.clone() for k, v in grey_net.state_dict().items()}
    enhance(rng.random((20, 20)), model=grey_net, precision="bf16")
    after = grey_net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert next(grey_net.parameters()).dtype == torch.float32


def test_the_input_array_is_not_modified(grey_net, rng):
    image = rng.random((30, 30))
    copy = image.copy()
    enhance(image, model=grey_net)
    np.testing.assert_array_equal(image, copy)


@pytest.mark.parametrize("precision, tolerance", [("bf16", 0.05), ("fp32", 0.0)])
def test_reduced_precision_error_against_fp32_is_bounded(precision, tolerance, rng):
    torch.manual_seed(0)
    net = models.build("llcnn32")
    image = rng.random((48, 48)).astype(np.float32)
    ref = enhance(image, model=net, precision="fp32")
    out = enhance(image, model=net, precision=precision)
    assert np.abs(out - ref).max() <= tolerance


@pytest.mark.parametrize("shape", [(32, 40, 3), (32, 40, 4), (2, 32, 40, 3)])
def test_colour_without_channel_axis_says_to_pass_it(shape, grey_net):
    # Enhanced as grey planes 3 pixels wide it would come back streaky and desaturated.
    image = np.zeros(shape, np.uint8)
    with pytest.raises(ValueError, match=r"channel_axis=-1"):
        enhance(image, model=grey_net)
    with pytest.raises(ValueError, match=r"channel_axis=-1"):
        napari_lowlight.enhance_regions(image, [np.s_[..., 0:8, 0:8]], model=grey_net)


def test_a_grey_stack_whose_last_axis_is_not_3_or_4_is_accepted(grey_net, rng):
    assert enhance(rng.random((3, 20, 24)), model=grey_net).shape == (3, 20, 24)


def test_unknown_options_are_named(grey_net):
    with pytest.raises(TypeError, match="tile_sise.*the options are: model, channel_axis"):
        enhance(np.zeros((8, 8)), model=grey_net, tile_sise=64)


def test_options_object_and_keywords_give_the_same_result(grey_net, rng):
    image = rng.random((40, 44))
    options = EnhanceOptions(model=grey_net, tile_size=16, batch_size=3)
    by_object = EnhanceJob(image, options).run()
    np.testing.assert_array_equal(by_object, enhance(image, model=grey_net, tile_size=16, batch_size=3))
    # Keywords change single fields of a given object.
    assert EnhanceJob(image, options, tile_size=32).tile_size == 32


def test_a_given_normalizer_replaces_the_images_own_statistics(grey_net, rng):
    whole = rng.random((120, 120)).astype(np.float32) * 5
    crop = whole[:80, :80]
    job = EnhanceJob(whole, model=grey_net)
    shared = job.statistics(whole[..., None])
    with_whole_stats = EnhanceJob(crop, model=grey_net, normalizer=shared).run()
    own_stats = enhance(crop, model=grey_net)
    assert not np.allclose(with_whole_stats, own_stats)
    # The same curve as the whole image's: the crop's pixels match the whole image's result away
    # from the crop's own border (receptive field radius).
    r = grey_net.receptive_field_radius
    inner = np.s_[: 80 - r, : 80 - r]
    np.testing.assert_allclose(with_whole_stats[inner], job.run()[inner], atol=1e-5)


def test_steps_can_count_inside_a_larger_total(grey_net, rng):
    job = EnhanceJob(rng.random((40, 40)), model=grey_net, tile_size=16)
    steps = []
    drain(job.steps(offset=10, total=100), steps.append)
    assert steps[0] == Progress(10, 100) and steps[-1] == Progress(10 + job.total, 100)


def test_enhance_leaves_torchs_thread_count_alone(grey_net, rng):
    # napari's process (or any host program) owns that process-wide setting.
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        enhance(rng.random((20, 20)), model=grey_net)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
