"""Image files for the batch command line: what a file holds, read and written with its metadata.

:func:`probe` reads a file's header only (shape, dtype, axes, physical pixel
sizes, channel names), so every input is checked before any pixel or torch
is loaded; :func:`load` reads the pixels (Zarr lazily, as a dask array);
:func:`write` stores a result in the chosen format with the input's metadata
and the run's provenance.

Formats
    TIFF and OME-TIFF (tifffile: axes from the file, OME physical sizes and
    channel names), PNG and JPEG (Pillow), Zarr and OME-Zarr (written block
    by block through :mod:`napari_lowlight.bigdata`, the writer the napari
    viewer uses too; NGFF 0.5 metadata and dimension names), and vendor formats (CZI, ND2, LIF, ...)
    through bioio when its readers are installed (the ``vendor`` extra).

Axes use OME's letters: T, Z, C (channels), Y, X, and S for the samples of
an RGB(A) pixel. Anything else counts as a stack axis.

Provenance
    TIFF: in the ImageDescription JSON under ``napari_lowlight``; OME-TIFF: an
    OME MapAnnotation; Zarr/OME-Zarr: the ``napari_lowlight`` attribute;
    PNG: a text chunk; JPEG: the comment.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

KINDS = ("tiff", "ome-tiff", "png", "jpeg", "zarr", "ome-zarr", "vendor")
SUFFIXES = {".tif": "tiff", ".tiff": "tiff", ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".zarr": "zarr"}
VENDOR_SUFFIXES = (".czi", ".nd2", ".lif", ".lsm", ".oib", ".oir", ".vsi", ".ims", ".dv")
EXTENSION = {"tiff": ".tif", "ome-tiff": ".ome.tif", "png": ".png", "jpeg": ".jpg", "zarr": ".zarr",
             "ome-zarr": ".ome.zarr"}
METADATA_KEY = "napari_lowlight"
BLOCKWISE_KINDS = ("zarr", "ome-zarr")  # written block by block through napari_lowlight.bigdata


class ImageFileError(ValueError):
    """A file that cannot be read or written as asked, with the reason in the user's words."""


@dataclass
class Source:
    """What an image file holds, read from its header."""

    path: Path
    kind: str
    shape: tuple[int, ...]
    dtype: np.dtype
    axes: str
    physical_size: dict[str, float] = field(default_factory=dict)  # {"X": 0.1, ...}
    units: dict[str, str] = field(default_factory=dict)  # {"X": "µm", ...}
    channel_names: list[str] = field(default_factory=list)
    level: str = ""  # the Zarr array path inside an OME-Zarr group

    @property
    def channel_axis(self) -> int | None:
        """The axis of colour samples (S) or channels (C), if any."""
        for letter in "SC":
            if letter in self.axes:
                return self.axes.index(letter)
        return None

    @property
    def is_colour(self) -> bool:
        """RGB(A) pixels: the photo models' images; channels (C) are fluorescence."""
        return "S" in self.axes

    @property
    def plane_shape(self) -> tuple[int, int]:
        return self.shape[self.axes.index("Y")], self.shape[self.axes.index("X")]


def kind_of(path: Path) -> str | None:
    """The format a path names by its suffix (and, for Zarr, its metadata); None if unsupported."""
    name = path.name.lower()
    if name.endswith((".ome.tif", ".ome.tiff")):
        return "ome-tiff"
    if name.endswith(VENDOR_SUFFIXES):
        return "vendor"
    kind = SUFFIXES.get(path.suffix.lower())
    if kind == "zarr" and (_ngff(path) is not None):
        return "ome-zarr"
    return kind


def probe(path: Path) -> Source:
    """The header of an image file; no pixels are read.

    Raises
    ------
    ImageFileError
        Missing, unsupported, corrupt or unreadable files, with the reason.
    """
    path = Path(path)
    if not path.exists():
        raise ImageFileError("no such file")
    kind = kind_of(path)
    if kind is None:
        raise ImageFileError(f"unsupported file type {path.suffix or '(none)'!r}; "
                             "use TIFF, OME-TIFF, PNG, JPEG, Zarr or OME-Zarr")
    reader = {"tiff": _probe_tiff, "ome-tiff": _probe_tiff, "png": _probe_pillow, "jpeg": _probe_pillow,
              "zarr": _probe_zarr, "ome-zarr": _probe_zarr, "vendor": _probe_vendor}[kind]
    try:
        source = reader(path, kind)
    except ImageFileError:
        raise
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        raise ImageFileError(f"cannot be read as {kind.upper()} (corrupt or not an image?): {err}") from None
    if min(source.plane_shape) < 1:
        raise ImageFileError(f"is empty (shape {source.shape})")
    if source.dtype.kind not in "biuf":
        raise ImageFileError(
            f"holds {source.dtype} pixels; only bool, integer and float images can be enhanced"
        )
    return source


