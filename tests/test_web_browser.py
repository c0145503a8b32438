"""End to end: ``python -m napari_lowlight.web`` (what ``napari-lowlight web`` runs) serves the page on
loopback; headless Chromium (Debian's ``chromium``, driven by Playwright: no browser is downloaded)
uploads a dark photo, draws a rectangle, runs, compares and downloads, with every request that is
not to this machine blocked and counted (the page must work offline). The screenshot goes to the
test's folder, or where ``NAPARI_LOWLIGHT_SCREENSHOT`` says (``docs/web-screenshot.png`` for the README).
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
LOCAL = ("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:", "about:")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """The page served on a free loopback port; yields its URL, stops the server afterwards."""
    port = free_port()
    env = dict(os.environ, NAPARI_LOWLIGHT_DEVICE="cpu", PYTHONUNBUFFERED="1")
    log = open(tmp_path / "server.log", "w+")  # noqa: SIM115 - closed below, after the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "napari_lowlight.web", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.read() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"the server did not start:\n{log.read()}")
            time.sleep(0.3)
        log.seek(0)
        assert f"napari-lowlight web page: {url}" in log.read()  # the launcher prints the URL first
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)  # the launcher stops its streamlit child
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture
def dark_photo(tmp_path) -> Path:
    """The plugin's low-light sample photo (a scikit-image photo, darkened with noise), as a JPEG."""
    from napari_lowlight._napari.sample_data import low_light_photo

    path = tmp_path / "dark-photo.jpg"
    Image.fromarray(low_light_photo()).save(path, quality=92)
    return path


def test_a_new_user_uploads_draws_runs_compares_and_downloads(server, dark_photo, tmp_path):
    from playwright.sync_api import sync_playwright

    outside: list[str] = []

    def only_this_machine(route):
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    shot = Path(os.environ.get("NAPARI_LOWLIGHT_SCREENSHOT") or tmp_path / "web-screenshot.png")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1640}, accept_downloads=True)
            page.set_default_timeout(60_000)
            page.route("**/*", only_this_machine)
            page.goto(server)
            page.get_by_text("Upload a dark photo").wait_for()

            page.locator("input[type=file]").set_input_files(dark_photo)
            page.get_by_text("741 x 500 px, uint8, RGB").wait_for()
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_text("auto took photo for this colour image").wait_for()
            sidebar.get_by_text("Brightens and denoises").wait_for()  # the photo model's card line

            # Draw: press on one corner of the region, release on the opposite one.
            frame = page.frame_locator("iframe[title*='streamlit_image_coordinates']")
            picture = frame.locator("img#image")
            page.wait_for_function(
                "() => { const f = document.querySelector(\"iframe[title*='streamlit_image_coordinates']\");"
                " const i = f && f.contentDocument && f.contentDocument.querySelector('img#image');"
                " return i && i.complete && i.naturalWidth > 0 && Math.abs(f.clientHeight - i.height) < 2; }"
            )
            box = picture.bounding_box()
            x0, y0 = box["x"] + 0.30 * box["width"], box["y"] + 0.30 * box["height"]
            x1, y1 = box["x"] + 0.62 * box["width"], box["y"] + 0.62 * box["height"]
            page.mouse.move(x0, y0)
            page.mouse.down()
            page.mouse.move(x1, y1, steps=8)
            page.mouse.up()
            roi = page.get_by_text("ROI: x ")
            roi.wait_for()
            text = roi.inner_text()
            (xa, xb), (ya, yb) = (
                [int(v) for v in part.split()[1].rstrip(",").split("-")] for part in text[5:].split(", ")[:2]
            )
            # The box is where the mouse went, in image pixels (741 x 500), to within a pixel or two.
            assert abs(xa - 0.30 * 741) < 3 and abs(xb - 0.62 * 741) < 4, text
            assert abs(ya - 0.30 * 500) < 3 and abs(yb - 0.62 * 500) < 4, text

            page.get_by_role("button", name="Run").click()
            page.get_by_text("Done: ").wait_for()
            page.get_by_text("Enhanced").first.wait_for()
            # Input, enhanced and the comparison, all loaded from this server.
            page.wait_for_function(
                "() => { const im = Array.from(document.querySelectorAll('[data-testid=stImage] img'));"
                " return im.length >= 3 && im.every(i => i.complete && i.naturalWidth > 0); }"
            )
            with page.expect_download() as started:
                page.get_by_role("button", name="Download").click()
            saved = tmp_path / started.value.suggested_filename
            started.value.save_as(saved)
            page.wait_for_timeout(500)
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot))
        finally:
            browser.close()

    assert outside == []  # no CDN script, font or tracker: the page works offline
    assert saved.name.startswith("dark-photo_enhanced_x") and saved.suffix == ".png"
    with Image.open(saved) as im:
        prov = json.loads(im.text["napari-lowlight"])
        assert im.size == (xb - xa + 1, yb - ya + 1) and im.mode == "RGB"
        pixels = np.asarray(im)
    assert prov["model"] == "photo" and prov["roi"] == {"x": [xa, xb + 1], "y": [ya, yb + 1]}
    assert prov["source"] == "dark-photo.jpg" and len(prov["weights_sha256"]) == 64
    source = np.asarray(Image.open(dark_photo))[ya: yb + 1, xa: xb + 1]
    assert pixels.mean() > 2 * source.mean()  # brighter than the dark input
    with Image.open(io.BytesIO(shot.read_bytes())) as im:
        assert im.size == (1400, 1640)
