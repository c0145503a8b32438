"""The web page: its pure modules (uploads, pictures, the run, downloads), the launcher, and the
Streamlit script driven by ``streamlit.testing.v1.AppTest`` with the ROI component replaced by a stub.

Images are 64 x 64 and the shipped weights run on them in well under a second.
"""

from __future__ import annotations

import dataclasses
import io
import json
import socket
import subprocess
import sys

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_lowlight import enhance_regions, weights
from napari_lowlight.engine import Progress, drain
from napari_lowlight.roi_geometry import Box
from napari_lowlight.web import APP, WebError, files, launch, roi_picker, streamlit_command, view, work

# ---------------------------------------------------------------------------------------------------
# test images


def png(array: np.ndarray, **kw) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG", **kw)
    return out.getvalue()


def jpeg(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="JPEG", quality=95)
    return out.getvalue()


def tiff(array: np.ndarray, **kw) -> bytes:
    out = io.BytesIO()
    tifffile.imwrite(out, array, **kw)
    return out.getvalue()


@pytest.fixture(scope="module")
def grey16() -> np.ndarray:
    """A dark 12-bit fluorescence-like image in uint16: two blobs on a camera offset, Poisson noise."""
    yy, xx = np.mgrid[:64, :64]
    signal = 40 * np.exp(-((yy - 20) ** 2 + (xx - 24) ** 2) / 60)
    signal += 25 * np.exp(-((yy - 44) ** 2 + (xx - 40) ** 2) / 90)
    return (100 + np.random.default_rng(3).poisson(signal + 2)).astype(np.uint16)


@pytest.fixture(scope="module")
def dark_rgb() -> np.ndarray:
    """A dark, noisy 8-bit colour image."""
    yy, xx = np.mgrid[:64, :64]
    base = np.stack([xx / 63, yy / 63, 1 - xx / 63], axis=-1) * 30
    return np.clip(base + np.random.default_rng(4).normal(0, 3, base.shape), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------------
# uploads


def test_uploads_of_every_supported_kind_decode_to_the_engines_layouts(grey16, dark_rgb):
    cases = {
        "grey16.png": (png(grey16), (64, 64), np.uint16),
        "rgb.png": (png(dark_rgb), (64, 64, 3), np.uint8),
        "rgba.png": (png(np.dstack([dark_rgb, np.full((64, 64), 200, np.uint8)])), (64, 64, 4), np.uint8),
        "photo.jpg": (jpeg(dark_rgb), (64, 64, 3), np.uint8),
        "grey.jpg": (jpeg(dark_rgb[..., 0]), (64, 64), np.uint8),
        "cells.tif": (tiff(grey16), (64, 64), np.uint16),
        "float.tif": (tiff(grey16.astype(np.float32) / 4095), (64, 64), np.float32),
        "big-endian.tif": (tiff(grey16, byteorder=">"), (64, 64), np.uint16),
        "planar.tif": (tiff(np.moveaxis(dark_rgb, -1, 0), photometric="rgb", planarconfig="separate"),
                       (64, 64, 3), np.uint8),
    }
    for name, (data, shape, dtype) in cases.items():
        upload = files.open_upload(name, data)
        image = files.read_page(upload)
        assert image.shape == shape and image.dtype == dtype and image.dtype.isnative, name
    assert np.array_equal(files.read_page(files.open_upload("a.png", png(grey16))), grey16)
    assert np.array_equal(files.read_page(files.open_upload("a.tif", tiff(grey16))), grey16)


def test_palette_and_one_bit_pngs_become_rgb_and_grey(dark_rgb):
    pal = Image.fromarray(dark_rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    out = io.BytesIO()
    pal.save(out, format="PNG")
    assert files.read_page(files.open_upload("p.png", out.getvalue())).shape == (64, 64, 3)
    out = io.BytesIO()
    Image.fromarray(dark_rgb[..., 0] > 15).save(out, format="PNG")
    mask = files.read_page(files.open_upload("m.png", out.getvalue()))
    assert mask.shape == (64, 64) and mask.dtype == np.uint8


def test_a_multi_page_tiff_counts_its_pages_and_reads_the_one_asked_for(grey16):
    stack = np.stack([grey16, grey16 + 1000, grey16 + 2000])
    upload = files.open_upload("stack.tif", tiff(stack, photometric="minisblack"))
    assert upload.n_pages == 3 and upload.format == "TIFF"
    for k in range(3):
        assert np.array_equal(files.read_page(upload, k), stack[k])
    with pytest.raises(files.UploadError, match="3 page"):
        files.read_page(upload, 3)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.png", b"", "empty"),
        ("notes.png", b"These are my notes, not an image.\n" * 10, "not a PNG, JPEG or TIFF"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50, "damaged or truncated"),
        ("broken.tif", b"II*\x00" + b"\xff" * 64, "looks like a TIFF but"),
    ],
    ids=["empty", "text", "corrupt-png", "corrupt-tiff"],
)
def test_bad_uploads_are_refused_with_a_message(name, data, message):
    with pytest.raises(files.UploadError, match=message):
        files.read_page(files.open_upload(name, data))


