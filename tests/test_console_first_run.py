"""The console's first run: on a database with no results, a panel with the next steps and the
real paths (the config file in effect, the spool, the database) instead of an empty grid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import act_as
from test_console import asynctest, grid_ready, make_app, wait_for
from test_console_hostile import check_screen

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "logs"


def open_like_the_cli(url: str):
    """What `acorntui --db URL` does before the console opens: connect, create the schema."""
    from acorntui import db as dbpkg
    from acorntui.db.schema import needs_init

    database = dbpkg.connect(url)
    if needs_init(database):
        dbpkg.init_schema(database)
    return database


def panel_text(screen) -> str:
    return screen.query_one("#first-run-text").render().plain


@asynctest
async def test_empty_database_shows_the_next_steps_with_the_real_paths(tmp_path, monkeypatch):
    from acorntui.config import config_path, load_config

    # the config file does not exist yet; its folder name is markup, shown literally
    monkeypatch.setenv("ACORN_CONFIG", str(tmp_path / "cfg [b]x[/b]" / "config.toml"))
    act_as(monkeypatch, "newbie")
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    database = open_like_the_cli(url)
    cfg = load_config()
    assert cfg.path == config_path() and not cfg.exists
    app = make_app(cfg=cfg, db_url=url)
    try:
        async with app.run_test(size=(120, 35)) as pilot:
            screen = await grid_ready(pilot)
            text = check_screen(app, [
                "No servers and no results yet. To get started (ctrl+r looks again):",
                "Run the commands as  acorntui --db",  # the URL may wrap; checked whole below
                "edit the config file (it does not exist yet)",
                str(cfg.path),
                "[[report_servers]]",
                'host = "reports.example.com"',
                'key_file = "~/.ssh/id_ed25519"',
                'remote_dir = "/reports"',
                f'known_hosts = "{cfg.path.parent / "known_hosts"}"',
                "acorntui fetch  then  acorntui ingest",
                "(fetch writes to the spool",
                "acorntui ingest SPOOL",
                "made-up data (a database of its own):  acorntui demo",
                "You (newbie) may only read: acorntui init-db makes the first user a TSR3",
                "no results yet: first steps below",
            ])
            # long paths (pytest's tmp_path) wrap on screen: whole in the panel's text. --db
            # was given, so the commands need it too (before the command)
            panel = panel_text(screen)
            assert f"Run the commands as  acorntui --db {url} COMMAND\n" in panel
            assert f"(fetch writes to the spool {cfg.spool_dir})\n" in panel
            assert "Customer" not in text  # no empty grid under the panel
            assert not screen.grid.display and screen.query_one("#first-run").display

            # the steps work: a log recorded by `acorntui ingest`, then ctrl+r shows the grid
            spool = tmp_path / "spool" / "acme"
            spool.mkdir(parents=True)
            (spool / "fs1.out").write_bytes((FIXTURES / "writeup_sample.out").read_bytes())
            proc = subprocess.run([sys.executable, "-m", "acorntui", "--db", url, "ingest",
                                   str(spool.parent)], capture_output=True, text=True,
                                  timeout=120)
            assert proc.returncode == 0, proc.stderr
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: screen.night is not None)
            text = check_screen(app, ["acme", "fs1", "Customer"])
            assert "To get started" not in text
            assert screen.grid.display and screen.grid.has_focus
            assert not screen.query_one("#first-run").display
    finally:
        database.close()


@asynctest
async def test_first_run_at_80x24_lists_configured_report_servers(tmp_path, monkeypatch):
    """With a config file that names a report server and a server already known (no results
    yet), the panel says so instead of showing the example (at 80x24)."""
    from acorntui.config import load_config
    from acorntui.db.models import Customer, Server

    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('[[report_servers]]\nname = "rpt"\nhost = "backup.example.net"\n'
                        'user = "acorn"\nremote_dir = "/srv/reports"\n')
    monkeypatch.setenv("ACORN_CONFIG", str(cfg_file))
    url = f"sqlite:///{tmp_path / 'e.db'}"
    database = open_like_the_cli(url)
    Server.create(customer=Customer.create(name="acme"), name="fs1")
    app = make_app(cfg=load_config(), db_url=url)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await grid_ready(pilot)
            text = check_screen(app, [
                "1 server known, no results yet.",
                "1. Report servers, from the config file",
                "rpt: acorn@backup.example.net:/srv/reports",
                "acorntui ingest SPOOL",
                "acorntui demo",
                "ctrl+r looks again",
            ])
            assert "[[report_servers]]" not in text and "does not exist" not in text
            # the paths are long here (pytest's tmp_path) and wrap at 80 columns: whole in
            # the panel's text
            panel = panel_text(screen)
            assert f"     {cfg_file}\n" in panel and f"--db {url} COMMAND" in panel
    finally:
        database.close()


@asynctest
async def test_fresh_machine_opens_the_default_database_and_shows_the_first_run(tmp_path,
                                                                               monkeypatch):
    """No user data directory yet (a fresh machine), no --db, no config file: the console
    opens on the default database the CLI creates and shows the first-run panel, whose
    commands need no --db (they reach the same database)."""
    import argparse

    from acorntui.cli.main import Ctx
    from acorntui.config import load_config

    data = tmp_path / "fresh-home" / ".local" / "share"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    assert not data.exists()
    cfg = load_config()
    ctx = Ctx(argparse.Namespace(db=None), cfg)  # what `acorntui` does before the console
    assert ctx.db_source == "default"
    database = ctx.connect()
    assert (data / "acorntui" / "acorntui.db").is_file()
    app = make_app(cfg=cfg, db_url=ctx.db_url)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await grid_ready(pilot)
            text = check_screen(app, ["No servers and no results yet.", "acorntui demo",
                                      "Database:"])
            assert panel_text(screen).endswith(f"Database: {ctx.db_url}")
            assert "--db" not in text  # the commands reach this database without it
            assert "retry" not in text and "may only read" not in text  # the first TSR3
    finally:
        database.close()
