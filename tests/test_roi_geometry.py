"""ROI geometry (pure numpy): vertices -> world -> image data boxes."""

from __future__ import annotations

import numpy as np
import pytest

from napari_lowlight import roi_geometry as roi


def affine(scale=(1, 1), translate=(0, 0), angle=0.0):
    """A 2-D data-to-world matrix: world = R @ (scale * x) + translate."""
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    m = np.eye(3)
    m[:2, :2] = np.array([[c, -s], [s, c]]) @ np.diag(scale)
    m[:2, 2] = translate
    return m


def rect(y0, x0, y1, x1):
    return np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]], dtype=float)


def test_rectangle_over_pixel_centres():
    raw, box = roi.box_from_points(rect(2, 3, 10, 20), (32, 32))
    assert box == raw == roi.Box((2, 3), (11, 21))
    # Edges between pixel centres keep only the centres inside.
    _, box = roi.box_from_points(rect(1.5, 2.5, 9.5, 19.5), (32, 32))
    assert box == roi.Box((2, 3), (10, 20))


def test_shapes_layer_with_other_scale_and_translate():
    # Shapes drawn in a layer with scale 2 and translate (10, 4); the image
    # has scale 0.5: a shapes unit is 4 image pixels.
    shapes_m = affine(scale=(2, 2), translate=(10, 4))
    image_m = affine(scale=(0.5, 0.5), translate=(0, 0))
    data = roi.vertices_to_image_data(rect(0, 0, 5, 5), shapes_m, image_m)
    np.testing.assert_allclose(data.min(0), [20, 8])
    np.testing.assert_allclose(data.max(0), [40, 28])


def test_rotated_image_transform_gives_bounding_box():
    image_m = affine(angle=45)
    data = roi.vertices_to_image_data(rect(0, 0, 10, 10), np.eye(3), image_m)
    r = roi.roi_box(0, data, "rectangle", (64, 64))
    # A square rotated by 45 degrees: its bounding box, with a message saying so.
    assert "rotated rectangle" in r.message and "bounding box" in r.message
    assert r.box.shape[0] > 10 and not r.skipped


def test_rotated_rectangle_and_other_types_get_bounding_boxes():
    c = np.array([20.0, 20.0])
    t = np.radians(30)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    pts = (rect(-5, -8, 5, 8) @ rot.T) + c
    r = roi.roi_box(0, pts, "rectangle", (64, 64))
    lo, hi = pts.min(0), pts.max(0)
    assert r.box == roi.Box(tuple(np.ceil(lo).astype(int)), tuple(np.floor(hi).astype(int) + 1))
    assert "rotated" in r.message
    e = roi.roi_box(1, rect(2, 2, 8, 9), "ellipse", (64, 64))
    assert e.box == roi.Box((2, 2), (9, 10)) and "ellipse" in e.message and "bounding box" in e.message
    assert roi.roi_box(2, rect(2, 2, 8, 9), "rectangle", (64, 64)).message == ""


def test_clipping_skipping_and_empty():
    partly = roi.roi_box(0, rect(-5, 50, 10, 80), "rectangle", (64, 64))
    assert partly.box == roi.Box((0, 50), (11, 64)) and "clipped" in partly.message
    outside = roi.roi_box(1, rect(100, 100, 120, 130), "rectangle", (64, 64))
    assert outside.skipped and outside.box is None and "outside" in outside.message
    empty = roi.roi_box(2, rect(10.2, 10.2, 10.8, 30), "rectangle", (64, 64))
    assert empty.skipped and "empty" in empty.message
    line = roi.roi_box(3, np.array([[5.0, 5.0], [5.0, 20.0]]), "line", (64, 64))
    assert line.box == roi.Box((5, 5), (6, 21))  # a horizontal line is one row


def test_stack_scope_slice_and_stack():
    pts = np.array([[3.0, 2, 2], [3.0, 2, 9], [3.0, 7, 9], [3.0, 7, 2]])
    _, one = roi.box_from_points(pts, (6, 32, 32), "slice")
    _, every = roi.box_from_points(pts, (6, 32, 32), "stack")
    assert one == roi.Box((3, 2, 2), (4, 8, 10))
    assert every == roi.Box((0, 2, 2), (6, 8, 10))
    with pytest.raises(ValueError, match="scope"):
        roi.box_from_points(pts, (6, 32, 32), "volume")


def test_two_d_shapes_over_a_stack_use_the_current_slice():
    # A 2-D Shapes layer over a (z, y, x) stack scaled 2 in z: the viewer sits at world z = 8.
    image_m = np.diag([2.0, 1.0, 1.0, 1.0])
    data = roi.vertices_to_image_data(rect(1, 1, 4, 4), np.eye(3), image_m, world_point=[8.0, 0, 0])
    _, box = roi.box_from_points(data, (10, 16, 16))
    assert box == roi.Box((4, 1, 1), (5, 5, 5))


def test_whole_image_box():
    assert roi.whole_image_box((5, 20, 30), (2, 0, 0)) == roi.Box((2, 0, 0), (3, 20, 30))
    assert roi.whole_image_box((5, 20, 30), (2, 0, 0), "stack") == roi.Box((0, 0, 0), (5, 20, 30))
    assert roi.whole_image_box((20, 30), ()) == roi.Box((0, 0), (20, 30))


@pytest.mark.parametrize("align", [1, 4])
def test_margin_is_aligned_and_clipped(align):
    box = roi.Box((1, 13, 30), (2, 25, 60))
    crop, inner = roi.with_margin(box, (3, 64, 64), margin=8, align=align)
    assert crop.start[0] == 1 and crop.stop[0] == 2  # stack axes untouched
    assert crop.start[1] % align == 0 and crop.start[1] <= 13 - 8
    assert crop.stop[2] == 64  # clipped at the image
    assert crop.start[2] <= 22 and crop.start[2] % align == 0
    # Cutting the inner slices from the crop gives the box back.
    full = np.arange(3 * 64 * 64).reshape(3, 64, 64)
    np.testing.assert_array_equal(full[crop.slices][inner], full[box.slices])


def test_default_margin_rounds_up_to_downsampling():
    assert roi.default_margin(24, 4) == 24
    assert roi.default_margin(14, 4) == 16
    assert roi.default_margin(14, 1) == 14


def test_box_from_slices():
    b = roi.Box.from_slices(np.s_[3, 10:20], (5, 32, 40))
    assert b == roi.Box((3, 10, 0), (4, 20, 40))
    with pytest.raises(ValueError, match="step"):
        roi.Box.from_slices(np.s_[::2, :], (8, 8))
