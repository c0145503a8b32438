"""napari-lowlight: enhance dark, noisy images (fluorescence and low-light photos).

The public API is imported lazily so that ``import napari_lowlight`` (done by
napari when it discovers plugins) stays cheap and never pulls in torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "enhance": "engine",
    "EnhanceJob": "engine",
    "EnhanceOptions": "engine",
    "Progress": "engine",
    "load_model": "weights",
    "available_weights": "weights",
    "WeightsError": "weights",
    "get_device": "devices",
    "enhance_regions": "region_job",
    "enhance_rois": "_napari.viewer_api",
}

# Built from _EXPORTS so the two cannot drift; linters that want a literal list cannot read it.
__all__ = sorted(_EXPORTS)  # noqa: PLE0605


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
