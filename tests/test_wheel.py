"""The built wheel carries the manifest and the weights and works from a fresh
virtual environment.

Installing napari and torch from scratch takes minutes, so the fresh
environment borrows this environment's *dependencies* through a ``.pth`` line
while the package itself comes only from the wheel (``--no-deps``); the test
checks that ``napari_lowlight`` is imported from the fresh environment and
that ``pip check`` finds every declared dependency satisfied.
"""

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd, cwd=None):
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, check=False)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, ROOT)
    (whl,) = out.glob("napari_lowlight-*.whl")
    return whl


@pytest.mark.slow
def test_wheel_carries_manifest_and_every_weight_set(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "napari_lowlight/_napari/napari.yaml" in names
    assert "napari_lowlight/normalize_fits.json" in names  # normalize reads its fitted curves from it
    shipped = sorted(p.name for p in (ROOT / "weights").iterdir() if p.suffix in (".json", ".safetensors"))
    assert shipped, "no weights in weights/"
    packed = [n.split("/")[-1] for n in names if n.startswith("napari_lowlight/weights/")]
    assert sorted(n for n in packed if n.endswith((".json", ".safetensors"))) == shipped
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "napari_lowlight._napari:napari.yaml" in text
    assert "napari-lowlight = napari_lowlight.cli:main" in text


@pytest.mark.slow
def test_fresh_environment_validates_the_plugin_and_enhances_with_shipped_weights(wheel, tmp_path):
    venv = tmp_path / "fresh"
    _run(sys.executable, "-m", "venv", venv)
    py = venv / "bin" / "python"
    site = _run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    (Path(site) / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # The venv's own old setuptools would shadow the borrowed one that torch requires.
    _run(py, "-m", "pip", "uninstall", "-q", "-y", "setuptools")
    _run(py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel)
    _run(py, "-m", "pip", "check")
    assert "valid" in _run(py, "-m", "npe2", "validate", "napari-lowlight", cwd=tmp_path)
    script = (
        "import numpy as np, napari_lowlight as nl\n"
        "from napari_lowlight import weights\n"
        f"assert nl.__file__.startswith({str(site)!r}), nl.__file__\n"
        f"assert str(weights.weights_dir()).startswith({str(site)!r})\n"
        "rng = np.random.default_rng(0)\n"
        "grey = nl.enhance((rng.random((70, 90)) * 50).astype(np.uint8))\n"
        "rgb = nl.enhance((rng.random((40, 50, 3)) * 30).astype(np.uint8), channel_axis=-1)\n"
        "assert grey.shape == (70, 90) and rgb.shape == (40, 50, 3)\n"
        "print(sorted(nl.available_weights()))\n"
    )
    out = _run(py, "-c", script, cwd=tmp_path)
    assert "fluo" in out and "photo" in out and "llcnn-paper" in out
