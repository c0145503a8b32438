"""Measured metrics written into weight records (``evaluate --record``).

Recording scores is evaluation's job, so it lives here and not in the loader
(:mod:`napari_lowlight.weights`), which only reads records.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..weights import Weights, parse_record

try:
    import fcntl
except ImportError:  # Windows: records are then updated without a lock
    fcntl = None


def set_metrics(w: Weights, key: str, entry: dict[str, Any]) -> None:
    """Set ``metrics[key] = entry`` in the JSON record of ``w``, leaving its
    other metrics, the weights file and the checksum alone.

    The record is read, changed and rewritten under an exclusive lock (where
    the OS has ``fcntl``), so two evaluations that finish together keep both
    their scores instead of the later one writing over the earlier's.
    """
    path = w.path.with_suffix(".json")
    with open(path, "r+", encoding="utf-8") as fh:
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes
        current = parse_record(fh.read(), path)
        fh.seek(0)
        fh.write(replace(current, metrics={**current.metrics, key: entry}).to_json())
        fh.truncate()
