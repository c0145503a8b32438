"""Files: images opened lazily, and results written so that a failed run leaves nothing.

Reading
    :func:`open_lazy` opens a Zarr array, an OME-Zarr image (a level of its
    multiscale pyramid) or a TIFF (:class:`TiffSource`: tifffile's ``aszarr``;
    contiguous uncompressed TIFFs memory-mapped) as a dask array without
    reading pixels.

Writing
    Every output is written under a temporary sibling name (:func:`partial_name`)
    and renamed into place when complete (:func:`move_into_place`), so a failed
    or interrupted run leaves nothing at the final path.
    :meth:`Runner.store_zarr <napari_lowlight.bigdata.Runner.store_zarr>`
    writes a Zarr array block by block; :class:`OmeZarrOutput` writes a
    single-level OME-Zarr image (NGFF 0.5: axes, scale, translation,
    dimension names, provenance) through it. The napari viewer and the batch
    command line both write OME-Zarr this way.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dask
import dask.array as da
import numpy as np

METADATA_KEY = "napari_lowlight"  # the attribute holding the provenance
NGFF_ORDER = "tczyx"  # NGFF axis names, in the order a file must hold them


# -- writing ------------------------------------------------------------------------------------


def exists_locally(path) -> bool:
    """Whether ``path`` is a local path that exists (a store URL never counts)."""
    text = os.fspath(path)
    return "://" not in text and Path(text).exists()


def partial_name(path) -> str:
    """A hidden sibling of ``path`` for the output while it is written.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    str
    """
    p = Path(path)
    return str(p.with_name(f".{p.name}.partial-{os.getpid()}"))


def move_into_place(partial, final, overwrite: bool) -> None:
    """Move the finished output ``partial`` to ``final``, replacing what is there only with ``overwrite``.

    Parameters
    ----------
    partial, final : str or os.PathLike
    overwrite : bool

    Raises
    ------
    FileExistsError
        If ``final`` appeared meanwhile and ``overwrite`` is False (``partial`` is removed).
    """
    target = Path(final)
    if target.exists() or target.is_symlink():
        if not overwrite:
            shutil.rmtree(partial, ignore_errors=True)
            raise FileExistsError(f"{final} appeared while it was written; the result was discarded.")
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    os.replace(partial, final)


@dataclass
class OmeZarrOutput:
    """A single-level OME-Zarr image (NGFF 0.5) to write a lazy result to.

    ``axes``, ``scale`` and ``translation`` follow the result's own axis
    order (napari's: a colour axis last); the file holds them in NGFF's
    order (t, c, z, y, x) and :meth:`open` turns them back.
    """

    path: Path
    name: str
    axes: list[str]  # NGFF names, in the result's axis order
    scale: list[float]
    translation: list[float]
    units: dict[str, str] = field(default_factory=dict)
    overwrite: bool = False

    @property
    def order(self) -> list[int]:
        """The result's axes in the file's order."""
        return sorted(range(len(self.axes)), key=lambda a: NGFF_ORDER.index(self.axes[a]))

    def write(self, lazy, attrs: dict, runner, progress: Callable | None = None):
        """Write ``lazy`` block by block (``runner.store_zarr``) into a hidden
        sibling folder, add the NGFF metadata and ``attrs`` (under
        ``"napari_lowlight"``), then rename it to :attr:`path`; on any error or
        cancel the sibling is removed.

        Parameters
        ----------
        lazy : dask.array.Array
            The result, in the order of :attr:`axes`.
        attrs : dict
            Provenance, JSON-serialisable.
        runner : napari_lowlight.bigdata.Runner
            Where the blocks run.
        progress : callable, optional
            Called with a :class:`~napari_lowlight.engine.Progress` per block written.

        Returns
        -------
        dask.array.Array
            :meth:`open`: the written image, read lazily.
        """
        import zarr
        from ome_zarr.writer import write_multiscales_metadata

        order = self.order
        names = [self.axes[a] for a in order]
        partial = Path(partial_name(self.path))
        shutil.rmtree(partial, ignore_errors=True)
        try:
            group = zarr.open_group(str(partial), mode="w", zarr_format=3)
            # NGFF 0.5: a level's Zarr array names its dimensions as the axes do.
            runner.store_zarr(lazy.transpose(order), partial / "0", progress=progress, dimension_names=names)
            transforms = [{"type": "scale", "scale": [self.scale[a] for a in order]},
                          {"type": "translation", "translation": [self.translation[a] for a in order]}]
            write_multiscales_metadata(
                group, [{"path": "0", "coordinateTransformations": transforms}],
                axes=names, axes_units=self.units or None, name=self.name,
            )
            group.attrs[METADATA_KEY] = attrs
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        move_into_place(partial, self.path, self.overwrite)
        return self.open()

    def open(self):
        """The written image as a dask array in the result's axis order (nothing read)."""
        return da.from_zarr(str(self.path / "0")).transpose(np.argsort(self.order).tolist())


# -- reading ------------------------------------------------------------------------------------

TIFF_SUFFIXES = (".tif", ".tiff", ".ome.tif", ".ome.tiff", ".btf", ".tf8")


def open_lazy(path, *, level: int = 0, chunks=None) -> da.Array:
    """Open an image as a dask array without reading its pixels.

    Parameters
    ----------
    path : str or os.PathLike
        A Zarr array, an OME-Zarr image (a group with ``multiscales``
        metadata, NGFF 0.4 or 0.5) or a group holding an array ``"0"``, or a
        TIFF file (read through tifffile's ``aszarr``, strips or tiles at a
        time; a contiguous uncompressed TIFF is memory-mapped).
    level : int, optional
        Pyramid level of an OME-Zarr or pyramidal TIFF; 0 is full resolution.
    chunks : optional
        Dask chunks; default the file's own (a TIFF's strips are grouped into
        blocks of about 1024 rows).

    Returns
    -------
    dask.array.Array
        Readable by any scheduler: worker processes reopen the file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is neither Zarr nor TIFF, or ``level`` does not exist.
    """
    text = os.fspath(path)
    if "://" not in text and not Path(text).exists():
        raise FileNotFoundError(f"No such file or folder: {text}")
    if text.lower().endswith(TIFF_SUFFIXES):
        source = TiffSource(text, level=level)
        return da.from_array(
            source, chunks=chunks or source.default_chunks, name=f"tiff-{dask.base.tokenize(source)}",
            meta=np.empty((0,) * source.ndim, dtype=source.dtype),
        )
    return _open_zarr(text, level, chunks)


def ngff_multiscales(attrs: dict) -> list | None:
    """The ``multiscales`` list of an OME-Zarr group's attributes: NGFF 0.5 keeps it
    under ``"ome"``, 0.4 at the top; None when the group has none.

    Parameters
    ----------
    attrs : dict
        The group's attributes.

    Returns
    -------
    list of dict or None
    """
    return attrs.get("ome", {}).get("multiscales") or attrs.get("multiscales")


def _open_zarr(text: str, level: int, chunks) -> da.Array:
    import zarr

    try:
        node = zarr.open(text, mode="r")
    except (FileNotFoundError, ValueError, zarr.errors.BaseZarrError) as err:
        raise ValueError(f"{text} is neither a Zarr array nor a TIFF file: {err}") from None
    if isinstance(node, zarr.Group):
        multiscales = ngff_multiscales(node.attrs.asdict())
        if multiscales:
            paths = [d["path"] for d in multiscales[0]["datasets"]]
        else:
            paths = sorted((k for k in node.array_keys()), key=lambda k: (not k.isdigit(), k.zfill(8)))
        if not paths:
            raise ValueError(f"The Zarr group {text} holds no image array.")
        if not 0 <= level < len(paths):
            raise ValueError(f"{text} has levels 0..{len(paths) - 1}, not {level}.")
        node = node[paths[level]]
    elif level != 0:
        raise ValueError(f"{text} is a single Zarr array: it has level 0 only, not {level}.")
    return da.from_zarr(node, chunks=chunks or node.chunks)


class TiffSource:
    """A TIFF image level as a lazily read array that pickles by path, so
    process and cluster workers reopen the file instead of receiving pixels.

    Parameters
    ----------
    path : str
    series, level : int
        tifffile's series and pyramid level.
    """

    def __init__(self, path: str, series: int = 0, level: int = 0):
        import tifffile

        self.path, self.series, self.level = os.fspath(path), series, level
        with tifffile.TiffFile(self.path) as tif:
            if not 0 <= series < len(tif.series):
                raise ValueError(f"{self.path} has series 0..{len(tif.series) - 1}, not {series}.")
            levels = tif.series[series].levels
            if not 0 <= level < len(levels):
                raise ValueError(f"{self.path} has levels 0..{len(levels) - 1}, not {level}.")
            page = levels[level]
            self.shape, self.dtype = tuple(page.shape), np.dtype(page.dtype)
            self._mappable = page.dataoffset is not None
        self.ndim = len(self.shape)
        self._array = None
        self._lock = threading.Lock()

    @property
    def default_chunks(self) -> tuple[int, ...]:
        """Blocks of about 1024 rows and columns over the last two axes, one plane deep."""
        return tuple(min(n, 1024) if a >= self.ndim - 2 else 1 for a, n in enumerate(self.shape))

    def _open(self):
        import tifffile
        import zarr

        with self._lock:
            if self._array is None:
                if self._mappable:
                    self._array = tifffile.memmap(self.path, series=self.series, level=self.level, mode="r")
                else:
                    store = tifffile.imread(self.path, aszarr=True, series=self.series, level=self.level)
                    self._array = zarr.open_array(store, mode="r")
            return self._array

    def __getitem__(self, index) -> np.ndarray:
        return np.asarray(self._open()[index])

    def __reduce__(self):
        return (type(self), (self.path, self.series, self.level))

    def __dask_tokenize__(self):
        stat = os.stat(self.path)
        return ("napari-lowlight-tiff", self.path, self.series, self.level, stat.st_size, stat.st_mtime_ns)
