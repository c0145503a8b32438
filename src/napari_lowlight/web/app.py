"""The napari-lowlight web page, a Streamlit script: ``napari-lowlight web`` serves it.

Thin on purpose: decoding and checks (:mod:`.files`), pictures (:mod:`.view`),
the run and its provenance (:mod:`.work`) are modules without streamlit,
tested on their own. Per-user data (the upload, its pages, the result, the
encoded downloads) live only in ``st.session_state``, so two people at once
never see each other's images; the networks are loaded once per server
(``st.cache_resource``) and never modified (the engine runs a copy).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from napari_lowlight import devices, weights
from napari_lowlight.engine import drain
from napari_lowlight.web import files, roi_picker, view, work

PICKER_SIDE = 480  # a portrait picture is this tall (screen pixels); landscape ones fill the column
DISPLAY_MAX_SIDE = 1024  # results larger than this are shown reduced (downloads are full size)
DRAW, WHOLE = "Draw a rectangle", "Whole image"
S = st.session_state


@st.cache_resource(show_spinner="Loading the model (once per server) ...")
def load_model(name: str, sha256: str):
    """The network for a weight set, shared by all sessions of this server
    (keyed by its sha256 too, so replaced weights are loaded anew)."""
    devices.set_threads()
    return weights.load_model(name)


@st.cache_resource
def device_name() -> str:
    return str(devices.get_device("auto"))


def memo(slot: str, key, make: Callable):
    """``make()`` once per ``key`` in this session (a refusal is kept as its exception)."""
    held = S.get(slot)
    if held is None or held[0] != key:
        try:
            value = make()
        except ValueError as err:  # UploadError and the engine's own checks
            value = err
        S[slot] = (key, value)
    return S[slot][1]


def sidebar(records: dict, image, file_key: str = "") -> tuple[str | None, bool]:
    """Model choice and display settings; returns (weight set name, stretch)."""
    with st.sidebar:
        st.header("Model")
        if not records:
            st.error(f"No models are installed (looked in {weights.weights_dir()}). Reinstall the package.")
            return None, False
        choice = st.selectbox(
            "Model", [work.AUTO, *records], key="model", label_visibility="collapsed",
            format_func=lambda n: work.model_label(n, records),
        )
        name = work.resolve(choice, image) if image is not None else None
        if choice == work.AUTO and image is not None:
            st.caption(work.auto_note(image))
        if name in records:
            record = records[name]
            st.caption(f"**{name}**: {record.description}")
            line = work.card_line(record)
            if line:
                st.caption(line)
            st.caption(f"{record.parameters:,} parameters; weights sha256 {record.sha256[:12]}...")
        st.header("Display")
        stretch = False
        if image is not None:
            stretch = st.checkbox(
                "Stretch the input's contrast (percentiles 0.5 to 99.8)",
                value=view.default_stretch(image), key=f"stretch-{file_key}",
                help="On by default for 16-bit and float images; a dark 8-bit photo is shown as it is. "
                "Only the display changes, not what the model sees.",
            )
        st.divider()
        st.caption(
            f"Runs on this machine ({device_name()}). Uploads up to {files.max_upload_mb()} MB and "
            f"{files.MAX_PIXELS / 1e6:.0f} megapixels per page; your images are kept in your session only."
        )
    return name, stretch


def make_display(image, stretch: bool):
    rng = view.display_range(image, stretch)
    small = view.preview(view.to_display(view.preview_source(image), rng))
    return rng, small, small.shape[0] / image.shape[0]


def picker_width(shape) -> int | str:
    """Landscape pictures fill the column; portrait ones are narrowed to keep them on the screen."""
    return "stretch" if shape[1] >= shape[0] else view.fit_width(shape, PICKER_SIDE)


def pick_region(image, roi_key: str, shown) -> object:
    """The ROI: drawn on the picture, or the whole image. Returns a Box, or None before a drag.
    A drawn ROI belongs to the upload (``roi_key``), so it stays when another page is picked."""
    rng, small, scale = shown
    mode = st.radio("Region", [DRAW, WHOLE], horizontal=True, key="roi_mode")
    if mode == WHOLE:
        st.image(small, width=picker_width(small.shape))
        return work.whole_image(image.shape)
    box_key = f"roi-{roi_key}"
    box = S.get(f"{box_key}-box")
    picture = view.outline(small, box, scale)
    drag = roi_picker.draw_rectangle(picture, key=box_key, width=picker_width(small.shape))
    new = box
    if drag:
        try:
            new = work.box_from_drag(drag, image.shape)
        except ValueError as err:
            st.warning(f"That rectangle could not be read ({err}); draw it again.")
    if new != box:
        S[f"{box_key}-box"] = new
        st.rerun()  # redraw the picture with the new outline
    st.caption("Drag on the image from one corner of the region to the opposite corner.")
    return box


def run(image, box, name: str, records: dict, upload: files.Upload, page: int, key) -> None:
    """Press of Run: enhance with a progress bar per tile; keep the outcome in this session."""
    try:
        net = load_model(name, records[name].sha256)
        enhancement = work.Enhancement(image, box, net)
    except (ValueError, weights.WeightsError) as err:
        st.error(str(err))
        return
    bar = st.progress(0.0, text=f"Enhancing with {name}: {enhancement.total} tile(s) ...")

    def show(p) -> None:
        bar.progress(p.fraction, text=f"Enhancing with {name}: tile {p.done} of {p.total}")

    try:
        outcome = drain(enhancement.steps(), show)
    except (RuntimeError, MemoryError, ValueError) as err:
        bar.empty()
        st.error(f"The run failed: {err}")
        return
    bar.progress(1.0, text=f"Done: {outcome.tiles} tile(s) in {outcome.seconds:.1f} s on {outcome.device}.")
    prov = work.provenance(outcome, source=upload.name, source_sha256=upload.sha256, page=page,
                           n_pages=upload.n_pages, image=image)
    S["outcome"] = {"key": key, "outcome": outcome, "provenance": prov, "downloads": {}}


def panels(image, rng, held: dict):
    """The input and enhanced ROI as 8-bit RGB of one shape, zoomed (small ROIs) or reduced (large
    ones), made once per result and display range."""
    cached = held.get("panels")
    if cached is None or cached[0] != rng:
        outcome = held["outcome"]
        before = view.to_display(image[outcome.box.slices], rng)
        after = view.to_display(outcome.result)
        reduced = max(before.shape[:2]) > DISPLAY_MAX_SIDE
        if reduced:
            before, after = view.preview(before, DISPLAY_MAX_SIDE), view.preview(after, DISPLAY_MAX_SIDE)
        # Whole-pixel (nearest) zoom, so the browser's scaling to the column does not blur the pixels.
        factor = view.zoom_factor(before.shape)
        cached = (rng, (view.zoom(before, factor), view.zoom(after, factor), factor, reduced))
        held["panels"] = cached
    return cached[1]


def show_result(image, rng, upload: files.Upload, page: int, key) -> None:
    """Input and result side by side, the comparison, the zoom and the downloads."""
    held = S.get("outcome")
    if not held or held["key"] != key:
        return
    outcome, prov = held["outcome"], held["provenance"]
    box = outcome.box
    st.divider()
    st.subheader(f"Result: {work.describe_box(box)}, model {outcome.model}")
    before, after, factor, reduced = panels(image, rng, held)
    fmt = "JPEG" if reduced else "PNG"  # zoomed pixels stay crisp; large reduced views load fast
    left, middle, right = st.columns(3, gap="medium")
    with left:
        st.markdown("**Input** (the ROI)")
        st.image(before, width="stretch", output_format=fmt)
    with middle:
        st.markdown(f"**Enhanced** ({outcome.model})")
        st.image(after, width="stretch", output_format=fmt)
    with right:
        how = st.radio("Compare", ["Split", "Blend"], horizontal=True, key="compare",
                       label_visibility="collapsed")
        if how == "Split":
            at = st.slider("Input left of the line, enhanced right", 0, 100, 50, key="split", format="%d%%")
            st.image(view.split(before, after, at / 100), width="stretch", output_format=fmt)
        else:
            amount = st.slider("Blend: 0 = input, 100 = enhanced", 0, 100, 50, key="blend", format="%d%%")
            st.image(view.blend(before, after, amount / 100), width="stretch", output_format=fmt)
    note = f"Shown {factor}x (whole pixels)" if factor > 1 else "Shown at full size"
    if reduced:
        note = f"Shown reduced to at most {DISPLAY_MAX_SIDE} px; the downloads are full size"
    st.caption(f"{note}; the fullscreen button on each picture enlarges it.")

    kinds = dict(files.OUTPUT_KINDS)
    kinds["tiff-input"] = f"TIFF, the input's dtype ({image.dtype})"
    # Keyed by the dtype: a label that changes under one key may keep showing the old text.
    kind = st.radio("Download as", list(kinds), format_func=kinds.get, horizontal=True,
                    key=f"kind-{image.dtype}")
    cache = held["downloads"]
    if kind not in cache:
        cache[kind] = files.encode(outcome.result, prov, kind, image.dtype)
    data, ext, mime = cache[kind]
    name = files.output_name(upload.name, page, upload.n_pages, work.box_slug(box), ext)
    st.download_button(f"Download {name}", data, file_name=name, mime=mime, on_click="ignore",
                       key="download", type="primary", icon=":material/download:")
    with st.expander("Provenance (stored in the downloaded file)"):
        st.json(prov)


def main() -> None:
    st.set_page_config(page_title="napari-lowlight: enhance dark images", layout="wide")
    st.title("Enhance a dark, noisy image")
    st.caption(
        "Upload a low-light photo or a fluorescence micrograph, draw a rectangle (or take the whole "
        "image), press Run, compare, download. napari-lowlight's small networks run on this machine."
    )
    records = weights.available_weights()
    limit = files.max_upload_mb()
    uploaded = st.file_uploader(
        "Image: PNG, JPEG or TIFF (16-bit and multi-page TIFF too)", type=list(files.EXTENSIONS),
        key="file", max_upload_size=limit,
    )
    if uploaded is None:
        for slot in ("upload", "image", "display", "outcome"):  # free this session's memory
            S.pop(slot, None)
        sidebar(records, None)
        st.info("Upload a dark photo or a fluorescence image to start.")
        return
    upload = memo("upload", uploaded.file_id,
                  lambda: files.open_upload(uploaded.name, uploaded.getvalue(), limit))
    if isinstance(upload, Exception):
        sidebar(records, None)
        st.error(str(upload))
        return
    page = 0
    if upload.n_pages > 1:
        page = int(st.number_input(
            f"Page (1 to {upload.n_pages})", min_value=1, max_value=upload.n_pages, value=1, step=1,
            key=f"page-{uploaded.file_id}",
        )) - 1
    image = memo("image", (uploaded.file_id, page), lambda: files.read_page(upload, page))
    if isinstance(image, Exception):
        sidebar(records, None)
        st.error(str(image))
        return
    file_key = f"{uploaded.file_id}-{page}"
    name, stretch = sidebar(records, image, file_key)
    pages = f", page {page + 1} of {upload.n_pages}" if upload.n_pages > 1 else ""
    st.caption(f"**{upload.name}**{pages}: {files.describe(image)}")
    shown = memo("display", (file_key, stretch), lambda: make_display(image, stretch))

    left, right = st.columns([3, 2], gap="large")
    with left:
        box = pick_region(image, uploaded.file_id, shown)
    with right:
        st.subheader("Run")
        problem = None
        if box is None:
            st.info("Draw a rectangle on the image, or choose *Whole image*.")
        else:
            try:
                work.check_box(box, image.shape)
                st.write(f"ROI: {work.describe_box(box)}")
            except ValueError as err:
                problem = str(err)
                st.error(problem)
        st.write(f"Model: **{name}**" if name else "")
        pressed = st.button("Run", type="primary", key="run", disabled=box is None or problem is not None
                            or name is None)
        if pressed:
            run(image, box, name, records, upload, page, key=file_key)
    show_result(image, shown[0], upload, page, key=file_key)


main()
