"""Enhance ROIs of napari layers: the code path shared by the console and the widget.

:func:`prepare` turns an Image layer and a Shapes layer into a
:class:`RoiPlan` (checked boxes in image data coordinates, messages for the
user, a ready job); the plan's job runs synchronously (:func:`enhance_rois`)
or in the widget's thread worker; :meth:`RoiPlan.layers` builds the output
layers, placed so each crop overlays its source exactly. Source layers are
only read, never modified.

Two jobs
    ROIs, and the whole image of an in-memory layer, are a
    :class:`~napari_lowlight.region_job.RegionJob` (each crop read, enhanced
    in memory). The whole image of a *lazy* layer (dask, Zarr, multiscale:
    level 0), or any whole image written to a file, is a :class:`LazyJob`:
    :func:`napari_lowlight.bigdata.enhance_dask` block by block, kept in
    memory or written to a single-level OME-Zarr image (NGFF axes, scale and
    translation, provenance) that is opened back lazily. A LazyJob can be
    cancelled mid-run; a cancelled or failed write leaves no file behind.

This module imports napari's layer and transform classes, never Qt.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from napari.layers import Image, Layer, Shapes
from napari.utils.transforms import Affine

from .. import __version__, noise
from .. import roi_geometry as roi
from ..bigdata.jobs import Cancelled, LazyJob  # noqa: F401 -- Cancelled re-exported for the widget's callers
from ..engine import Progress
from ..region_job import RegionJob

# A whole image above this many pixels asks for confirmation in the widget.
LARGE_IMAGE_PIXELS = 2048 * 2048
# The widget's default output for a lazy layer whose result (float32) is larger: an OME-Zarr file.
FILE_OUTPUT_BYTES = 1 << 30
METADATA_KEY = "napari_lowlight"
NGFF_ORDER = "tczyx"  # NGFF axis names, in the order a file must hold them


@dataclass
class RoiPlan:
    """Everything checked and decided before any pixel is enhanced."""

    image: Image
    rois: list[roi.RoiBox]  # the ROIs kept, in shape order
    job: RegionJob
    messages: list[tuple[str, str]] = field(default_factory=list)  # (level, text)
    whole_image: bool = False
    removed: bool = False  # also add what the network removed, a layer per ROI

    @property
    def lazy(self) -> bool:
        """The whole image runs block by block (:class:`LazyJob`)."""
        return isinstance(self.job, LazyJob)

    @property
    def pixels(self) -> int:
        """Pixels to enhance over all ROIs (planes included)."""
        return sum(int(np.prod(r.box.shape)) for r in self.rois)

    def layers(self, results: list[np.ndarray]) -> list[Image]:
        """New Image layers, one per ROI, overlaying the source exactly; with
        ``removed``, each followed by the layer of what was removed."""
        layers = []
        for i, (r, out) in enumerate(zip(self.rois, results, strict=True)):
            layers.append(output_layer(self.image, r, out, self.job, i))
            if self.removed:
                layers.append(removed_layer(self.image, r, self.job.normalized_input(i) - out, self.job, i))
        return layers


def data_to_world_matrix(layer: Layer) -> np.ndarray:
    """A layer's full data-to-world affine: its own affine after scale,
    translate, rotate and shear (napari's transform chain)."""
    physical = Affine(
        scale=layer.scale, translate=layer.translate, rotate=layer.rotate, shear=layer.shear, ndim=layer.ndim
    )
    return layer.affine.affine_matrix @ physical.affine_matrix


def _pick(viewer, layer, kind: type, what: str, required: bool):
    """The layer given, else the selected one of ``kind``, else the only one."""
    if layer is not None:
        if isinstance(layer, str):
            if layer not in viewer.layers:
                raise ValueError(f"No layer named {layer!r} in the viewer.")
            layer = viewer.layers[layer]
        if not isinstance(layer, kind):
            raise TypeError(
                f"Layer {layer.name!r} is a {type(layer).__name__} layer; "
                f"{what} must be a {kind.__name__} layer."
            )
        return layer
    selected = [ly for ly in viewer.layers.selection if isinstance(ly, kind)]
    every = [ly for ly in viewer.layers if isinstance(ly, kind)]
    for candidates in (selected, every):
        if len(candidates) == 1:
            return candidates[0]
    if not every:
        if required:
            raise ValueError(f"There is no {kind.__name__} layer in the viewer; add one to enhance.")
        return None
    raise ValueError(f"Several {kind.__name__} layers and none (or several) selected; pass {what}=<layer>.")


def is_lazy(image: Image) -> bool:
    """Whether the layer's pixels are read on demand (multiscale, dask, Zarr, ...), not held in memory."""
    return bool(image.multiscale) or not isinstance(image.data, np.ndarray)


def result_bytes(image: Image) -> int:
    """The size of the layer's whole enhanced image (level 0, float32)."""
    level0 = image.data[0] if image.multiscale else image.data
    return 4 * int(np.prod(level0.shape, dtype=np.int64))


def output_path(path) -> Path:
    """The OME-Zarr folder to write: ``path``, with ``.ome.zarr`` added unless it ends in ``.zarr``."""
    path = Path(os.fspath(path)).expanduser()
    if str(path) in ("", "."):
        raise ValueError("No output file chosen: choose where the OME-Zarr result is written.")
    return path if path.name.lower().endswith(".zarr") else path.with_name(path.name + ".ome.zarr")


def _image_source(image: Image):
    """(data or multiscale levels, channel axis, non-channel shape)."""
    data = list(image.data) if image.multiscale else image.data
    level0 = data[0] if image.multiscale else data
    channel_axis = len(level0.shape) - 1 if image.rgb else None
    shape = tuple(level0.shape[:-1] if image.rgb else level0.shape)
    return data, channel_axis, shape


def _check_view(viewer, image: Image) -> None:
    if viewer.dims.ndisplay != 2:
        raise ValueError("ROIs are drawn in 2-D: switch the viewer to 2-D display (ndisplay=2) first.")
    plane = set(range(viewer.dims.ndim - 2, viewer.dims.ndim))
    if set(viewer.dims.displayed) != plane:
        raise ValueError(
            f"Layer {image.name!r}: the image plane (its last two axes) must be the displayed axes; "
            "reset the axis order (viewer.dims.order) before enhancing."
        )


def _shape_rois(viewer, image: Image, shapes: Shapes, shape: tuple[int, ...], scope: str) -> list[roi.RoiBox]:
    if len(shapes.data) == 0:
        raise ValueError(
            f"The Shapes layer {shapes.name!r} has no shapes: draw a rectangle, "
            "or choose no Shapes layer to enhance the whole image."
        )
    to_world_s, to_world_i = data_to_world_matrix(shapes), data_to_world_matrix(image)
    point = np.asarray(viewer.dims.point, dtype=float)
    return [
        roi.roi_box(k, roi.vertices_to_image_data(v, to_world_s, to_world_i, point), kind, shape, scope)
        for k, (v, kind) in enumerate(zip(shapes.data, shapes.shape_type, strict=False))
    ]


def _current_index(viewer, image: Image) -> tuple[int, ...]:
    """The image data index of the slice the viewer shows."""
    point = np.asarray(viewer.dims.point, dtype=float)[None]
    here = roi.vertices_to_image_data(point, np.eye(len(point[0]) + 1), data_to_world_matrix(image))
    return tuple(int(np.floor(c + 0.5)) for c in here[0])


def prepare(
    viewer,
    image=None,
    shapes=None,
    *,
    scope: str = "slice",
    margin=None,
    removed: bool = False,
    output=None,
    overwrite: bool = False,
    **options,
) -> RoiPlan:
    """Check the layers and the ROIs and build the job; nothing runs yet.

    Parameters are those of :func:`enhance_rois`; with ``shapes=None`` and a
    Shapes layer present, that layer is used; ``shapes=False`` means the
    whole image (the widget's "no Shapes layer").

    Raises
    ------
    TypeError
        A layer of the wrong type.
    ValueError
        No image layer, an empty Shapes layer, no usable ROI, a 3-D view, bad
        options, an output file for ROIs.
    FileExistsError
        ``output`` exists and ``overwrite`` is False.
    """
    image = _pick(viewer, image, Image, "image", required=True)
    shapes = None if shapes is False else _pick(viewer, shapes, Shapes, "shapes", required=False)
    if removed and image.rgb:
        raise ValueError("The removed-noise view is for grey and multichannel images, not RGB photos.")
    if scope not in roi.SCOPES:
        raise ValueError(f"Unknown scope {scope!r}; use one of {', '.join(roi.SCOPES)}.")
    _check_view(viewer, image)
    data, channel_axis, shape = _image_source(image)
    if shapes is None:
        box = roi.whole_image_box(shape, _current_index(viewer, image), scope)
        rois, whole = [roi.RoiBox(0, box)], True
    else:
        rois, whole = _shape_rois(viewer, image, shapes, shape, scope), False
    messages = [("warning" if r.skipped else "info", r.message) for r in rois if r.message]
    kept = [r for r in rois if not r.skipped]
    if not kept:
        raise ValueError("No ROI left to enhance. " + " ".join(m for _, m in messages))
    if output is not None and not whole:
        raise ValueError("An OME-Zarr output file is for whole-image runs: choose no Shapes layer "
                         "(shapes=False), or keep the result in memory.")
    if whole and (output is not None or is_lazy(image)):
        if removed:
            raise ValueError("The removed-noise view needs the crop in memory: draw an ROI (a Shapes layer) "
                             "on a lazy image, or keep the result in memory.")
        target = None if output is None else _ome_zarr_output(image, kept[0], output, overwrite)
        job = LazyJob(data, kept[0].box, channel_axis, output=target, **options)
        job.attrs = {"software": f"napari-lowlight {__version__}", **_provenance(image, kept[0], job, 0)}
    else:
        job = RegionJob(data, [r.box for r in kept], margin=margin, channel_axis=channel_axis, **options)
    return RoiPlan(image, kept, job, messages, whole, removed)


def _translate_for(image: Image, start: tuple[int, ...]) -> np.ndarray:
    # A crop starting at data index `start` keeps the source's scale, rotate,
    # shear and affine; only the translate moves, by the start mapped through
    # the scale/rotate/shear part (napari: physical = R Sh S x + t).
    linear = Affine(scale=image.scale, rotate=image.rotate, shear=image.shear, ndim=image.ndim).linear_matrix
    return np.asarray(image.translate, dtype=float) + linear @ np.asarray(start, dtype=float)


def _model_name(job: RegionJob) -> str:
    if job.record is not None:
        return job.record.name
    return f"custom {getattr(job.net, 'arch', type(job.net).__name__)} (no weight record)"


def _placed_over(image: Image, r: roi.RoiBox) -> dict:
    """Layer keywords that put a crop starting at the ROI's first pixel exactly over its source."""
    return {
        "scale": image.scale,
        "translate": _translate_for(image, r.box.start),
        "rotate": image.rotate,
        "shear": image.shear,
        "affine": image.affine,
        "units": image.units,
        "axis_labels": image.axis_labels,
    }


def _provenance(image: Image, r: roi.RoiBox, job: RegionJob | LazyJob, i: int) -> dict:
    """What made crop ``i``: the source, the boxes, the model and its settings."""
    crop = job.crops[i]
    return {
        "source_layer": image.name,
        "roi_index": r.index + 1,
        "roi_box": r.box.as_list(),
        "crop_box": crop.as_list(),
        "margin": job.margin,
        "model": _model_name(job),
        "weights_sha256": job.record.sha256 if job.record is not None else None,
        "device": str(job.device),
        "precision": job.precision,
        "normalization": job.normalization,
        "strength": job.strength,
        "noise_level": _noise_of(job, i),
        "stats": job.stats,
    }


def output_layer(image: Image, r: roi.RoiBox, data, job: RegionJob | LazyJob, i: int) -> Image:
    """The enhanced crop (or lazily read whole image) as a new layer placed over its source."""
    meta = _provenance(image, r, job, i)
    meta["elapsed_s"] = round(float(job.elapsed[i]), 4) if i < len(job.elapsed) else None
    if isinstance(job, LazyJob):
        meta["blocks"] = job.total
        meta["output_path"] = None if job.output is None else str(job.output.path)
    kwargs = {} if image.rgb else {"colormap": image.colormap}
    return Image(
        data,
        name=f"{image.name} enhanced ROI {r.index + 1}",
        rgb=image.rgb,
        **_placed_over(image, r),
        blending=image.blending,
        contrast_limits=(0.0, 1.0),
        metadata={METADATA_KEY: meta},
        **kwargs,
    )


def _noise_of(job: RegionJob, i: int) -> list[dict] | None:
    """The noise a noise-aware network was told, per channel: variance = a * x + b."""
    return noise.describe(job.normalizers[i].noise if i < len(job.normalizers) else None)


def removed_layer(image: Image, r: roi.RoiBox, removed: np.ndarray, job: RegionJob, i: int) -> Image:
    """What the network took away from ROI ``i`` (its normalised input minus its result), over
    the source: noise should look like noise; a shape that follows the cells means structure was lost."""
    limit = float(np.percentile(np.abs(removed), 99.5)) or 1.0
    meta = {"source_layer": image.name, "roi_index": r.index + 1, "roi_box": r.box.as_list(),
            "model": _model_name(job), "strength": job.strength, "units": "normalised intensity",
            "noise_level": _noise_of(job, i)}
    return Image(
        removed,
        name=f"{image.name} removed ROI {r.index + 1}",
        **_placed_over(image, r),
        colormap="PiYG",  # diverging: removed brightness one colour, removed darkness the other
        contrast_limits=(-limit, limit),
        visible=True,
        metadata={METADATA_KEY: meta},
    )


def enhance_rois(
    viewer,
    image=None,
    shapes=None,
    *,
    scope: str = "slice",
    margin: int | None = None,
    removed: bool = False,
    output=None,
    overwrite: bool = False,
    progress: Callable[[Progress], None] | None = None,
    **options,
) -> list[Layer]:
    """Enhance the ROIs drawn on an image and add them to the viewer.

    The same code path as the dock widget, run synchronously (call it from
    napari's console or a script).

    Parameters
    ----------
    viewer : napari.Viewer
    image : Image layer or str, optional
        Default: the selected Image layer, else the only one.
    shapes : Shapes layer, str or False, optional
        Default: the selected Shapes layer, else the only one; with no Shapes
        layer (or ``False``) the whole image is enhanced. Rectangles give
        their box; rotated rectangles and other shapes their bounding box.
    scope : {"slice", "stack"}, optional
        On a stack: the slice each shape was drawn on, or every slice.
    margin : int, optional
        Context pixels around each ROI (default: receptive-field radius).
    removed : bool, optional
        Also add, after each enhanced ROI, a layer of what the network removed
        (its normalised input minus its result, diverging colours): noise
        should look like noise; edges or cell shapes in it mean structure was
        taken away. Grey and multichannel images only.
    output : str or os.PathLike, optional
        Whole image only: write the result to this OME-Zarr folder (``.ome.zarr``
        is added unless the name ends in ``.zarr``) block by block, and add it
        as a lazy layer read from there. Without it, the whole image of a lazy
        layer (dask, Zarr, multiscale) is still enhanced block by block, into
        memory.
    overwrite : bool, optional
        Replace an existing ``output`` (default: refuse before any work).
    progress : callable, optional
        Called with a :class:`~napari_lowlight.engine.Progress` per batch of
        tiles (per block for a lazy whole image).
    **options
        ``model``, ``device``, ``precision``, ``tile_size``, ``batch_size``,
        ``normalization``, ``percentiles``, ``strength``, ``stats``: see
        :func:`napari_lowlight.enhance_regions`.

    Returns
    -------
    list of napari.layers.Image
        The new layers, one per ROI, named ``"<image> enhanced ROI <k>"``
        (k counts the shapes from 1), already added to the viewer.

    Raises
    ------
    TypeError, ValueError, napari_lowlight.WeightsError
        Bad layers or ROIs (when none is usable), bad options, missing weights.
        ROIs that are skipped or changed while others remain give warnings.
    FileExistsError
        ``output`` exists and ``overwrite`` is False.
    """
    plan = prepare(viewer, image, shapes, scope=scope, margin=margin, removed=removed, output=output,
                   overwrite=overwrite, **options)
    for level, text in plan.messages:
        if level == "warning":
            warnings.warn(text, stacklevel=2)
    layers = plan.layers(plan.job.run(progress))
    for layer in layers:
        viewer.add_layer(layer)
    return layers


# -- the whole image into an OME-Zarr file: the layer's axes, scale and placement ------------------


def _ngff_names(image: Image) -> list[str]:
    """NGFF axis names for the layer's axes (plus "c" for a colour axis, last):
    its axis labels when they make a valid NGFF image, else (t,) (z,) y, x."""
    from ome_zarr.axes import Axes

    colour = ["c"] if image.rgb else []
    labelled = [str(label).lower() for label in image.axis_labels] + colour
    lead = image.ndim - 2
    candidates = [labelled] + ([(["t", "z"][2 - lead:] + ["y", "x"] + colour)] if lead <= 2 else [])
    for names in candidates:
        if len(set(names)) == len(names) and set(names) <= set(NGFF_ORDER):
            try:
                Axes(sorted(names, key=NGFF_ORDER.index))
            except ValueError:
                continue
            return names
    raise ValueError(
        f"Layer {image.name!r} has {image.ndim} axes; an OME-Zarr image holds at most t, c, z, y, x: keep "
        "the result in memory, or label its axes (layer.axis_labels) from t, c, z, y, x."
    )


def _ome_zarr_output(image: Image, r: roi.RoiBox, path, overwrite: bool):
    """The file a whole-image result is written to (a :class:`~napari_lowlight.bigdata.OmeZarrOutput`),
    with the layer's axes, scale and placement."""
    from ome_zarr.axes import KNOWN_SPATIAL_UNITS, KNOWN_TEMPORAL_UNITS

    from ..bigdata.files import OmeZarrOutput

    path = output_path(path)
    if not path.parent.is_dir():
        raise ValueError(f"The folder {path.parent} does not exist: choose an output file in an existing "
                         "folder.")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise FileExistsError(f"{path} exists: choose another output file, or confirm replacing it "
                              "(overwrite=True).")
    names = _ngff_names(image)
    known = {"space": KNOWN_SPATIAL_UNITS, "time": KNOWN_TEMPORAL_UNITS}
    units = {}
    for name, unit in zip(names, image.units, strict=False):
        kind = "time" if name == "t" else "space" if name in "zyx" else None
        if kind and str(unit) in known[kind]:
            units[name] = str(unit)
    extra = [1.0] if image.rgb else []
    return OmeZarrOutput(
        path, image.name, names,
        scale=[float(s) for s in image.scale] + extra,
        translation=[float(t) for t in _translate_for(image, r.box.start)] + [0.0] * len(extra),
        units=units, overwrite=overwrite,
    )
