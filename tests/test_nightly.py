"""`acorntui nightly`: fetch from a real sshd, ingest into a real database, summarise."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sshd import (
    CLEAN_LOG,
    FAILED_LOG,
    sshd,  # noqa: F401
    write_config,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def run_cli(args, *, home, timeout=120):
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "acorntui", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def _results():
    from acorntui.db.models import Customer, Result, Server

    q = Result.select(Result, Server, Customer).join(Server).join(Customer)
    return {f"{r.server.customer.name}/{r.server.name}": r for r in q}


def test_nightly_fills_the_database(tmp_path, sshd, db_url, home):  # noqa: F811
    now = time.time()
    sshd.add_file("acme/fs1.out", CLEAN_LOG, mtime=now - 120)
    sshd.add_file("acme/ex1.out", FAILED_LOG, mtime=now - 120)
    sshd.add_file("beta/db1.out", "building file list ... done\nsent 12 bytes", mtime=now - 120)
    kh = sshd.write_known_hosts(tmp_path / "kh")
    cfg = write_config(tmp_path / "c.toml", spool=tmp_path / "spool",
                       servers=[sshd.report_server_toml(known_hosts=kh)])

    run = run_cli(["--db", db_url, "--config", str(cfg), "nightly"], home=home)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    # the job's state and the backups' state, in one line
    assert out.splitlines()[0].endswith(
        ": job ok (fetch 3, ingest 3, mail: mail not configured); "
        "backups: 1 failed, 1 incomplete"), out
    assert "3 logs listed, 3 fetched" in out
    assert "mail: mail not configured" in out
    assert "\r" not in out + run.stderr  # no terminal: a summary and nothing else

    from acorntui.db.models import Failure

    res = _results()
    assert res["acme/fs1"].status == "ok" and res["acme/fs1"].code == 0
    assert res["acme/ex1"].status == "failed" and res["acme/ex1"].code == 23
    assert [f.path for f in Failure.select().where(Failure.result == res["acme/ex1"].id)] == \
        ["/data/x.pst"]
    assert res["beta/db1"].status == "incomplete" and res["beta/db1"].reason == "incomplete"

    # the next night's run changes nothing
    again = run_cli(["--db", db_url, "--config", str(cfg), "nightly"], home=home)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 fetched" in again.stdout and "3 unchanged" in again.stdout


def test_report_server_down_gives_fetch_failed_not_missing(tmp_path, sshd, db_url, home):  # noqa: F811
    now = time.time()
    sshd.add_file("acme/fs1.out", CLEAN_LOG, mtime=now - 120)
    sshd.add_file("acme/old.out", CLEAN_LOG, mtime=now - 120)
    kh = sshd.write_known_hosts(tmp_path / "kh")
    cfg = write_config(tmp_path / "c.toml", spool=tmp_path / "spool",
                       servers=[sshd.report_server_toml(known_hosts=kh)])
    # one server's spool copy is from three days ago: without the fetch it would read "stale"
    spool_old = tmp_path / "spool" / "acme" / "old.out"
    spool_old.parent.mkdir(parents=True)
    spool_old.write_text(CLEAN_LOG)
    os.utime(spool_old, (now - 72 * 3600, now - 72 * 3600))
    from acorntui.db.models import Customer, Server

    c = Customer.create(name="acme", display_name="Acme")
    Server.create(customer=c, name="fs1")
    Server.create(customer=c, name="old")
    sshd.stop()

    run = run_cli(["--db", db_url, "--config", str(cfg), "nightly"], home=home)
    assert run.returncode == 1
    assert "problem: loopback: cannot connect to root@127.0.0.1" in run.stdout
    assert "fetch_failed recorded for 2 server(s)" in run.stdout
    res = _results()
    for label in ("acme/fs1", "acme/old"):
        assert res[label].status == "fetch_failed", (label, res[label].status)
        assert res[label].reason.startswith("fetch failed: report server loopback: cannot connect")


def test_database_error_is_one_line(tmp_path, home):
    bad = tmp_path / "not-a-db"
    bad.mkdir()
    cfg = write_config(tmp_path / "c.toml", spool=tmp_path / "spool", servers=[])
    run = run_cli(["--db", f"sqlite:///{bad}", "--config", str(cfg), "nightly"], home=home)
    assert run.returncode == 1
    assert run.stderr.strip().count("\n") == 0 and run.stderr.startswith("acorntui: ")
    assert "Traceback" not in run.stderr


def test_no_report_server_ingests_the_spool_as_it_is(tmp_path, sqlite_db):
    from acorntui.config import load_config
    from acorntui.jobs.nightly import run_nightly

    spool = tmp_path / "spool"
    (spool / "acme").mkdir(parents=True)
    (spool / "acme" / "fs1.out").write_text(FAILED_LOG)
    cfg = load_config(write_config(tmp_path / "c.toml", spool=spool, servers=[]))
    run = run_nightly(cfg)
    assert run.ok, run.problems
    assert any("no report server configured" in n for n in run.notes)
    assert _results()["acme/fs1"].status == "failed"
