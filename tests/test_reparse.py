"""Re-parse one server: fetch its log from a real sshd, replace the night's result, audit."""

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
    _home,  # noqa: F401
    make_cfg,
    sshd,  # noqa: F401
    write_config,
)

from acorntui.config import load_config
from acorntui.services.roles import PermissionDenied, User

ROOT = Path(__file__).resolve().parent.parent
TSR = User("tsr1", "tsr", "Tess", 2)


def _cfg(tmp_path, sshd):  # noqa: F811
    return make_cfg(tmp_path, sshd)


def _result(customer, server):
    from acorntui.db.models import Customer, Result, Server

    return (Result.select(Result).join(Server).join(Customer)
            .where((Customer.name == customer) & (Server.name == server)).get())


def test_reparse_fetches_and_replaces_the_nights_result(tmp_path, sshd, any_db):  # noqa: F811
    from acorntui.db.models import Failure, Result, Update
    from acorntui.jobs.nightly import run_nightly
    from acorntui.jobs.reparse import reparse_server

    now = time.time()
    sshd.add_file("acme/fs1.out", CLEAN_LOG, mtime=now - 600)
    cfg = _cfg(tmp_path, sshd)
    assert run_nightly(cfg, send_mail=False).ok
    before = _result("acme", "fs1")
    assert before.status == "ok"

    # the customer's log was rewritten (a re-run of the backup): same night, now failing
    sshd.add_file("acme/fs1.out", FAILED_LOG, mtime=now - 300)
    out = reparse_server(cfg, "acme", "fs1", user=TSR)
    assert out.status == "failed" and out.code == 23
    assert out.source == "fetched from loopback"
    after = _result("acme", "fs1")
    assert after.id == before.id and after.night == before.night
    assert Result.select().count() == 1
    assert [f.path for f in Failure.select().where(Failure.result == after.id)] == ["/data/x.pst"]
    audit = Update.get(Update.action == "result.reparse")
    assert audit.login == "tsr1" and audit.result_id == after.id
    assert '"status": "ok"' in audit.before and '"status": "failed"' in audit.after

    # the same log again is re-parsed all the same (a parser fix must reach old results)
    again = reparse_server(cfg, "acme", "fs1", user=TSR, night=before.night)
    assert again.status == "failed"
    assert "identical" in again.source
    assert Update.select().where(Update.action == "result.reparse").count() == 2


def test_reparse_needs_the_reparse_role(tmp_path, sshd, sqlite_db):  # noqa: F811
    from acorntui.jobs.reparse import reparse_server

    sshd.add_file("acme/fs1.out", CLEAN_LOG)
    with pytest.raises(PermissionDenied, match="may not re-parse"):
        reparse_server(_cfg(tmp_path, sshd), "acme", "fs1", user=User("visitor", "read-only"))
    assert not (tmp_path / "spool" / "acme" / "fs1.out").exists()


def test_reparse_of_an_unknown_log_or_a_down_server_says_why(tmp_path, sshd, sqlite_db):  # noqa: F811
    from acorntui.db.models import Result
    from acorntui.jobs.reparse import ReparseError, reparse_server

    cfg = _cfg(tmp_path, sshd)
    with pytest.raises(ReparseError, match="acme/nope.out is not on the report server"):
        reparse_server(cfg, "acme", "nope", user=TSR)
    sshd.stop()
    with pytest.raises(ReparseError, match="cannot fetch the log: loopback: cannot connect"):
        reparse_server(cfg, "acme", "fs1", user=TSR)
    with pytest.raises(ReparseError, match="'x/y' is not a valid name: contains a slash"):
        reparse_server(cfg, "acme", "x/y", user=TSR)
    with pytest.raises(ReparseError, match="'..' is not a valid name: a dot name"):
        reparse_server(cfg, "..", "fs1", user=TSR)
    assert Result.select().count() == 0


def test_without_report_server_the_spool_copy_is_reread(tmp_path, sqlite_db):
    from acorntui.jobs.reparse import reparse_server

    spool = tmp_path / "spool"
    (spool / "acme").mkdir(parents=True)
    (spool / "acme" / "fs1.out").write_text(CLEAN_LOG)
    cfg = load_config(write_config(tmp_path / "c.toml", spool=spool, servers=[]))
    out = reparse_server(cfg, "acme", "fs1", user=TSR)
    assert out.status == "ok"
    assert "no report server configured" in out.source


def test_cli_reparse_prints_the_new_status(tmp_path, sshd, db_url, _home):  # noqa: F811
    from acorntui.db.models import Tsr
    from acorntui.services.roles import current_login

    Tsr.create(name="Tess", login=current_login(), level=2)  # the login comes from the kernel
    sshd.add_file("acme/ex1.out", FAILED_LOG)
    cfg = _cfg(tmp_path, sshd)
    env = {**os.environ, "HOME": str(_home), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "acorntui", "--db", db_url, "--config",
                          str(cfg.path), "reparse", "acme/ex1"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "acme/ex1 night " in run.stdout
    assert ": failed (1 file error not excepted), code 23" in run.stdout
    assert _result("acme", "ex1").status == "failed"

    # the same login as a CSR (the login comes from the kernel: USER/LOGNAME change nothing)
    from acorntui.db.models import Csr

    Tsr.delete().execute()
    Csr.create(name="Tess", login=current_login())
    env["LOGNAME"] = env["USER"] = "tsr1"
    run = subprocess.run([sys.executable, "-m", "acorntui", "--db", db_url, "--config",
                          str(cfg.path), "reparse", "acme/ex1"], capture_output=True, text=True,
                         env=env, timeout=60)
    # a role refusal exits 3 (acorntui.errors), like every other command's
    assert run.returncode == 3, run.stderr
    assert "may not re-parse" in run.stderr
