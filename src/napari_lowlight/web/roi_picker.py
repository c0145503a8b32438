"""The one browser component of the page: a rectangle dragged on the image.

``streamlit-image-coordinates`` (0.4) in click-and-drag mode: press on one
corner of the region, release on the opposite one, and the component returns
both points and the displayed image's size, which :func:`~.work.box_from_drag`
turns into image pixels. Chosen over ``streamlit-drawable-canvas`` because
its front end is four small local files (about 5 kB: no CDN script, font or
style sheet, so it works offline and on closed lab networks), it is a plain
Streamlit component that the pinned Streamlit serves, and it returns exactly
what the page needs, a box; drawable-canvas bundles fabric.js and its
0.9 releases broke on Streamlit 1.40+. The page draws the chosen box onto
the picture itself.

Tests replace :func:`draw_rectangle` with a stub (``streamlit.testing`` does
not run components).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# Pictures up to this side are sent as PNG (exact), larger ones as JPEG (a tenth of the bytes).
PNG_MAX_SIDE = 512


def draw_rectangle(picture: np.ndarray, *, key: str, width: int | str) -> Mapping | None:
    """Show ``picture`` and return the last rectangle dragged on it.

    Parameters
    ----------
    picture : ndarray
        8-bit RGB, the image as shown (a preview; the box is scaled by the
        caller from the displayed size the component reports).
    key : str
        The component's session key: a new key (a new upload) starts empty.
    width : int or "stretch"
        Displayed width in screen pixels, or the column's width.

    Returns
    -------
    mapping or None
        ``x1, y1, x2, y2, width, height`` in screen pixels, or None before
        the first drag.
    """
    from streamlit_image_coordinates import streamlit_image_coordinates

    fmt = "PNG" if max(picture.shape[:2]) <= PNG_MAX_SIDE else "JPEG"
    return streamlit_image_coordinates(
        picture, key=key, width=width, click_and_drag=True, cursor="crosshair",
        image_format=fmt, png_compression_level=1, jpeg_quality=90,
    )
