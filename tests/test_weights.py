import json

import numpy as np
import pytest
import torch

from napari_lowlight import enhance, load_model, models, weights
from napari_lowlight.training.train import TrainConfig, export

SHIPPED = ("fluo", "fluo-finetune", "fluo-w2s", "photo", "photo-ridge", "llcnn-paper")


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    """A private weights folder holding one freshly exported random network."""
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(tmp_path))
    torch.manual_seed(0)
    net = models.build("llunet", 1, 1)
    cfg = TrainConfig(name="tiny", arch="llunet", domain="fluo", channels=1, steps=0)
    export(cfg, net, tmp_path, [], recipe="test")
    return tmp_path


def test_round_trip_gives_the_same_network(weights_dir):
    loaded = load_model("tiny")
    torch.manual_seed(0)
    ref = models.build("llunet", 1, 1)
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), ref(x))
    assert loaded.weights.parameters == models.count_parameters(ref)
    assert loaded.weights.sha256 == weights.sha256sum(weights_dir / "tiny.safetensors")


def test_a_record_names_a_weight_set_for_enhance(weights_dir, rng):
    out = enhance(rng.random((20, 20)), model="tiny")
    assert out.shape == (20, 20)


def test_missing_file_is_a_clear_error(weights_dir):
    (weights_dir / "tiny.safetensors").unlink()
    with pytest.raises(weights.WeightsError, match="missing"):
        load_model("tiny")


def test_truncated_file_is_a_clear_error(weights_dir):
    path = weights_dir / "tiny.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(weights.WeightsError, match="damaged or was changed"):
        load_model("tiny")


def test_tampered_file_is_a_clear_error(weights_dir):
    path = weights_dir / "tiny.safetensors"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(weights.WeightsError, match="sha256"):
        load_model("tiny")


def test_shapes_that_do_not_fit_the_architecture_are_a_clear_error(weights_dir):
    record = json.loads((weights_dir / "tiny.json").read_text())
    record["arch"] = "llunet24"
    (weights_dir / "tiny.json").write_text(json.dumps(record))
    with pytest.raises(weights.WeightsError, match="do not fit"):
        load_model("tiny")


def test_unknown_name_lists_what_is_installed(weights_dir):
    with pytest.raises(weights.WeightsError, match="found: tiny"):
        load_model("nope")


def test_weights_load_without_pickle(weights_dir):
    # A safetensors file is a JSON header plus raw tensors: no pickle opcodes to run.
    head = (weights_dir / "tiny.safetensors").read_bytes()[:8]
    header_len = int.from_bytes(head, "little")
    header = (weights_dir / "tiny.safetensors").read_bytes()[8 : 8 + header_len]
    assert json.loads(header)["__metadata__"]["arch"] == "llunet"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_are_installed_and_verified(name, monkeypatch):
    monkeypatch.delenv(weights.WEIGHTS_ENV, raising=False)
    net = load_model(name)
    record = net.weights
    assert record.parameters == models.count_parameters(net)
    assert record.macs_per_pixel == net.macs_per_pixel
    assert record.receptive_field_radius == net.receptive_field_radius
    assert record.recipe.startswith("napari-lowlight train --config configs/")
    assert np.isfinite(record.metrics["val_loss"])


def test_auto_uses_the_shipped_fluorescence_and_photo_weights(monkeypatch, rng):
    monkeypatch.delenv(weights.WEIGHTS_ENV, raising=False)
    from napari_lowlight import EnhanceJob

    assert EnhanceJob(rng.random((16, 16)), device="cpu").record.name == "fluo"
    assert EnhanceJob(rng.random((16, 16, 3)), channel_axis=-1, device="cpu").record.name == "photo"


def test_concurrent_metric_updates_keep_every_score(weights_dir):
    from concurrent.futures import ThreadPoolExecutor

    from napari_lowlight.training.records import set_metrics

    record = weights.get_weights("tiny")
    keys = [f"eval_{t}_{i}" for t in range(8) for i in range(25)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: set_metrics(record, k, {"psnr": 1.0}), keys))
    stored = weights.get_weights("tiny")
    assert set(keys) <= set(stored.metrics)
    assert stored.sha256 == record.sha256 and set(record.metrics) <= set(stored.metrics)
