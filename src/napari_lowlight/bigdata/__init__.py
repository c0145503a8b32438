"""Images larger than memory: the engine mapped over dask blocks, on threads,
processes or a ``dask.distributed`` cluster.

:func:`enhance_dask` returns a lazy dask array; computing it (or storing it
to Zarr block by block) never holds the whole image, and the result equals
the in-memory :func:`~napari_lowlight.enhance`.

Modules
    ``blocks``   :func:`enhance_dask`, :func:`aligned_chunks`, the block function, :class:`ModelRef`
                 and how a network travels in the graph (:func:`models_in`).
    ``runners``  :class:`Runner` (threads, processes, distributed), :class:`ModelPlugin`, torch thread
                 planning, and the one-call :func:`compute` and :func:`store_zarr`.
    ``files``    :func:`open_lazy`, :class:`TiffSource`, :class:`OmeZarrOutput` and the store helpers
                 (temporary sibling + rename).
    ``jobs``     :class:`LazyJob`: a whole image as one cancellable job with progress (napari-free;
                 the napari viewer runs it).

Every public name is available here (``from napari_lowlight import bigdata;
bigdata.enhance_dask(...)``); a module is imported when one of its names is
first used, so ``bigdata.jobs`` can be imported without dask.

This is an edge of the package (it imports dask, and ``distributed`` when it
is installed); the core never imports it.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "blocks": ("ModelRef", "aligned_chunks", "enhance_dask", "models_in", "_enhancers"),
    "runners": (
        "SCHEDULERS", "PLUGIN_NAME", "Runner", "ModelPlugin", "compute", "store_zarr", "torch_threads_plan",
    ),
    "files": (
        "METADATA_KEY", "NGFF_ORDER", "OmeZarrOutput", "TIFF_SUFFIXES", "TiffSource", "move_into_place",
        "open_lazy", "partial_name",
    ),
    "jobs": ("Cancelled", "LazyJob"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = sorted(name for name in _MODULE_OF if not name.startswith("_"))


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})