def _probe_tiff(path: Path, kind: str) -> Source:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        axes = _ome_letters(series.axes)
        source = Source(
            path, "ome-tiff" if tif.is_ome else "tiff", tuple(series.shape), np.dtype(series.dtype), axes
        )
        if tif.is_ome:
            _read_ome_xml(source, tif.ome_metadata)
        elif tif.shaped_metadata and "axes" in tif.shaped_metadata[0]:
            source.axes = _ome_letters(tif.shaped_metadata[0]["axes"])
    return source


def _ome_letters(axes: str) -> str:
    # tifffile's letters: S samples, C channels, Z/T/... stacks; Q, I and others are unnamed stack axes.
    return "".join(a if a in "TZCYXS" else "Q" for a in axes.upper())


def _read_ome_xml(source: Source, xml: str) -> None:
    import tifffile

    image = tifffile.xml2dict(xml)["OME"]["Image"]
    pixels = (image[0] if isinstance(image, list) else image)["Pixels"]
    for axis in "XYZ":
        if f"PhysicalSize{axis}" in pixels:
            source.physical_size[axis] = float(pixels[f"PhysicalSize{axis}"])
            source.units[axis] = str(pixels.get(f"PhysicalSize{axis}Unit", "µm"))
    channels = pixels.get("Channel", [])
    channels = channels if isinstance(channels, list) else [channels]
    source.channel_names = [str(c.get("Name", "")) for c in channels if isinstance(c, dict)]


def _probe_pillow(path: Path, kind: str) -> Source:
    from PIL import Image

    with Image.open(path) as im:
        im.verify()  # reads the whole file's structure: a truncated file fails here
    with Image.open(path) as im:
        width, height, mode = im.width, im.height, im.mode
    if mode in ("I;16", "I;16B", "I;16L"):
        return Source(path, kind, (height, width), np.dtype(np.uint16), "YX")
    if mode in ("L", "1", "P", "LA", "RGB", "RGBA", "CMYK", "YCbCr", "I", "F"):
        if mode in ("L", "1"):
            return Source(path, kind, (height, width), np.dtype(np.uint8), "YX")
        if mode in ("I", "F"):
            return Source(
                path, kind, (height, width), np.dtype(np.int32 if mode == "I" else np.float32), "YX"
            )
        samples = 4 if mode in ("RGBA", "LA", "P") and _has_alpha(path) else 3
        return Source(path, kind, (height, width, samples), np.dtype(np.uint8), "YXS")
    raise ImageFileError(f"has pixel mode {mode!r}, which cannot be enhanced")


def _has_alpha(path: Path) -> bool:
    from PIL import Image

    with Image.open(path) as im:
        return im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info)


def _ngff(path: Path) -> dict | None:
    """The NGFF ``multiscales`` entry of an OME-Zarr group (0.4 or 0.5), else None."""
    from ..bigdata.files import ngff_multiscales  # imports dask: only when a Zarr folder is probed

    for name in (".zattrs", "zarr.json"):
        meta = path / name
        if meta.is_file():
            attrs = json.loads(meta.read_text(encoding="utf-8"))
            multiscales = ngff_multiscales(attrs.get("attributes", attrs))  # zarr.json nests them
            if multiscales:
                return multiscales[0]
    return None


def _probe_zarr(path: Path, kind: str) -> Source:
    import zarr

    ngff = _ngff(path)
    if ngff is None:
        array = zarr.open_array(path, mode="r")
        axes = "Q" * (array.ndim - 2) + "YX"
        return Source(path, "zarr", tuple(array.shape), np.dtype(array.dtype), axes)
    level = ngff["datasets"][0]["path"]
    array = zarr.open_array(path / level, mode="r")
    names = [a["name"] if isinstance(a, dict) else a for a in ngff.get("axes", [])]
    letters = (
        "".join(n.upper() if n.upper() in "TZCYX" else "Q" for n in names)
        or "Q" * (array.ndim - 2) + "YX"
    )
    source = Source(path, "ome-zarr", tuple(array.shape), np.dtype(array.dtype), letters, level=level)
    for t in ngff["datasets"][0].get("coordinateTransformations", []):
        if t.get("type") == "scale":
            for letter, scale, axis in zip(letters, t["scale"], ngff.get("axes", []), strict=False):
                if letter in "XYZ":
                    source.physical_size[letter] = float(scale)
                    if isinstance(axis, dict) and "unit" in axis:
                        source.units[letter] = axis["unit"]
    return source


