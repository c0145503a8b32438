"""The evaluation's suites and splits, on tiny fake data folders (no /work/shared in CI)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from napari_lowlight import cli
from napari_lowlight.training import datasets, degrade, evaluate, unprocess

LOL_IDS = (2, 560, 600, 700, 720)  # train, validation x2, test x2


def _save(path, pixels, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **kwargs)


@pytest.fixture
def data(tmp_path, lol_pair_writer):
    """A data folder with a few LOL pairs of each split and two photos in Kodak24 and CBSD68 each."""
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    for i in LOL_IDS:
        high = rng.integers(60, 255, (36, 44, 3), dtype=np.uint8)
        lol_pair_writer(root, i, (high // 8 + i % 7).astype(np.uint8), high)
    for folder, shape in (("Kodak24", (40, 40, 3)), ("CBSD68", (32, 48, 3))):
        for k in range(2):
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
            _save(root / "natural" / folder / f"{folder}-{k}.png", pixels)
    return root


@pytest.fixture
def photo_weights(random_weights):
    """A randomly initialised RGB weight set named "photo", alone in the weights folder."""
    return random_weights("photo", "photo", 3)


def _read(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_lol_cases_are_the_ids_of_the_split_as_8_bit_lows(data):
    for split, ids in (("validation", ["560", "600"]), ("test", ["700", "720"])):
        cases = evaluate.load_cases("lol", data, split=split)
        assert [c.name for c in cases] == ids
        for case in cases:
            assert case.raw.dtype == np.uint8 and case.target.dtype == np.float32
            pair = data / "lol-train"
            np.testing.assert_array_equal(case.raw, _read(pair / "low" / f"{case.name}.webp"))
            high = _read(pair / "high" / f"{case.name}.webp")
            np.testing.assert_allclose(case.target * 255, high, atol=1e-3)
    assert evaluate.load_cases("lol", data)[0].name == "560"  # validation is the default
    cropped = evaluate.load_cases("lol", data, crop=16, limit=1, split="test")
    assert len(cropped) == 1 and cropped[0].raw.shape == cropped[0].target.shape == (16, 16, 3)


@pytest.mark.parametrize("suite", ["photo", "photo-gamma", "photo-real"])
def test_photo_suites_take_kodak24_for_validation_and_cbsd68_for_test(data, suite):
    for split, folder in (("validation", "Kodak24"), ("test", "CBSD68")):
        cases = evaluate.load_cases(suite, data, split=split)
        clean = [_read(p) for p in sorted((data / "natural" / folder).glob("*.png"))]
        assert len(cases) == 2
        for case, image in zip(cases, clean, strict=True):
            assert case.raw.dtype == np.uint8 and case.raw.shape == image.shape
            np.testing.assert_allclose(case.target * 255, image, atol=1e-3)


@pytest.mark.parametrize("suite", ["photo", "photo-gamma"])
@pytest.mark.parametrize("crop", [0, 24])
def test_photo_validation_cases_are_what_they_were_before_the_splits(data, suite, crop):
    # The loader as it was: Kodak24, one generator over the photos in order, crop before darkening.
    rng = np.random.default_rng(3)
    darken = degrade.low_light_photo if suite == "photo" else degrade.gamma_photo
    before = []
    for clean in datasets.load_photos(data, validation=True):
        clean = datasets.centre_crop(clean, crop)
        before.append((np.round(darken(clean, rng) * 255).astype(np.uint8), clean))
    now = evaluate.load_cases(suite, data, crop=crop, seed=3)
    assert len(now) == len(before)
    for case, (raw, clean) in zip(now, before, strict=True):
        np.testing.assert_array_equal(case.raw, raw)
        np.testing.assert_array_equal(case.target, clean)
    # Stopping at the limit leaves the first cases as they were.
    first = evaluate.load_cases(suite, data, crop=crop, seed=3, limit=1)
    assert len(first) == 1
    np.testing.assert_array_equal(first[0].raw, before[0][0])


def test_photo_real_is_the_camera_synthesis_seeded(data):
    rng = np.random.default_rng(5)
    expected = [np.round(unprocess.dark_photo(clean, rng) * 255).astype(np.uint8)
                for clean in datasets.load_photos(data, validation=True)]
    cases = evaluate.load_cases("photo-real", data, seed=5)
    for case, raw in zip(cases, expected, strict=True):
        np.testing.assert_array_equal(case.raw, raw)
    again = evaluate.load_cases("photo-real", data, seed=5)
    other = evaluate.load_cases("photo-real", data, seed=6)
    assert all(np.array_equal(a.raw, b.raw) for a, b in zip(cases, again, strict=True))
    assert not np.array_equal(cases[0].raw, other[0].raw)


def test_bad_splits_and_missing_collections_say_what_is_wrong(data, tmp_path):
    with pytest.raises(ValueError, match="Unknown split 'train'; use one of validation, test"):
        evaluate.load_cases("lol", data, split="train")
    with pytest.raises(ValueError, match="validation split only"):
        evaluate.load_cases("fluo", data, split="test")
    with pytest.raises(ValueError, match="Unknown suite 'nope'"):
        evaluate.load_cases("nope", data)
    with pytest.raises(FileNotFoundError, match="natural/CBSD68"):
        evaluate.load_cases("photo", tmp_path / "empty", split="test")
    with pytest.raises(FileNotFoundError, match="680-789"):
        evaluate.load_cases("lol", tmp_path / "empty", split="test")


def test_the_record_key_names_the_test_split_only():
    assert evaluate.metrics_key("photo") == "eval_photo"
    assert evaluate.metrics_key("lol") == "eval_lol"
    assert evaluate.metrics_key("lol", "test") == "eval_lol-test"


def test_every_suite_has_a_default_model_and_the_cli_loads_no_evaluation_to_check_one():
    assert set(evaluate.DEFAULT_MODELS) == set(evaluate.SUITES)
    # The CLI's choices come from training.suites, which imports nothing heavy.
    code = ("import sys; from napari_lowlight import cli; "
            "assert 'napari_lowlight.training.evaluate' not in sys.modules; "
            "assert 'skimage' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert evaluate.DEFAULT_MODELS["lol"] == evaluate.DEFAULT_MODELS["photo-real"] == "photo"


def test_lol_rows_include_the_exposure_nlm_baseline_and_bm3d():
    rows = evaluate.methods("lol", (), classical=True)
    assert "brighten + non-local means" in rows and "brighten + BM3D" in rows


def test_evaluate_lol_test_prints_one_table_and_records_under_the_test_key(photo_weights, data, capsys):
    argv = ["evaluate", "--suite", "lol", "--split", "test", "--data", str(data), "--limit", "1",
            "--crop", "32", "--models", "photo", "--record"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "suite lol, test split: 1 images, centre 32 px" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0] == "| method | PSNR (dB) | SSIM | PSNR GT-mean | SSIM GT-mean | Mpx/s |"
    names = [r.split("|")[1].strip() for r in rows[1:]]
    assert "brighten + non-local means" in names and names[-1] == "photo (ours)"
    metrics = json.loads((photo_weights / "photo.json").read_text())["metrics"]
    assert "eval_lol-test" in metrics and "eval_lol" not in metrics
    assert metrics["eval_lol-test"]["images"] == 1


def test_evaluate_refuses_a_test_split_for_fluorescence(capsys, tmp_path):
    assert cli.main(["evaluate", "--suite", "fmd", "--split", "test", "--data", str(tmp_path)]) == 2
    assert "validation split only" in capsys.readouterr().err
