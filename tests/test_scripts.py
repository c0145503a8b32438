"""Every kept script imports what it needs from the installed package (no sys.path accidents)
and the folder README names each of them."""

import importlib.util
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
PYTHON = sorted(SCRIPTS.rglob("*.py"))


@pytest.mark.parametrize("path", PYTHON, ids=lambda p: p.relative_to(SCRIPTS).as_posix())
def test_script_imports_cleanly(path, monkeypatch):
    # Run from elsewhere: a script that imported a sibling through the current folder would fail.
    monkeypatch.chdir(path.anchor)
    spec = importlib.util.spec_from_file_location(f"script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # their work sits behind `if __name__ == "__main__"`
    assert module.__doc__, f"{path.name} has no docstring saying what it is for"


def test_readme_names_every_script():
    readme = (SCRIPTS / "README.md").read_text()
    for path in [*PYTHON, *SCRIPTS.rglob("*.sh")]:
        assert path.relative_to(SCRIPTS).as_posix() in readme, path
