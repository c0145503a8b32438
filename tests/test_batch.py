"""The batch command line: files, folders, globs, formats, metadata, ROI, failures."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tifffile
import zarr
from PIL import Image

from napari_lowlight import cli, enhance, enhance_regions


@pytest.fixture
def inputs(tmp_path):
    """A folder of small dark images: a 16-bit TIFF, a two-channel OME-TIFF, an RGB PNG in a
    subfolder, a corrupt TIFF and a text file."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    tifffile.imwrite(folder / "a.tif", (rng.random((64, 80)) * 3000).astype(np.uint16))
    tifffile.imwrite(folder / "b.ome.tif", (rng.random((2, 64, 80)) * 3000).astype(np.uint16), ome=True,
                     metadata={"axes": "CYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.25,
                               "Channel": {"Name": ["DAPI", "GFP"]}})
    Image.fromarray((rng.random((48, 56, 3)) * 60).astype(np.uint8)).save(folder / "sub" / "c.png")
    return folder


def _run(capsys, *argv):
    code = cli.main(["enhance", *map(str, argv), "-q"])
    out = capsys.readouterr()
    return code, out.out, out.err


def _snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_keeps_16_bits_and_the_ome_metadata(inputs, tmp_path, capsys):
    before = _snapshot(inputs)
    code, out, err = _run(capsys, inputs, "-o", tmp_path / "out")
    assert code == 0, err
    assert "a.tif" in out and "b.ome.tif" in out and "done" in out and "c.png" not in out  # not recursive
    a = tifffile.imread(tmp_path / "out" / "a_enhanced.tif")
    assert a.dtype == np.uint16 and a.shape == (64, 80) and a.max() > 1000
    expected = enhance(tifffile.imread(inputs / "a.tif"))
    np.testing.assert_allclose(a, np.round(expected * 65535), atol=1)
    with tifffile.TiffFile(tmp_path / "out" / "b_enhanced.ome.tif") as tif:
        assert tif.series[0].axes == "CYX" and tif.series[0].dtype == np.uint16
        pixels = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]["Pixels"]
        assert (pixels["PhysicalSizeX"], pixels["PhysicalSizeY"]) == (0.2, 0.25)
        assert [c["Name"] for c in pixels["Channel"]] == ["DAPI", "GFP"]
        assert (
            "napari_lowlight.weights_sha256" in tif.ome_metadata
            and "napari_lowlight.model" in tif.ome_metadata
        )
    assert _snapshot(inputs) == before  # inputs never modified


def test_recursive_and_quoted_globs_and_float_output(inputs, tmp_path, capsys):
    code, out, _ = _run(
        capsys, str(inputs / "**" / "*.png"), "-r", "-o", tmp_path / "out", "--dtype", "float32",
        "--format", "tiff",
    )
    assert code == 0 and "c.png" in out and "photo" in out
    with tifffile.TiffFile(tmp_path / "out" / "c_enhanced.tif") as tif:
        result, meta = tif.asarray(), tif.shaped_metadata[0]
    assert (
        result.dtype == np.float32 and result.shape == (48, 56, 3)
        and 0 <= result.min() <= result.max() <= 1
    )
    provenance = meta["napari_lowlight"]
    assert provenance["model"] == "photo" and len(provenance["weights_sha256"]) == 64 and provenance["device"]
    assert meta["axes"] == "YXS"


def test_png_keeps_8_bits_and_its_provenance(inputs, tmp_path, capsys):
    assert _run(capsys, inputs / "sub" / "c.png", "-o", tmp_path / "out")[0] == 0
    with Image.open(tmp_path / "out" / "c_enhanced.png") as im:
        assert im.mode == "RGB" and json.loads(im.text["napari_lowlight"])["model"] == "photo"


def test_corrupt_and_unsupported_files_are_named_and_the_rest_goes_on(inputs, tmp_path, capsys):
    (inputs / "bad.tif").write_bytes(b"not a tiff at all")
    (inputs / "notes.txt").write_text("hello")
    code, out, err = _run(
        capsys, inputs / "bad.tif", inputs / "notes.txt", inputs / "a.tif", "-o", tmp_path / "o"
    )
    assert code == 1
    assert (
        "bad.tif" in err and "corrupt" in err and "notes.txt" in err
        and "unsupported file type '.txt'" in err
    )
    assert "Traceback" not in err
    assert (tmp_path / "o" / "a_enhanced.tif").is_file()  # the good one was still enhanced
    assert not (tmp_path / "o" / "bad_enhanced.tif").exists()


