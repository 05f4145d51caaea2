#!/usr/bin/env python3
"""Static checks: the import-linter layer contracts, ruff and mypy.

    python scripts/check.py                 # all three; exit 1 if any fails
    python scripts/check.py imports ruff    # some of them
    python scripts/check.py --stage DIR     # only lay out the tree in DIR (new or empty)

By hand, in DIR: PYTHONPATH=REPO lint-imports REPO/pyproject.toml (scripts/ holds the
stdlib_only contract type), or mypy --config-file REPO/pyproject.toml -p acorntui.

The repository keeps screens/ and db/ at the top level and the wheel installs them as
acorntui.screens and acorntui.db (setuptools package-dir). grimp (behind import-linter) and mypy
read packages from disk, and neither follows that mapping, nor the meta-path finder of an editable
install, so they would find no acorntui.screens or acorntui.db. This script copies the tree into
a temporary folder laid out as installed, runs the tools there, and reports repository paths
(acorntui/screens/x.py -> screens/x.py). The contracts and the mypy settings are in
pyproject.toml; the custom contract type is scripts/stdlib_contract.py.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
RUFF_PATHS = ["acorntui", "screens", "db", "tests", "bench", "scripts"]
STEPS = ("imports", "ruff", "mypy")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "*.db")


def package_dirs() -> dict[str, str]:
    """Installed package name -> repository folder, as pyproject.toml's package-dir says."""
    setuptools = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]
    return dict(setuptools["package-dir"])


def _skip(folder: str, names: list[str]) -> set[str]:
    """The usual junk, and the checkout's symlinks acorntui/db and acorntui/screens (the real
    folders are copied in their place)."""
    return set(_SKIP(folder, names)) | {n for n in names if os.path.islink(os.path.join(folder, n))}


def stage(dest: Path) -> Path:
    """Copy the packages into ``dest`` as they are installed; return ``dest``."""
    # parents first, so acorntui/ exists before acorntui/screens is copied into it
    for name, folder in sorted(package_dirs().items(), key=lambda kv: kv[0].count(".")):
        src = ROOT / folder
        if not (src / "__init__.py").is_file():
            raise SystemExit(f"check: package-dir maps {name} to {folder}/, which has no "
                             "__init__.py")
        shutil.copytree(src, dest / name.replace(".", "/"), ignore=_skip, dirs_exist_ok=True,
                        copy_function=shutil.copy2)  # copy2 keeps mtimes for mypy's cache
    return dest


def to_repo_paths(text: str, staged: Path) -> str:
    """Rewrite staged paths (acorntui/screens/x.py, absolute or not) as repository paths."""
    text = text.replace(f"{staged}{os.sep}", "")
    for name, folder in package_dirs().items():
        staged_prefix = name.replace(".", "/") + "/"
        if staged_prefix != folder + "/":
            text = re.sub(rf"(^|[\s\"'(]){re.escape(staged_prefix)}", rf"\g<1>{folder}/",
                          text, flags=re.M)
    return text


def _env(staged: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(staged), str(ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return out.returncode, out.stdout + out.stderr


def lint_imports(staged: Path) -> tuple[int, str]:
    """Run import-linter's contracts (pyproject.toml) on a staged tree."""
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))")
    rc, text = _run([sys.executable, "-c", code, str(PYPROJECT)], staged, _env(staged))
    names = ", ".join(f"{name} is {folder}/" for name, folder in package_dirs().items()
                      if name.replace(".", "/") != folder)
    return rc, to_repo_paths(text, staged) + f"(in the repository: {names})\n"


def mypy(staged: Path) -> tuple[int, str]:
    """Run mypy on the installed package names, settings from pyproject.toml."""
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(PYPROJECT),
           "--cache-dir", str(ROOT / ".mypy_cache"), "-p", "acorntui"]
    rc, text = _run(cmd, staged, _env(staged))
    return rc, to_repo_paths(text, staged)


def ruff() -> tuple[int, str]:
    """ruff reads the repository as it is: no staging needed."""
    return _run([sys.executable, "-m", "ruff", "check", *RUFF_PATHS], ROOT)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("steps", nargs="*", metavar="STEP",
                    help="imports, ruff, mypy (default: all three)")
    ap.add_argument("--stage", metavar="DIR", type=Path,
                    help="only copy the tree, laid out as installed, into DIR")
    args = ap.parse_args(argv)
    if args.stage:
        if args.stage.exists() and any(args.stage.iterdir()):
            ap.error(f"--stage {args.stage}: give a new or empty folder")
        print(stage(args.stage))
        return 0
    unknown = [s for s in args.steps if s not in STEPS]
    if unknown:
        ap.error(f"unknown step {unknown[0]!r}: choose from {', '.join(STEPS)}")
    steps = args.steps or list(STEPS)
    results: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="acorntui-check-") as tmp:
        staged = stage(Path(tmp))
        for step in steps:
            print(f"== {step}", flush=True)
            rc, text = ruff() if step == "ruff" else {"imports": lint_imports,
                                                       "mypy": mypy}[step](staged)
            print(text.rstrip("\n"), flush=True)
            results[step] = rc
    print("checks: " + ", ".join(f"{s} {'ok' if rc == 0 else 'FAILED'}"
                                 for s, rc in results.items()))
    return 0 if all(rc == 0 for rc in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
