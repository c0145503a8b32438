"""``python -m napari_lowlight.web``: the same as ``napari-lowlight web``."""

from __future__ import annotations

import argparse
import sys

from . import WebError, add_arguments, launch_from_args


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and serve the page until Ctrl+C; 1 with a message when it cannot start."""
    parser = argparse.ArgumentParser(
        prog="python -m napari_lowlight.web",
        description="Serve napari-lowlight's web page (Streamlit) on this machine and print its URL.",
    )
    args = add_arguments(parser).parse_args(argv)
    try:
        return launch_from_args(args)
    except WebError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
