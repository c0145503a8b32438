"""Weight records: each shipped weight set is a ``.safetensors`` file plus a
JSON record of its facts (after torchvision's weights enums).

``weights/NAME.json`` holds the architecture, channels, normalisation,
parameter count, MACs per pixel, receptive field, the command that trained it,
its data, its measured metrics and the file's sha256. The training command
writes both files; docs and code read the same record. Nothing is unpickled:
tensors come from safetensors and the record from JSON.

Reading records needs no torch (the command line lists models and checks its
arguments before loading it); building a network imports torch then.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

WEIGHTS_ENV = "NAPARI_LOWLIGHT_WEIGHTS_DIR"
# Which weight set ``model="auto"`` takes for each kind of image.
DEFAULT_FOR_DOMAIN = {"photo": "photo", "fluo": "fluo"}


class WeightsError(RuntimeError):
    """A weight set is unknown, missing, damaged or does not fit its record."""


@dataclass(frozen=True)
class Weights:
    """Facts about one trained weight set."""

    name: str
    arch: str
    in_channels: int
    out_channels: int
    domain: str  # "fluo" or "photo": which images it is for
    normalization: dict[str, Any]  # {"mode": "percentile", "low": 1, "high": 99.8} or {"mode": "dtype"}
    file: str
    sha256: str
    parameters: int
    macs_per_pixel: int
    receptive_field_radius: int
    recipe: str = ""  # the command that reproduces the file
    data: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def path(self) -> Path:
        return weights_dir() / self.file

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def weights_dir() -> Path:
    """Folder holding the weight files: ``$NAPARI_LOWLIGHT_WEIGHTS_DIR``, else
    the copy inside the installed package, else the source tree's ``weights/``
    (editable installs)."""
    if os.environ.get(WEIGHTS_ENV):
        return Path(os.environ[WEIGHTS_ENV])
    here = Path(__file__).resolve().parent
    packaged = here / "weights"
    return packaged if packaged.is_dir() else here.parents[1] / "weights"


def available_weights() -> dict[str, Weights]:
    """The installed weight sets (their records; no network is loaded).

    Returns
    -------
    dict of str to Weights
        By name, e.g. ``{"fluo": Weights(...), "photo": Weights(...)}``: each
        record holds the architecture, normalisation, parameter count,
        measured metrics and the command that trained it.

    Raises
    ------
    WeightsError
        If a record in the weights folder is malformed.
    """
    found = {}
    folder = weights_dir()
    for record in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        w = parse_record(record.read_text(), record)
        found[w.name] = w
    return found


def parse_record(text: str, path: Path) -> Weights:
    try:
        return Weights(**json.loads(text))
    except (TypeError, ValueError) as err:
        raise WeightsError(f"Weight record {path} is malformed: {err}") from None


def get_weights(name: str) -> Weights:
    """The record for ``name``, with a clear error when it is not installed."""
    found = available_weights()
    if name not in found:
        have = ", ".join(found) or "none"
        raise WeightsError(
            f"No trained weights named {name!r} are installed (found: {have}; looked in "
            f"{weights_dir()}). Train them with `napari-lowlight train` or reinstall the package."
        )
    return found[name]


def sha256sum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _checked_state_dict(w: Weights, path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise WeightsError(f"Weight file {path} for {w.name!r} is missing; reinstall the package.")
    actual = sha256sum(path)
    if actual != w.sha256:
        raise WeightsError(
            f"Weight file {path} is damaged or was changed: its sha256 is {actual}, "
            f"the record says {w.sha256}. Reinstall the package."
        )
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsError(f"Weight file {path} cannot be read: {err}") from None


def build_from_record(w: Weights, folder: Path | None = None) -> torch.nn.Module:
    """The record's network, weights loaded and checked, on the CPU, eval mode.
    ``folder`` holds the file (default: :func:`weights_dir`)."""
    from . import models, tone_head

    net = models.build(w.arch, w.in_channels, w.out_channels)
    if w.normalization.get("mode") == "learned-tone":
        # the file holds the network and its tone head
        tone_head.attach(net, w.normalization)
    try:
        net.load_state_dict(_checked_state_dict(w, Path(folder or weights_dir()) / w.file), strict=True)
    except RuntimeError as err:
        raise WeightsError(f"Weights {w.name!r} do not fit architecture {w.arch!r}: {err}") from None
    if models.count_parameters(net) != w.parameters:
        raise WeightsError(f"Weights {w.name!r}: parameter count differs from its record.")
    net.weights = w
    return net.eval()


@functools.lru_cache(maxsize=8)
def _cached(name: str, sha256: str, stamp: tuple[int, int]) -> torch.nn.Module:
    return build_from_record(get_weights(name))


def load_model(name: str) -> torch.nn.Module:
    """Load a shipped weight set by name (checksum and shapes verified).

    Parameters
    ----------
    name : str
        A weight set name, e.g. "fluo", "photo" or "llcnn-paper".

    Returns
    -------
    torch.nn.Module
        The network (shared, do not modify) with a ``weights`` attribute
        holding its :class:`Weights` record.

    Raises
    ------
    WeightsError
        If the set is unknown, its file missing, truncated or tampered with.
    """
    w = get_weights(name)
    # Key on the file's size and time too, so a file changed on disk is re-verified.
    st = w.path.stat() if w.path.is_file() else None
    return _cached(name, w.sha256, (st.st_size, st.st_mtime_ns) if st else (-1, -1))
