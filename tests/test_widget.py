"""The console API (napari_lowlight.enhance_rois) and the dock widget.

API tests use a ``ViewerModel`` (no window); widget tests use a real viewer
(``make_napari_viewer``, run under ``xvfb-run``) and are marked ``gui``.
All use a randomly initialised network so they do not depend on trained
weights; the widget is given it with ``register_model``.
"""

from __future__ import annotations

import threading
import traceback

import numpy as np
import pytest
import torch
from napari.components import ViewerModel

import napari_lowlight
from napari_lowlight import models
from napari_lowlight._napari import viewer_api

TOL = 1e-4


def dark(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.poisson(4.0, shape) * 9).astype(np.uint16)


def rect(y0, x0, y1, x1, z=None):
    pts = np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]], dtype=float)
    return pts if z is None else np.column_stack([np.full(4, float(z)), pts])


def world_of(layer, index):
    return np.asarray(layer.data_to_world(np.asarray(index, dtype=float)))


def snapshot(layer):
    return (np.array(layer.data, copy=True), tuple(layer.scale), tuple(layer.translate), layer.name)


def assert_unchanged(layer, before):
    data, scale, translate, name = before
    np.testing.assert_array_equal(np.asarray(layer.data), data)
    assert (tuple(layer.scale), tuple(layer.translate), layer.name) == (scale, translate, name)


# -- console API -------------------------------------------------------------


def test_enhance_rois_places_crops_exactly_and_records_metadata(grey_net):
    viewer = ViewerModel()
    img = dark((96, 120))
    image = viewer.add_image(img, name="cells", scale=(0.5, 2.0), translate=(10.0, -5.0), colormap="magma",
                             blending="additive")
    # The Shapes layer has its own scale and translate: world rectangle
    # y in [10 + 0.5*30, 10 + 0.5*70], x in [-5 + 2*40, -5 + 2*90].
    shapes = viewer.add_shapes(scale=(0.25, 4.0), translate=(0.0, 5.0))
    shapes.add_rectangles([rect((25 - 0) / 0.25, (75 - 5) / 4, 45 / 0.25, (175 - 5) / 4)])
    before = snapshot(image)
    (layer,) = napari_lowlight.enhance_rois(viewer, image, shapes, model=grey_net, device="cpu", tile_size=32)

    assert layer in viewer.layers and layer.name == "cells enhanced ROI 1"
    meta = layer.metadata["napari_lowlight"]
    assert meta["roi_box"] == [[30, 71], [40, 91]]
    assert layer.data.shape == (41, 51)
    # Pixel (0, 0) of the crop sits on pixel (30, 40) of the source, in world coordinates.
    np.testing.assert_allclose(world_of(layer, [0, 0]), world_of(image, [30, 40]))
    np.testing.assert_allclose(world_of(layer, [40, 50]), world_of(image, [70, 90]))
    assert tuple(layer.scale) == (0.5, 2.0)
    assert layer.colormap.name == "magma" and layer.blending == "additive"
    assert tuple(layer.contrast_limits) == (0.0, 1.0)
    assert meta["source_layer"] == "cells" and meta["device"] == "cpu" and meta["precision"] == "float32"
    assert meta["model"].startswith("custom llunet") and meta["weights_sha256"] is None
    assert meta["elapsed_s"] > 0 and meta["margin"] >= grey_net.receptive_field_radius
    # The same pixels as the script API.
    (ref,) = napari_lowlight.enhance_regions(img, [np.s_[30:71, 40:91]], model=grey_net, device="cpu")
    np.testing.assert_allclose(layer.data, ref, atol=TOL, rtol=0)
    assert_unchanged(image, before)


def test_removed_noise_layer_is_input_minus_result_over_the_source():
    torch.manual_seed(0)
    aware = models.build("llunet3-nl")  # noise-aware: the strength and the noise level reach it
    viewer = ViewerModel()
    img = dark((80, 96))
    image = viewer.add_image(img, name="cells", translate=(3.0, 1.0))
    shapes = viewer.add_shapes()
    shapes.add_rectangles([rect(13, 21, 53, 71)])  # world coordinates: image pixels (10, 20)-(50, 70)
    layers = napari_lowlight.enhance_rois(
        viewer, image, shapes, model=aware, device="cpu", removed=True, strength=1.5
    )
    enhanced, removed = layers
    assert [ly.name for ly in layers] == ["cells enhanced ROI 1", "cells removed ROI 1"]
    assert removed.data.shape == enhanced.data.shape == (41, 51)
    np.testing.assert_allclose(world_of(removed, [0, 0]), world_of(image, [10, 20]))
    # Input minus result, in the network's normalised units: add it back and the input returns.
    meta = enhanced.metadata["napari_lowlight"]
    lo, hi = np.percentile(img.astype(np.float32), [1.0, 99.8])
    np.testing.assert_allclose(enhanced.data + removed.data, (img[10:51, 20:71] - lo) / (hi - lo), atol=1e-4)
    assert meta["strength"] == 1.5 and meta["noise_level"][0]["a"] >= 0
    lo_c, hi_c = removed.contrast_limits
    assert lo_c == -hi_c and hi_c > 0
    assert removed.metadata["napari_lowlight"]["units"] == "normalised intensity"
    # Off by default; refused for RGB photos.
    assert len(napari_lowlight.enhance_rois(viewer, image, shapes, model=aware, device="cpu")) == 1
    rgb = viewer.add_image(np.zeros((40, 40, 3), np.uint8), rgb=True)
    with pytest.raises(ValueError, match="not RGB photos"):
        napari_lowlight.enhance_rois(viewer, rgb, False, removed=True)


