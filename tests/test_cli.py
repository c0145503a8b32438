import argparse
import json

import numpy as np
import pytest
import tifffile

from napari_lowlight import cli, weights


@pytest.fixture
def tiny_weights(random_weights):
    return random_weights("fluo", "fluo", 1)


def test_enhance_writes_a_tiff_next_to_nothing_it_reads(tiny_weights, tmp_path, capsys):
    src = tmp_path / "dark.tif"
    tifffile.imwrite(src, (np.random.default_rng(0).random((40, 50)) * 300).astype(np.uint16))
    before = src.read_bytes()
    assert cli.main(["enhance", str(src), "-o", str(tmp_path / "out"), "--dtype", "float32"]) == 0
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
    assert cli.main(["evaluate", "--suite", "fluo", "--data", str(data), "--models", "fluo",
                     "--no-classical"]) == 0
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


def _fails_cleanly(argv, capsys, *needles, code=1):
    """The command exits with ``code`` and one ``error: ...`` message naming ``needles``; no traceback."""
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_evaluate_without_validation_images_is_an_error_not_a_table_of_nan(tiny_weights, tmp_path, capsys):
    _fails_cleanly(["evaluate", "--suite", "fluo", "--data", str(tmp_path), "--no-classical"], capsys,
                   "No validation images", "w2s-train")
    _fails_cleanly(["evaluate", "--suite", "photo", "--data", str(tmp_path / "nowhere")], capsys,
                   "nowhere", "not a folder")


def test_train_with_a_missing_config_or_data_folder_is_an_error(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text('name = "tiny"\narch = "llunet"\ndomain = "fluo"\nchannels = 1\nsteps = 1\n')
    _fails_cleanly(["train", "--config", str(tmp_path / "none.toml"), "--data", str(tmp_path)], capsys,
                   "none.toml", "does not exist")
    _fails_cleanly(["train", "--config", str(config), "--data", str(tmp_path / "nodata")], capsys,
                   "nodata", "not a folder")
    # A folder without the data the config needs: the loader's message, not a traceback.
    _fails_cleanly(["train", "--config", str(config), "--data", str(tmp_path), "--quiet",
                    "--run-dir", str(tmp_path / "run"), "--out", str(tmp_path / "w")], capsys, "No W2S pairs")


def test_train_with_a_malformed_config_names_the_problem(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text('name = "tiny"\narch = "llunet"\ndomain = "fluo"\nchannels = 1\nsteps = 1\nstepz = 2\n')
    _fails_cleanly(["train", "--config", str(config), "--data", str(tmp_path)], capsys,
                   "unknown key(s) stepz")
    config.write_text('name = "tiny"\narch = "llunet"\n')
    _fails_cleanly(["train", "--config", str(config), "--data", str(tmp_path)], capsys,
                   "missing key(s) domain, channels, steps")
    config.write_text("name = \n")
    _fails_cleanly(["train", "--config", str(config), "--data", str(tmp_path)], capsys, "not a valid TOML")


def test_enhance_with_unknown_model_or_bad_tile_size_is_an_error(tiny_weights, tmp_path, capsys):
    src = tmp_path / "dark.tif"
    tifffile.imwrite(src, np.zeros((20, 20), np.uint16))
    _fails_cleanly(["enhance", str(src), "-o", str(tmp_path / "o"), "--model", "nope"], capsys, "'nope'")
    _fails_cleanly(["enhance", str(src), "-o", str(tmp_path / "o"), "--tile-size", "0"], capsys,
                   "tile_size must be a positive")


@pytest.mark.parametrize("command", [[], ["enhance"], ["train"], ["evaluate"], ["demo"]])
def test_help_lists_the_installed_models_and_explains_every_option(command, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main([*command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for name, record in weights.available_weights().items():
        assert f"  {name} " in out and record.domain in out
    # Every option has a help text: argparse prints an option without one on a line of its own
    # followed directly by the next option.
    parser = cli._parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in (sub.choices[command[0]] if command else parser)._actions:
        assert action.help, f"{command}: {action.option_strings or action.dest} has no help"
