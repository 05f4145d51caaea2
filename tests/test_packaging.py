"""The wheel carries one top-level package, acorntui, with every .py/.tcss/data file of the
repository's acorntui/, screens/ and db/ folders (screens and db as acorntui.screens and
acorntui.db)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(600)
def test_wheel_contents(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         str(ROOT), "-w", str(tmp_path)], capture_output=True, text=True)
    if out.returncode != 0:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w",
             str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    wheel = next(tmp_path.glob("acorntui-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for pkg, installed_as in (("acorntui", "acorntui"), ("screens", "acorntui/screens"),
                              ("db", "acorntui/db")):
        for f in (ROOT / pkg).rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts and f.suffix in (
                    ".py", ".tcss", ".tsv", ".toml", ".json"):
                expected.add(f"{installed_as}/{f.relative_to(ROOT / pkg).as_posix()}")
    assert "acorntui/core/parser.py" in expected
    assert "acorntui/db/data/error_codes.tsv" in expected
    assert "acorntui/screens/nightly.py" in expected
    top = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top == {"acorntui"}, f"the wheel installs more than one top-level package: {top}"
    missing = expected - names
    assert not missing, f"not in the wheel: {sorted(missing)}"
    entry = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "acorntui = acorntui.cli.main:main" in entry


def test_python_m_acorntui_runs():
    out = subprocess.run([sys.executable, "-m", "acorntui", "--version"], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.startswith("acorntui ")