def test_affine_layers_overlay_exactly(grey_net):
    viewer = ViewerModel()
    aff = np.array([[1.0, 0.3, 4.0], [0.0, 1.0, -2.0], [0.0, 0.0, 1.0]])
    image = viewer.add_image(dark((64, 72)), name="sheared", rotate=20, affine=aff, scale=(1.5, 1.5))
    shapes = viewer.add_shapes()
    corner_a, corner_b = world_of(image, [20, 22]), world_of(image, [40, 50])
    # An axis-aligned world rectangle is rotated in the image's frame: bounding box, with a warning-free note.
    shapes.add_rectangles([np.array([corner_a, corner_b])])
    (layer,) = napari_lowlight.enhance_rois(viewer, image, shapes, model=grey_net, device="cpu")
    start = layer.metadata["napari_lowlight"]["roi_box"]
    corner = world_of(image, [start[0][0], start[1][0]])
    np.testing.assert_allclose(world_of(layer, [0, 0]), corner, atol=1e-9)
    np.testing.assert_allclose(layer.affine.affine_matrix, image.affine.affine_matrix)


def test_stack_slice_and_every_slice(grey_net):
    viewer = ViewerModel()
    image = viewer.add_image(dark((4, 64, 64)), name="stack", scale=(3.0, 1.0, 1.0))
    shapes = viewer.add_shapes(ndim=3)
    shapes.add_rectangles([rect(10, 12, 30, 40, z=6)])  # world z = 6 is slice 2 of the image (z scale 3)
    (one,) = napari_lowlight.enhance_rois(viewer, image, shapes, model=grey_net, device="cpu")
    assert one.data.shape == (1, 21, 29)
    np.testing.assert_allclose(world_of(one, [0, 0, 0]), world_of(image, [2, 10, 12]))
    (every,) = napari_lowlight.enhance_rois(
        viewer, image, shapes, scope="stack", model=grey_net, device="cpu"
    )
    assert every.data.shape == (4, 21, 29)
    assert every.metadata["napari_lowlight"]["roi_box"] == [[0, 4], [10, 31], [12, 41]]


def test_rgb_layer(rgb_net):
    viewer = ViewerModel()
    rng = np.random.default_rng(2)
    viewer.add_image((rng.random((64, 80, 3)) * 40).astype(np.uint8), name="photo", translate=(3, 4))
    shapes = viewer.add_shapes()
    shapes.add_rectangles([rect(5, 6, 30, 50)])
    # The only Image and Shapes layers are picked automatically.
    (layer,) = napari_lowlight.enhance_rois(viewer, model=rgb_net, device="cpu")
    assert layer.rgb and layer.data.shape == (26, 45, 3)
    np.testing.assert_allclose(layer.translate, [5, 6])  # the world corner drawn


def test_lazy_dask_layer_reads_only_the_crop(grey_net):
    da = pytest.importorskip("dask.array")
    img = dark((128, 128))
    reads = []

    class Logged(np.ndarray):
        def __getitem__(self, key):
            reads.append(key)
            return np.asarray(super().__getitem__(key))

    darr = da.from_array(img.view(Logged), chunks=(32, 32), asarray=False)
    viewer = ViewerModel()
    image = viewer.add_image(darr, contrast_limits=(0, 100))
    shapes = viewer.add_shapes()
    shapes.add_rectangles([rect(100, 100, 120, 120)])
    reads.clear()  # napari reads the displayed plane itself; count ours only
    (layer,) = napari_lowlight.enhance_rois(viewer, image, shapes, model=grey_net, device="cpu")
    assert layer.metadata["napari_lowlight"]["stats"] == "crop"
    starts = [k[0].start for k in reads if k[0].stop and k[0].stop > (k[0].start or 0)]
    assert starts and min(starts) >= 64  # rows 0-63 (two of four chunk rows) never read


def test_multiscale_layer_uses_full_resolution(grey_net):
    viewer = ViewerModel()
    img = dark((128, 128))
    image = viewer.add_image([img, img[::2, ::2], img[::4, ::4]], multiscale=True, contrast_limits=(0, 100))
    shapes = viewer.add_shapes()
    shapes.add_rectangles([rect(40, 50, 70, 90)])
    (layer,) = napari_lowlight.enhance_rois(viewer, image, shapes, model=grey_net, device="cpu")
    assert layer.data.shape == (31, 41) and not layer.multiscale
    np.testing.assert_allclose(world_of(layer, [0, 0]), world_of(image, [40, 50]))


