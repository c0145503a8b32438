import pytest
import torch

from napari_lowlight import devices


def test_auto_picks_the_best_available(monkeypatch):
    monkeypatch.delenv(devices.DEVICE_ENV, raising=False)
    assert devices.get_device("auto").type == devices.available_devices()[0]
    assert devices.available_devices()[-1] == "cpu"


def test_environment_variable_forces_the_cpu(monkeypatch):
    monkeypatch.setenv(devices.DEVICE_ENV, "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert devices.get_device("auto") == torch.device("cpu")


def test_auto_prefers_cuda_when_present(monkeypatch):
    monkeypatch.delenv(devices.DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert devices.get_device("auto").type == "cuda"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_explicit_cuda_without_a_gpu_explains_itself():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        devices.get_device("cuda")


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="Unknown device"):
        devices.get_device("gpu0")


def test_precision_auto_is_fp32_on_cpu_and_fp16_on_cuda():
    assert devices.get_dtype("auto", torch.device("cpu")) == torch.float32
    assert devices.get_dtype("auto", torch.device("cuda")) == torch.float16
    assert devices.get_dtype("bf16", torch.device("cpu")) == torch.bfloat16


def test_threads_follow_the_cores_we_may_use():
    import os

    assert devices.set_threads() == len(os.sched_getaffinity(0)) == torch.get_num_threads()
