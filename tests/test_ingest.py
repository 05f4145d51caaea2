"""Ingest: idempotent, replaces newer logs with an audit row, missing/stale, exceptions."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from acorntui.cli.main import main
from acorntui.db.models import Customer, Exception_, Failure, Result, Server, Update
from acorntui.services import exceptions as er
from acorntui.services.ingest import Ingestor, night_of, record_fetch_failed, reevaluate
from acorntui.services.roles import User

NOW = dt.datetime(2026, 11, 26, 7, 0, 0)  # the morning after night 2026-11-25
LOG_TIME = dt.datetime(2026, 11, 26, 2, 30, 0)  # written at 02:30 -> night 2026-11-25
NIGHT = dt.date(2026, 11, 25)
TSR = User("tess", "tsr", "Tess", 2)

CLEAN_309 = (
    "cygwin warning:\r\n  MS-DOS style path detected: c:\\progra~1\\cwRsync\\bin\\plink.exe\r\n"
    "building file list ... done\r\n/cygdrive/D/\r\n/cygdrive/D/atc/exchbak/publicfolders.bkf\r\n"
    "\r\nsent 23990367 bytes  received 120237 bytes  1176127.02 bytes/sec\r\n"
    "total size is 294748160  speedup is 12.22\r\n"
)
PST = "/cygdrive/E/shares/Mail/outlook.pst"
QBW = "/cygdrive/E/shares/QB/Company.QBW"
FAIL_309 = (
    "building file list ... done\r\n/cygdrive/E/shares/\r\n"
    f'rsync: send_files failed to open "{PST}": Permission denied (13)\r\n'
    f'rsync: send_files failed to open "{QBW}": Device or resource busy (16)\r\n'
    "\r\nsent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\r\n"
    "total size is 9,999  speedup is 7.75\r\n"
    "rsync error: some files could not be transferred (code 23) at main.c(1039) "
    "[sender=3.0.9]\r\n"
)
UNRECOGNISED_23 = (
    "rsync: something new went wrong\n"
    "rsync error: some files/attrs were not transferred (see previous errors) (code 23) at "
    "main.c(1338) [sender=3.2.7]\n"
)


def write_log(root: Path, customer: str, server: str, text: str,
              when: dt.datetime = LOG_TIME) -> Path:
    p = root / customer / f"{server}.out"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text.encode("utf-8"))
    ts = when.timestamp()
    os.utime(p, (ts, ts))
    return p


def snapshot() -> dict:
    """Everything ingest writes, minus ids and parse timestamps."""
    results = sorted(
        (r.server.customer.name, r.server.name, str(r.night), r.code, r.status, r.reason,
         r.log_sha256, r.error_count, r.excepted_count, r.total_size, r.sent_bytes)
        for r in Result.select())
    failures = sorted(
        (f.result.server.name, str(f.result.night), f.path, f.line, f.kind, f.excepted)
        for f in Failure.select())
    return {"results": results, "failures": failures, "updates": Update.select().count(),
            "servers": Server.select().count()}


@pytest.fixture
def spool(tmp_path):
    root = tmp_path / "spool"
    write_log(root, "acme", "mail01", FAIL_309)
    write_log(root, "acme", "fs01", CLEAN_309)
    write_log(root, "globex", "sql01", UNRECOGNISED_23)
    return root


def test_night_of_uses_cutoff():
    assert night_of(dt.datetime(2026, 11, 26, 2, 30)) == dt.date(2026, 11, 25)
    assert night_of(dt.datetime(2026, 11, 25, 23, 0)) == dt.date(2026, 11, 25)
    assert night_of(dt.datetime(2026, 11, 26, 13, 0)) == dt.date(2026, 11, 26)
    assert night_of(dt.datetime(2026, 11, 26, 5, 0), cutoff_hours=4) == dt.date(2026, 11, 26)


def test_spool_ingest_records_and_is_idempotent(any_db, spool):
    rep = Ingestor(now=NOW).ingest_paths([spool])
    assert [o.action for o in rep.outcomes] == ["created"] * 3
    by = {(r.server.name): r for r in Result.select()}
    assert by["fs01"].status == "ok" and by["fs01"].code == 0
    assert by["fs01"].night == NIGHT and by["fs01"].total_size == 294748160
    assert by["mail01"].status == "failed" and by["mail01"].code == 23
    assert by["mail01"].rsync_version == "3.0.9"
    assert sorted(f.path for f in by["mail01"].failures) == sorted([PST, QBW])
    # a 23 whose errors were not recognised is never ok
    assert by["sql01"].status == "failed" and by["sql01"].reason == "unrecognised errors"
    # the unknown customer/server shows up, marked unregistered
    s = Server.get(Server.name == "sql01")
    assert s.registered is False and s.customer.name == "globex"
    before = snapshot()
    rep2 = Ingestor(now=NOW).ingest_paths([spool])
    assert [o.action for o in rep2.outcomes] == ["unchanged"] * 3
    assert snapshot() == before


def test_newer_log_replaces_result_and_is_audited(any_db, spool):
    Ingestor(now=NOW).ingest_paths([spool])
    old = Result.get(Result.server == Server.get(Server.name == "mail01"))
    write_log(spool, "acme", "mail01", CLEAN_309, when=LOG_TIME + dt.timedelta(hours=3))
    out = Ingestor(now=NOW + dt.timedelta(hours=3)).ingest_file(spool / "acme" / "mail01.out")
    assert out.action == "replaced" and out.status == "ok"
    new = Result.get_by_id(old.id)
    assert new.status == "ok" and new.code == 0 and new.error_count == 0
    assert Failure.select().where(Failure.result == old.id).count() == 0
    assert Result.select().where(Result.server == old.server).count() == 1
    upd = Update.get(Update.action == "result.replace")
    assert json.loads(upd.before)["status"] == "failed"
    assert json.loads(upd.after)["status"] == "ok"
    assert upd.result_id == old.id


def test_older_copy_does_not_replace_newer(sqlite_db, tmp_path):
    p = write_log(tmp_path / "s", "acme", "mail01", CLEAN_309,
                  when=LOG_TIME + dt.timedelta(hours=2))
    Ingestor(now=NOW).ingest_file(p)
    q = write_log(tmp_path / "t", "acme", "mail01", FAIL_309)
    out = Ingestor(now=NOW).ingest_file(q)
    assert out.action == "older"
    assert Result.get().status == "ok"


def test_stale_log_gives_minus_2_for_current_night(sqlite_db, tmp_path):
    p = write_log(tmp_path, "acme", "fs01", CLEAN_309, when=LOG_TIME - dt.timedelta(days=3))
    out = Ingestor(now=NOW).ingest_file(p)
    assert out.night == NIGHT
    r = Result.get()
    assert (r.code, r.status, r.reason, r.night) == (-2, "incomplete", "stale", NIGHT)


def test_missing_servers_get_minus_2_missing(any_db, spool):
    c = Customer.create(name="initech")
    Server.create(customer=c, name="dc01")
    Server.create(customer=c, name="old01", active=False)
    rep = Ingestor(now=NOW).ingest_paths([spool])
    assert rep.missing == ["initech/dc01"]
    r = Result.get(Result.server == Server.get(Server.name == "dc01"))
    assert (r.night, r.code, r.status, r.reason) == (NIGHT, -2, "incomplete", "missing")
    assert not Result.select().where(Result.server == Server.get(Server.name == "old01")).exists()
    # and a log arriving later for that night replaces the missing marker
    write_log(spool, "initech", "dc01", CLEAN_309)
    out = Ingestor(now=NOW).ingest_file(spool / "initech" / "dc01.out")
    assert out.action == "replaced" and Result.get_by_id(r.id).status == "ok"


def test_bad_file_reported_by_name_and_batch_goes_on(sqlite_db, spool, capsys, sqlite_url):
    (spool / "acme" / "broken.out").mkdir()
    rc = main(["--db", sqlite_url, "ingest", "--now", NOW.isoformat(), str(spool)])
    cap = capsys.readouterr()
    assert rc == 1
    assert "broken.out" in cap.err
    assert Result.select().count() == 3


def test_incomplete_log_is_never_ok(sqlite_db, tmp_path):
    text = CLEAN_309.rsplit("total size is", 1)[0]
    p = write_log(tmp_path, "acme", "fs01", text)
    Ingestor(now=NOW).ingest_file(p)
    r = Result.get()
    assert (r.code, r.status, r.reason) == (-2, "incomplete", "incomplete")


def test_exception_flips_result_without_rereading_log(any_db, spool):
    Ingestor(now=NOW).ingest_paths([spool])
    mail01 = Server.get(Server.name == "mail01")
    for f in spool.rglob("*.out"):
        f.unlink()  # the logs are gone: only stored failures can be used
    er.add_exception(TSR, er.ExceptionInput(scope="server", server_id=mail01.id,
                                            path_pattern="*.pst", reason="NTBackup",
                                            method="NTBackup"))
    r = Result.get(Result.server == mail01)
    assert r.status == "failed" and r.excepted_count == 1
    e, changed = er.add_exception(TSR, er.ExceptionInput(
        scope="customer", customer_id=mail01.customer_id, path_pattern="*/QB/*.qbw",
        reason="QuickBooks backup", method="QB native backup"))
    assert changed == 1
    r = Result.get(Result.server == mail01)
    assert r.status == "ok_with_exceptions" and r.excepted_count == 2
    by_path = {f.path: f for f in r.failures}
    assert by_path[QBW].exception_id == e.id and by_path[QBW].excepted
    # disabling it turns the result red again; deleting too
    er.set_active(TSR, e.id, False)
    assert Result.get(Result.server == mail01).status == "failed"
    er.set_active(TSR, e.id, True)
    assert Result.get(Result.server == mail01).status == "ok_with_exceptions"
    er.delete_exception(TSR, e.id)
    assert Result.get(Result.server == mail01).status == "failed"
    assert [u.action for u in Update.select().where(Update.action.startswith("exception."))
            .order_by(Update.id)] == ["exception.add", "exception.add", "exception.disable",
                                      "exception.enable", "exception.delete"]


def test_most_specific_exception_wins(sqlite_db, spool):
    Ingestor(now=NOW).ingest_paths([spool])
    mail01 = Server.get(Server.name == "mail01")
    g, _ = er.add_exception(TSR, er.ExceptionInput(scope="global", path_pattern="*.pst"))
    s, _ = er.add_exception(TSR, er.ExceptionInput(scope="server", server_id=mail01.id,
                                                   path_pattern="*/Mail/outlook.pst"))
    f = Failure.get(Failure.path == PST)
    assert f.exception_id == s.id
    # case-insensitive, Windows style
    er.add_exception(TSR, er.ExceptionInput(scope="server", server_id=mail01.id,
                                            path_pattern="/CYGDRIVE/e/SHARES/qb/company.qbw"))
    assert Failure.get(Failure.path == QBW).excepted
    assert Result.get(Result.server == mail01).status == "ok_with_exceptions"
    # the broader rule still matches the file: without the server's own rule it covers it
    er.delete_exception(TSR, s.id)
    f = Failure.get(Failure.path == PST)
    assert (f.excepted, f.exception_id) == (True, g.id)


def test_expired_exception_does_not_apply(sqlite_db, spool):
    Ingestor(now=NOW).ingest_paths([spool])
    mail01 = Server.get(Server.name == "mail01")
    er.add_exception(TSR, er.ExceptionInput(scope="server", server_id=mail01.id,
                                            path_pattern="*.pst", expires_at=dt.date(2020, 1, 1)))
    assert not Failure.get(Failure.path == PST).excepted


def test_exception_guards(sqlite_db):
    with pytest.raises(er.ExceptionInputError, match="path pattern"):
        er.add_exception(TSR, er.ExceptionInput(scope="global", path_pattern="*"))
    with pytest.raises(er.ExceptionInputError, match="server"):
        er.add_exception(TSR, er.ExceptionInput(scope="server", path_pattern="*.pst"))
    from acorntui.services.roles import PermissionDenied

    with pytest.raises(PermissionDenied, match="TSR"):
        er.add_exception(User("carol", "csr"), er.ExceptionInput(scope="global",
                                                                 path_pattern="*.pst"))
    assert Exception_.select().count() == 0


def test_reevaluate_all_nights(sqlite_db, tmp_path):
    for days in (0, 1, 2):
        p = write_log(tmp_path / f"n{days}", "acme", "mail01", FAIL_309,
                      when=LOG_TIME - dt.timedelta(days=days))
        Ingestor(now=NOW - dt.timedelta(days=days)).ingest_file(p)
    assert Result.select().where(Result.status == "failed").count() == 3
    mail01 = Server.get(Server.name == "mail01")
    Exception_.create(scope="server", server=mail01,
                      path_pattern="/cygdrive/E/shares/*")  # raw, no re-eval
    assert reevaluate(server_ids=[mail01.id]) == 1  # latest night only
    assert Result.select().where(Result.status == "ok_with_exceptions").count() == 1
    assert reevaluate(server_ids=[mail01.id], all_nights=True) == 2
    assert Result.select().where(Result.status == "ok_with_exceptions").count() == 3


def test_fetch_failed_never_overwrites_real_result(sqlite_db, spool):
    Ingestor(now=NOW).ingest_paths([spool])
    assert record_fetch_failed("acme", "fs01", NIGHT, "connection refused") is None
    assert Result.get(Result.server == Server.get(Server.name == "fs01")).status == "ok"
    r = record_fetch_failed("acme", "newbox", NIGHT, "permission denied")
    assert r.status == "fetch_failed" and r.reason == "fetch failed: permission denied"


def test_parse_cli_json_contract(sqlite_url, tmp_path, capsys):
    p = write_log(tmp_path, "acme", "mail01", FAIL_309)
    assert main(["--db", sqlite_url, "parse", "--json", "--max-age-hours", "0", str(p)]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert {"customer", "server", "code", "status", "reason", "failures", "stats",
            "rsync_version"} <= set(obj)
    assert (obj["customer"], obj["server"], obj["code"], obj["status"]) == \
        ("acme", "mail01", 23, "failed")
    assert {f["path"] for f in obj["failures"]} == {PST, QBW}
    assert all({"path", "message", "line", "excepted"} <= set(f) for f in obj["failures"])
    assert obj["stats"] == {"sent_bytes": 1234, "received_bytes": 56, "bytes_per_sec": 2580.0,
                            "total_size": 9999, "speedup": 7.75}
    # the age rule: --now far after the mtime makes it stale
    main(["--db", sqlite_url, "parse", "--json", "--now", "2026-12-30T00:00:00", str(p)])
    obj = json.loads(capsys.readouterr().out)
    assert (obj["code"], obj["status"], obj["reason"]) == (-2, "incomplete", "stale")


def test_parse_cli_uses_database_exceptions(sqlite_url, tmp_path, capsys):
    p = write_log(tmp_path, "acme", "mail01", FAIL_309)
    main(["--db", sqlite_url, "ingest", "--now", NOW.isoformat(), str(p)])
    capsys.readouterr()
    mail01 = Server.get(Server.name == "mail01")
    er.add_exception(TSR, er.ExceptionInput(scope="customer", customer_id=mail01.customer_id,
                                            path_pattern="*.pst"))
    er.add_exception(TSR, er.ExceptionInput(scope="customer", customer_id=mail01.customer_id,
                                            path_pattern="*.qbw"))
    main(["--db", sqlite_url, "parse", "--json", "--max-age-hours", "0", str(p)])
    obj = json.loads(capsys.readouterr().out)
    assert obj["status"] == "ok_with_exceptions"
    assert all(f["excepted"] for f in obj["failures"])


@pytest.mark.parametrize("bad", ["missing", "dir"])
def test_parse_cli_bad_input_exit_2(sqlite_url, tmp_path, capsys, bad):
    p = tmp_path / "acme" / "x.out"
    if bad == "dir":
        p.mkdir(parents=True)
    assert main(["--db", sqlite_url, "parse", str(p)]) == 2
    err = capsys.readouterr().err
    assert str(p) in err and err.count("\n") == 1


def test_exception_expiring_turns_latest_result_red_on_next_ingest(sqlite_db, spool):
    Ingestor(now=NOW).ingest_paths([spool])
    mail01 = Server.get(Server.name == "mail01")
    er.add_exception(TSR, er.ExceptionInput(scope="server", server_id=mail01.id,
                                            path_pattern="/cygdrive/E/shares/*",
                                            expires_at=dt.date.today() + dt.timedelta(days=1)))
    assert Result.get(Result.server == mail01).status == "ok_with_exceptions"
    # two days later the exception has expired: the next ingest re-evaluates
    later = dt.datetime.combine(dt.date.today() + dt.timedelta(days=2), dt.time(7))
    rep = Ingestor(now=later).ingest_paths([spool / "acme" / "fs01.out"], mark_missing=False)
    assert rep.reevaluated == 1
    r = Result.get(Result.server == mail01)
    assert r.status == "failed" and r.excepted_count == 0


UNKNOWN_PLUS_PST = (
    "building file list ... done\r\n"
    f'rsync: send_files failed to open "{PST}": Permission denied (13)\r\n'
    "rsync: some brand-new failure that names no file\r\n"
    "IO error encountered -- skipping file deletion\r\n"
    "\r\nsent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\r\n"
    "total size is 9,999  speedup is 7.75\r\n"
    "rsync error: some files could not be transferred (code 23) at main.c(1039) "
    "[sender=3.0.9]\r\n"
)


def test_unrecognised_error_line_keeps_a_23_from_being_ok(sqlite_db, tmp_path, sqlite_url,
                                                          capsys):
    """Every recognised file is excepted, but an error line we could not tie to a file may be
    what caused the 23: the result stays failed, and the line is listed."""
    p = write_log(tmp_path, "acme", "mail01", UNKNOWN_PLUS_PST)
    Ingestor(now=NOW).ingest_file(p)
    mail01 = Server.get(Server.name == "mail01")
    assert Result.get(Result.server == mail01).error_count == 2  # as recorded, too
    er.add_exception(TSR, er.ExceptionInput(scope="server", server_id=mail01.id,
                                            path_pattern="*.pst"))
    r = Result.get(Result.server == mail01)
    assert (r.status, r.error_count, r.excepted_count) == ("failed", 2, 1)
    notes = [f for f in r.failures if f.kind == "unrecognised"]
    assert [n.message for n in notes] == ["rsync: some brand-new failure that names no file"]
    assert notes[0].path == "" and not notes[0].excepted
    main(["--db", sqlite_url, "parse", "--json", "--max-age-hours", "0", str(p)])
    obj = json.loads(capsys.readouterr().out)
    assert obj["status"] == "failed"
    assert [f["path"] for f in obj["failures"]] == [PST] and obj["failures"][0]["excepted"]
    # "IO error encountered" alone is a consequence of the file errors, not a blocker
    q = write_log(tmp_path, "acme", "fs01", UNKNOWN_PLUS_PST.replace(
        "rsync: some brand-new failure that names no file\r\n", ""))
    er.add_exception(TSR, er.ExceptionInput(scope="global", path_pattern="*/Mail/outlook.pst"))
    assert Ingestor(now=NOW).ingest_file(q).status == "ok_with_exceptions"
