"""The screens' side of the layering (DESIGN.md): screens call services and never import
``acorntui.db``; DB results reach a screen as typed messages, not through handler names built
from strings or probes of the App."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCREENS = sorted((ROOT / "screens").glob("*.py"))


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_screens_never_import_the_db_package():
    assert len(SCREENS) >= 9
    offenders = {p.name: sorted(m for m in imported_modules(p)
                                if m in ("acorntui.db", "db") or m.startswith(("acorntui.db.",
                                                                               "db.")))
                 for p in SCREENS}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_screens_use_typed_messages_and_the_typed_app():
    for p in SCREENS:
        text = p.read_text(encoding="utf-8")
        for needle in ('"on_db_', "on_db_", "getattr(self.app", "hasattr(self.app",
                       "handler_tag"):
            assert needle not in text, f"{p.name} still uses {needle!r}"


def test_the_session_module_screens_use_does_not_pull_in_textual():
    code = "import sys, acorntui.services.session; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