def test_console_errors_are_clear(grey_net):
    viewer = ViewerModel()
    with pytest.raises(ValueError, match="no Image layer"):
        napari_lowlight.enhance_rois(viewer, model=grey_net)
    labels = viewer.add_labels(np.zeros((32, 32), np.uint8))
    with pytest.raises(TypeError, match="Labels layer"):
        napari_lowlight.enhance_rois(viewer, labels, model=grey_net)
    image = viewer.add_image(dark((48, 48)))
    points = viewer.add_points([[1, 1]])
    with pytest.raises(TypeError, match="Points layer"):
        napari_lowlight.enhance_rois(viewer, image, points, model=grey_net)
    shapes = viewer.add_shapes(name="empty")
    with pytest.raises(ValueError, match="has no shapes"):
        napari_lowlight.enhance_rois(viewer, image, shapes, model=grey_net)
    shapes.add_rectangles([rect(100, 100, 120, 120)])
    with pytest.raises(ValueError, match="outside"):
        napari_lowlight.enhance_rois(viewer, image, shapes, model=grey_net)
    shapes.add_rectangles([rect(5, 5, 20, 20)])
    n = len(viewer.layers)
    with pytest.warns(UserWarning, match="ROI 1 .*outside"):
        (layer,) = napari_lowlight.enhance_rois(viewer, image, shapes, model=grey_net, device="cpu")
    assert layer.name.endswith("ROI 2") and len(viewer.layers) == n + 1


# -- the dock widget ----------------------------------------------------------


@pytest.fixture
def messages(monkeypatch):
    """Notifications shown by the widget, as (level, text)."""
    from napari_lowlight._napari import widget as widget_module

    seen = []
    for level in ("info", "warning", "error"):
        def show(text, level=level):
            seen.append((level, str(text)))

        monkeypatch.setattr(widget_module, f"show_{level}", show)
    return seen


@pytest.fixture
def widget_viewer(make_napari_viewer, grey_net):
    from napari_lowlight._napari.widget import EnhanceWidget

    viewer = make_napari_viewer()
    widget = EnhanceWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Enhance low-light ROIs")
    widget.register_model("random llunet", grey_net)
    widget.device.value = "cpu"
    widget.tile_size.value = 32
    return widget, viewer


class Gate:
    """Holds a network's forward until the test opens it: a run that waits
    at its first batch, so a test can act mid-run."""

    def __init__(self):
        self.entered, self.opened = threading.Event(), threading.Event()

    def wait_entered(self):
        assert self.entered.wait(30), "the worker never reached the network"

    def open(self):
        self.opened.set()


def gated_net(gate: Gate, error: Exception | None = None):
    """A grey network that returns its input once ``gate`` opens, or raises
    ``error``. The gate is a closure, not an attribute: the engine deep-copies
    the net."""

    class Gated(torch.nn.Module):
        in_channels = out_channels = 1
        receptive_field_radius, downsampling = 2, 1

        def forward(self, x):
            gate.entered.set()
            assert gate.opened.wait(30), "the test never opened the gate"
            if error is not None:
                raise error
            return x

    return Gated()


@pytest.fixture
def gated_run(widget_viewer):
    """A run (several batches) held inside its first batch; yields
    (widget, viewer, image, worker, gate)."""
    widget, viewer = widget_viewer
    gate = Gate()
    widget.register_model("gated", gated_net(gate))
    image = viewer.add_image(dark((64, 64)), name="img")
    widget.image.value, widget.shapes.value = image, None
    widget.tile_size.value = 16
    worker = widget.run()
    gate.wait_entered()
    yield widget, viewer, image, worker, gate
    gate.open()  # never leave a worker thread waiting


def assert_stopped(qtbot, widget, n_layers):
    qtbot.waitUntil(lambda: not widget.running, timeout=30_000)
    qtbot.wait(50)  # queued signals, if any, come through
    assert len(widget._viewer.layers) == n_layers
    assert widget.run_button.text == "Run" and widget.run_button.enabled and not widget.running


def run_and_wait(qtbot, widget, timeout=60_000):
    worker = widget.run()
    assert worker is not None, "the widget refused to run"
    # Not waitSignal(worker.finished): a short run may finish before it connects.
    qtbot.waitUntil(lambda: not widget.running, timeout=timeout)
    return worker


