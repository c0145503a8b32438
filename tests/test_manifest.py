"""The npe2 manifest: valid, every python_name imports, menus napari knows, sample data."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
from npe2 import PluginManifest

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "napari.yaml"
PACKAGED = ROOT / "src" / "napari_lowlight" / "_napari" / "napari.yaml"


@pytest.fixture(scope="module")
def manifest() -> PluginManifest:
    return PluginManifest.from_file(MANIFEST)


def test_manifest_is_valid_and_shipped_with_the_package(manifest):
    assert manifest.name == "napari-lowlight"
    # The package holds the real file; the repository root's napari.yaml points at it.
    assert PACKAGED.is_file() and not PACKAGED.is_symlink()
    assert MANIFEST.resolve() == PACKAGED.resolve()
    # What napari's entry point finds is this file.
    assert PluginManifest.from_distribution("napari-lowlight").contributions == manifest.contributions


def test_npe2_validate_command():
    from npe2.cli import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["validate", str(MANIFEST)])
    assert result.exit_code == 0 and "valid" in result.output, result.output


def test_every_python_name_imports(manifest):
    commands = manifest.contributions.commands
    assert len(commands) == 3
    for command in commands:
        module, _, attr = command.python_name.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), command.python_name


def test_contributions(manifest):
    c = manifest.contributions
    ids = {cmd.id for cmd in c.commands}
    assert [w.display_name for w in c.widgets] == ["Enhance low-light ROIs"]
    assert {s.key for s in c.sample_data} == {"dark_fluorescence", "low_light_photo"}
    assert all(w.command in ids for w in c.widgets) and all(s.command in ids for s in c.sample_data)


def test_menu_is_napari_layers_filters(manifest):
    from napari._app_model.constants import MenuId

    menus = manifest.contributions.menus
    assert list(menus) == [MenuId.LAYERS_FILTER]
    assert menus[MenuId.LAYERS_FILTER][0].command == "napari-lowlight.enhance_rois_widget"


def test_sample_data_is_dark_noisy_and_seeded():
    from napari_lowlight._napari import sample_data

    (fluo, meta, kind), = sample_data.fluorescence_sample()
    assert kind == "image" and fluo.dtype == np.uint16 and fluo.shape == (512, 512)
    assert np.median(fluo) < 0.1 * 4095  # dark in its 12-bit range
    np.testing.assert_array_equal(fluo, sample_data.dark_fluorescence())  # seeded: identical twice
    (photo, meta, kind), = sample_data.photo_sample()
    assert meta["rgb"] and photo.dtype == np.uint8 and photo.shape == (500, 741, 3)
    assert photo.mean() < 40  # a low-light exposure
    # Noisy: neighbouring pixels differ far more than in the clean photo.
    assert np.abs(np.diff(fluo.astype(float), axis=1)).mean() > 10


def test_plugin_import_is_cheap():
    import subprocess
    import sys

    code = "import sys, napari_lowlight; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
