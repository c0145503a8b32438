import json

import numpy as np
import pytest
import tifffile
import torch

from napari_lowlight import cli, models, weights
from napari_lowlight.training.train import TrainConfig, export


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


def test_evaluate_scores_the_models_alone_when_asked(tiny_weights, tmp_path, capsys):
    from test_train import _fake_w2s

    data = _fake_w2s(tmp_path / "data")
    assert cli.main(["evaluate", "--suite", "fluo", "--data", str(data), "--models", "fluo", "--no-classical"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0].startswith("| method | PSNR (dB) | SSIM |")
    assert len(rows) == 2 and rows[1].startswith("| fluo (ours) | ")
    psnr = float(rows[1].split("|")[2])
    assert 5 < psnr < 60


def test_evaluate_refuses_to_record_without_the_classical_rows(tiny_weights, tmp_path, capsys):
    code = cli.main(["evaluate", "--suite", "fluo", "--data", str(tmp_path), "--no-classical", "--record"])
    assert code == 2
    assert "drop --no-classical" in capsys.readouterr().err
    assert "eval_fluo" not in (tiny_weights / "fluo.json").read_text()


def test_evaluate_records_the_score_and_keeps_the_rest(tiny_weights, tmp_path, capsys):
    from test_train import _fake_w2s

    data = _fake_w2s(tmp_path / "data")
    before = json.loads((tiny_weights / "fluo.json").read_text())
    assert cli.main(["evaluate", "--suite", "fluo", "--data", str(data), "--models", "fluo", "--record"]) == 0
    after = json.loads((tiny_weights / "fluo.json").read_text())
    entry = after["metrics"].pop("eval_fluo")
    assert after == before  # nothing else in the record changed, the checksum included
    assert entry["images"] == 1 and entry["best_classical"] != "raw input" and 5 < entry["psnr"] < 60
    assert "written into the record of 'fluo'" in capsys.readouterr().out
