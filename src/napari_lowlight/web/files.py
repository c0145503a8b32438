"""Uploads in, downloads out: decoding, checking and encoding for the web page (no streamlit).

An upload is checked in two steps, so the page can say exactly what is wrong:
:func:`open_upload` checks the size and the kind of file and counts its pages
(cheap: no pixel is decoded), :func:`read_page` decodes one page and checks
its shape, dtype, pixel count and values. Every refusal is an
:class:`UploadError` whose message is written for the person at the page.

Results leave as PNG (8-bit, what any viewer opens) or TIFF (float32 in
[0, 1], or scaled to the input's dtype); both carry the provenance (model,
weights sha256, ROI, ...) as JSON: the TIFF in its ImageDescription
(``tifffile.TiffFile(...).shaped_metadata[0]``), the PNG in a text chunk.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np

# Streamlit's own default upload limit; `napari-lowlight web --max-upload-mb` changes it, passing it
# to the server (and so to this module) through this environment variable.
MAX_UPLOAD_MB = 200
MAX_UPLOAD_ENV = "NAPARI_LOWLIGHT_WEB_MAX_UPLOAD_MB"
# Per page: a 10,000 x 10,000 image. Checked before decoding, so a small file that inflates to a
# huge image (a "decompression bomb") is refused without filling the memory.
MAX_PIXELS = 100_000_000
FORMATS = ("PNG", "JPEG", "TIFF")
EXTENSIONS = ("png", "jpg", "jpeg", "tif", "tiff")
PNG_KEY = "napari-lowlight"  # the PNG text chunk that holds the provenance

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
)


class UploadError(ValueError):
    """An upload the page cannot use; the message says why and what to do."""


def max_upload_mb() -> int:
    """The upload limit in megabytes: ``$NAPARI_LOWLIGHT_WEB_MAX_UPLOAD_MB``, else 200.

    Raises
    ------
    ValueError
        If the environment variable is set to something other than a positive whole number.
    """
    value = os.environ.get(MAX_UPLOAD_ENV, "").strip()
    if not value:
        return MAX_UPLOAD_MB
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{MAX_UPLOAD_ENV} must be a positive whole number of megabytes, got {value!r}.")
    return int(value)


def sniff(data: bytes) -> str | None:
    """The image format from a file's first bytes: "PNG", "JPEG", "TIFF", or None."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


@dataclass(frozen=True)
class Upload:
    """An uploaded file that passed the first checks (size, kind, readable page count).

    Attributes
    ----------
    name : str
        The file's name as the browser sent it.
    data : bytes
        Its content.
    format : {"PNG", "JPEG", "TIFF"}
    n_pages : int
        Pages (TIFF); 1 for PNG and JPEG.
    sha256 : str
        Of ``data``: recorded in the result's provenance.
    """

    name: str
    data: bytes = field(repr=False)
    format: str
    n_pages: int
    sha256: str


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 100_000 else f"{n_bytes:,} bytes"


def open_upload(name: str, data: bytes, limit_mb: int | None = None) -> Upload:
    """Check an uploaded file's size and kind, and count its pages.

    Parameters
    ----------
    name : str
        The file name (only shown in messages and used to name downloads).
    data : bytes
        The file's content.
    limit_mb : int, optional
        The size limit in megabytes (default: :func:`max_upload_mb`).

    Returns
    -------
    Upload

    Raises
    ------
    UploadError
        An empty file, a file over the limit, a file that is not a PNG, JPEG
        or TIFF image, or a TIFF whose structure cannot be read.
    """
    limit_mb = max_upload_mb() if limit_mb is None else limit_mb
    if not data:
        raise UploadError(f"{name} is empty (0 bytes). Upload a PNG, JPEG or TIFF image.")
    if len(data) > limit_mb * 1_000_000:
        raise UploadError(
            f"{name} is {_size(len(data))}; the limit is {limit_mb} MB. Crop or downsample it first, or "
            f"start the page with a higher limit (napari-lowlight web --max-upload-mb N)."
        )
    fmt = sniff(data)
    if fmt is None:
        raise UploadError(
            f"{name} is not a PNG, JPEG or TIFF image (its first bytes are not an image header, whatever "
            "its extension says). Upload one of those."
        )
    n_pages = 1
    if fmt == "TIFF":
        import tifffile

        try:
            with tifffile.TiffFile(io.BytesIO(data)) as tif:
                n_pages = len(tif.pages)
        except Exception as err:  # noqa: BLE001 - a corrupt file makes the decoder raise any kind
            raise UploadError(f"{name} looks like a TIFF but cannot be read ({_reason(err)}).") from err
        if n_pages == 0:
            raise UploadError(f"{name} looks like a TIFF but holds no readable image (damaged or truncated?)")
    return Upload(name=name, data=data, format=fmt, n_pages=n_pages, sha256=hashlib.sha256(data).hexdigest())


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text[:200]}" if text else type(err).__name__