@pytest.mark.gui
def test_manifest_widget_opens_from_plugin(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-lowlight", "Enhance low-light ROIs")
    assert widget.model.choices[0] == "auto" and widget.run_button.text == "Run"
    assert "cpu" in widget.device.choices
    # The Layers > Filters menu offers it too.
    from napari._app_model import get_app_model

    menu = get_app_model().menus.get_menu("napari/layers/filter")
    assert "napari-lowlight.enhance_rois_widget" in [getattr(item, "command", item).id for item in menu]


@pytest.mark.gui
def test_widget_runs_rois_with_progress(qtbot, widget_viewer, messages):
    widget, viewer = widget_viewer
    image = viewer.add_image(dark((96, 112)), name="dark", scale=(2.0, 0.5), translate=(7.0, 3.0))
    shapes = viewer.add_shapes(name="rois")
    # Rectangles over image pixels (5, 4)-(40, 50) and (50, 60)-(90, 100), drawn in world coordinates.
    corners = [([5, 4], [40, 50]), ([50, 60], [90, 100])]
    shapes.add_rectangles([np.array([world_of(image, a), world_of(image, b)]) for a, b in corners])
    widget.image.value, widget.shapes.value = image, shapes
    steps = []
    worker = widget.run()
    worker.yielded.connect(steps.append)
    assert widget.run_button.text == "Cancel" and widget.running
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    names = [ly.name for ly in viewer.layers]
    assert names[-2:] == ["dark enhanced ROI 1", "dark enhanced ROI 2"]
    first = viewer.layers["dark enhanced ROI 1"]
    np.testing.assert_allclose(world_of(first, [0, 0]), world_of(image, [5, 4]))
    assert first.metadata["napari_lowlight"]["model"].startswith("custom llunet")
    assert len(steps) > 2 and steps[-1].done == steps[-1].total
    assert widget.last_layers == [first, viewer.layers[-1]]
    assert "cpu" in widget.status.value and widget.run_button.text == "Run" and not widget.running
    assert widget._pbar is None  # the progress bar was closed
    assert any(level == "info" and "Enhanced 2 ROI(s) on cpu" in text for level, text in messages)


@pytest.mark.gui
def test_widget_strength_and_removed_noise(qtbot, widget_viewer):
    widget, viewer = widget_viewer
    torch.manual_seed(0)
    widget.register_model("aware", models.build("llunet3-nl"))
    viewer.add_image(dark((64, 72)), name="dark")
    widget.image.value, widget.shapes.value = viewer.layers["dark"], None
    widget.strength.value, widget.removed.value = 2.0, True
    assert widget.run() is not None
    qtbot.waitUntil(lambda: not widget.running, timeout=60_000)
    names = [ly.name for ly in viewer.layers]
    assert names[-2:] == ["dark enhanced ROI 1", "dark removed ROI 1"]
    assert viewer.layers[-2].metadata["napari_lowlight"]["strength"] == 2.0


@pytest.mark.gui
def test_event_loop_keeps_running_during_work(qtbot, widget_viewer):
    from qtpy.QtCore import QTimer

    widget, viewer = widget_viewer
    viewer.add_image(dark((192, 192)), name="big")
    widget.shapes.value = None
    widget.tile_size.value = 16
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(widget.running))
    timer.start(10)
    run_and_wait(qtbot, widget)
    timer.stop()
    # The GUI thread ran the timer many times while the worker was busy.
    assert sum(ticks) >= 5
    assert viewer.layers[-1].name == "big enhanced ROI 1"


@pytest.mark.gui
def test_cancel_adds_no_layer(qtbot, widget_viewer, messages):
    widget, viewer = widget_viewer
    viewer.add_image(dark((192, 192)), name="big")
    widget.shapes.value = None
    widget.tile_size.value = 16
    n = len(viewer.layers)
    worker = widget.run()
    with qtbot.waitSignal(worker.yielded, timeout=30_000):
        pass
    widget.run_button.clicked.emit()  # the button reads "Cancel" now
    with qtbot.waitSignal(worker.finished, timeout=30_000):
        pass
    qtbot.wait(50)
    assert len(viewer.layers) == n
    assert ("info", "Cancelled: no layer was added.") in messages
    assert widget.run_button.text == "Run" and widget.run_button.enabled


@pytest.mark.gui
def test_cancel_after_the_last_batch_adds_no_layer(qtbot, gated_run, messages):
    from qtpy.QtCore import QThreadPool

    widget, viewer, image, worker, gate = gated_run
    gate.open()
    # The worker finishes while the GUI thread is held: its results wait,
    # queued, and arrive after the click.
    assert QThreadPool.globalInstance().waitForDone(30_000)
    widget.run_button.clicked.emit()  # still "Cancel": the GUI has not heard yet
    assert_stopped(qtbot, widget, n_layers=1)
    assert ("info", "Cancelled: no layer was added.") in messages


@pytest.mark.gui
def test_error_is_notified_with_its_traceback(qtbot, widget_viewer, messages):
    from napari.utils.notifications import ErrorNotification, notification_manager

    widget, viewer = widget_viewer
    viewer.add_image(dark((64, 64)), name="img")
    widget.shapes.value = None
    gate = Gate()
    gate.open()
    # A RuntimeError, torch's usual one (CUDA out of memory is one too): superqt
    # would take it for a deleted worker and never say the run finished.
    boom = RuntimeError("boom in forward")
    widget.register_model("failing", gated_net(gate, boom))
    seen = len(notification_manager.records)
    run_and_wait(qtbot, widget, timeout=30_000)
    errors = [n for n in notification_manager.records[seen:] if isinstance(n, ErrorNotification)]
    assert len(errors) == 1 and errors[0].exception is boom
    message = errors[0].message
    assert "Enhancement failed, no layer was added" in message and "boom in forward" in message
    frames = [frame.name for frame in traceback.extract_tb(boom.__traceback__)]
    assert "forward" in frames  # the traceback reaches the network's code
    assert len(viewer.layers) == 1 and widget.status.value == "failed"
    assert not [text for level, text in messages if level == "error"]  # one notification, not two
    assert widget.run_button.text == "Run" and widget.run_button.enabled and not widget.running


@pytest.mark.gui
def test_deleting_the_source_layer_stops_the_run(qtbot, gated_run, messages):
    widget, viewer, image, worker, gate = gated_run
    viewer.layers.remove(image)
    gate.open()
    assert_stopped(qtbot, widget, n_layers=0)
    assert ("warning", "The layer 'img' was deleted during the run: no layer was added.") in messages


