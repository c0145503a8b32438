"""The dock widget "Enhance low-light ROIs"; the only module that touches Qt.

The widget collects its settings, lets :func:`napari_lowlight._napari.viewer_api.prepare`
check the layers and ROIs (in the GUI thread, so bad input is reported at
once as a notification), then runs the plan's generator in a
``thread_worker``: each yielded :class:`~napari_lowlight.engine.Progress`
advances a ``napari.utils.progress`` bar, the returned crops become layers.
Run turns into Cancel while a run is going. A run that is stopped adds
nothing: cancelled, its source layer deleted or given new data (the crops
would no longer match it), or its window closed. A failure is shown with its
traceback.

The whole image of a lazy layer (dask, Zarr, multiscale) runs block by block
(:class:`~napari_lowlight.bigdata.LazyJob`), into memory or, with
Output "OME-Zarr file", into a file opened back as a lazy layer; Cancel stops
it after the block running and leaves no partial file.

napari imports this module only when the widget is first opened, so torch
is not loaded at plugin discovery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import napari.layers
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSlider,
    Label,
    PushButton,
    SpinBox,
    create_widget,
)
from napari.qt.threading import GeneratorWorker, thread_worker
from napari.utils import progress as napari_progress
from napari.utils.notifications import (
    ErrorNotification,
    notification_manager,
    show_error,
    show_info,
    show_warning,
)
from qtpy.QtWidgets import QMessageBox

from .. import devices, engine, weights
from . import viewer_api

if TYPE_CHECKING:
    import torch

SCOPES = {"current slice": "slice", "every slice": "stack"}
IN_MEMORY, TO_FILE = "in memory", "OME-Zarr file"
TITLE = "Enhance low-light ROIs"


def ask_user(parent, text: str) -> bool:
    """A modal yes/no question (replaced in tests)."""
    answer = QMessageBox.question(parent, TITLE, text, QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes


class Failed(NamedTuple):
    """What the worker returns when the job raised."""

    error: Exception


def guarded_steps(job):
    """The job's steps; an exception is returned (as :class:`Failed`), not raised.

    superqt takes a RuntimeError escaping a worker (torch's usual error, CUDA
    out-of-memory included) for a deleted worker: no ``errored``, not even
    ``finished``, and the widget would stay on Cancel. Returned, every error
    reaches the GUI thread the same way, its traceback kept on it.
    """
    try:
        return (yield from job.steps())
    except Exception as err:  # noqa: BLE001 -- shown to the user with its traceback
        return Failed(err)


def show_failure(err: Exception) -> None:
    """An error notification that keeps the exception, so napari's
    "View Traceback" shows where the run failed."""
    note = ErrorNotification(err)
    note.message = f"Enhancement failed, no layer was added: {type(err).__name__}: {err}"
    notification_manager.dispatch(note)


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
        self._job = None  # the running worker's job
        self.last_layers: list[napari.layers.Image] = []
        self._pbar = None
        self._stop_reason = None  # (notify, text): why the running worker was asked to stop
        self._unwatch = None  # stops watching the running job's source layer
        self._closed = False

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
        self.strength = FloatSlider(
            label="Strength", value=1.0, min=0.25, max=4.0, step=0.05,
            tooltip="Noise-aware models (fluo): 1 uses the estimated noise; lower keeps more texture, "
                    "higher smooths more",
        )
        self.output = ComboBox(
            label="Output", choices=[IN_MEMORY, TO_FILE], value=IN_MEMORY,
            tooltip="Whole image only. In memory: a new layer holding the result (4 bytes per value).\n"
                    "OME-Zarr file: written block by block, then opened as a layer read from the file;\n"
                    "the default for a lazy image (dask, Zarr, multiscale) whose result would exceed "
                    f"{viewer_api.FILE_OUTPUT_BYTES / 2**30:g} GiB.",
        )
        self.output_file = FileEdit(label="Output file", mode="w", filter="*.ome.zarr", visible=False,
                                    tooltip="The OME-Zarr folder to write (.ome.zarr is added if missing)")
        self.removed = CheckBox(
            text="Add removed noise", value=False,
            tooltip="Also add what the network removed (input minus result, normalised units): "
                    "it should look like noise; cell shapes or edges in it mean structure was lost",
        )
        self.run_button = PushButton(text="Run")
        self.status = Label(label="Last run", value="")
        self.extend([self.image, self.shapes, self.model, self.device, self.tile_size, self.scope,
                     self.strength, self.output, self.output_file, self.removed, self.run_button,
                     self.status])

        self.run_button.changed.connect(self._on_button)
        self.output.changed.connect(self._show_output_file)
        self.image.changed.connect(self._default_output)
        # The layer lists follow the viewer's layers.
        viewer.layers.events.inserted.connect(self.reset_choices)
        viewer.layers.events.removed.connect(self.reset_choices)
        self.reset_choices()
        self._default_output()
        # Closing the viewer's window deletes its dock widgets, this one included.
        self.native.destroyed.connect(self._on_destroyed)

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

    # -- output --------------------------------------------------------------
    def _show_output_file(self, *_) -> None:
        self.output_file.visible = self.output.value == TO_FILE

    def _default_output(self, *_) -> None:
        """A file for a lazy image whose result would be large, else memory."""
        image = self.image.value
        large = image is not None and viewer_api.is_lazy(image) and (
            viewer_api.result_bytes(image) > viewer_api.FILE_OUTPUT_BYTES)
        self.output.value = TO_FILE if large else IN_MEMORY

    def _output_choice(self):
        """(path or None, exists) for the plan; raises ValueError without a file chosen."""
        if self.output.value != TO_FILE:
            return None, False
        path = viewer_api.output_path(self.output_file.value)
        return path, path.exists() or path.is_symlink()

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
        self._stop(show_info, "Cancelled: no layer was added.")

    def _stop(self, notify, text: str) -> None:
        """Ask the worker to stop; once it has, ``notify(text)`` tells the user why."""
        if self.worker is None or self._stop_reason is not None:
            return
        self._stop_reason = (notify, text)
        self._halt()
        self.run_button.enabled = False  # until the worker has stopped

    def _halt(self) -> None:
        """Stop the worker: a lazy job stops itself after its current block
        (its partial file removed, then the worker ends); a region job at the
        worker's next batch."""
        if isinstance(self._job, viewer_api.LazyJob):
            self._job.cancel()
        else:
            self.worker.quit()

    def _plan(self):
        """The checked plan, or None after telling the user why not."""
        if self.image.value is None:
            show_error("There is no Image layer to enhance: open or add an image first.")
            return None
        try:
            output, exists = self._output_choice()
            plan = viewer_api.prepare(
                self._viewer,
                self.image.value,
                self.shapes.value if self.shapes.value is not None else False,
                scope=SCOPES[self.scope.value],
                model=self._model_value(),
                device=self.device.value,
                tile_size=int(self.tile_size.value),
                strength=float(self.strength.value),
                removed=bool(self.removed.value),
                output=output,
                overwrite=exists,  # only once confirmed below
            )
        except (ValueError, TypeError, OSError, weights.WeightsError) as err:
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
        if exists and not self._confirm(self.native, f"{output} exists. Replace it with the result?"):
            show_warning(f"{output} exists and was kept: nothing was enhanced. Choose another output file.")
            return None
        return plan

    def run(self) -> GeneratorWorker | None:
        """Check the input and start the worker; returns it (None if refused)."""
        if self.running:
            return None
        plan = self._plan()
        if plan is None:
            return None
        job = self._job = plan.job
        what = f"the whole image ({job.total} blocks)" if plan.lazy else f"{len(plan.rois)} ROI(s)"
        self._pbar = napari_progress(total=job.total, desc=f"Enhancing {what} on {job.device}")
        worker = thread_worker(guarded_steps, start_thread=False)(job)
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(lambda outcome: self._on_done(plan, outcome))
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self._unwatch = self._watch(plan.image)
        self.run_button.text = "Cancel"
        self.status.value = f"running on {job.device} ({job.precision})"
        worker.start()
        return worker

    def _watch(self, image: napari.layers.Image):
        """Stop the run if its source layer is deleted or given new data: the
        crops, computed from the old pixels, would not match it. Returns the
        function that stops watching."""
        layers = self._viewer.layers

        def removed(event):
            if event.value is image:
                self._stop(show_warning, f"The layer {image.name!r} was deleted during the run: "
                                         "no layer was added.")

        def replaced(_event):
            self._stop(show_warning, f"The image {image.name!r} changed during the run; run again "
                                     "(no layer was added).")

        layers.events.removed.connect(removed)
        image.events.data.connect(replaced)

        def unwatch():
            layers.events.removed.disconnect(removed)
            image.events.data.disconnect(replaced)

        return unwatch

    def _on_progress(self, step: engine.Progress) -> None:
        if self._pbar is not None:
            if step.total != self._pbar.total:  # counted in blocks as dask runs them
                self._pbar.total = step.total
            self._pbar.update(step.done - self._pbar.n)

    def _on_done(self, plan, outcome) -> None:
        # A stop asked for after the last batch (the worker returned meanwhile),
        # or a lazy run that stopped itself: drop the results, _on_finished says why.
        if self._closed or self._stop_reason is not None or self.worker.abort_requested:
            return
        if isinstance(outcome, Failed):
            self.status.value = "failed"
            show_failure(outcome.error)
            return
        layers = plan.layers(outcome)
        for layer in layers:
            self._viewer.add_layer(layer)
        self.last_layers = layers
        job = plan.job
        self.status.value = f"{job.device} ({job.precision}), {sum(job.elapsed):.2f} s"
        if not plan.lazy:
            show_info(f"Enhanced {len(plan.rois)} ROI(s) on {self.status.value}.")
        else:
            where = "in memory" if job.output is None else f"written to {job.output.path}"
            show_info(f"Enhanced the whole image in {job.total} blocks on {self.status.value}, {where}.")

    def _on_finished(self) -> None:
        unwatch, self._unwatch = self._unwatch, None
        unwatch()
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        self.worker = self._job = None
        reason, self._stop_reason = self._stop_reason, None
        if self._closed:
            return  # the window is gone, and this widget's Qt part with it
        self.run_button.text = "Run"
        self.run_button.enabled = True
        if reason is not None:
            notify, text = reason
            notify(text)

    def _on_destroyed(self, *_) -> None:
        """The window closed with a run going: stop it quietly, touch no widget."""
        self._closed = True
        if self.worker is not None:
            self._halt()