def _check_pixels(name: str, shape: tuple[int, ...]) -> None:
    plane = math.prod(shape[:2]) if len(shape) >= 2 else math.prod(shape)
    if plane > MAX_PIXELS:
        raise UploadError(
            f"{name}: the image is {shape[1]} x {shape[0]} pixels, over the page's limit of "
            f"{MAX_PIXELS / 1e6:.0f} megapixels per image. Crop or downsample it first."
        )


# Pillow modes and what they become: the engine takes grey (H, W) and RGB(A) (H, W, 3|4).
_PIL_CONVERT = {"1": "L", "LA": "L", "La": "L", "PA": "RGBA", "RGBa": "RGBA", "CMYK": "RGB",
                "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB"}


def _read_pil(upload: Upload) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(upload.data)) as im:
        _check_pixels(upload.name, (im.size[1], im.size[0]))
        im.load()
        if upload.format == "JPEG":
            im = ImageOps.exif_transpose(im)  # photos from phones: the pixels as the camera was held
        mode = im.mode
        if mode == "P":
            mode = "RGBA" if "transparency" in im.info else "RGB"
            im = im.convert(mode)
        elif mode in _PIL_CONVERT:
            im = im.convert(_PIL_CONVERT[mode])
        return np.array(im)


def _read_tiff(upload: Upload, index: int) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(io.BytesIO(upload.data)) as tif:
        page = tif.pages[index]
        shape = tuple(page.shape)
        if len(shape) == 3 and shape[0] in (3, 4) and shape[-1] not in (3, 4):
            shape = (*shape[1:], shape[0])  # planar RGB: samples first
        _check_pixels(upload.name, shape)
        return page.asarray()


def read_page(upload: Upload, index: int = 0) -> np.ndarray:
    """Decode one page of an upload into an image the engine takes.

    Parameters
    ----------
    upload : Upload
    index : int
        The page, from 0 (TIFF); PNG and JPEG have page 0 only.

    Returns
    -------
    ndarray
        Grey ``(H, W)`` or colour ``(H, W, 3|4)``; integer or float dtype
        (bool becomes uint8 0/255, float16 becomes float32), finite values.

    Raises
    ------
    UploadError
        A page out of range, a corrupt file, more pixels than
        :data:`MAX_PIXELS`, or a shape, dtype or value the engine cannot take.
    """
    if not 0 <= index < upload.n_pages:
        raise UploadError(f"{upload.name} has {upload.n_pages} page(s); page {index + 1} does not exist.")
    try:
        image = _read_tiff(upload, index) if upload.format == "TIFF" else _read_pil(upload)
    except UploadError:
        raise
    except MemoryError:
        raise UploadError(f"{upload.name}: not enough memory to decode this image here.") from None
    except Exception as err:  # noqa: BLE001 - a corrupt file makes the decoder raise any kind
        raise UploadError(f"{upload.name} is damaged or truncated and cannot be decoded ({_reason(err)}).") \
            from err
    return as_image(image, upload.name)


def as_image(array: np.ndarray, name: str = "the image") -> np.ndarray:
    """Check a decoded page and bring it to the engine's layouts.

    Parameters
    ----------
    array : ndarray
        A decoded page.
    name : str
        Used in messages.

    Returns
    -------
    ndarray
        ``(H, W)`` grey or ``(H, W, 3|4)`` colour: one-sample and grey+alpha
        pages become grey, planar ``(3|4, H, W)`` colour becomes channels-last,
        bool becomes uint8 (0/255), float16 becomes float32, big-endian
        values become native.

    Raises
    ------
    UploadError
        Another rank or channel count, an empty image, a dtype that is not
        bool, integer or float (complex, text, ...), NaN or infinite values.
    """
    a = np.asarray(array)
    if a.dtype.kind not in "biuf" or a.dtype.itemsize > 8:
        raise UploadError(
            f"{name} has pixels of type {a.dtype}, which cannot be enhanced; use integer (8- or 16-bit) "
            "or floating-point images."
        )
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    elif a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    elif a.ndim == 3 and a.shape[-1] == 2:
        a = a[..., 0]  # grey + alpha: the grey
    elif a.ndim == 3 and a.shape[0] in (3, 4) and a.shape[-1] not in (3, 4):
        a = np.moveaxis(a, 0, -1)
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4))):
        raise UploadError(
            f"{name} has a page of shape {tuple(array.shape)}: the page takes 2-D grey images or colour "
            "images (height x width x 3 or 4). For stacks and volumes use a multi-page TIFF (one plane per "
            "page), napari or the command line."
        )
    if a.size == 0:
        raise UploadError(f"{name} is empty (shape {tuple(array.shape)}).")
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))  # big-endian TIFFs and PNGs: native, same values
    if a.dtype.kind == "b":
        a = a.astype(np.uint8) * 255
    elif a.dtype == np.float16:
        a = a.astype(np.float32)
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise UploadError(f"{name} contains NaN or infinite values; replace them before enhancing.")
    return np.ascontiguousarray(a)


