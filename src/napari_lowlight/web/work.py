"""The web page's work (no streamlit): the ROI from a drawn rectangle, the
model choice, the run as a progress generator, and the provenance.

:class:`Enhancement` checks everything when built and does the work in
:meth:`Enhancement.steps`, a generator of :class:`~napari_lowlight.engine.Progress`
(one step per batch of tiles) that returns an :class:`Outcome`: the page
drains it while it moves its progress bar, tests drain it with
:func:`napari_lowlight.engine.drain`. It is :class:`~napari_lowlight.region_job.RegionJob`
underneath, so an ROI is enhanced with its context margin and the
normalisation statistics of the whole page, as in napari.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from dataclasses import dataclass

import numpy as np

from .. import __version__, weights
from ..engine import Progress
from ..region_job import RegionJob
from ..roi_geometry import Box

AUTO = "auto"


def whole_image(shape: tuple[int, ...]) -> Box:
    """The box of a whole grey ``(H, W)`` or colour ``(H, W, C)`` image."""
    return Box((0, 0), (int(shape[0]), int(shape[1])))


def box_from_drag(drag: Mapping, shape: tuple[int, ...]) -> Box:
    """The image-pixel box of a rectangle dragged on a displayed image.

    Parameters
    ----------
    drag : mapping
        ``x1, y1`` (where the button went down) and ``x2, y2`` (where it came
        up, possibly outside the image), and the displayed ``width`` and
        ``height``, all in screen pixels: what ``streamlit-image-coordinates``
        returns with ``click_and_drag=True``.
    shape : tuple
        The image's shape; its first two entries are height and width.

    Returns
    -------
    Box
        The pixels the rectangle touches, clipped to the image; empty (zero
        area) when the drag was a click.

    Raises
    ------
    ValueError
        If ``drag`` lacks a coordinate or the displayed size is not positive.
    """
    try:
        x1, y1, x2, y2 = (float(drag[k]) for k in ("x1", "y1", "x2", "y2"))
        width, height = float(drag["width"]), float(drag["height"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"Not a rectangle: {dict(drag)!r}") from err
    if width <= 0 or height <= 0:
        raise ValueError(f"The displayed image has no size ({width} x {height}).")
    h, w = int(shape[0]), int(shape[1])
    sx, sy = w / width, h / height

    def span(a: float, b: float, scale: float, n: int) -> tuple[int, int]:
        lo, hi = sorted((a, b))
        if hi - lo < 1:  # under a screen pixel: a click, not a rectangle
            return 0, 0
        start = min(max(int(math.floor(lo * scale)), 0), n)
        stop = min(max(int(math.ceil(hi * scale)), 0), n)
        return start, stop

    (c0, c1), (r0, r1) = span(x1, x2, sx, w), span(y1, y2, sy, h)
    return Box((r0, c0), (max(r0, r1), max(c0, c1)))


def describe_box(box: Box) -> str:
    """ "x 10-199, y 30-149 (190 x 120 px)" (inclusive pixel ranges)."""
    (y0, x0), (y1, x1) = box.start[-2:], box.stop[-2:]
    return f"x {x0}-{x1 - 1}, y {y0}-{y1 - 1} ({x1 - x0} x {y1 - y0} px)"


def box_slug(box: Box) -> str:
    """The box for a file name, inclusive as the page shows it: ``x10-199_y30-149``."""
    (y0, x0), (y1, x1) = box.start[-2:], box.stop[-2:]
    return f"x{x0}-{x1 - 1}_y{y0}-{y1 - 1}"


def check_box(box: Box, shape: tuple[int, ...]) -> Box:
    """``box``, if it is a non-empty region inside an image of ``shape``.

    Raises
    ------
    ValueError
        A box of zero area, or one reaching outside the image.
    """
    if box.is_empty:
        raise ValueError(
            "The ROI has zero area. Drag from one corner of the region to the opposite corner "
            "(a click is not a rectangle), or take the whole image."
        )
    h, w = int(shape[0]), int(shape[1])
    (y0, x0), (y1, x1) = box.start[-2:], box.stop[-2:]
    if y0 < 0 or x0 < 0 or y1 > h or x1 > w:
        raise ValueError(f"The ROI {describe_box(box)} reaches outside the {w} x {h} image.")
    return box


def is_colour(image: np.ndarray) -> bool:
    """An ``(H, W, 3|4)`` image."""
    return image.ndim == 3 and image.shape[-1] in (3, 4)


def auto_model(image: np.ndarray) -> str:
    """The weight set ``model="auto"`` takes for an image: "photo" for colour, "fluo" for grey."""
    return weights.DEFAULT_FOR_DOMAIN["photo" if is_colour(image) else "fluo"]


def resolve(choice: str, image: np.ndarray) -> str:
    """The weight set name for a choice in the model list ("auto" or a name)."""
    return auto_model(image) if choice == AUTO else choice


def model_label(choice: str, records: Mapping[str, weights.Weights]) -> str:
    """A model list entry: the name and one line from its card (its record's description).

    Parameters
    ----------
    choice : str
        "auto" or a weight set name.
    records : mapping
        :func:`napari_lowlight.available_weights`.
    """
    if choice == AUTO:
        return "auto (by image type)"
    record = records.get(choice)
    line = record.description if record is not None and record.description else "(no description)"
    return f"{choice}: {line}"


def auto_note(image: np.ndarray) -> str:
    """What "auto" took for an image: "auto took fluo for this grey image"."""
    return f"auto took {auto_model(image)} for this {'colour' if is_colour(image) else 'grey'} image"


@dataclass(frozen=True)
class Outcome:
    """An enhanced ROI and how it was made.

    Attributes
    ----------
    result : ndarray of float32
        The ROI, values in [0, 1]; grey for a grey input (also with an RGB model).
    box : Box
        The ROI in the page's pixels (half-open).
    model, sha256 : str
        The weight set and its file's sha256 ("" for a network without a record).
    normalization, stats, device, precision : str
        As the engine resolved them.
    tiles : int
        Tiles run.
    seconds : float
        Time for the ROI (margin, normalisation and network).
    """

    result: np.ndarray
    box: Box
    model: str
    sha256: str
    normalization: str
    stats: str
    device: str
    precision: str
    tiles: int
    seconds: float


class Enhancement:
    """One press of Run: an ROI of one page with one model, checked and ready.

    Parameters
    ----------
    image : ndarray
        Grey ``(H, W)`` or colour ``(H, W, 3|4)`` (see :func:`files.as_image`).
    box : Box
        The ROI over the image plane (:func:`whole_image` for all of it).
    model : str or torch.nn.Module
        A weight set name, or a loaded network (the page passes the one it
        caches per server).
    device, tile_size, batch_size
        Passed to the engine (``"auto"``, its defaults).

    Raises
    ------
    ValueError
        An ROI of zero area or outside the image, or an image or option the
        engine refuses.
    napari_lowlight.weights.WeightsError
        A weight set that is not installed or is damaged.

    Notes
    -----
    A grey image given to a colour (3-channel) model is enhanced as an RGB
    image with three equal channels, and the result's channel mean is
    returned: a grey photo stays grey.
    """

    def __init__(self, image: np.ndarray, box: Box, model, *, device: str = "auto",
                 tile_size: int | None = None, batch_size: int | None = None):
        check_box(box, image.shape)
        self.image, self.box = image, box
        in_channels = _in_channels(model)
        self.grey_on_colour = image.ndim == 2 and in_channels in (3, 4)
        data = np.repeat(image[..., None], 3, axis=-1) if self.grey_on_colour else image
        self.job = RegionJob(
            data, [box.slices], model=model, channel_axis=-1 if data.ndim == 3 else None,
            device=device, tile_size=tile_size, batch_size=batch_size,
        )
        self.total = self.job.total
        self.record = self.job.record

    def steps(self) -> Generator[Progress, None, Outcome]:
        """Enhance, yielding :class:`~napari_lowlight.engine.Progress` per batch
        of tiles; the generator returns the :class:`Outcome`."""
        crops = yield from self.job.steps()
        result = crops[0]
        if self.grey_on_colour:
            result = result[..., :3].mean(axis=-1)
        record = self.record
        return Outcome(
            result=np.ascontiguousarray(result, dtype=np.float32),
            box=self.box,
            model=record.name if record is not None else type(self.job.net).__name__,
            sha256=record.sha256 if record is not None else "",
            normalization=self.job.normalization,
            stats=self.job.stats,
            device=str(self.job.device),
            precision=self.job.precision,
            tiles=self.total,
            seconds=round(float(sum(self.job.elapsed)), 3),
        )


def _in_channels(model) -> int:
    if isinstance(model, str):
        return weights.get_weights(model).in_channels
    return int(getattr(model, "in_channels", 1))


def provenance(outcome: Outcome, *, source: str, source_sha256: str, page: int, n_pages: int,
               image: np.ndarray) -> dict:
    """What a downloaded result records about itself (JSON-serialisable).

    Parameters
    ----------
    outcome : Outcome
    source, source_sha256 : str
        The uploaded file's name and its content's sha256.
    page, n_pages : int
        The page enhanced (from 0) and the file's page count.
    image : ndarray
        The page (its shape and dtype are recorded).

    Returns
    -------
    dict
        ``software``, ``source``, ``source_sha256``, ``page`` (from 1),
        ``pages``, ``source_shape``, ``source_dtype``, ``roi`` (``{"x": [x0, x1],
        "y": [y0, y1]}``, half-open, in the page's pixels), ``roi_slices``
        (numpy's ``[y0:y1, x0:x1]``), ``model``, ``weights_sha256``,
        ``normalization``, ``stats``, ``device``, ``precision``, ``tiles``,
        ``seconds``.
    """
    (y0, x0), (y1, x1) = outcome.box.start[-2:], outcome.box.stop[-2:]
    return {
        "software": f"napari-lowlight {__version__} (web page)",
        "source": source,
        "source_sha256": source_sha256,
        "page": page + 1,
        "pages": n_pages,
        "source_shape": [int(n) for n in image.shape],
        "source_dtype": str(image.dtype),
        "roi": {"x": [int(x0), int(x1)], "y": [int(y0), int(y1)]},
        "roi_slices": f"[{y0}:{y1}, {x0}:{x1}]",
        "model": outcome.model,
        "weights_sha256": outcome.sha256,
        "normalization": outcome.normalization,
        "stats": outcome.stats,
        "device": outcome.device,
        "precision": outcome.precision,
        "tiles": outcome.tiles,
        "seconds": outcome.seconds,
    }


def card_line(record: weights.Weights) -> str:
    """One line of a model's measured quality from its record, e.g.
    "PSNR 32.0 dB on eval_fluo (30 images; brighten + BM3D: 27.51)", or "" without metrics."""
    for suite, m in sorted(record.metrics.items()):
        if not (suite.startswith("eval_") and isinstance(m, Mapping) and "psnr" in m):
            continue
        if suite.removeprefix("eval_") != record.domain:
            continue
        line = f"PSNR {m['psnr']} dB, SSIM {m.get('ssim', '?')} on the {suite.removeprefix('eval_')} suite"
        if "images" in m:
            line += f" ({m['images']} images"
            if "best_classical" in m:
                line += f"; {m['best_classical']}: {m.get('best_classical_psnr', '?')} dB"
            line += ")"
        return line
    return ""
