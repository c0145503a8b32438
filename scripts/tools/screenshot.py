"""Render the real napari viewer with the "Enhance low-light ROIs" widget docked.

Run under a virtual X server (it opens a window)::

    xvfb-run -a .venv/bin/python scripts/tools/screenshot.py [--out docs/screenshot.png]

The dark fluorescence sample is opened, a rectangle is drawn on it, the
widget enhances it (the same code path users click), and the viewer's grid
shows the dark source with the rectangle beside the enhanced crop. The
trained "fluo" weights are used (model "auto") when ``weights/fluo.json`` is
installed; otherwise a randomly initialised network stands in, loudly
labelled as such in the model list, the layer name and on the console.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]  # scripts/tools/ -> the repository
RECT = np.array([[150.0, 190.0], [330.0, 400.0]])  # image pixels, a field of nuclei


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--size", type=int, nargs=2, default=(1600, 820), metavar=("W", "H"))
    return parser.parse_args()


def choose_model(widget) -> str:
    """Model "auto" with trained weights; else a random stand-in, announced loudly."""
    from napari_lowlight import weights

    if "fluo" in weights.available_weights():
        widget.model.value = "auto"
        return "auto (fluo)"
    import torch

    from napari_lowlight import models

    banner = "!" * 78
    print(f"{banner}\nWARNING: trained 'fluo' weights are not installed ({weights.weights_dir()}).\n"
          "The screenshot uses a RANDOMLY INITIALISED network: its output is NOT an enhancement.\n"
          f"Train the weights and run this script again before publishing it.\n{banner}", file=sys.stderr)
    torch.manual_seed(0)
    name = "UNTRAINED random llunet"
    widget.register_model(name, models.build("llunet", 1, 1))
    return name


def wait_for(widget, app, timeout: float = 300.0) -> None:
    start = time.monotonic()
    while widget.running:
        app.processEvents()
        time.sleep(0.02)
        if time.monotonic() - start > timeout:
            raise TimeoutError("the enhancement did not finish")


def settle(app, seconds: float = 1.0) -> None:
    for _ in range(int(seconds / 0.05)):
        app.processEvents()
        time.sleep(0.05)


def dismiss_notifications(viewer) -> None:
    """Close the toasts (e.g. napari's PyQt5 deprecation notice) over the canvas."""
    from qtpy.QtWidgets import QDialog

    for toast in viewer.window._qt_window.findChildren(QDialog):
        if type(toast).__name__ == "NapariQtNotification":
            toast.close()


def main() -> int:
    args = parse_args()
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_lowlight._napari import sample_data

    viewer = napari.Viewer(title="napari-lowlight")
    viewer.window.resize(*args.size)
    (data, meta, _), = sample_data.fluorescence_sample()
    image = viewer.add_image(data, **meta)
    shapes = viewer.add_shapes(name="ROIs", edge_color="yellow", edge_width=4, face_color="transparent")
    shapes.add_rectangles([RECT])
    _, widget = viewer.window.add_plugin_dock_widget("napari-lowlight", "Enhance low-light ROIs")
    widget.image.value, widget.shapes.value = image, shapes
    widget.tile_size.value = 256
    label = choose_model(widget)

    app = QApplication.instance()
    widget.run()
    wait_for(widget, app)
    if not widget.last_layers:
        print("The enhancement produced no layer; see the messages above.", file=sys.stderr)
        return 1
    crop = widget.last_layers[0]
    if label.startswith("UNTRAINED"):
        crop.name = f"{crop.name} [UNTRAINED NETWORK]"
    # Side by side: the dark source with its rectangle, and the enhanced crop
    # in its own grid cell at the same world position.
    # The grid fills cells from the top of the layer list: the crop goes to
    # the bottom so the rectangle shares the source's cell.
    viewer.layers.move(viewer.layers.index(crop), 0)
    viewer.layers.selection = {crop}
    grid = viewer.canvas.grid if hasattr(viewer, "canvas") else viewer.grid
    grid.enabled, grid.stride = True, -2
    viewer.reset_view()
    settle(app)
    dismiss_notifications(viewer)
    settle(app)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(args.out), canvas_only=False)
    print(f"wrote {args.out} (model: {label}, device: {crop.metadata['napari_lowlight']['device']})")
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
