"""The demo generator: real log formats, through the real parser and ingest, reproducible."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

TODAY = dt.date(2025, 3, 15)


def _counts():
    from acorntui.services import queries

    rows = queries.nightly_rows(queries.latest_night())
    return queries.status_counts(rows), rows


def test_demo_has_the_situations_a_tsr_meets(tmp_path, monkeypatch):
    from acorntui.db.models import Csr, Exception_, Result, Tsr, Update

    from acorntui.jobs.demo import build_demo
    from acorntui.services import queries

    monkeypatch.setenv("LOGNAME", "tester")
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

    monkeypatch.setenv("LOGNAME", "tester")
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
