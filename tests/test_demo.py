"""The demo generator: real log formats, through the real parser and ingest, reproducible."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import act_as

TODAY = dt.date(2025, 3, 15)


def _counts():
    from acorntui.services import queries

    rows = queries.nightly_rows(queries.latest_night())
    return queries.status_counts(rows), rows


def test_demo_has_the_situations_a_tsr_meets(tmp_path, monkeypatch):
    from acorntui.db.models import Csr, Exception_, Result, Tsr, Update
    from acorntui.jobs.demo import build_demo
    from acorntui.services import queries

    act_as(monkeypatch, "tester")
    spool = tmp_path / "spool"
    info = build_demo(tmp_path / "demo.db", servers=40, days=8, today=TODAY, spool=spool)
    assert info.nights == ["2025-03-07", "2025-03-14"]
    assert queries.latest_night() == TODAY - dt.timedelta(days=1)
    counts, rows = _counts()
    assert counts.get("failed") and counts.get("ok") and counts.get("fetch_failed") == 1
    assert counts.get("snoozed") == 1
    reasons = {r.reason for r in rows if r.status == "incomplete"}
    assert {"missing", "stale", "incomplete"} <= reasons
    outages = queries.custbak_outages(rows)
    assert outages[0].custbak == "custbak03" and len(outages[0].servers) == 12
    streak = max(rows, key=lambda r: r.bad_streak if r.ack_note else 0)
    assert streak.bad_streak >= 3 and streak.ack_note
    assert any(not r.registered for r in rows)
    assert Tsr.get(Tsr.login == "tester").level == 3 and Csr.select().count() == 3
    assert Exception_.select().where(Exception_.path_pattern == "*/Outlook/*.pst").exists()
    assert Result.select().where(Result.status == "ok_with_exceptions").exists()
    assert Update.select().where(Update.action == "result.ack").exists()
    # the real formats: CRLF + cygwin preamble for Windows, [sender] roles for Linux
    logs = list(spool.glob("*/*.out"))
    win = [p.read_bytes() for p in logs if b"cygwin warning" in p.read_bytes()]
    assert win and all(b"\r\n" in w for w in win)
    texts = b"".join(p.read_bytes() for p in logs)
    assert b"rsync: send_files failed to open \"/cygdrive/E/shares/" in texts
    assert b"(code 23) at main.c(1039) [sender=3.0.9]" in texts
    assert b"total size is " in texts and b"speedup is " in texts


def test_demo_is_reproducible_and_reused(tmp_path, monkeypatch):
    from acorntui.jobs.demo import build_demo, ensure_demo

    act_as(monkeypatch, "tester")
    build_demo(tmp_path / "a.db", servers=15, days=4, today=TODAY)
    a, _ = _counts()
    build_demo(tmp_path / "b.db", servers=15, days=4, today=TODAY)
    b, _ = _counts()
    assert a == b
    info, built = ensure_demo(tmp_path / "b.db", servers=15, days=4, today=TODAY)
    assert not built and info.servers == 15
    info, built = ensure_demo(tmp_path / "b.db", servers=15, days=5, today=TODAY)
    assert built and info.days == 5


def test_demo_command_no_tui(tmp_path):
    root = Path(__file__).resolve().parent.parent
    db = tmp_path / "d.db"
    out = subprocess.run(
        [sys.executable, "-m", "acorntui", "--db", f"sqlite:///{db}", "demo", "--servers", "10",
         "--days", "3", "--no-tui"], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"sqlite:///{db}"
    assert "10 servers, 3 nights" in out.stderr
    again = subprocess.run(
        [sys.executable, "-m", "acorntui", "--db", f"sqlite:///{db}", "demo", "--servers", "10",
         "--days", "3", "--no-tui"], cwd=root, capture_output=True, text=True, timeout=120)
    assert "reused" in again.stderr


# -- the demo never touches the configured database --------------------------------------------

def _real_db(path: Path) -> str:
    """A small 'production' SQLite database with one customer; returns its sha256."""
    import hashlib
    import sqlite3

    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO customers (name) VALUES ('real-customer')")
    con.commit()
    con.close()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _demo(tmp_path: Path, *args: str, env_extra: dict | None = None):
    import os

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"),
           "ACORN_CONFIG": str(tmp_path / "no-config.toml"), **(env_extra or {})}
    env.pop("ACORN_DB", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "acorntui", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("how", [
    "ACORN_DB",
    "config",
    "--db",
])
def test_demo_never_writes_to_the_configured_database(tmp_path, how):
    import hashlib
    import sqlite3

    real = tmp_path / "prod.db"
    digest = _real_db(real)
    url = f"sqlite:///{real}"
    env, args = {}, []
    if how == "ACORN_DB":
        env["ACORN_DB"] = url
    elif how == "config":
        cfg = tmp_path / "config.toml"
        cfg.write_text(f'[database]\nurl = "{url}"\n')
        env["ACORN_CONFIG"] = str(cfg)
    else:
        args = ["--db", url]
    out = _demo(tmp_path, *args, "demo", "--servers", "5", "--days", "2", "--no-tui",
                env_extra=env)
    if how == "--db":
        # pointed straight at a database it did not build: refused by name, nothing replaced
        assert out.returncode == 2, out.stderr
        assert f"{real} exists and is not a demo database" in out.stderr
        assert hashlib.sha256(real.read_bytes()).hexdigest() == digest
        assert not (tmp_path / "data" / "acorntui" / "demo.db").exists()
        return
    assert out.returncode == 0, out.stderr
    # the configured database is byte for byte what it was, with its one customer
    assert hashlib.sha256(real.read_bytes()).hexdigest() == digest
    con = sqlite3.connect(real)
    assert con.execute("SELECT name FROM customers").fetchall() == [("real-customer",)]
    con.close()
    # the demo went to its own file in the user data directory, and says where
    demo_db = tmp_path / "data" / "acorntui" / "demo.db"
    assert out.stdout.strip() == f"sqlite:///{demo_db}"
    assert demo_db.is_file() and f"demo database {demo_db}: 5 servers, 2 nights" in out.stderr


def test_demo_rebuild_builds_again(tmp_path):
    import sqlite3

    first = _demo(tmp_path, "demo", "--servers", "5", "--days", "2", "--no-tui")
    assert first.returncode == 0 and "built in " in first.stderr, first.stderr
    demo_db = Path(first.stdout.strip()[len("sqlite:///"):])
    con = sqlite3.connect(demo_db)  # a mark that only a rebuild removes
    con.execute("CREATE TABLE zz_mark (x INTEGER)")
    con.commit()
    con.close()

    def marked() -> bool:
        c = sqlite3.connect(demo_db)
        try:
            return c.execute("SELECT count(*) FROM sqlite_master WHERE name = 'zz_mark'"
                             ).fetchone()[0] == 1
        finally:
            c.close()

    again = _demo(tmp_path, "demo", "--servers", "5", "--days", "2", "--no-tui")
    assert again.returncode == 0 and "reused (built today" in again.stderr, again.stderr
    assert marked()
    rebuilt = _demo(tmp_path, "demo", "--servers", "5", "--days", "2", "--no-tui", "--rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "built in " in rebuilt.stderr and "reused" not in rebuilt.stderr
    assert rebuilt.stdout.strip() == first.stdout.strip()
    assert not marked()
    assert f"demo database {demo_db}: 5 servers, 2 nights" in rebuilt.stderr