@pytest.mark.gui
@pytest.mark.parametrize("when", ["while computing", "after the last batch"])
def test_replacing_the_image_data_discards_the_run(qtbot, gated_run, messages, when):
    from qtpy.QtCore import QThreadPool

    widget, viewer, image, worker, gate = gated_run
    if when == "after the last batch":
        # The worker finishes while the GUI thread is held: its results wait,
        # queued, and arrive after the data changed.
        gate.open()
        assert QThreadPool.globalInstance().waitForDone(30_000)
    image.data = dark((64, 64), seed=1)
    gate.open()
    assert_stopped(qtbot, widget, n_layers=1)
    assert ("warning", "The image 'img' changed during the run; run again (no layer was added).") in messages
    assert not any("Enhanced" in text for _, text in messages)


def close_window(viewer):
    """Close the main window as its title bar does: no ``viewer.close()``, so
    the layers stay. The Qt window deletes itself; forget it as
    ``Window.close`` would, so the fixture's teardown does not close it again."""
    viewer.window._qt_window.close()
    viewer.window._teardown()
    del viewer.window._qt_window


@pytest.mark.gui
@pytest.mark.parametrize(
    "close", [lambda viewer: viewer.close(), close_window], ids=["viewer.close", "title bar"]
)
def test_closing_the_viewer_stops_the_run(qtbot, gated_run, messages, close):
    widget, viewer, image, worker, gate = gated_run
    added = []
    viewer.layers.events.inserted.connect(added.append)
    close(viewer)
    qtbot.wait(50)  # the window deletes itself and its dock widgets
    assert worker.abort_requested  # stopped at once, not after the batch
    gate.open()
    qtbot.waitUntil(lambda: not widget.running, timeout=30_000)
    qtbot.wait(50)
    # An exception in a Qt callback (a deleted widget touched, a layer added to
    # the closed viewer) would fail the test through pytest-qt.
    assert added == [] and widget._pbar is None


@pytest.mark.gui
def test_whole_image_asks_before_large_images(qtbot, widget_viewer, messages, monkeypatch):
    widget, viewer = widget_viewer
    viewer.add_image(dark((64, 64)), name="small")
    widget.shapes.value = None
    monkeypatch.setattr(viewer_api, "LARGE_IMAGE_PIXELS", 1000)
    asked = []
    widget._confirm = lambda parent, text: asked.append(text) or False
    assert widget.run() is None and len(asked) == 1 and "4,096 pixels" in asked[0]
    assert len(viewer.layers) == 1
    widget._confirm = lambda parent, text: True
    run_and_wait(qtbot, widget)
    assert viewer.layers[-1].data.shape == (64, 64)


@pytest.mark.gui
def test_stack_and_rgb_in_the_widget(qtbot, widget_viewer, rgb_net):
    widget, viewer = widget_viewer
    stack = viewer.add_image(dark((3, 64, 64)), name="stack")
    shapes = viewer.add_shapes(ndim=3, name="rois3d")
    shapes.add_rectangles([rect(8, 8, 30, 40, z=1)])
    widget.image.value, widget.shapes.value = stack, shapes
    widget.scope.value = "every slice"
    run_and_wait(qtbot, widget)
    assert viewer.layers[-1].data.shape == (3, 23, 33)

    rgb = np.random.default_rng(0).integers(0, 40, (64, 64, 3), dtype=np.uint8)
    photo = viewer.add_image(rgb, name="rgb")
    rois = viewer.add_shapes(name="rois2d")
    rois.add_rectangles([rect(10, 10, 40, 30)])
    widget.register_model("random rgb", rgb_net)
    widget.image.value, widget.shapes.value = photo, rois
    run_and_wait(qtbot, widget)
    out = viewer.layers[-1]
    assert out.rgb and out.data.shape == (31, 21, 3) and out.name == "rgb enhanced ROI 1"


@pytest.mark.gui
def test_bad_input_messages(qtbot, widget_viewer, messages, monkeypatch, tmp_path):
    widget, viewer = widget_viewer

    def last_error():
        errors = [text for level, text in messages if level == "error"]
        return errors[-1] if errors else ""

    assert widget.run() is None and "no Image layer" in last_error()

    image = viewer.add_image(dark((48, 48)), name="img")
    shapes = viewer.add_shapes(name="rois")
    widget.image.value, widget.shapes.value = image, shapes
    assert widget.run() is None and "has no shapes" in last_error()

    shapes.add_rectangles([rect(10.2, 10.2, 10.8, 30)])
    assert widget.run() is None and "empty" in last_error()

    shapes.data = [rect(100, 100, 130, 130)]
    assert widget.run() is None and "outside" in last_error()

    shapes.data = [rect(5, 5, 20, 20)]
    viewer.dims.ndisplay = 3
    assert widget.run() is None and "2-D" in last_error()
    viewer.dims.ndisplay = 2

    shapes.data = [rect(5, 5, 20, 20)]
    shapes.add_ellipses([np.array([[25.0, 25.0], [8.0, 8.0]])])
    run_and_wait(qtbot, widget)
    assert any(level == "info" and "ellipse" in text and "bounding box" in text for level, text in messages)

    # A layer the chosen model cannot take (a 3-channel network, a grey image).
    torch.manual_seed(0)
    widget.register_model("rgb only", models.build("llcnn32", 3, 3))
    assert widget.run() is None and "takes 3 channels, the image has 1" in last_error()

    # "auto" with no trained weights installed: a notification, not a crash.
    monkeypatch.setenv("NAPARI_LOWLIGHT_WEIGHTS_DIR", str(tmp_path))
    widget.model.value = "auto"
    n = len(viewer.layers)
    assert widget.run() is None and "No trained weights named 'fluo'" in last_error()
    assert len(viewer.layers) == n and not widget.running


