"""Device and precision choice (after micro-sam's ``get_device``)."""

from __future__ import annotations

import os

import torch

DEVICE_ENV = "NAPARI_LOWLIGHT_DEVICE"
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def available_devices() -> list[str]:
    """Devices usable here, best first; "cpu" is always last."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if _mps_available():
        found.append("mps")
    return found + ["cpu"]


def get_device(device: str | torch.device | None = "auto") -> torch.device:
    """Resolve a device name.

    Parameters
    ----------
    device : {"auto", "cuda", "cuda:N", "mps", "cpu"} or torch.device
        "auto" picks cuda, then mps, then cpu. The environment variable
        ``NAPARI_LOWLIGHT_DEVICE`` (e.g. ``cpu``) replaces "auto".

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If an explicit device is unknown or not available on this machine.
    """
    if device is None or str(device) == "auto":
        device = os.environ.get(DEVICE_ENV, "auto") or "auto"
        if device == "auto":
            return torch.device(available_devices()[0])
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"Unknown device {device!r}; use 'auto', 'cuda', 'mps' or 'cpu'."
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                "Device 'cuda' was asked for, but PyTorch sees no CUDA GPU here "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda is not None}). "
                "Use device='auto' or 'cpu'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"No GPU {dev}: this machine has {torch.cuda.device_count()}.")
    elif dev.type == "mps" and not _mps_available():
        raise ValueError("Device 'mps' was asked for, but Apple's Metal backend is not available here.")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"Device {device!r} is not supported; use 'auto', 'cuda', 'mps' or 'cpu'.")
    return dev


def get_dtype(precision: str, device: torch.device) -> torch.dtype:
    """Compute dtype for a precision name; "auto" is fp16 on CUDA, else fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}.")
    if precision == "auto":
        precision = "fp16" if device.type == "cuda" else "fp32"
    return _DTYPES[precision]


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, so a container
    limited to 2 cores says 2; the machine's count where there is no affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def set_threads() -> int:
    """Size torch's thread pool to the cores this process may run on
    (affinity aware, so a container limited to 2 cores gets 2 threads).

    Process-wide state: the command line and training call it once at start;
    the engine never does, so inside napari (or any host program) the host's
    own setting stands.

    Returns
    -------
    int
        The thread count now in force.
    """
    n = available_cores()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
