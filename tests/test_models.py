import pytest
import torch

from napari_lowlight import models


@pytest.mark.parametrize("channels, expected", [(1, 456_833), (3, 459_139)])
def test_llcnn_parameter_count_matches_the_paper(channels, expected):
    net = models.build("llcnn", channels, channels)
    assert models.count_parameters(net) == expected


def test_llcnn_has_seventeen_convolutions_and_no_batch_norm():
    net = models.build("llcnn")
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 17
    assert all(c.out_channels == 64 for c in convs[:-1])
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown architecture 'nope'.*llcnn"):
        models.build("nope")


@pytest.mark.parametrize("name", models.available())
def test_receptive_field_bound_holds_for_impulses_at_every_phase(name):
    """An impulse changes the output only within the declared radius, for
    every position relative to the downsampling grid."""
    torch.manual_seed(0)
    net = models.build(name).double()
    r = net.receptive_field_radius
    size = 2 * r + 48
    channels = 1 + getattr(net, "noise_channels", 0)  # the image, then constant noise maps
    with torch.no_grad():
        x = torch.rand(1, channels, size, size, dtype=torch.float64)
        base = net(x)
        reach = 0
        for phase in range(net.downsampling):
            c = size // 2 + phase
            bumped = x.clone()
            bumped[0, 0, c, c] += 1.0
            changed = torch.nonzero((net(bumped) - base).abs()[0, 0] > 1e-12)
            reach = max(reach, int((changed - c).abs().max()))
    assert reach <= r
    # The bound is not wildly loose either: it is what the tiler pays for.
    assert reach > r - 2 * net.downsampling


@pytest.mark.parametrize("name", models.available())
def test_output_keeps_odd_input_sizes(name):
    net = models.build(name, 3, 3)
    channels = 3 + getattr(net, "noise_channels", 0)
    with torch.no_grad():
        assert net(torch.rand(2, channels, 37, 29)).shape == (2, 3, 37, 29)


def test_macs_per_pixel_of_llcnn_counts_every_convolution():
    net = models.build("llcnn")
    weights_macs = sum(m.weight.numel() for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    assert net.macs_per_pixel == weights_macs


def test_deep_llunet_needs_three_levels():
    with pytest.raises(ValueError, match="levels=2, deep=True"):
        models.LLUNet(levels=2, deep=True)


def test_deep_llunet3_adds_one_low_resolution_convolution_per_block():
    """Four 3x3 convolutions below full resolution, 2,304 MACs/pixel each at width 16."""
    plain, deep = models.build("llunet3"), models.build("llunet3-deep")
    assert deep.macs_per_pixel - plain.macs_per_pixel == 4 * 2304
    assert deep.receptive_field_radius > plain.receptive_field_radius