@pytest.mark.gui
def test_model_list_is_auto_plus_installed_weights(make_napari_viewer, monkeypatch):
    from napari_lowlight import weights
    from napari_lowlight._napari import widget as widget_module

    installed = {"fluo": None, "photo": None, "llcnn-paper": None}
    monkeypatch.setattr(weights, "available_weights", lambda: installed)
    widget = widget_module.EnhanceWidget(make_napari_viewer())
    assert list(widget.model.choices) == ["auto", "fluo", "photo", "llcnn-paper"]



# -- lazy layers: the whole image block by block, into memory or an OME-Zarr file ---------------


def zarr_layer_data(img, path, chunks=(64, 64)):
    zarr = pytest.importorskip("zarr")
    array = zarr.create_array(str(path), shape=img.shape, chunks=chunks, dtype=img.dtype)
    array[:] = img
    return zarr.open_array(str(path), mode="r")


def leftovers(folder, keep):
    """What a run left in ``folder`` besides ``keep`` (hidden partial folders included)."""
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_zarr_layer_whole_image_goes_to_ome_zarr_and_comes_back_lazily(grey_net, tmp_path):
    da = pytest.importorskip("dask.array")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    img = dark((200, 240))
    viewer = ViewerModel()
    image = viewer.add_image(zarr_layer_data(img, tmp_path / "src.zarr"), name="cells", scale=(0.5, 2.0),
                             translate=(3.0, -4.0), rotate=10, units=("micrometer", "nanometer"),
                             contrast_limits=(0, 100))
    steps = []
    (layer,) = napari_lowlight.enhance_rois(viewer, image, False, model=grey_net, device="cpu", tile_size=64,
                                            output=tmp_path / "result", progress=steps.append)
    path = tmp_path / "result.ome.zarr"
    assert isinstance(layer.data, da.Array) and layer.data.shape == img.shape
    ref = napari_lowlight.enhance(img, model=grey_net, device="cpu")
    np.testing.assert_allclose(np.asarray(layer.data), ref, atol=1e-5, rtol=0)
    # Placed exactly over the source; counted in blocks.
    for corner in ([0, 0], [199, 239]):
        np.testing.assert_allclose(world_of(layer, corner), world_of(image, corner), atol=1e-9)
    assert len(steps) > 3 and steps[-1].done == steps[-1].total == layer.metadata["napari_lowlight"]["blocks"]
    meta = layer.metadata["napari_lowlight"]
    assert meta["output_path"] == str(path) and meta["device"] == "cpu" and meta["stats"] == "image"
    # A valid NGFF image (ome-zarr-py reads it) with the layer's axes, scale and translation.
    (node,) = list(Reader(parse_url(str(path)))())
    assert node.metadata["axes"] == [{"name": "y", "type": "space", "unit": "micrometer"},
                                     {"name": "x", "type": "space", "unit": "nanometer"}]
    assert node.metadata["coordinateTransformations"][0] == [
        {"type": "scale", "scale": [0.5, 2.0]}, {"type": "translation", "translation": [3.0, -4.0]}]
    zarr = pytest.importorskip("zarr")
    group = zarr.open_group(str(path), mode="r")
    assert group["0"].metadata.dimension_names == ("y", "x")
    prov = group.attrs["napari_lowlight"]
    assert prov["model"].startswith("custom llunet") and prov["weights_sha256"] is None
    assert prov["device"] == "cpu" and prov["strength"] == 1.0
    assert prov["software"].startswith("napari-lowlight") and prov["roi_box"] == [[0, 200], [0, 240]]
    assert leftovers(tmp_path, {"src.zarr", "result.ome.zarr"}) == []


def test_multiscale_and_dask_layers_use_level_0_in_memory(grey_net):
    da = pytest.importorskip("dask.array")
    img = dark((128, 160))
    viewer = ViewerModel()
    # The coarser levels hold other pixels: a result equal to level 0's enhancement read level 0.
    levels = [da.from_array(img, chunks=64), da.zeros((64, 80), np.uint16), da.zeros((32, 40), np.uint16)]
    image = viewer.add_image(levels, multiscale=True, contrast_limits=(0, 100), translate=(5.0, 6.0))
    (layer,) = napari_lowlight.enhance_rois(viewer, image, False, model=grey_net, device="cpu", tile_size=32)
    assert isinstance(layer.data, np.ndarray) and layer.data.shape == img.shape and not layer.multiscale
    ref = napari_lowlight.enhance(img, model=grey_net, device="cpu")
    np.testing.assert_allclose(layer.data, ref, atol=1e-5, rtol=0)
    np.testing.assert_allclose(layer.translate, [5.0, 6.0])
    meta = layer.metadata["napari_lowlight"]
    assert meta["blocks"] > 1 and meta["output_path"] is None


