import numpy as np
import pytest
import tifffile
import torch

from napari_lowlight import cli, models, weights
from napari_lowlight.train import TrainConfig, export


@pytest.fixture
def tiny_weights(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(folder))
    torch.manual_seed(0)
    export(TrainConfig(name="fluo", arch="llunet", domain="fluo", channels=1, steps=0),
           models.build("llunet"), folder, [], recipe="test")
    return folder


def test_enhance_writes_float_tiff_next_to_nothing_it_reads(tiny_weights, tmp_path, capsys):
    src = tmp_path / "dark.tif"
    tifffile.imwrite(src, (np.random.default_rng(0).random((40, 50)) * 300).astype(np.uint16))
    before = src.read_bytes()
    assert cli.main(["enhance", str(src), "-o", str(tmp_path / "out")]) == 0
    out = tifffile.imread(tmp_path / "out" / "dark_enhanced.tif")
    assert out.shape == (40, 50) and out.dtype == np.float32
    assert src.read_bytes() == before
    # A second run refuses to replace the output unless told to.
    assert cli.main(["enhance", str(src), "-o", str(tmp_path / "out")]) == 1
    assert "exists" in capsys.readouterr().err


def test_bad_files_exit_non_zero_with_a_message(tiny_weights, tmp_path, capsys):
    assert cli.main(["enhance", str(tmp_path / "missing.tif"), "-o", str(tmp_path)]) == 1
    assert "missing.tif" in capsys.readouterr().err
    empty = tmp_path / "empty.tif"
    tifffile.imwrite(empty, np.zeros((0, 4), np.uint8))
    assert cli.main(["enhance", str(empty), "-o", str(tmp_path / "o")]) == 1
    assert "empty" in capsys.readouterr().err


def test_demo_without_a_display_writes_its_result(tiny_weights, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    assert cli.main(["demo", "--output-dir", str(tmp_path / "demo")]) == 0
    assert tifffile.imread(tmp_path / "demo" / "sample_enhanced.tif").dtype == np.float32
    assert "wrote" in capsys.readouterr().out
