"""The wheel carries one top-level package, acorntui, with every .py/.tcss/data file of the
repository's acorntui/, screens/ and db/ folders (screens and db as acorntui.screens and
acorntui.db); installed into a fresh venv beside another distribution that ships generic
top-level `db` and `screens` packages, the CLI and the console work and the other package is
left intact."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from conftest import skip_or_fail

ROOT = Path(__file__).resolve().parent.parent


def _pip_wheel(src: Path, out: Path) -> Path:
    """``pip wheel --no-deps`` (without build isolation when this environment's setuptools
    is new enough, else with it, which fetches setuptools)."""
    args = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(out)]
    p = subprocess.run([*args, "--no-build-isolation"], capture_output=True, text=True)
    if p.returncode != 0:
        p = subprocess.run(args, capture_output=True, text=True)
    assert p.returncode == 0, f"pip wheel {src} failed: {p.stderr.strip()[-2000:]}"
    return next(out.glob("*.whl"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = _pip_wheel(ROOT, out)
    assert built.name.startswith("acorntui-"), built
    return built


@pytest.mark.timeout(600)
def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for pkg, installed_as in (("acorntui", "acorntui"), ("screens", "acorntui/screens"),
                              ("db", "acorntui/db")):
        for f in (ROOT / pkg).rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts and f.suffix in (
                    ".py", ".tcss", ".tsv", ".toml", ".json", ".html"):
                expected.add(f"{installed_as}/{f.relative_to(ROOT / pkg).as_posix()}")
    assert "acorntui/core/parser.py" in expected
    assert "acorntui/db/data/error_codes.tsv" in expected
    assert "acorntui/screens/nightly.py" in expected
    assert "acorntui/reports/templates/failures.html" in expected  # the mails' templates
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


OTHER_PYPROJECT = """\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "generic-db-screens"
version = "1.0"

[tool.setuptools]
packages = ["db", "screens"]
"""

# run in the venv: the console on a database, headless, as a TSR would see it first
CONSOLE_SNIPPET = textwrap.dedent("""\
    import asyncio, sys
    import acorntui.db
    from acorntui.app import AcornApp
    from acorntui.config import load_config

    async def main(url):
        acorntui.db.connect(url)
        app = AcornApp(cfg=load_config(), db_url=url, cursor_blink=False)
        async with app.run_test(size=(140, 40)) as pilot:
            for _ in range(200):
                await pilot.pause(0.05)
                grid = getattr(app.screen, "grid", None)
                if grid is not None and grid.rows:
                    break
            print(type(app.screen).__name__, app.title, len(app.screen.grid.rows))

    asyncio.run(main(sys.argv[1]))
""")


def _purelib(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; "
                          "print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_installed_wheel_works_beside_generic_db_and_screens(wheel, tmp_path):
    """pip wheel, a fresh venv, the acorntui wheel installed INTO it next to a distribution
    that owns top-level `db` and `screens`; then the CLI and the console from the venv.

    The venv is created plain and without pip (the running pip installs into it with
    --python); its dependencies (Textual, peewee...) come from this test environment's
    site-packages through a .pth file, as --system-site-packages would give them: a path line
    in a .pth adds the folder but runs none of its .pth files, so an editable acorntui there
    is never imported. The test checks which acorntui the venv imports."""
    other = tmp_path / "other"
    for pkg in ("db", "screens"):
        (other / pkg).mkdir(parents=True)
        (other / pkg / "__init__.py").write_text(f'OWNER = "generic-db-screens"\nNAME = "{pkg}"\n')
    (other / "pyproject.toml").write_text(OTHER_PYPROJECT)
    other_wheel = _pip_wheel(other, tmp_path / "other-wheel")
    assert {n.split("/")[0] for n in zipfile.ZipFile(other_wheel).namelist()} >= {"db", "screens"}

    venv = tmp_path / "venv"
    p = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                       capture_output=True, text=True)
    if p.returncode != 0:  # Debian without python3-venv
        skip_or_fail(f"python -m venv does not work here: {p.stderr.strip()[-300:]}")
    python = venv / "bin" / "python"
    site_dir = _purelib(python)
    deps = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))
            and Path(p).is_dir()]
    # install first, then expose the dependencies: with them visible, pip would see the test
    # environment's own acorntui 0.1.0 (a normal install in CI) as "already satisfied" and skip
    p = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                        "--no-deps", "--no-index", str(wheel), str(other_wheel)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    (site_dir / "_test_dependencies.pth").write_text("".join(f"{p}\n" for p in deps))

    work = tmp_path / "work"  # an empty working directory: nothing importable by accident
    work.mkdir()
    env = {"HOME": str(tmp_path / "home"), "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
           "LANG": "C.UTF-8"}

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), capture_output=True, text=True, cwd=work, env=env,
                              timeout=300)

    where = run(str(python), "-c", "import acorntui, acorntui.db, acorntui.screens, db, screens;"
                " print(acorntui.__file__); print(acorntui.db.__file__);"
                " print(acorntui.screens.__file__); print(db.__file__, db.OWNER, db.NAME);"
                " print(screens.__file__, screens.OWNER, screens.NAME)")
    assert where.returncode == 0, where.stderr
    lines = where.stdout.splitlines()
    assert lines[0] == str(site_dir / "acorntui" / "__init__.py"), "not the installed wheel"
    assert lines[1] == str(site_dir / "acorntui" / "db" / "__init__.py")
    assert lines[2] == str(site_dir / "acorntui" / "screens" / "__init__.py")
    assert lines[3] == f"{site_dir / 'db' / '__init__.py'} generic-db-screens db"
    assert lines[4] == f"{site_dir / 'screens' / '__init__.py'} generic-db-screens screens"

    acorn = str(venv / "bin" / "acorntui")
    p = run(acorn, "codes", "23")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("Code 23: Partial transfer due to error")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    p = run(acorn, "init-db", "--db", url)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"created 11 tables in {url}: ")
    assert run(acorn, "customer", "add", "acme", "--db", url).returncode == 0
    p = run(acorn, "customer", "list", "--db", url)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[1].startswith("acme ")

    demo = f"sqlite:///{tmp_path / 'demo.db'}"
    p = run(acorn, "demo", "--no-tui", "--servers", "6", "--days", "3", "--db", demo)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == demo and "6 servers, 3 nights" in p.stderr
    p = run(str(python), "-c", CONSOLE_SNIPPET, demo)
    assert p.returncode == 0, p.stderr
    screen, title, rows = p.stdout.split()
    with sqlite3.connect(tmp_path / "demo.db") as con:  # 6 servers and one unregistered log
        servers = con.execute("SELECT count(*) FROM servers").fetchone()[0]
    assert (screen, title, int(rows)) == ("NightlyScreen", "acorntui", servers) and servers >= 6

    # the other distribution's packages are still its own, files and all
    for pkg in ("db", "screens"):
        assert (site_dir / pkg / "__init__.py").read_text().startswith(
            'OWNER = "generic-db-screens"')
        assert sorted(f.name for f in (site_dir / pkg).iterdir()
                      if f.name != "__pycache__") == ["__init__.py"]
