"""`acorntui nightly` sends the daily failures and the three-day report after ingest."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from smtp_server import start_smtp

from acorntui.cli.main import main

NOW = dt.datetime(2026, 11, 26, 7, 0, 0)
OK_LOG = ("sending incremental file list\n/data/a.txt\n\n"
          "sent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\n"
          "total size is 9,999  speedup is 7.75\n")
FAIL_LOG = ('rsync: [sender] send_files failed to open "/data/Mail/boss.pst": '
            "Permission denied (13)\n"
            "sent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\n"
            "total size is 9,999  speedup is 7.75\n"
            "rsync error: some files/attrs were not transferred (see previous errors) "
            "(code 23) at main.c(1338) [sender=3.2.7]\n")


@pytest.fixture
def smtp():
    srv = start_smtp()
    yield srv
    srv.stop()


def put(spool, customer, server, text, when):
    p = spool / customer / f"{server}.out"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    os.utime(p, (when.timestamp(), when.timestamp()))


def mail_config(tmp_path, smtp, monkeypatch):
    """A config file (spool in tmp_path, mail to the test SMTP server) set as ACORN_CONFIG;
    returns the spool folder."""
    spool = tmp_path / "spool"
    cfg = tmp_path / "acorn.toml"
    cfg.write_text(f"""
[spool]
dir = "{spool}"
[mail]
host = "127.0.0.1"
port = {smtp.port}
security = "none"
from = "backups@example.com"
to = ["tsr-team@example.com"]
outbox_dir = "{tmp_path / 'outbox'}"
""")
    cfg.chmod(0o600)
    monkeypatch.setenv("ACORN_CONFIG", str(cfg))
    return spool


def test_nightly_mails_daily_and_three_day_reports(tmp_path, monkeypatch, smtp, sqlite_url,
                                                  capsys):
    spool = mail_config(tmp_path, smtp, monkeypatch)
    # three nights: acme/mail01 fails every night, acme/fs01 only the last one
    for back in (2, 1, 0):
        morning = NOW - dt.timedelta(days=back)
        when = morning - dt.timedelta(hours=4)
        put(spool, "acme", "mail01", FAIL_LOG, when)
        put(spool, "acme", "fs01", FAIL_LOG if back == 0 else OK_LOG, when)
        # each morning's run; only the last one mails
        args = ["--db", sqlite_url, "nightly", "--now", morning.isoformat()]
        if back:
            args.append("--no-mail")
        rc = main(args)
        assert rc == 0
    # the last run's first line: the job's state and the backups' state
    out = capsys.readouterr().out.splitlines()
    assert [ln for ln in out if ln.startswith("nightly 2026-11-25:")] == [
        "nightly 2026-11-25: job ok (no fetch, ingest 2, mail 2 sent); backups: 2 failed"]
    subjects = sorted(m.subject for m in smtp.messages)
    assert len(smtp.messages) == 2, subjects
    daily = next(m for m in smtp.messages if "to" not in m.subject.split(":")[0])
    three = next(m for m in smtp.messages if m is not daily)
    assert "2026-11-25" in daily.subject and "2 failed" in daily.subject
    assert "acme" in daily.part("plain") and "/data/Mail/boss.pst" in daily.part("plain")
    assert "<table" in daily.part("html")
    # the three-day report names only the server that failed all three nights
    text = three.part("plain")
    assert "mail01" in text and "fs01" not in text
    assert "2026-11-23" in three.subject and "2026-11-25" in three.subject