def test_planning_a_lazy_whole_image_reads_no_pixel(grey_net):
    da = pytest.importorskip("dask.array")
    reads = []

    class Logged(np.ndarray):
        def __getitem__(self, key):
            reads.append(key)
            return np.asarray(super().__getitem__(key))

    viewer = ViewerModel()
    image = viewer.add_image(da.from_array(dark((96, 128)).view(Logged), chunks=32, asarray=False),
                             contrast_limits=(0, 100))
    reads.clear()  # napari reads the displayed plane itself; count ours only
    plan = viewer_api.prepare(viewer, image, False, model=grey_net, device="cpu", tile_size=32)
    assert plan.lazy and plan.job.total == 12 and reads == []  # statistics are read when it runs
    (out,) = plan.job.run()
    assert out.shape == (96, 128) and reads


def test_lazy_rgb_stack_slice_to_ome_zarr_keeps_ngff_axis_order(rgb_net, tmp_path):
    da = pytest.importorskip("dask.array")
    rgb = np.random.default_rng(3).integers(0, 40, (3, 64, 80, 3), dtype=np.uint8)
    viewer = ViewerModel()
    image = viewer.add_image(da.from_array(rgb, chunks=(1, 32, 32, 3)), rgb=True, scale=(3.0, 1.0, 1.0))
    viewer.dims.set_point(0, 6.0)  # world z = 6: slice 2
    (layer,) = napari_lowlight.enhance_rois(viewer, image, False, model=rgb_net, device="cpu", tile_size=32,
                                            output=tmp_path / "photo.ome.zarr")
    assert layer.rgb and layer.data.shape == (1, 64, 80, 3)
    np.testing.assert_allclose(world_of(layer, [0, 0, 0]), world_of(image, [2, 0, 0]))
    ref = napari_lowlight.enhance(rgb[2:3], model=rgb_net, device="cpu", channel_axis=-1)
    np.testing.assert_allclose(np.asarray(layer.data), ref, atol=1e-5, rtol=0)
    # NGFF keeps channels before space: stored (c, z, y, x), shown channels last.
    zarr = pytest.importorskip("zarr")
    group = zarr.open_group(str(tmp_path / "photo.ome.zarr"), mode="r")
    (ms,) = group.attrs["ome"]["multiscales"]
    assert [a["name"] for a in ms["axes"]] == ["c", "z", "y", "x"] and group["0"].shape == (3, 1, 64, 80)
    assert ms["datasets"][0]["coordinateTransformations"][1]["translation"] == [0.0, 6.0, 0.0, 0.0]


def test_output_file_rules_in_the_console(grey_net, tmp_path):
    da = pytest.importorskip("dask.array")
    viewer = ViewerModel()
    image = viewer.add_image(da.from_array(dark((48, 64)), chunks=32), name="img", contrast_limits=(0, 100))
    taken = tmp_path / "taken.ome.zarr"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="taken.ome.zarr exists"):
        napari_lowlight.enhance_rois(viewer, image, False, model=grey_net, device="cpu", output=taken)
    assert (taken / "keep.txt").read_text() == "mine" and len(viewer.layers) == 1
    shapes = viewer.add_shapes()
    shapes.add_rectangles([rect(5, 5, 20, 30)])
    with pytest.raises(ValueError, match="for whole-image runs"):
        napari_lowlight.enhance_rois(viewer, image, shapes, model=grey_net, output=tmp_path / "roi")
    with pytest.raises(ValueError, match="removed-noise view needs the crop in memory"):
        napari_lowlight.enhance_rois(viewer, image, False, model=grey_net, removed=True)
    # Confirmed: replaced, and an in-memory numpy image can be written too.
    plain = viewer.add_image(dark((48, 64)), name="plain")
    (layer,) = napari_lowlight.enhance_rois(viewer, plain, False, model=grey_net, device="cpu", output=taken,
                                            overwrite=True)
    assert not (taken / "keep.txt").exists() and np.asarray(layer.data).shape == (48, 64)
    assert leftovers(tmp_path, {"taken.ome.zarr"}) == []


def counting_gated_net(gate: Gate):
    """``gated_net`` that also counts its forward calls (one per block on the lazy path)."""
    net = gated_net(gate)
    calls = []
    forward = type(net).forward

    def counted(self, x):
        calls.append(1)
        return forward(self, x)

    type(net).forward = counted
    return net, calls