def _probe_vendor(path: Path, kind: str) -> Source:
    try:
        from bioio import BioImage
    except ImportError:
        raise ImageFileError(
            f"{path.suffix} files need the bioio readers: pip install 'napari-lowlight[vendor]'"
        ) from None
    image = BioImage(path)
    dims = image.dims.order  # "TCZYX"
    sizes = image.physical_pixel_sizes
    source = Source(path, "vendor", tuple(image.shape), np.dtype(image.dtype), _ome_letters(dims))
    for letter, value in (("X", sizes.X), ("Y", sizes.Y), ("Z", sizes.Z)):
        if value:
            source.physical_size[letter] = float(value)
    source.channel_names = [str(c) for c in (image.channel_names or [])]
    return source


def load(source: Source, lazy: bool = False):
    """The pixels: a numpy array, or a dask array read block by block for Zarr and
    OME-Zarr (always) and TIFF (with ``lazy``, for images enhanced block by block, so a
    TIFF larger than memory is never read whole)."""
    try:
        if source.kind in ("zarr", "ome-zarr") or (lazy and source.kind in ("tiff", "ome-tiff")):
            from ..bigdata.files import open_lazy

            return open_lazy(source.path)  # level 0 of an OME-Zarr, series 0 of a TIFF
        if source.kind in ("tiff", "ome-tiff"):
            import tifffile

            return tifffile.imread(source.path, series=0)
        if source.kind in ("png", "jpeg"):
            return _load_pillow(source)
        from bioio import BioImage

        return BioImage(source.path).get_image_data(source.axes)
    except (OSError, ValueError, KeyError, IndexError) as err:
        raise ImageFileError(f"cannot be read (corrupt?): {err}") from None


def _load_pillow(source: Source) -> np.ndarray:
    from PIL import Image

    with Image.open(source.path) as im:
        if source.is_colour:
            im = im.convert("RGBA" if source.shape[-1] == 4 else "RGB")
        elif im.mode in ("1", "P", "LA"):
            im = im.convert("L")
        return np.asarray(im)


# ---- writing ----------------------------------------------------------------------------