def test_truncated_jpegs_and_tiffs_are_refused(dark_rgb, grey16):
    for name, data in (("cut.jpg", jpeg(dark_rgb)), ("cut.tif", tiff(grey16))):
        with pytest.raises(files.UploadError, match="damaged or truncated"):
            files.read_page(files.open_upload(name, data[: len(data) // 2]))


def test_files_over_the_size_limit_are_refused_before_decoding(monkeypatch):
    data = b"\x89PNG\r\n\x1a\n" + bytes(1_200_000)
    with pytest.raises(files.UploadError, match="limit is 1 MB"):
        files.open_upload("big.png", data, limit_mb=1)
    monkeypatch.setenv(files.MAX_UPLOAD_ENV, "1")
    assert files.max_upload_mb() == 1
    with pytest.raises(files.UploadError, match="limit is 1 MB"):
        files.open_upload("big.png", data)
    monkeypatch.setenv(files.MAX_UPLOAD_ENV, "lots")
    with pytest.raises(ValueError, match="positive whole number"):
        files.max_upload_mb()


def test_images_over_the_pixel_limit_are_refused_before_decoding(monkeypatch, grey16):
    monkeypatch.setattr(files, "MAX_PIXELS", 1000)
    for name, data in (("a.png", png(grey16)), ("a.tif", tiff(grey16))):
        with pytest.raises(files.UploadError, match="megapixels"):
            files.read_page(files.open_upload(name, data))


@pytest.mark.parametrize(
    ("array", "kw", "message"),
    [
        (np.zeros((16, 16, 5), np.uint8), {"photometric": "minisblack", "planarconfig": "contig"}, "shape"),
        (np.zeros((16, 16), np.complex64), {}, "complex64"),
        (np.full((16, 16), np.nan, np.float32), {}, "NaN"),
    ],
)
def test_unsupported_ranks_dtypes_and_values_are_refused(array, kw, message):
    with pytest.raises(files.UploadError, match=message):
        files.read_page(files.open_upload("odd.tif", tiff(array, **kw)))


def test_as_image_brings_pages_to_grey_or_channels_last():
    assert files.as_image(np.zeros((1, 8, 9), np.uint8)).shape == (8, 9)
    assert files.as_image(np.zeros((8, 9, 1), np.uint8)).shape == (8, 9)
    assert files.as_image(np.zeros((8, 9, 2), np.uint8)).shape == (8, 9)  # grey + alpha
    assert files.as_image(np.zeros((3, 8, 9), np.uint8)).shape == (8, 9, 3)
    assert files.as_image(np.ones((8, 9), bool)).max() == 255
    assert files.as_image(np.zeros((8, 9), np.float16)).dtype == np.float32
    for bad in (np.zeros((2, 3, 8, 9)), np.zeros(8), np.zeros((0, 9)), np.array([["a"]])):
        with pytest.raises(files.UploadError):
            files.as_image(bad)


# ---------------------------------------------------------------------------------------------------
# pictures


def test_sixteen_bit_images_are_shown_with_a_percentile_stretch(grey16):
    assert view.default_stretch(grey16) and not view.default_stretch(np.zeros((4, 4), np.uint8))
    rng = view.display_range(grey16, stretch=True)
    assert 100 <= rng.low < rng.high <= grey16.max()
    shown = view.to_display(grey16, rng)
    assert shown.shape == (64, 64, 3) and shown.dtype == np.uint8
    assert shown.max() == 255 and shown.min() == 0
    plain = view.to_display(grey16, view.display_range(grey16, stretch=False))
    assert plain.max() <= 1  # unstretched, a dark 12-bit image in 16 bits is black
    flat = view.display_range(np.full((4, 4), 7, np.uint16), stretch=True)
    assert flat.high > flat.low


def test_previews_outlines_comparison_and_zoom():
    a = np.zeros((40, 60, 3), np.uint8)
    b = np.full((40, 60, 3), 200, np.uint8)
    assert view.blend(a, b, 0.0).max() == 0 and view.blend(a, b, 1.0).min() == 200
    assert view.blend(a, b, 0.5)[0, 0, 0] == 100
    s = view.split(a, b, 0.5)
    assert s[:, :20].max() == 0 and (s[:, 40:] == 200).all()
    assert (s[:, 29:31] == view.OUTLINE).all(axis=-1).any()  # the line between them
    assert np.array_equal(view.split(a, b, 0.0), b) and np.array_equal(view.split(a, b, 1.0), a)
    z = view.zoom(a[:5, :7], 3)
    assert z.shape == (15, 21, 3)
    assert view.zoom_factor((40, 60)) == view.ZOOM_TARGET // 60 and view.zoom_factor((4000, 10)) == 1
    big = np.zeros((3000, 1500, 3), np.uint8)
    small = view.preview(big, 1024)
    assert max(small.shape[:2]) <= 1024 and small.dtype == np.uint8
    assert view.preview_source(np.zeros((10_000, 100))).shape[0] < 2100
    boxed = view.outline(np.zeros((64, 64, 3), np.uint8), Box((10, 20), (30, 50)))
    assert (boxed[10, 20:50] == view.OUTLINE).all() and boxed[20, 30].max() == 0
    assert view.fit_width((100, 50), 480) == 240 and view.fit_width((50, 100), 480) == 480


# ---------------------------------------------------------------------------------------------------
# ROI, models, run, provenance


def test_a_dragged_rectangle_becomes_image_pixels_in_any_direction():
    drag = {"x1": 100, "y1": 50, "x2": 300, "y2": 150, "width": 400, "height": 200}
    assert work.box_from_drag(drag, (100, 200)) == Box((25, 50), (75, 150))
    backwards = {**drag, "x1": 300, "x2": 100, "y1": 150, "y2": 50}
    assert work.box_from_drag(backwards, (100, 200)) == Box((25, 50), (75, 150))
    beyond = {**drag, "x2": 900, "y2": -40}  # released outside the image
    assert work.box_from_drag(beyond, (100, 200)) == Box((0, 50), (25, 200))
    click = {**drag, "x2": 100, "y2": 50}
    assert work.box_from_drag(click, (100, 200)).is_empty
    with pytest.raises(ValueError, match="zero area"):
        work.check_box(work.box_from_drag(click, (100, 200)), (100, 200))
    with pytest.raises(ValueError, match="outside"):
        work.check_box(Box((0, 0), (10, 300)), (100, 200))
    with pytest.raises(ValueError):
        work.box_from_drag({"x1": 1}, (100, 200))
    assert work.describe_box(Box((25, 50), (75, 150))) == "x 50-149, y 25-74 (100 x 50 px)"
    assert work.box_slug(Box((25, 50), (75, 150))) == "x50-149_y25-74"


def test_auto_takes_the_model_for_the_image_and_every_model_has_a_card_line(grey16, dark_rgb):
    assert work.auto_model(grey16) == "fluo" and work.auto_model(dark_rgb) == "photo"
    records = weights.available_weights()
    assert {"fluo", "photo"} <= set(records)
    assert work.auto_note(grey16) == "auto took fluo for this grey image"
    assert work.auto_note(dark_rgb) == "auto took photo for this colour image"
    for name, record in records.items():
        assert work.model_label(name, records).startswith(f"{name}: {record.description}")
    fluo_line = work.card_line(records["fluo"])
    assert fluo_line.startswith("PSNR") and "fluo suite" in fluo_line
    assert work.card_line(records["photo"]).startswith("PSNR")
    assert work.card_line(dataclasses.replace(records["fluo"], metrics={})) == ""


def test_the_run_is_the_region_job_with_progress_and_provenance(grey16):
    box = Box((8, 12), (40, 52))
    job = work.Enhancement(grey16, box, weights.load_model("fluo"), tile_size=32, batch_size=1)
    steps = []
    outcome = drain(job.steps(), steps.append)
    assert job.total > 1 and steps[0] == Progress(0, job.total)
    assert steps[-1] == Progress(job.total, job.total)
    assert sorted({p.done for p in steps}) == list(range(job.total + 1))  # one step per tile
    assert [p.done for p in steps] == sorted(p.done for p in steps)
    expected = enhance_regions(grey16, [box.slices], model="fluo")[0]
    np.testing.assert_allclose(outcome.result, expected, atol=1e-5)
    assert outcome.result.shape == (32, 40) and outcome.model == "fluo"
    assert outcome.sha256 == weights.get_weights("fluo").sha256
    prov = work.provenance(outcome, source="cells.tif", source_sha256="ab", page=2, n_pages=5, image=grey16)
    assert prov["roi"] == {"x": [12, 52], "y": [8, 40]} and prov["roi_slices"] == "[8:40, 12:52]"
    assert prov["page"] == 3 and prov["model"] == "fluo" and prov["weights_sha256"] == outcome.sha256
    json.dumps(prov)


def test_a_grey_image_on_a_colour_model_stays_grey_and_empty_rois_are_refused(grey16):
    outcome = drain(work.Enhancement(grey16, work.whole_image(grey16.shape), "photo").steps())
    assert outcome.result.shape == (64, 64) and outcome.model == "photo"
    with pytest.raises(ValueError, match="zero area"):
        work.Enhancement(grey16, Box((5, 5), (5, 20)), "fluo")


# ---------------------------------------------------------------------------------------------------
# downloads


def test_downloads_carry_the_provenance_png_and_tiff():
    result = np.linspace(0, 1, 12 * 10, dtype=np.float32).reshape(12, 10)
    prov = {"model": "fluo", "weights_sha256": "abc", "roi": {"x": [1, 11], "y": [2, 14]}}
    data, ext, mime = files.encode(result, prov, "png8")
    assert (ext, mime) == ("png", "image/png")
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "L" and json.loads(im.text[files.PNG_KEY]) == prov
        assert np.asarray(im).max() == 255
    data, ext, _ = files.encode(result, prov, "tiff-float32")
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        back = tif.asarray()
        meta = tif.shaped_metadata[0]
    assert ext == "tif" and back.dtype == np.float32 and np.array_equal(back, result)
    assert meta["model"] == "fluo" and meta["weights_sha256"] == "abc" and meta["roi"] == prov["roi"]
    data, _, _ = files.encode(result, prov, "tiff-input", np.uint16)
    back = tifffile.imread(io.BytesIO(data))
    assert back.dtype == np.uint16 and back.max() == 65535 and back.min() == 0
    rgb, _, _ = files.encode(np.zeros((4, 5, 3), np.float32), prov, "tiff-input", np.int16)
    assert tifffile.imread(io.BytesIO(rgb)).shape == (4, 5, 3)
    assert files.to_dtype(np.array([0.5]), bool).dtype == np.uint8
    with pytest.raises(ValueError, match="Unknown output kind"):
        files.encode(result, prov, "gif")
    assert files.output_name("my cells (1).ome.tif", 1, 3, "x1-2_y3-4", "png") == \
        "my_cells_1_.ome_p2_enhanced_x1-2_y3-4.png"


# ---------------------------------------------------------------------------------------------------
# launcher


def test_the_server_command_is_offline_and_on_loopback():
    cmd = streamlit_command(8600)
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"] and cmd[4] == str(APP)
    opts = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert opts["--server.address"] == "127.0.0.1" and opts["--server.port"] == "8600"
    assert opts["--browser.gatherUsageStats"] == "false" and opts["--server.headless"] == "true"
    assert opts["--server.maxUploadSize"] == str(files.MAX_UPLOAD_MB)


def test_launch_refuses_a_taken_port_and_bad_settings_without_starting(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(WebError, match=f"port {port}"):
            launch(port)
    with pytest.raises(WebError, match="port"):
        launch(0)
    with pytest.raises(WebError, match="max_upload_mb"):
        launch(8600, max_upload_mb=0)
    assert capsys.readouterr().out == ""


def test_launch_prints_the_url_and_runs_streamlit_with_the_options(monkeypatch, capsys):
    import argparse

    import napari_lowlight.web as web

    started = {}

    class FakeServer:
        def __init__(self, cmd, env, cwd):
            started.update(cmd=cmd, env=env, cwd=cwd)

        def wait(self):
            return 0

    monkeypatch.setattr(web.subprocess, "Popen", FakeServer)
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    number = port.getsockname()[1]
    port.close()
    parser = web.add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--port", str(number), "--max-upload-mb", "7"])
    assert web.launch_from_args(args) == 0
    assert capsys.readouterr().out.startswith(f"napari-lowlight web page: http://127.0.0.1:{number}")
    assert started["cmd"] == streamlit_command(number, "127.0.0.1", 7)
    assert started["env"][files.MAX_UPLOAD_ENV] == "7" and started["cwd"] == APP.parent


def test_launch_without_the_web_dependencies_says_how_to_install_them(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "streamlit" else real(name, *a))
    with pytest.raises(WebError, match=r"napari-lowlight\[web\]"):
        launch()


def test_importing_the_web_package_loads_neither_streamlit_nor_torch():
    code = (
        "import sys, napari_lowlight.web, napari_lowlight.web.files, napari_lowlight.web.view\n"
        "bad = [m for m in ('streamlit', 'torch') if m in sys.modules]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------------------------------------------
# the Streamlit script, driven by AppTest


@pytest.fixture
def media(monkeypatch):
    """The files the app hands to the browser (images, downloads), by URL."""
    import streamlit.testing.v1.app_test as app_test
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    stores = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, endpoint):
            super().__init__(endpoint)
            stores.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)

    def get(url: str) -> bytes:
        name = url.rsplit("/", 1)[-1]
        for store in reversed(stores):
            try:
                return store.get_file(name).content
            except Exception:  # noqa: BLE001 - not in this run's store
                continue
        raise KeyError(url)

    return get


def drag(x1, y1, x2, y2):
    """A stub for the ROI component: the rectangle dragged from (x1, y1) to (x2, y2) in image
    pixels, reported on a picture displayed at 2x the preview's size."""

    def draw_rectangle(picture, *, key, width):
        h, w = picture.shape[:2]
        return {"x1": 2 * x1, "y1": 2 * y1, "x2": 2 * x2, "y2": 2 * y2, "width": 2 * w, "height": 2 * h}

    return draw_rectangle


@pytest.fixture
def app(monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr(roi_picker, "draw_rectangle", drag(8, 10, 40, 30))
    monkeypatch.setenv("NAPARI_LOWLIGHT_DEVICE", "cpu")

    def make():
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.run()
        assert not at.exception
        return at

    return make


def texts(at, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def upload(at, name: str, data: bytes, mime: str = "application/octet-stream"):
    at.file_uploader(key="file").set_value((name, data, mime))
    at.run()
    assert not at.exception, at.exception
    return at


def test_app_uploads_runs_a_drawn_roi_and_downloads_png_and_tiff(app, media, grey16):
    at = app()
    assert "Upload a dark photo" in texts(at, "info")[0]
    upload(at, "cells.tif", tiff(grey16), "image/tiff")
    assert not texts(at, "error")
    assert any("64 x 64 px, uint16, grey" in c for c in texts(at, "caption"))
    model = at.selectbox(key="model")
    photo = "photo: " + weights.get_weights("photo").description
    assert model.value == "auto" and set(model.options) >= {work.model_label("auto", {}), photo}
    assert "auto took fluo for this grey image" in texts(at, "caption")
    assert at.checkbox(key=[c.key for c in at.checkbox][0]).value  # 16-bit: the display is stretched
    assert "ROI: x 8-39, y 10-29 (32 x 20 px)" in texts(at, "markdown")
    model.set_value("fluo")
    at.button(key="run").click()
    at.run()
    assert not at.exception and not texts(at, "error")
    assert any(t.startswith("Done: ") for t in [p.proto.text for p in at.get("progress")])
    assert len(at.image) == 3  # input, enhanced, comparison
    held = at.session_state["outcome"]
    result = held["outcome"].result
    np.testing.assert_allclose(result, enhance_regions(grey16, [np.s_[10:30, 8:40]], model="fluo")[0],
                               atol=1e-5)

    button = at.get("download_button")[0]
    assert button.proto.label.endswith("cells_enhanced_x8-39_y10-29.png")
    with Image.open(io.BytesIO(media(button.proto.url))) as im:
        assert im.size == (32, 20) and json.loads(im.text[files.PNG_KEY])["model"] == "fluo"

    at.radio(key="kind-uint16").set_value("tiff-input")
    at.run()
    button = at.get("download_button")[0]
    with tifffile.TiffFile(io.BytesIO(media(button.proto.url))) as tif:
        data, meta = tif.asarray(), tif.shaped_metadata[0]
    assert data.dtype == np.uint16 and data.shape == (20, 32)
    assert meta["model"] == "fluo" and meta["weights_sha256"] == weights.get_weights("fluo").sha256
    assert meta["roi"] == {"x": [8, 40], "y": [10, 30]} and meta["source"] == "cells.tif"

    at.radio(key="kind-uint16").set_value("tiff-float32")
    at.radio(key="compare").set_value("Blend")
    at.run()
    data = tifffile.imread(io.BytesIO(media(at.get("download_button")[0].proto.url)))
    assert data.dtype == np.float32 and np.array_equal(data, result)
    assert len(at.image) == 3 and not at.exception


def test_app_whole_image_of_a_colour_photo_with_the_auto_model(app, dark_rgb):
    at = upload(app(), "dark.jpg", jpeg(dark_rgb), "image/jpeg")
    at.radio(key="roi_mode").set_value("Whole image").run()
    assert "ROI: x 0-63, y 0-63 (64 x 64 px)" in texts(at, "markdown")
    assert "Model: **photo**" in texts(at, "markdown")
    at.button(key="run").click()
    at.run()
    outcome = at.session_state["outcome"]["outcome"]
    assert outcome.model == "photo" and outcome.result.shape == (64, 64, 3)
    assert at.session_state["outcome"]["provenance"]["roi_slices"] == "[0:64, 0:64]"


def test_app_picks_a_page_of_a_multi_page_tiff(app, grey16):
    stack = np.stack([grey16, grey16[::-1], grey16[:, ::-1]])
    at = upload(app(), "stack.tif", tiff(stack, photometric="minisblack"), "image/tiff")
    page = at.number_input[0]
    assert page.label == "Page (1 to 3)"
    page.set_value(2).run()
    assert any("page 2 of 3" in c for c in texts(at, "caption"))
    at.button(key="run").click()
    at.run()
    prov = at.session_state["outcome"]["provenance"]
    assert prov["page"] == 2 and prov["pages"] == 3


def test_app_says_what_is_wrong_with_bad_uploads_and_keeps_working(app, monkeypatch, grey16):
    monkeypatch.setenv(files.MAX_UPLOAD_ENV, "1")  # before the first run: the uploader's limit is part of it
    at = app()
    bad = [
        ("notes.png", b"not an image at all" * 20, "not a PNG, JPEG or TIFF"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50, "damaged or truncated"),
        ("big.tif", b"II*\x00" + bytes(1_100_000), "limit is 1 MB"),
        ("volume.tif", tiff(np.zeros((8, 8, 5), np.uint8), photometric="minisblack", planarconfig="contig"),
         "grey images or colour"),
        ("complex.tif", tiff(np.zeros((8, 8), np.complex64)), "complex64"),
    ]
    for name, data, message in bad:
        upload(at, name, data)
        errors = texts(at, "error")
        assert len(errors) == 1 and message in errors[0], (name, errors)
        assert not at.button  # nothing to run
    upload(at, "cells.png", png(grey16), "image/png")
    assert not texts(at, "error")
    at.button(key="run").click()
    at.run()
    assert not at.exception and at.session_state["outcome"]["outcome"].result.shape == (20, 32)


def test_app_refuses_an_roi_of_zero_area(app, monkeypatch, grey16):
    monkeypatch.setattr(roi_picker, "draw_rectangle", drag(20, 20, 20, 20))  # a click
    at = upload(app(), "cells.tif", tiff(grey16), "image/tiff")
    assert any("zero area" in e for e in texts(at, "error"))
    assert at.button(key="run").disabled


def test_two_sessions_never_see_each_others_images(app, grey16, dark_rgb):
    alice, bob = app(), app()
    upload(alice, "alice.tif", tiff(grey16), "image/tiff")
    upload(bob, "bob.png", png(dark_rgb), "image/png")
    alice.button(key="run").click()
    alice.run()
    alice.run()
    assert any("alice.tif" in c for c in texts(alice, "caption"))
    assert not any("bob" in c for c in texts(alice, "caption"))
    assert alice.session_state["image"][1].shape == (64, 64)
    assert bob.session_state["image"][1].shape == (64, 64, 3)
    assert "outcome" not in bob.session_state and not bob.get("download_button")