@pytest.mark.gui
def test_widget_writes_a_lazy_layer_to_ome_zarr_with_progress(qtbot, widget_viewer, messages, tmp_path,
                                                              monkeypatch):
    da = pytest.importorskip("dask.array")
    from napari_lowlight._napari.widget import IN_MEMORY, TO_FILE

    widget, viewer = widget_viewer
    plain = viewer.add_image(dark((64, 80)), name="plain")
    file_shown = lambda: not widget.output_file.native.isHidden()  # noqa: E731 -- the window is not shown
    assert widget.output.value == IN_MEMORY and not file_shown()
    # A lazy image whose result is above the threshold asks for a file by default.
    monkeypatch.setattr(viewer_api, "FILE_OUTPUT_BYTES", 1000)
    image = viewer.add_image(zarr_layer_data(dark((96, 112)), tmp_path / "src.zarr", (32, 32)), name="lazy",
                             scale=(2.0, 0.5), contrast_limits=(0, 100))
    widget.image.value, widget.shapes.value = image, None
    assert widget.output.value == TO_FILE and file_shown()
    widget.image.value = plain
    assert widget.output.value == IN_MEMORY and not file_shown()
    widget.image.value = image
    assert widget.run() is None  # no file chosen yet
    assert ("error", "No output file chosen: choose where the OME-Zarr result is written.") in messages

    widget.output_file.value = tmp_path / "result"
    steps = []
    worker = widget.run()
    worker.yielded.connect(steps.append)
    assert widget.run_button.text == "Cancel"
    qtbot.waitUntil(lambda: not widget.running, timeout=60_000)
    layer = viewer.layers[-1]
    assert layer.name == "lazy enhanced ROI 1" and isinstance(layer.data, da.Array)
    assert layer.metadata["napari_lowlight"]["output_path"] == str(tmp_path / "result.ome.zarr")
    np.testing.assert_allclose(world_of(layer, [95, 111]), world_of(image, [95, 111]))
    blocks = layer.metadata["napari_lowlight"]["blocks"]
    assert blocks > 1 and steps[-1].done == steps[-1].total == blocks and widget._pbar is None
    assert any(level == "info" and f"Enhanced the whole image in {blocks} blocks" in text
               and "result.ome.zarr" in text for level, text in messages)
    assert widget.run_button.text == "Run" and widget.run_button.enabled


@pytest.fixture
def gated_lazy_run(widget_viewer, tmp_path):
    """A whole-image run of a dask layer into an OME-Zarr file, 16 blocks of 16 x 16,
    held inside its first block; yields (widget, viewer, image, gate, calls)."""
    da = pytest.importorskip("dask.array")
    from napari_lowlight._napari.widget import TO_FILE

    widget, viewer = widget_viewer
    gate = Gate()
    net, calls = counting_gated_net(gate)
    widget.register_model("gated", net)
    image = viewer.add_image(da.from_array(dark((64, 64)), chunks=32), name="img", contrast_limits=(0, 100))
    widget.image.value, widget.shapes.value = image, None
    widget.tile_size.value = 16
    widget.output.value, widget.output_file.value = TO_FILE, tmp_path / "out.ome.zarr"
    assert widget.run() is not None
    gate.wait_entered()
    yield widget, viewer, image, gate, calls
    gate.open()  # never leave a worker thread waiting


@pytest.mark.gui
@pytest.mark.parametrize("stop", ["cancel", "delete the source"])
def test_stopping_a_lazy_run_mid_way_leaves_no_layer_and_no_file(qtbot, gated_lazy_run, messages, tmp_path,
                                                                  stop):
    widget, viewer, image, gate, calls = gated_lazy_run
    assert widget.run_button.text == "Cancel"
    n = len(viewer.layers)
    if stop == "cancel":
        widget.run_button.clicked.emit()
        expected = ("info", "Cancelled: no layer was added.")
    else:
        viewer.layers.remove(image)
        n -= 1
        expected = ("warning", "The layer 'img' was deleted during the run: no layer was added.")
    gate.open()
    assert_stopped(qtbot, widget, n_layers=n)
    assert expected in messages and not any("failed" in text for _, text in messages)
    assert 1 <= len(calls) < 16  # stopped after a block or so, not run to the end
    assert leftovers(tmp_path, set()) == []  # neither the file nor its hidden partial


@pytest.mark.gui
def test_closing_the_viewer_stops_a_lazy_run_and_leaves_no_file(qtbot, gated_lazy_run, tmp_path):
    widget, viewer, image, gate, calls = gated_lazy_run
    added = []
    viewer.layers.events.inserted.connect(added.append)
    close_window(viewer)
    qtbot.wait(50)  # the window deletes itself and its dock widgets
    gate.open()
    qtbot.waitUntil(lambda: not widget.running, timeout=30_000)
    qtbot.wait(50)
    assert added == [] and widget._pbar is None and len(calls) < 16
    assert leftovers(tmp_path, set()) == []


@pytest.mark.gui
def test_an_existing_output_is_replaced_only_when_confirmed(qtbot, widget_viewer, messages, tmp_path):
    from napari_lowlight._napari.widget import TO_FILE

    widget, viewer = widget_viewer
    taken = tmp_path / "taken.ome.zarr"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    viewer.add_image(dark((64, 64)), name="img")
    widget.shapes.value = None
    widget.output.value, widget.output_file.value = TO_FILE, taken
    asked = []
    widget._confirm = lambda parent, text: asked.append(text) or False
    assert widget.run() is None and asked == [f"{taken} exists. Replace it with the result?"]
    assert ("warning", f"{taken} exists and was kept: nothing was enhanced. Choose another output file.") \
        in messages
    assert (taken / "keep.txt").read_text() == "mine" and len(viewer.layers) == 1
    widget._confirm = lambda parent, text: True
    run_and_wait(qtbot, widget)
    assert not (taken / "keep.txt").exists() and (taken / "0").is_dir()
    assert viewer.layers[-1].metadata["napari_lowlight"]["output_path"] == str(taken)
