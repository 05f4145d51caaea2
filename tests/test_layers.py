"""The layering is checked, not promised: the import-linter contracts in pyproject.toml, run by
scripts/check.py on a copy of the tree laid out as installed."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _checker():
    spec = importlib.util.spec_from_file_location("acorn_check", ROOT / "scripts" / "check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def check():
    return _checker()


def test_layer_contracts_hold(check, tmp_path):
    staged = check.stage(tmp_path)
    # the staged tree holds the mapped packages, or the contracts would check nothing
    assert (staged / "acorntui" / "screens" / "nightly.py").is_file()
    assert (staged / "acorntui" / "db" / "models.py").is_file()
    rc, out = check.lint_imports(staged)
    assert rc == 0, out
    assert "0 broken" in out, out


def test_a_forbidden_import_is_caught(check, tmp_path):
    staged = check.stage(tmp_path)
    nights = staged / "acorntui" / "core" / "nights.py"
    nights.write_text(nights.read_text() + "\nimport textual  # noqa\n")
    models = staged / "acorntui" / "db" / "models.py"
    models.write_text(models.read_text() + "\nfrom acorntui.services import audit  # noqa\n")
    rc, out = check.lint_imports(staged)
    assert rc != 0
    assert "acorntui.core imports only itself and the standard library BROKEN" in out
    assert "acorntui.core.nights imports textual" in out
    assert "acorntui.db imports nothing of acorntui outside acorntui.db BROKEN" in out
    assert "acorntui.db.models -> acorntui.services.audit" in out
    # through core.nights, the services now reach Textual too
    # (a long contract name is printed with no space before its verdict)
    assert re.search(r"services, reports, jobs, fetch and alerts import neither the screens "
                     r"nor Textual ?BROKEN", out), out


def test_check_script_reports_repository_paths(check, tmp_path):
    staged = tmp_path / "staged"
    text = (f"{staged}/acorntui/screens/nightly.py:3: error: x\n"
            "acorntui/db/models.py:9: error: y\nacorntui/core/parser.py:1: note: z\n")
    assert check.to_repo_paths(text, staged) == (
        "screens/nightly.py:3: error: x\ndb/models.py:9: error: y\n"
        "acorntui/core/parser.py:1: note: z\n")
