"""The web page: a Streamlit app for people without napari (``napari-lowlight web``).

An edge of the package, like the napari widget and the command line: it
imports the core (engine, region job, weights), never the other way round.
The page's logic lives in small modules without streamlit, tested on their
own (:mod:`.files`: uploads and downloads, :mod:`.view`: what the page shows,
:mod:`.work`: ROI, model choice, the run and its provenance); ``app.py`` is the
thin Streamlit script and :mod:`.roi_picker` the one browser component.

Importing this package does not import streamlit; :func:`launch` starts the
server in a child process (``streamlit run app.py``) and prints its URL.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from .files import MAX_UPLOAD_ENV, MAX_UPLOAD_MB

APP = Path(__file__).with_name("app.py")
DEFAULT_PORT = 8501
DEFAULT_ADDRESS = "127.0.0.1"
INSTALL_HINT = "pip install 'napari-lowlight[web]'"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")

__all__ = ["APP", "WebError", "add_arguments", "launch", "launch_from_args", "streamlit_command", "url"]


class WebError(RuntimeError):
    """The page cannot start (missing dependency, port in use, bad setting); the message says why."""


def url(address: str = DEFAULT_ADDRESS, port: int = DEFAULT_PORT) -> str:
    """The page's address as a browser takes it (IPv6 in brackets)."""
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}"


def streamlit_command(port: int = DEFAULT_PORT, address: str = DEFAULT_ADDRESS,
                      max_upload_mb: int = MAX_UPLOAD_MB, extra: Sequence[str] = ()) -> list[str]:
    """The ``streamlit run`` command line that serves the page.

    Parameters
    ----------
    port : int
    address : str
        The interface to listen on; the default, loopback, serves this machine only.
    max_upload_mb : int
        The upload limit in megabytes (Streamlit's and the page's own check).
    extra : sequence of str
        More ``--section.option value`` arguments for Streamlit.

    Returns
    -------
    list of str
        Runs with this Python (``python -m streamlit run .../app.py ...``). No
        usage statistics are sent, no browser is opened, no file is watched,
        and the toolbar has no "Deploy" link: the page works offline.
    """
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", address,
        "--server.port", str(int(port)),
        "--server.headless", "true",
        "--server.maxUploadSize", str(int(max_upload_mb)),
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",
        "--theme.base", "dark",
        *extra,
    ]


def _check(port: int, address: str, max_upload_mb: int) -> None:
    if importlib.util.find_spec("streamlit") is None or importlib.util.find_spec(
        "streamlit_image_coordinates"
    ) is None:
        raise WebError(f"The web page needs the optional 'web' dependencies: {INSTALL_HINT}")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise WebError(f"port must be a whole number from 1 to 65535, got {port!r}.")
    if isinstance(max_upload_mb, bool) or not isinstance(max_upload_mb, int) or max_upload_mb < 1:
        raise WebError(f"max_upload_mb must be a positive whole number, got {max_upload_mb!r}.")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            # As the server does: a port whose last connections are closing (TIME_WAIT) is free.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((address, port))
    except OSError as err:
        raise WebError(
            f"Cannot listen on {address} port {port} ({err.strerror or err}); another program (an open "
            "napari-lowlight web?) may use it. Pass another port, e.g. --port 8502."
        ) from None


def launch(port: int = DEFAULT_PORT, address: str = DEFAULT_ADDRESS, *, max_upload_mb: int = MAX_UPLOAD_MB,
           open_browser: bool = False, extra: Sequence[str] = ()) -> int:
    """Serve the page until Ctrl+C; print its URL first.

    Parameters
    ----------
    port : int
        Default 8501 (Streamlit's).
    address : str
        Default 127.0.0.1: only this machine reaches the page. Another
        address (``0.0.0.0``) lets others on the network use it: they each
        get their own session, but share this machine's CPU/GPU.
    max_upload_mb : int
        The upload limit in megabytes, default 200.
    open_browser : bool
        Also open the page in the default browser.
    extra : sequence of str
        More Streamlit options (``["--server.baseUrlPath", "lowlight"]``).

    Returns
    -------
    int
        The server's exit status (0 after Ctrl+C).

    Raises
    ------
    WebError
        Streamlit or the ROI component is not installed, the port is
        taken, or a setting is invalid.
    """
    _check(port, address, max_upload_mb)
    link = url(address, port)
    print(f"napari-lowlight web page: {link}  (Ctrl+C stops it)", flush=True)
    if address in ("0.0.0.0", "::"):
        print(f"  from this machine: {url('127.0.0.1', port)}", flush=True)
    if address not in _LOOPBACK:
        print(f"note: listening on {address}, so other machines that reach it can use the page.", flush=True)
    env = dict(os.environ, **{MAX_UPLOAD_ENV: str(int(max_upload_mb))})
    # `streamlit run` lists the working folder's files for its pages: run it beside the app.
    proc = subprocess.Popen(streamlit_command(port, address, max_upload_mb, extra), env=env, cwd=APP.parent)
    if open_browser:
        threading.Timer(2.0, webbrowser.open, args=(link,)).start()
    # A SIGTERM (a service manager, a test) stops the server too, as Ctrl+C does.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 0
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the page's options (``--port``, ``--address``, ``--max-upload-mb``, ``--browser``) to a
    parser: ``napari-lowlight web`` and ``python -m napari_lowlight.web`` share them.

    Returns
    -------
    argparse.ArgumentParser
        ``parser``, for chaining.
    """
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    parser.add_argument("--address", default=DEFAULT_ADDRESS,
                        help="interface to listen on (default %(default)s: this machine only; 0.0.0.0 lets "
                             "others on the network use it)")
    parser.add_argument("--max-upload-mb", type=int, default=MAX_UPLOAD_MB,
                        help="largest upload in megabytes (default %(default)s)")
    parser.add_argument("--browser", action="store_true", help="also open the page in the default browser")
    return parser


def launch_from_args(args: argparse.Namespace) -> int:
    """:func:`launch` with the options :func:`add_arguments` defined.

    Raises
    ------
    WebError
        As :func:`launch`.
    """
    return launch(args.port, args.address, max_upload_mb=args.max_upload_mb, open_browser=args.browser)