def describe(image: np.ndarray) -> str:
    """One line about an image: "512 x 384 px, uint16, grey"."""
    kind = {3: "RGB", 4: "RGBA"}.get(image.shape[-1], "grey") if image.ndim == 3 else "grey"
    return f"{image.shape[1]} x {image.shape[0]} px, {image.dtype}, {kind}"


# --- downloads -------------------------------------------------------------------------------------

OUTPUT_KINDS = {
    "png8": "PNG, 8-bit",
    "tiff-float32": "TIFF, float32 in [0, 1]",
    "tiff-input": "TIFF, the input's dtype",
}


def to_dtype(result: np.ndarray, dtype) -> np.ndarray:
    """A [0, 1] float result in ``dtype``: integers scaled so 1.0 is the dtype's
    maximum (and rounded), floats kept in [0, 1].

    Parameters
    ----------
    result : ndarray
        Values in [0, 1].
    dtype : numpy dtype
        The target; bool becomes uint8.

    Returns
    -------
    ndarray
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        dtype = np.dtype(np.uint8)
    clipped = np.clip(result, 0.0, 1.0)
    if dtype.kind in "iu":
        top = np.iinfo(dtype).max
        # float64 for the product: float32 cannot hold large integers exactly.
        return np.round(clipped.astype(np.float64) * top).astype(dtype)
    return clipped.astype(dtype)


def encode_png(result: np.ndarray, provenance: dict) -> bytes:
    """An 8-bit PNG of a [0, 1] result, the provenance as JSON in a text chunk.

    Parameters
    ----------
    result : ndarray
        ``(H, W)`` or ``(H, W, 3|4)`` values in [0, 1].
    provenance : dict
        JSON-serialisable; stored under the key :data:`PNG_KEY`.

    Returns
    -------
    bytes
    """
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt(PNG_KEY, json.dumps(provenance, sort_keys=True))
    out = io.BytesIO()
    Image.fromarray(to_dtype(result, np.uint8)).save(out, format="PNG", pnginfo=info, compress_level=3)
    return out.getvalue()


def encode_tiff(result: np.ndarray, provenance: dict, dtype=np.float32) -> bytes:
    """A TIFF of a [0, 1] result in ``dtype`` (see :func:`to_dtype`), the
    provenance as JSON in its ImageDescription.

    Parameters
    ----------
    result : ndarray
        ``(H, W)`` or ``(H, W, 3|4)`` values in [0, 1].
    provenance : dict
        JSON-serialisable; read it back with
        ``tifffile.TiffFile(path).shaped_metadata[0]``.
    dtype : numpy dtype
        float32 (default) or the input's dtype.

    Returns
    -------
    bytes
    """
    import tifffile

    from .. import __version__

    data = to_dtype(result, dtype)
    colour = data.ndim == 3 and data.shape[-1] in (3, 4)
    out = io.BytesIO()
    tifffile.imwrite(
        out,
        data,
        photometric="rgb" if colour else "minisblack",
        metadata=dict(provenance),
        software=f"napari-lowlight {__version__}",
    )
    return out.getvalue()


def encode(result: np.ndarray, provenance: dict, kind: str, input_dtype=None) -> tuple[bytes, str, str]:
    """Encode a result for download.

    Parameters
    ----------
    result : ndarray
        Values in [0, 1].
    provenance : dict
    kind : {"png8", "tiff-float32", "tiff-input"}
        See :data:`OUTPUT_KINDS`.
    input_dtype : numpy dtype, optional
        For "tiff-input".

    Returns
    -------
    (bytes, str, str)
        The file's content, its extension and its MIME type.

    Raises
    ------
    ValueError
        An unknown kind, or "tiff-input" without ``input_dtype``.
    """
    if kind == "png8":
        return encode_png(result, provenance), "png", "image/png"
    if kind == "tiff-float32":
        return encode_tiff(result, provenance, np.float32), "tif", "image/tiff"
    if kind == "tiff-input":
        if input_dtype is None:
            raise ValueError("'tiff-input' needs the input's dtype.")
        return encode_tiff(result, provenance, input_dtype), "tif", "image/tiff"
    raise ValueError(f"Unknown output kind {kind!r}; use one of {', '.join(OUTPUT_KINDS)}.")


def output_name(source: str, page: int, n_pages: int, box_text: str, extension: str) -> str:
    """A download's file name: ``<stem>[_p<page>]_enhanced_<roi>.<ext>``, safe characters only."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", PurePath(source).stem).strip("._") or "image"
    page_part = f"_p{page + 1}" if n_pages > 1 else ""
    return f"{stem}{page_part}_enhanced_{box_text}.{extension}"