def test_an_existing_output_is_not_replaced_without_overwrite(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(capsys, inputs / "a.tif", "-o", out)[0] == 0
    first = (out / "a_enhanced.tif").read_bytes()
    (out / "a_enhanced.tif").write_bytes(b"keep me")
    code, _, err = _run(capsys, inputs / "a.tif", "-o", out)
    assert code == 1 and "exists" in err and "--overwrite" in err
    assert (out / "a_enhanced.tif").read_bytes() == b"keep me"
    assert _run(capsys, inputs / "a.tif", "-o", out, "--overwrite")[0] == 0
    assert (out / "a_enhanced.tif").read_bytes() == first
    assert not list(out.glob(".partial-*"))


def test_dry_run_lists_and_writes_nothing(inputs, tmp_path, capsys):
    code, out, _ = _run(capsys, inputs, "-r", "-o", tmp_path / "out", "--dry-run")
    assert code == 0 and out.count("->") == 3 and "c_enhanced.png" in out
    assert not (tmp_path / "out").exists()


def test_roi_equals_the_same_region_of_the_whole_result(inputs, tmp_path, capsys):
    code, _, err = _run(capsys, inputs / "a.tif", "-o", tmp_path / "out", "--roi", "10:50,20:70",
                        "--dtype", "float32")
    assert code == 0, err
    with tifffile.TiffFile(tmp_path / "out" / "a_enhanced.tif") as tif:
        crop, meta = tif.asarray(), tif.shaped_metadata[0]
    assert crop.shape == (40, 50) and meta["napari_lowlight"]["roi"] == "10:50,20:70"
    expected = enhance_regions(tifffile.imread(inputs / "a.tif"), [np.s_[10:50, 20:70]])[0]
    np.testing.assert_allclose(crop, expected, atol=1e-6)


@pytest.mark.parametrize(
    "roi, message", [("10:50", "y0:y1,x0:x1"), ("50:10,0:5", "empty"), ("0:500,0:10", "outside")]
)
def test_bad_roi_is_explained(inputs, tmp_path, capsys, roi, message):
    code, _, err = _run(capsys, inputs / "a.tif", "-o", tmp_path / "out", "--roi", roi)
    assert code == 1 and message in err and "Traceback" not in err


def test_zarr_and_ome_zarr_round_trips(inputs, tmp_path, capsys):
    rng = np.random.default_rng(1)
    image = (rng.random((150, 170)) * 3000).astype(np.uint16)
    source = zarr.create_array(tmp_path / "big.zarr", shape=image.shape, chunks=(64, 64), dtype=image.dtype)
    source[:] = image
    assert _run(capsys, tmp_path / "big.zarr", inputs / "b.ome.tif", "-o", tmp_path / "z", "--format",
                "ome-zarr")[0] == 0
    group = zarr.open_group(tmp_path / "z" / "big_enhanced.ome.zarr", mode="r")
    multiscales = group.attrs["ome"]["multiscales"][0]
    result = group[multiscales["datasets"][0]["path"]][:]
    assert result.dtype == np.uint16
    np.testing.assert_allclose(result, np.round(enhance(image) * 65535), atol=1)
    assert group.attrs["napari_lowlight"]["model"] == "fluo"
    channels = zarr.open_group(
        tmp_path / "z" / "b_enhanced.ome.zarr", mode="r"
    ).attrs["ome"]["multiscales"][0]
    assert [a["name"] for a in channels["axes"]] == ["c", "y", "x"]
    assert channels["datasets"][0]["coordinateTransformations"][0]["scale"][1:] == [0.25, 0.2]
    # A Zarr result read back as an input: a plain Zarr array keeps the provenance in its attributes.
    assert _run(capsys, tmp_path / "big.zarr", "-o", tmp_path / "plain", "--dtype", "float32")[0] == 0
    plain = zarr.open_array(tmp_path / "plain" / "big_enhanced.zarr", mode="r")
    assert plain.dtype == np.float32 and plain.attrs["napari_lowlight"]["source"] == "big.zarr"
    np.testing.assert_allclose(plain[:], enhance(image), atol=1e-5)


def test_jpeg_output_of_16_bit_data_is_refused_before_any_work(inputs, tmp_path, capsys):
    code, _, err = _run(capsys, inputs / "a.tif", "-o", tmp_path / "out", "--format", "jpeg")
    assert code == 1 and "JPEG holds 8-bit pixels" in err
    assert not (tmp_path / "out").exists()


def test_typos_answer_before_torch_loads(tmp_path):
    code = (
        "import sys\n"
        "from napari_lowlight import cli\n"
        f"assert cli.main(['enhance', {str(tmp_path / 'nope.tif')!r}, '-o', {str(tmp_path)!r}]) == 1\n"
        f"assert cli.main(['enhance', {str(tmp_path)!r}, '--model', 'flou']) == 1\n"
        "sys.exit(1 if 'torch' in sys.modules else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nope.tif" in done.stderr


def test_strength_is_checked_and_recorded(inputs, tmp_path, capsys):
    code, _, err = _run(capsys, inputs / "a.tif", "-o", tmp_path / "bad", "--strength", "0")
    assert code == 1 and "strength must be a positive number" in err
    assert _run(capsys, inputs / "a.tif", "-o", tmp_path / "out", "--strength", "1.5")[0] == 0
    with tifffile.TiffFile(tmp_path / "out" / "a_enhanced.tif") as tif:
        assert tif.shaped_metadata[0]["napari_lowlight"]["strength"] == 1.5


def _zarr_input(tmp_path, seed=2, shape=(150, 170)):
    rng = np.random.default_rng(seed)
    image = (rng.random(shape) * 3000).astype(np.uint16)
    source = zarr.create_array(tmp_path / "big.zarr", shape=image.shape, chunks=(64, 64), dtype=image.dtype)
    source[:] = image
    return image


def test_processes_scheduler_writes_what_threads_write_and_records_it(tmp_path, capsys):
    image = _zarr_input(tmp_path)
    runs = {}
    for scheduler in ("threads", "processes"):
        code, _, err = _run(capsys, tmp_path / "big.zarr", "-o", tmp_path / scheduler, "--dtype", "float32",
                            "--tile-size", "64", "--scheduler", scheduler, "--workers", "2")
        assert code == 0, err
        runs[scheduler] = zarr.open_array(tmp_path / scheduler / "big_enhanced.zarr", mode="r")
    np.testing.assert_allclose(runs["processes"][:], runs["threads"][:], atol=1e-5)
    np.testing.assert_allclose(runs["threads"][:], enhance(image), atol=1e-5)
    for scheduler, array in runs.items():
        assert array.attrs["napari_lowlight"]["scheduler"].startswith(f"{scheduler}: 2 x torch")
        assert array.metadata.dimension_names == ("y", "x")
    assert not list((tmp_path / "processes").glob(".*"))  # no temporary sibling left


@pytest.mark.parametrize(
    "argv, message",
    [(["--scheduler", "threads", "--address", "tcp://127.0.0.1:1"], "needs --scheduler distributed"),
     (["--address", "tcp://127.0.0.1:1", "--workers", "2"], "drop --workers")],
)
def test_address_contradicting_the_scheduler_is_a_usage_error(tmp_path, capsys, argv, message):
    _zarr_input(tmp_path)
    code, _, err = _run(capsys, tmp_path / "big.zarr", "-o", tmp_path / "out", *argv)
    assert code == cli.EXIT_USAGE and err.startswith("error: ") and message in err
    assert not (tmp_path / "out").exists()


def test_workers_must_be_positive(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["enhance", str(tmp_path), "--workers", "0"])
    assert exit_.value.code == cli.EXIT_USAGE and "at least 1" in capsys.readouterr().err


def test_ome_zarr_output_has_ngff_metadata_dimension_names_and_equals_enhance(inputs, tmp_path, capsys):
    code, _, err = _run(capsys, inputs / "b.ome.tif", "-o", tmp_path / "z", "--format", "ome-zarr",
                        "--dtype", "float32")
    assert code == 0, err
    group = zarr.open_group(tmp_path / "z" / "b_enhanced.ome.zarr", mode="r")
    ngff = group.attrs["ome"]
    assert ngff["version"] == "0.5"
    multiscales = ngff["multiscales"][0]
    assert [a["name"] for a in multiscales["axes"]] == ["c", "y", "x"]
    assert multiscales["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.0, 0.25, 0.2]
    level = group[multiscales["datasets"][0]["path"]]
    assert level.metadata.dimension_names == ("c", "y", "x")
    provenance = group.attrs["napari_lowlight"]
    assert provenance["model"] == "fluo" and provenance["scheduler"] == "in memory"
    expected = enhance(tifffile.imread(inputs / "b.ome.tif"), channel_axis=0)
    np.testing.assert_allclose(level[:], expected, atol=1e-5)
    assert sorted(p.name for p in (tmp_path / "z").iterdir()) == ["b_enhanced.ome.zarr"]


def test_a_tiff_enhanced_block_by_block_is_read_lazily(inputs):
    # A TIFF larger than memory must never be read whole: the block-by-block path opens it lazily.
    import dask.array as da

    from napari_lowlight.batch import files

    source = files.probe(inputs / "b.ome.tif")
    lazy = files.load(source, lazy=True)
    assert isinstance(lazy, da.Array) and lazy.shape == source.shape
    np.testing.assert_array_equal(lazy.compute(), files.load(source))