def to_dtype(image, dtype: np.dtype):
    """Float [0, 1] results back in ``dtype``'s range (rounded for integers: a 16-bit
    acquisition stays 16-bit); works on numpy and dask arrays alike."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return image.astype(dtype)
    if dtype.kind not in "iu":
        raise ImageFileError(f"results cannot be stored as {dtype}")
    info = np.iinfo(dtype)
    low = 0 if dtype.kind == "u" else info.min
    return (image * (float(info.max) - low) + low).round().clip(info.min, info.max).astype(dtype)


def check_writable(kind: str, dtype: np.dtype, colour: bool) -> None:
    """Refuse a format/dtype pair before any work, with what to use instead."""
    dtype = np.dtype(dtype)
    if kind == "jpeg" and dtype != np.uint8:
        raise ImageFileError(f"JPEG holds 8-bit pixels, not {dtype}; use --dtype uint8 or --format tiff")
    if kind == "png" and (dtype not in (np.uint8, np.uint16) or (colour and dtype != np.uint8)):
        what = "8-bit colour or 8/16-bit grey" if colour else "8- or 16-bit"
        raise ImageFileError(f"PNG holds {what} pixels, not {dtype}; use --format tiff for {dtype}")


def write(path: Path, image, source: Source, axes: str, provenance: dict, kind: str, *,
          runner=None, progress=None) -> None:
    """Write ``image`` as ``kind`` with the source's metadata.

    Parameters
    ----------
    path : Path
        Where to write (the caller's temporary name).
    image : numpy.ndarray or dask.array.Array
        The result; PNG, JPEG and TIFF outputs are computed into memory, Zarr
        and OME-Zarr ones are written block by block
        (:meth:`napari_lowlight.bigdata.Runner.store_zarr`).
    source : Source
        The input's header (physical sizes, units, channel names).
    axes : str
        The letters of ``image``'s axes (the source's, unless an ROI dropped some).
    provenance : dict
        What made the result, stored with it.
    kind : str
        One of :data:`EXTENSION`'s formats.
    runner : napari_lowlight.bigdata.Runner, optional
        Where the blocks of a Zarr or OME-Zarr output run (default: threads in this process).
    progress : callable, optional
        Called with a :class:`~napari_lowlight.engine.Progress` per block written (Zarr kinds).

    Raises
    ------
    ImageFileError
        A format that cannot hold this result.
    """
    writer = {"tiff": _write_tiff, "ome-tiff": _write_ome_tiff, "png": _write_pillow, "jpeg": _write_pillow,
              "zarr": _write_zarr, "ome-zarr": _write_ome_zarr}.get(kind)
    if writer is None:
        raise ImageFileError(f"cannot write {kind!r}; choose one of {', '.join(EXTENSION)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind in BLOCKWISE_KINDS:
        _store(writer, path, image, source, axes, provenance, runner, progress)
    else:
        writer(path, image, source, axes, provenance, kind)


def _store(writer, path, image, source, axes, provenance, runner, progress) -> None:
    """A Zarr kind, block by block on ``runner`` (or a threads runner for this one write)."""
    import dask.array as da

    from .. import bigdata

    lazy = image if isinstance(image, da.Array) else da.from_array(image, chunks="auto", name=False)
    if runner is not None:
        writer(path, lazy, source, axes, provenance, runner, progress)
        return
    with bigdata.Runner("threads") as local:
        writer(path, lazy, source, axes, provenance, local, progress)


def _write_tiff(path, image, source, axes, provenance, kind) -> None:
    import tifffile

    colour = "S" in axes and axes.endswith("S")
    tifffile.imwrite(path, np.asarray(image), photometric="rgb" if colour else "minisblack",
                     metadata={"axes": axes, METADATA_KEY: provenance})


def _write_ome_tiff(path, image, source, axes, provenance, kind) -> None:
    import tifffile

    meta = {"axes": axes, "MapAnnotation": {f"{METADATA_KEY}.{k}": str(v) for k, v in provenance.items()}}
    for axis, size in source.physical_size.items():
        meta[f"PhysicalSize{axis}"] = size
        meta[f"PhysicalSize{axis}Unit"] = _ome_unit(source.units.get(axis, "µm"))
    if source.channel_names:
        meta["Channel"] = {"Name": source.channel_names}
    colour = axes.endswith("S")
    tifffile.imwrite(path, np.asarray(image), ome=True, photometric="rgb" if colour else "minisblack",
                     metadata=meta)


def _write_pillow(path, image, source, axes, provenance, kind) -> None:
    from PIL import Image, PngImagePlugin

    image = np.asarray(image)
    if image.ndim != 2 and not (image.ndim == 3 and axes.endswith("S")):
        raise ImageFileError(
            f"{kind.upper()} holds one plane; this result has axes {axes}: use --format tiff"
        )
    text = json.dumps(provenance)
    picture = Image.fromarray(image)
    if kind == "png":
        info = PngImagePlugin.PngInfo()
        info.add_text(METADATA_KEY, text)
        picture.save(path, pnginfo=info)
    else:
        picture.save(path, quality=95, comment=text.encode())


def _write_zarr(path, lazy, source, axes, provenance, runner, progress) -> None:
    letters = [a.lower() for a in axes]
    names = letters if len(set(letters)) == len(letters) else None  # Zarr v3 dimension names
    runner.store_zarr(lazy, path, attrs={METADATA_KEY: provenance, "axes": axes}, progress=progress,
                      dimension_names=names)


def _write_ome_zarr(path, lazy, source, axes, provenance, runner, progress) -> None:
    from ..bigdata import OmeZarrOutput

    names = [a.lower() if a in "TZCYX" else None for a in axes]
    if None in names or len(set(names)) != len(names):
        raise ImageFileError(
            f"OME-Zarr needs axes from T, Z, C, Y, X; this result has {axes}: use --format zarr"
        )
    output = OmeZarrOutput(
        Path(path), source.path.name, names,
        scale=[float(source.physical_size.get(a, 1.0)) for a in axes],
        translation=[0.0] * len(axes),
        units={a.lower(): _ngff_unit(source.units[a]) for a in axes if a in source.units},
    )
    output.write(lazy, provenance, runner, progress)


_NGFF_UNITS = {"µm": "micrometer", "um": "micrometer", "nm": "nanometer", "mm": "millimeter"}


def _ngff_unit(unit: str) -> str:
    """NGFF names its units in words (micrometer); OME-TIFF uses symbols (µm)."""
    return _NGFF_UNITS.get(unit, unit)


def _ome_unit(unit: str) -> str:
    return {word: symbol for symbol, word in _NGFF_UNITS.items() if symbol != "um"}.get(unit, unit)


def remove(path: Path) -> None:
    """Delete an earlier output (a file, or a Zarr folder) before it is replaced (``--overwrite``)."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
