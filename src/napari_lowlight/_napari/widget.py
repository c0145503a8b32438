"""The dock widget "Enhance low-light ROIs"; the only module that touches Qt.

The widget collects its settings, lets :func:`napari_lowlight._napari.viewer_api.prepare`
check the layers and ROIs (in the GUI thread, so bad input is reported at
once as a notification), then runs the plan's generator in a
``thread_worker``: each yielded :class:`~napari_lowlight.engine.Progress`
advances a ``napari.utils.progress`` bar, the returned crops become layers.
Run turns into Cancel while a run is going; a cancelled run adds nothing.
napari imports this module only when the widget is first opened, so torch
is not loaded at plugin discovery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import napari.layers
from magicgui.widgets import ComboBox, Container, Label, PushButton, SpinBox, create_widget
from napari.qt.threading import GeneratorWorker, thread_worker
from napari.utils import progress as napari_progress
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtWidgets import QMessageBox

from .. import devices, engine, weights
from . import viewer_api

if TYPE_CHECKING:
    import torch

SCOPES = {"current slice": "slice", "every slice": "stack"}
TITLE = "Enhance low-light ROIs"


def ask_user(parent, text: str) -> bool:
    """A modal yes/no question (replaced in tests)."""
    answer = QMessageBox.question(parent, TITLE, text, QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes


class EnhanceWidget(Container):
    """Enhance the ROIs drawn on an image layer with a low-light network.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        Injected by napari when the widget is docked.
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        viewer = self._viewer = napari_viewer
        self._custom_models: dict[str, torch.nn.Module] = {}
        self._confirm = ask_user
        self.worker: GeneratorWorker | None = None
        self.last_layers: list[napari.layers.Image] = []
        self._pbar = None

        self.image = create_widget(annotation=napari.layers.Image, label="Image")
        self.shapes = create_widget(
            annotation=napari.layers.Shapes | None, label="ROIs (Shapes)",
            options={"tooltip": "Rectangles to enhance; none: the whole image"},
        )
        self._weights_problem = ""
        # A callable, so the list is re-read whenever the choices are reset
        # (layers added or removed, weights installed meanwhile).
        self.model = ComboBox(label="Model", choices=lambda _widget: self._model_choices(), value="auto",
                              tooltip="auto: 'photo' for RGB, 'fluo' for grey images")
        self.device = ComboBox(label="Device", choices=["auto", *devices.available_devices()], value="auto")
        self.tile_size = SpinBox(label="Tile size", value=engine.DEFAULT_TILE_SIZE, min=16, max=8192, step=16)
        self.scope = ComboBox(label="Stack scope", choices=list(SCOPES), value="current slice",
                              tooltip="On a stack: the slice each ROI was drawn on, or every slice")
        self.run_button = PushButton(text="Run")
        self.status = Label(label="Last run", value="")
        self.extend([self.image, self.shapes, self.model, self.device, self.tile_size, self.scope,
                     self.run_button, self.status])

        self.run_button.changed.connect(self._on_button)
        # The layer lists follow the viewer's layers.
        viewer.layers.events.inserted.connect(self.reset_choices)
        viewer.layers.events.removed.connect(self.reset_choices)
        self.reset_choices()

    # -- models ------------------------------------------------------------
    def _model_choices(self) -> list[str]:
        try:
            names = list(weights.available_weights())
        except weights.WeightsError as err:
            if str(err) != self._weights_problem:  # say it once, not on every refresh
                self._weights_problem = str(err)
                show_warning(str(err))
            names = []
        return ["auto", *names, *self._custom_models]

    def register_model(self, name: str, net: torch.nn.Module) -> None:
        """Offer a network (e.g. one fine-tuned in the console) in the model list."""
        self._custom_models[name] = net
        self.model.reset_choices()
        self.model.value = name

    def _model_value(self):
        name = self.model.value
        return self._custom_models.get(name, name)

    # -- running -----------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None

    def _on_button(self, *_):
        if self.running:
            self.cancel()
        else:
            self.run()

    def cancel(self) -> None:
        """Ask the running worker to stop after its current batch of tiles."""
        if self.worker is not None:
            self.worker.quit()
            self.run_button.enabled = False  # until the worker has stopped

    def _plan(self):
        """The checked plan, or None after telling the user why not."""
        if self.image.value is None:
            show_error("There is no Image layer to enhance: open or add an image first.")
            return None
        try:
            plan = viewer_api.prepare(
                self._viewer,
                self.image.value,
                self.shapes.value if self.shapes.value is not None else False,
                scope=SCOPES[self.scope.value],
                model=self._model_value(),
                device=self.device.value,
                tile_size=int(self.tile_size.value),
            )
        except (ValueError, TypeError, weights.WeightsError) as err:
            show_error(str(err))
            return None
        for level, text in plan.messages:
            (show_warning if level == "warning" else show_info)(text)
        if plan.whole_image and plan.pixels > viewer_api.LARGE_IMAGE_PIXELS:
            text = (f"No Shapes layer is chosen, so the whole image ({plan.pixels:,} pixels) "
                    "will be enhanced. This may take a while. Continue?")
            if not self._confirm(self.native, text):
                show_info("Cancelled: nothing was enhanced.")
                return None
        return plan

    def run(self) -> GeneratorWorker | None:
        """Check the input and start the worker; returns it (None if refused)."""
        if self.running:
            return None
        plan = self._plan()
        if plan is None:
            return None
        job = plan.job
        desc = f"Enhancing {len(plan.rois)} ROI(s) on {job.device}"
        self._pbar = napari_progress(total=job.total, desc=desc)
        worker = thread_worker(job.steps, start_thread=False)()
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(lambda results: self._on_done(plan, results))
        worker.errored.connect(lambda err: show_error(f"Enhancement failed: {err}"))
        worker.aborted.connect(lambda: show_info("Cancelled: no layer was added."))
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self.run_button.text = "Cancel"
        self.status.value = f"running on {job.device} ({job.precision})"
        worker.start()
        return worker

    def _on_progress(self, step: engine.Progress) -> None:
        if self._pbar is not None:
            self._pbar.update(step.done - self._pbar.n)

    def _on_done(self, plan, results) -> None:
        layers = plan.layers(results)
        for layer in layers:
            self._viewer.add_layer(layer)
        self.last_layers = layers
        job = plan.job
        self.status.value = f"{job.device} ({job.precision}), {sum(job.elapsed):.2f} s"
        show_info(f"Enhanced {len(layers)} ROI(s) on {self.status.value}.")

    def _on_finished(self) -> None:
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        self.worker = None
        self.run_button.text = "Run"
        self.run_button.enabled = True
