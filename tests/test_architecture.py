"""The layout's promise: imports run one way, from the edges into the core.

The core (the package top and ``models/``) imports no napari, Qt, magicgui,
dask or streamlit, and nothing from the edges (``_napari/``, ``cli``,
``batch/``, ``bigdata``, ``web/``) or from ``training/``; training imports the core, never the napari edge.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "napari_lowlight"
EDGES = {"_napari", "cli", "training", "bigdata", "batch", "web"}  # what the core may never import
FOREIGN = {"napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "dask", "streamlit"}


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py"))


def _core() -> list[Path]:
    return [p for p in _modules(PACKAGE) if p.relative_to(PACKAGE).parts[0].removesuffix(".py") not in EDGES]


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved),
    wherever the import statement stands (inside functions too)."""
    here = ["napari_lowlight", *path.relative_to(PACKAGE).with_suffix("").parts]
    if here[-1] == "__init__":
        here.pop()
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = here[: len(here) - node.level + (path.name == "__init__.py")]
                base = ".".join(package + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _passes_in_a_fresh_process(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_core_is_what_it_should_be():
    names = {p.relative_to(PACKAGE).as_posix() for p in _core()}
    assert {"engine.py", "tiling.py", "normalize.py", "colour.py", "weights.py", "region_job.py"} <= names
    assert not any(n.startswith(("training/", "_napari/")) or n == "cli.py" for n in names)


@pytest.mark.parametrize("path", _core(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_core_modules_import_neither_edges_nor_gui_libraries(path):
    bad = sorted(
        name for name in _imports(path)
        if name.split(".")[0] in FOREIGN
        or (name.startswith("napari_lowlight.") and name.split(".")[1] in EDGES)
    )
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", _modules(PACKAGE / "training"), ids=lambda p: p.name)
def test_training_does_not_import_the_napari_edge(path):
    names = _imports(path)
    bad = sorted(n for n in names if n.split(".")[0] in FOREIGN or n.startswith("napari_lowlight._napari"))
    assert not bad, f"{path.name} imports {bad}"


def test_enhancing_in_a_fresh_process_loads_no_gui_dask_or_training_code():
    code = (
        "import sys, numpy as np, torch, napari_lowlight\n"
        "from napari_lowlight import models\n"
        "torch.manual_seed(0)\n"
        "net = models.build('llunet')\n"
        "out = napari_lowlight.enhance(np.random.default_rng(0).random((40, 40)), model=net)\n"
        "crops = napari_lowlight.enhance_regions(np.ones((40, 40)), [np.s_[5:20, 5:20]], model=net)\n"
        "assert out.shape == (40, 40) and crops[0].shape == (15, 15)\n"
        f"foreign = {sorted(FOREIGN)!r}\n"
        "edges = ('napari_lowlight.training', 'napari_lowlight._napari', 'napari_lowlight.cli')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in foreign or m.startswith(edges))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    _passes_in_a_fresh_process(code)


def test_importing_the_package_and_listing_models_does_not_load_torch():
    # napari imports the package when it discovers plugins; the CLI lists models for --help.
    code = (
        "import sys, napari_lowlight, napari_lowlight._napari\n"
        "from napari_lowlight import weights\n"
        "assert weights.available_weights()\n"
        "sys.exit(1 if 'torch' in sys.modules else 0)\n"
    )
    _passes_in_a_fresh_process(code)
