"""The verdict rules pinned at their boundaries, one test per side.

Each rule that decides a night's verdict is checked exactly at its limit and just either side,
so that an off-by-one (`>` for `>=`), a shifted limit or a reversed order fails a test:

- the stale rule (`max_age_hours`): exactly at the limit, 1 s under, 1 s over;
- the future rule (`future_tolerance_hours`, default 2 h): exactly at now + tolerance (not
  future), 1 s over (future), in the parser, in ingest and from the config file;
- the night cutoff (`night_cutoff_hours`): 1 minute either side;
- exception expiry: in force on its expiry day, not on the day after (ingest and the
  re-evaluation that every ingest runs);
- `record_missing`: inactive customers' servers and inactive servers are never marked missing;
- the specificity order of exception scopes (server > customer > global; then the longer
  literal pattern);
- `[parse] max_age_hours`, `night_cutoff_hours` and `future_tolerance_hours` from a config
  file, honoured by `parse`, `ingest` and `nightly`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from test_ingest import CLEAN_309, FAIL_309, PST, QBW, write_log

from acorntui.cli.main import main
from acorntui.core.parser import parse_file
from acorntui.db.models import Customer, Exception_, Failure, Result, Server
from acorntui.services.ingest import Ingestor, reevaluate_expired

NOW = dt.datetime(2026, 11, 26, 7, 0, 0)
NIGHT = dt.date(2026, 11, 25)
HOUR = dt.timedelta(hours=1)
SEC = dt.timedelta(seconds=1)
MIN = dt.timedelta(minutes=1)


def _ingest_one(root: Path, text: str, when: dt.datetime, now: dt.datetime = NOW,
                **kw) -> Result:
    p = write_log(root, "acme", "fs1", text, when)
    out = Ingestor(now=now, **kw).ingest_file(p)
    assert out.action == "created", out
    return Result.get_by_id(out.result_id)


# -- future: future_tolerance_hours (a clock that runs ahead) --------------------------------------

@pytest.mark.parametrize("ahead, future", [
    (2 * HOUR - SEC, False),  # 1 s under now + 2 h
    (2 * HOUR, False),        # exactly at now + tolerance: not later than it
    (2 * HOUR + SEC, True),   # 1 s over
])
def test_parser_future_boundary(tmp_path, ahead, future):
    p = write_log(tmp_path, "acme", "fs1", CLEAN_309, NOW + ahead)
    pr = parse_file(p, now=NOW.astimezone(), max_age_hours=24)  # the default tolerance: 2 h
    if future:
        assert (pr.code, pr.reason) == (-2, "future")
    else:
        assert (pr.code, pr.reason or "") == (0, "")


@pytest.mark.parametrize("ahead, expect", [
    (2 * HOUR, ("ok", "", NIGHT)),
    # a future log counts for tonight (the night of now), never for a night not yet begun
    (2 * HOUR + SEC, ("incomplete", "future", NIGHT)),
    (30 * 24 * HOUR, ("incomplete", "future", NIGHT)),
])
def test_ingest_future_boundary(sqlite_db, tmp_path, ahead, expect):
    r = _ingest_one(tmp_path, CLEAN_309, NOW + ahead)
    assert (r.status, r.reason or "", r.night) == expect


def test_future_log_is_said_in_words(sqlite_db, tmp_path):
    from acorntui.services.queries import nightly_rows, status_label

    _ingest_one(tmp_path, CLEAN_309, NOW + 3 * HOUR)
    assert status_label("incomplete", "future") == "INCOMPLETE (clock ahead)"
    [row] = nightly_rows(NIGHT)
    assert status_label(row.status, row.reason) == "INCOMPLETE (clock ahead)"


# -- stale: max_age_hours ---------------------------------------------------------------------

@pytest.mark.parametrize("age, stale", [
    (24 * HOUR - SEC, False),  # 1 s under the limit
    (24 * HOUR, False),        # exactly at the limit: not older than 24 h
    (24 * HOUR + SEC, True),   # 1 s over
])
def test_parser_stale_boundary(tmp_path, age, stale):
    p = write_log(tmp_path, "acme", "fs1", CLEAN_309, NOW - age)
    pr = parse_file(p, now=NOW.astimezone(), max_age_hours=24)
    if stale:
        assert (pr.code, pr.reason) == (-2, "stale")
    else:
        assert (pr.code, pr.reason or "") == (0, "")


@pytest.mark.parametrize("age, status", [
    (24 * HOUR - SEC, "ok"),
    (24 * HOUR, "ok"),
    (24 * HOUR + SEC, "incomplete"),
])
def test_ingest_stale_boundary(sqlite_db, tmp_path, age, status):
    r = _ingest_one(tmp_path, CLEAN_309, NOW - age)
    assert r.status == status
    assert r.reason == ("stale" if status == "incomplete" else "")
    # a stale log counts for the current night, a fresh one for its own
    assert r.night == (NIGHT if status == "incomplete" else (NOW - age - 12 * HOUR).date())


@pytest.mark.parametrize("limit, age, stale", [
    (6, 6 * HOUR, False), (6, 6 * HOUR + SEC, True),
    (48, 48 * HOUR, False), (48, 48 * HOUR + SEC, True),
])
def test_stale_limit_is_the_configured_one(tmp_path, limit, age, stale):
    p = write_log(tmp_path, "acme", "fs1", CLEAN_309, NOW - age)
    pr = parse_file(p, now=NOW.astimezone(), max_age_hours=limit)
    assert (pr.reason == "stale") is stale


def test_max_age_zero_disables_the_rule(tmp_path):
    p = write_log(tmp_path, "acme", "fs1", CLEAN_309, NOW - dt.timedelta(days=400))
    assert parse_file(p, now=NOW.astimezone(), max_age_hours=0).code == 0


# -- night cutoff -------------------------------------------------------------------------------

@pytest.mark.parametrize("written, night", [
    (dt.datetime(2026, 11, 26, 11, 59), dt.date(2026, 11, 25)),  # before noon: night before
    (dt.datetime(2026, 11, 26, 12, 0), dt.date(2026, 11, 26)),   # at noon: that day's night
    (dt.datetime(2026, 11, 26, 12, 1), dt.date(2026, 11, 26)),
])
def test_night_cutoff_boundary(sqlite_db, tmp_path, written, night):
    r = _ingest_one(tmp_path, CLEAN_309, written, now=dt.datetime(2026, 11, 26, 18, 0))
    assert (r.status, r.night) == ("ok", night)


@pytest.mark.parametrize("written, night", [
    (dt.datetime(2026, 11, 26, 5, 59), dt.date(2026, 11, 25)),
    (dt.datetime(2026, 11, 26, 6, 1), dt.date(2026, 11, 26)),
])
def test_night_cutoff_is_the_configured_one(sqlite_db, tmp_path, written, night):
    r = _ingest_one(tmp_path, CLEAN_309, written, now=dt.datetime(2026, 11, 26, 18, 0),
                    cutoff_hours=6)
    assert r.night == night


@pytest.mark.parametrize("now, night", [
    (dt.datetime(2026, 11, 26, 11, 59), dt.date(2026, 11, 25)),
    (dt.datetime(2026, 11, 26, 12, 1), dt.date(2026, 11, 26)),
])
def test_missing_is_recorded_for_the_night_of_now(sqlite_db, tmp_path, now, night):
    c = Customer.create(name="acme", display_name="Acme")
    Server.create(customer=c, name="fs1")
    spool = tmp_path / "spool"
    spool.mkdir()
    report = Ingestor(now=now).ingest_paths([spool])
    assert report.night == night
    assert report.missing == ["acme/fs1"]
    r = Result.get()
    assert (r.night, r.status, r.reason) == (night, "incomplete", "missing")


# -- exception expiry ---------------------------------------------------------------------------

def _exception(expires: dt.date | None, scope="global", pattern=PST, **kw) -> Exception_:
    return Exception_.create(scope=scope, path_pattern=pattern, reason="copied by NTBackup",
                             created_by="tess", expires_at=expires, **kw)


FAIL_ONE = FAIL_309.replace(
    f'rsync: send_files failed to open "{QBW}": Device or resource busy (16)\r\n', "")


@pytest.mark.parametrize("expires, status", [
    (NIGHT + dt.timedelta(days=1), "ok_with_exceptions"),
    (NIGHT, "ok_with_exceptions"),  # the expiry day itself is still covered
    (NIGHT - dt.timedelta(days=1), "failed"),  # the day after the expiry: not covered
])
def test_exception_expiry_boundary_at_ingest(sqlite_db, tmp_path, expires, status):
    assert QBW not in FAIL_ONE
    _exception(expires)
    r = _ingest_one(tmp_path, FAIL_ONE, dt.datetime(2026, 11, 26, 2, 30))
    assert r.night == NIGHT
    assert r.status == status
    assert Failure.get().excepted is (status == "ok_with_exceptions")


@pytest.mark.parametrize("today, status", [
    (dt.date(2026, 11, 30), "ok_with_exceptions"),  # the expiry day: still in force
    (dt.date(2026, 12, 1), "failed"),               # the day after: re-evaluated to failed
])
def test_expired_exception_reevaluation_boundary(sqlite_db, tmp_path, today, status):
    e = _exception(dt.date(2026, 11, 30))
    r = _ingest_one(tmp_path, FAIL_ONE, dt.datetime(2026, 11, 26, 2, 30))
    assert r.status == "ok_with_exceptions"
    changed = reevaluate_expired(today)
    assert changed == (0 if status == "ok_with_exceptions" else 1)
    r = Result.get_by_id(r.id)
    assert r.status == status
    f = Failure.get()
    assert f.excepted is (status == "ok_with_exceptions")
    assert f.exception_id == (e.id if f.excepted else None)


# -- missing: active servers of active customers only --------------------------------------------

def test_record_missing_skips_inactive_customers_and_servers(sqlite_db):
    live = Customer.create(name="live", display_name="Live")
    gone = Customer.create(name="gone", display_name="Gone", active=False)
    Server.create(customer=live, name="up")
    Server.create(customer=live, name="retired", active=False)
    Server.create(customer=gone, name="up")
    Server.create(customer=gone, name="retired", active=False)
    missing = Ingestor(now=NOW).record_missing(NIGHT)
    assert missing == ["live/up"]
    rows = [(r.server.customer.name, r.server.name, r.status, r.reason)
            for r in Result.select()]
    assert rows == [("live", "up", "incomplete", "missing")]


# -- specificity of exception scopes ---------------------------------------------------------------

def _scoped(scope: str, pattern: str, srv: Server) -> Exception_:
    extra = {"server": srv} if scope == "server" else {"customer": srv.customer} \
        if scope == "customer" else {}
    return _exception(None, scope=scope, pattern=pattern, **extra)


@pytest.mark.parametrize("present, winner", [
    (("global", "customer", "server"), "server"),
    (("global", "customer"), "customer"),
    (("customer", "server"), "server"),
    (("global", "server"), "server"),
    (("global",), "global"),
])
def test_narrowest_scope_wins(sqlite_db, tmp_path, present, winner):
    c = Customer.create(name="acme", display_name="Acme")
    srv = Server.create(customer=c, name="fs1")
    made = {}
    # create the broadest first and the narrowest first on alternate runs: order must not matter
    for scope in present:
        # the broader rules carry the longer (more literal) pattern, so scope must beat length
        pattern = {"server": "*.pst", "customer": "*/Mail/*.pst",
                   "global": "*/shares/Mail/outlook.pst"}[scope]
        made[scope] = _scoped(scope, pattern, srv)
    _ingest_one(tmp_path, FAIL_ONE, dt.datetime(2026, 11, 26, 2, 30))
    assert Failure.get().exception_id == made[winner].id


@pytest.mark.parametrize("order", ["short_first", "long_first"])
def test_longer_literal_pattern_wins_within_a_scope(sqlite_db, tmp_path, order):
    c = Customer.create(name="acme", display_name="Acme")
    srv = Server.create(customer=c, name="fs1")
    pats = ["*.pst", "*/Mail/outlook.pst"]
    if order == "long_first":
        pats.reverse()
    made = {p: _scoped("server", p, srv) for p in pats}
    _ingest_one(tmp_path, FAIL_ONE, dt.datetime(2026, 11, 26, 2, 30))
    assert Failure.get().exception_id == made["*/Mail/outlook.pst"].id


# -- [parse] settings from the config file --------------------------------------------------------

def _config(tmp_path: Path, monkeypatch, spool: Path, **parse) -> Path:
    lines = ["[spool]", f'dir = "{spool}"', "", "[parse]"]
    lines += [f"{k} = {v}" for k, v in parse.items()]
    cfg = tmp_path / "config.toml"
    cfg.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("ACORN_CONFIG", str(cfg))
    return cfg


@pytest.mark.parametrize("ahead_min, future", [(60, False), (61, True)])
def test_config_future_tolerance_honoured_by_parse(sqlite_url, sqlite_db, tmp_path, monkeypatch,
                                                   capsys, ahead_min, future):
    _config(tmp_path, monkeypatch, tmp_path / "spool", future_tolerance_hours=1)
    p = write_log(tmp_path / "spool", "acme", "fs1", CLEAN_309,
                  NOW + dt.timedelta(minutes=ahead_min))
    assert main(["--db", sqlite_url, "parse", "--now", NOW.isoformat(), str(p)]) == 0
    text = capsys.readouterr().out
    assert ("INCOMPLETE (clock ahead)" in text) is future, text
    assert main(["--db", sqlite_url, "parse", "--json", "--now", NOW.isoformat(), str(p)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["status"], out["reason"]) == (("incomplete", "future") if future else ("ok", ""))


@pytest.mark.parametrize("ahead_min, future", [(60, False), (61, True)])
def test_config_future_tolerance_honoured_by_ingest(sqlite_url, sqlite_db, tmp_path, monkeypatch,
                                                    capsys, ahead_min, future):
    spool = tmp_path / "spool"
    _config(tmp_path, monkeypatch, spool, future_tolerance_hours=1)
    write_log(spool, "acme", "fs1", CLEAN_309, NOW + dt.timedelta(minutes=ahead_min))
    assert main(["--db", sqlite_url, "ingest", "--now", NOW.isoformat()]) == 0
    r = Result.get()
    assert (r.status, r.reason) == (("incomplete", "future") if future else ("ok", ""))
    out = capsys.readouterr().out
    if future:  # said in words, as in parse and the console; the stored reason stays "future"
        assert "acme/fs1" in out and "incomplete (clock ahead)" in out, out
        assert "(future)" not in out, out
    else:
        assert "clock ahead" not in out, out


def test_config_refuses_a_negative_future_tolerance(tmp_path, monkeypatch, capsys):
    cfg = _config(tmp_path, monkeypatch, tmp_path / "spool", future_tolerance_hours=-1)
    assert main(["config", "show"]) == 2
    assert f"{cfg}: [parse] future_tolerance_hours: must be 0 or more" in capsys.readouterr().err


@pytest.mark.parametrize("age_h, stale", [(6, False), (7, True)])
def test_config_max_age_honoured_by_parse(sqlite_url, sqlite_db, tmp_path, monkeypatch, capsys,
                                          age_h, stale):
    _config(tmp_path, monkeypatch, tmp_path / "spool", max_age_hours=6)
    p = write_log(tmp_path / "spool", "acme", "fs1", CLEAN_309, NOW - dt.timedelta(hours=age_h))
    assert main(["--db", sqlite_url, "parse", "--json", "--now", NOW.isoformat(), str(p)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["status"], out["reason"]) == (("incomplete", "stale") if stale else ("ok", ""))


@pytest.mark.parametrize("age_h, stale", [(6, False), (7, True)])
def test_config_max_age_honoured_by_ingest(sqlite_url, sqlite_db, tmp_path, monkeypatch, age_h,
                                           stale):
    spool = tmp_path / "spool"
    _config(tmp_path, monkeypatch, spool, max_age_hours=6)
    write_log(spool, "acme", "fs1", CLEAN_309, NOW - dt.timedelta(hours=age_h))
    assert main(["--db", sqlite_url, "ingest", "--now", NOW.isoformat()]) == 0
    r = Result.get()
    assert (r.status, r.reason) == (("incomplete", "stale") if stale else ("ok", ""))


@pytest.mark.parametrize("written, night", [
    (dt.datetime(2026, 11, 26, 3, 59), dt.date(2026, 11, 25)),
    (dt.datetime(2026, 11, 26, 4, 1), dt.date(2026, 11, 26)),
])
def test_config_cutoff_honoured_by_ingest(sqlite_url, sqlite_db, tmp_path, monkeypatch, written,
                                          night):
    spool = tmp_path / "spool"
    _config(tmp_path, monkeypatch, spool, night_cutoff_hours=4, max_age_hours=48)
    write_log(spool, "acme", "fs1", CLEAN_309, written)
    assert main(["--db", sqlite_url, "ingest", "--now", "2026-11-26T05:00:00"]) == 0
    r = Result.get(Result.status == "ok")
    assert r.night == night
    # the missing pass ran for the night the configured cutoff gives for "now" (05:00 -> the
    # 26th): a log that belongs to the 25th leaves the server missing for the 26th
    missing = [(r.server.name, r.night) for r in Result.select().where(Result.reason == "missing")]
    assert missing == ([] if night == dt.date(2026, 11, 26) else [("fs1", dt.date(2026, 11, 26))])


@pytest.mark.parametrize("cutoff, age_h, expect", [
    (4, 5, ("ok", dt.date(2026, 11, 26))),     # written 04:00 -> at the cutoff: that day's night
    (4, 8, ("incomplete", dt.date(2026, 11, 26))),  # over max_age 6: stale, for tonight
    (12, 5, ("ok", dt.date(2026, 11, 25))),    # noon cutoff: 04:00 belongs to the night before
])
def test_config_honoured_by_nightly(sqlite_url, sqlite_db, tmp_path, monkeypatch, capsys,
                                    cutoff, age_h, expect):
    spool = tmp_path / "spool"
    _config(tmp_path, monkeypatch, spool, night_cutoff_hours=cutoff, max_age_hours=6)
    now = dt.datetime(2026, 11, 26, 9, 0)
    write_log(spool, "acme", "fs1", CLEAN_309, now - dt.timedelta(hours=age_h))
    rc = main(["--db", sqlite_url, "nightly", "--now", now.isoformat(), "--no-mail"])
    out = capsys.readouterr()
    assert rc in (0, 1), out
    r = Result.get()
    assert (r.status, r.night) == expect, out.out
    if expect[0] == "incomplete":
        assert r.reason == "stale"


def test_written_at_mtime_not_ctime(tmp_path):
    """The age rule reads the log's mtime (what the uploader set), checked at the limit."""
    p = write_log(tmp_path, "acme", "fs1", CLEAN_309, NOW - 24 * HOUR)
    assert os.stat(p).st_mtime == (NOW - 24 * HOUR).timestamp()
    assert parse_file(p, now=NOW.astimezone(), max_age_hours=24).code == 0


def test_default_cutoff_is_noon():
    """The write-up's rule when nothing is configured: before noon belongs to the night before."""
    from acorntui.config import Config
    from acorntui.services.ingest import current_night, night_of

    assert Config(path=Path("x"), exists=False).night_cutoff_hours == 12
    assert night_of(dt.datetime(2026, 11, 26, 11, 59)) == dt.date(2026, 11, 25)
    assert night_of(dt.datetime(2026, 11, 26, 12, 1)) == dt.date(2026, 11, 26)
    assert current_night(dt.datetime(2026, 11, 26, 11, 59)) == dt.date(2026, 11, 25)
    assert current_night(dt.datetime(2026, 11, 26, 12, 1)) == dt.date(2026, 11, 26)


# -- server references and file times ------------------------------------------------------------

@pytest.mark.parametrize("path, ref", [
    ("/srv/spool/acme/fs1.out", ("acme", "fs1")),
    ("/srv/spool/acme/fs1.out.bak", ("acme", "fs1.out.bak")),  # only a final .out is dropped
    ("/srv/spool/acme/fs1.log", ("acme", "fs1.log")),
    ("fs1.out", ("unknown", "fs1")),  # a bare file name: no customer folder to name
])
def test_customer_and_server_from_a_log_path(path, ref):
    from acorntui.core.refs import customer_server_from_path

    assert customer_server_from_path(Path(path)) == ref


def test_a_log_given_without_its_customer_folder_is_recorded_under_unknown(sqlite_db, tmp_path,
                                                                           monkeypatch):
    (tmp_path / "fs1.out").write_text(CLEAN_309)
    ts = (NOW - HOUR).timestamp()
    os.utime(tmp_path / "fs1.out", (ts, ts))
    monkeypatch.chdir(tmp_path)
    out = Ingestor(now=NOW).ingest_file("fs1.out")
    assert (out.action, out.customer, out.server) == ("created", "unknown", "fs1")
    assert Server.get().customer.name == "unknown"


@pytest.mark.parametrize("rel, ref", [
    ("acme/fs1.out", ("acme", "fs1")),
    ("acme/fs1.out.out", ("acme", "fs1.out")),
    ("acme/fs1.log", None),
    ("acme/fs1", None),
    ("fs1.out", None),
    ("spool/acme/fs1.out", None),  # a deeper path is not a <customer>/<server>.out reference
    ("a/b/c", None),
])
def test_split_rel_accepts_only_customer_slash_server_out(rel, ref):
    from acorntui.core.refs import rel_of, split_rel

    assert split_rel(rel) == ref
    if ref is not None:
        assert rel_of(*ref) == rel


def test_log_times_are_whole_seconds(sqlite_db, tmp_path):
    """A log's mtime is kept to the whole second on both backends (MariaDB's DATETIME keeps no
    fraction), so the same log compares and shows alike on SQLite and MariaDB."""
    from acorntui.core.nights import local_from_epoch

    written = dt.datetime(2026, 11, 26, 2, 30, 5, 750000)
    assert local_from_epoch(written.timestamp()) == dt.datetime(2026, 11, 26, 2, 30, 5)
    r = _ingest_one(tmp_path, CLEAN_309, written)
    assert r.log_mtime == dt.datetime(2026, 11, 26, 2, 30, 5)


# -- fetch failed: our own pull failed ------------------------------------------------------------

def test_fetch_failed_is_recorded_with_the_reason(sqlite_db):
    from acorntui.services.ingest import record_fetch_failed

    r = record_fetch_failed("acme", "fs1", NIGHT, "cannot connect to root@192.0.2.1")
    stored = Result.get_by_id(r.id)
    assert (stored.night, stored.code, stored.status, stored.reason) == (
        NIGHT, -2, "fetch_failed", "fetch failed: cannot connect to root@192.0.2.1")
    assert stored.parsed_at is not None
    # a long driver message is cut to the column's 255 characters, never an error
    r2 = record_fetch_failed("acme", "fs2", NIGHT, "x" * 400)
    assert Result.get_by_id(r2.id).reason == ("fetch failed: " + "x" * 400)[:255]


def test_fetch_failed_replaces_missing_but_never_a_real_log(sqlite_db, tmp_path):
    from acorntui.services.ingest import record_fetch_failed

    c = Customer.create(name="acme", display_name="Acme")
    fs1 = Server.create(customer=c, name="fs1")
    Server.create(customer=c, name="fs2")
    missing = Ingestor(now=NOW).record_missing(NIGHT)
    assert missing == ["acme/fs1", "acme/fs2"]
    before = Result.get(Result.server == fs1)
    r = record_fetch_failed("acme", "fs1", NIGHT, "host key changed")
    assert r.id == before.id  # the missing row becomes the fetch failure, no second row
    assert (r.code, r.status, r.reason) == (-2, "fetch_failed", "fetch failed: host key changed")
    assert r.parsed_at >= before.parsed_at
    rows = {(x.server.name, x.status, x.reason) for x in Result.select()}
    assert rows == {("fs1", "fetch_failed", "fetch failed: host key changed"),
                    ("fs2", "incomplete", "missing")}  # the other server is left alone
    # a result from a real log stays: the log we have says more than our failed pull
    out = Ingestor(now=NOW).ingest_file(
        write_log(tmp_path, "acme", "fs1", CLEAN_309, dt.datetime(2026, 11, 26, 2, 30)))
    assert (out.action, out.night, out.result_id) == ("replaced", NIGHT, r.id)
    real = Result.get_by_id(out.result_id)
    assert record_fetch_failed("acme", "fs1", NIGHT, "timeout") is None
    assert (Result.get_by_id(real.id).status, Result.get_by_id(real.id).reason) == ("ok", "")


# -- re-evaluation: which results an exception change touches -------------------------------------

N1, N2 = NIGHT - dt.timedelta(days=1), NIGHT


@pytest.fixture
def two_nights(sqlite_db, tmp_path):
    """acme/fs1, acme/fs2 and beta/bk1, each failed (code 23, the .pst) on two nights, and a
    code-12 failure naming the same file; then a global exception for the .pst that nothing
    has re-evaluated yet."""
    for night, when in ((N1, dt.datetime(2026, 11, 25, 2, 30)),
                        (N2, dt.datetime(2026, 11, 26, 2, 30))):
        root = tmp_path / str(night)
        ing = Ingestor(now=NOW, max_age_hours=0)  # not stale: each log keeps its own night
        for cust, srv in (("acme", "fs1"), ("acme", "fs2"), ("beta", "bk1")):
            out = ing.ingest_file(write_log(root, cust, srv, FAIL_ONE, when))
            assert (out.night, out.status) == (night, "failed")
    code12 = FAIL_ONE.replace("(code 23)", "(code 12)")
    assert "(code 12)" in code12
    out = Ingestor(now=NOW).ingest_file(write_log(tmp_path / "c12", "gamma", "g1", code12,
                                                  dt.datetime(2026, 11, 26, 2, 30)))
    assert (out.code, out.status) == (12, "failed")
    _exception(None)

    def state():
        return {(r.server.name, r.night): r.status for r in Result.select()}
    return state


def _ids(*names):
    return [Server.get(Server.name == n).id for n in names]


def test_reevaluate_one_server_touches_its_latest_night_only(two_nights):
    from acorntui.services.ingest import reevaluate

    assert reevaluate(server_ids=_ids("fs1")) == 1
    s = two_nights()
    assert s[("fs1", N2)] == "ok_with_exceptions"
    assert s[("fs1", N1)] == s[("fs2", N2)] == s[("bk1", N2)] == "failed"


def test_reevaluate_by_customer_and_by_both(two_nights):
    from acorntui.services.ingest import reevaluate

    beta = Customer.get(Customer.name == "beta").id
    assert reevaluate(customer_ids=[beta]) == 1
    assert two_nights()[("bk1", N2)] == "ok_with_exceptions"
    assert two_nights()[("fs1", N2)] == "failed"
    # servers and customers together: either one is enough (fs1, and gamma's g1 is not a 23)
    gamma = Customer.get(Customer.name == "gamma").id
    assert reevaluate(server_ids=_ids("fs1"), customer_ids=[gamma]) == 1
    s = two_nights()
    assert s[("fs1", N2)] == "ok_with_exceptions" and s[("fs2", N2)] == "failed"


def test_reevaluate_by_servers_and_customers_together(two_nights):
    from acorntui.services.ingest import reevaluate

    beta = Customer.get(Customer.name == "beta").id
    assert reevaluate(server_ids=_ids("fs1"), customer_ids=[beta]) == 2
    s = two_nights()
    assert s[("fs1", N2)] == s[("bk1", N2)] == "ok_with_exceptions"
    assert s[("fs2", N2)] == s[("fs1", N1)] == "failed"


def test_reevaluate_all_nights_and_since(two_nights):
    from acorntui.services.ingest import reevaluate

    assert reevaluate(server_ids=_ids("fs1"), all_nights=True) == 2
    assert two_nights()[("fs1", N1)] == two_nights()[("fs1", N2)] == "ok_with_exceptions"
    assert reevaluate(since=N2) == 2  # fs2 and bk1 on N2; fs1's N2 is already right
    s = two_nights()
    assert s[("fs2", N2)] == s[("bk1", N2)] == "ok_with_exceptions"
    assert s[("fs2", N1)] == s[("bk1", N1)] == "failed"
    assert reevaluate(since=N1) == 2  # the night itself counts: fs2 and bk1 on N1
    assert set(two_nights().values()) == {"ok_with_exceptions", "failed"}
    assert two_nights()[("g1", N2)] == "failed"


def test_reevaluate_leaves_other_codes_alone(two_nights):
    """An exception covers file errors of a 23 only: a code-12 failure that names the same
    file stays failed, and its failure is not marked excepted."""
    from acorntui.services.ingest import reevaluate

    reevaluate(all_nights=True)
    g1 = Result.get(Result.server == _ids("g1")[0])
    assert g1.status == "failed" and g1.excepted_count == 0
    assert [f.excepted for f in Failure.select().where(Failure.result == g1.id)] == [False]
    assert two_nights()[("fs1", N1)] == "ok_with_exceptions"


# -- exception matching: which rule covers which file ---------------------------------------

def _rule(rid, scope="global", pattern=PST, server_id=None, customer_id=None, **kw):
    from acorntui.core.status import ExceptionRule

    return ExceptionRule(id=rid, scope=scope, server_id=server_id, customer_id=customer_id,
                         path_pattern=pattern, **kw)


def test_a_server_or_customer_rule_covers_only_its_own():
    from acorntui.core.status import match_exception

    srv = _rule(1, "server", server_id=10)
    cust = _rule(2, "customer", customer_id=5)
    assert match_exception([srv], 5, 10, PST).id == 1
    assert match_exception([srv], 5, 11, PST) is None  # another server of the same customer
    assert match_exception([cust], 5, 11, PST).id == 2
    assert match_exception([cust], 6, 12, PST) is None  # another customer's server
    # an inactive rule never covers, even the right server
    assert match_exception([_rule(3, "server", server_id=10, active=False)], 5, 10, PST) is None


def test_an_expired_rule_does_not_hide_a_later_one():
    from acorntui.core.status import match_exception

    rules = [_rule(1, expires_at=dt.date(2026, 11, 1)), _rule(2)]
    assert match_exception(rules, 5, 10, PST, on=NIGHT).id == 2
    assert match_exception(rules[:1], 5, 10, PST, on=NIGHT) is None


@pytest.mark.parametrize("pattern, path, covered", [
    ("Mail/outlook.pst", PST, True),              # no leading * or /: matched at any depth
    ("shares/Mail/*.pst", PST, True),
    ("Mail/outlook.pst", "/cygdrive/E/shares/OldMail/outlook.pst", False),  # whole names only
    ("/cygdrive/E/shares/Mail/outlook.pst", PST, True),  # leading /: the whole path
    ("/Mail/outlook.pst", PST, False),
    ("/Mail/outlook.pst", "/data//Mail/outlook.pst", False),
    ("*.pst", PST, True),
    ("*.PST", PST, True),                          # Windows: case does not matter
    ("*\\Mail\\outlook.pst", PST, True),            # nor which slash
    ("C:/Users/tess/mail.pst", "C:\\Users\\tess\\mail.pst", True),
    ("", PST, False),                              # an empty pattern covers nothing
])
def test_path_patterns(pattern, path, covered):
    from acorntui.core.status import match_exception, pattern_matches

    assert pattern_matches(pattern, path) is covered
    assert (match_exception([_rule(1, pattern=pattern)], 5, 10, path) is not None) is covered


# -- ingest_paths: files, folders, the night ------------------------------------------------

def test_files_given_one_by_one_mark_nothing_missing(sqlite_db, tmp_path):
    c = Customer.create(name="acme", display_name="Acme")
    Server.create(customer=c, name="silent")
    log = write_log(tmp_path, "acme", "fs1", CLEAN_309, NOW - HOUR)
    report = Ingestor(now=NOW).ingest_paths([log])
    assert report.missing == []
    assert [(r.server.name, r.status) for r in Result.select()] == [("fs1", "ok")]
    # a folder (a spool) does mark the silent server missing
    report = Ingestor(now=NOW).ingest_paths([tmp_path])
    assert report.missing == ["acme/silent"]


def test_a_file_named_otherwise_is_still_a_log_and_a_folder_named_out_is_not_a_spool(
        sqlite_db, tmp_path):
    log = write_log(tmp_path, "acme", "fs1", CLEAN_309, NOW - HOUR)
    other = log.with_name("fs1.log")
    log.rename(other)
    report = Ingestor(now=NOW).ingest_paths([other])
    assert [(o.action, o.server) for o in report.outcomes] == [("created", "fs1.log")]
    folder = tmp_path / "acme" / "box.out"
    folder.mkdir()
    report = Ingestor(now=NOW).ingest_paths([folder])
    assert [(o.action, o.server) for o in report.outcomes] == [("error", "box")]
    assert str(folder) in report.outcomes[0].error


def test_a_night_given_holds_every_file(sqlite_db, tmp_path):
    """`ingest --night`: every log goes to that night, whatever its mtime says."""
    write_log(tmp_path, "acme", "fs1", CLEAN_309, NOW - HOUR)
    other = dt.date(2026, 11, 20)
    report = Ingestor(now=NOW).ingest_paths([tmp_path], night=other)
    assert report.night == other
    assert [(r.server.name, r.night) for r in Result.select()] == [("fs1", other)]


# -- status and the reason a user reads ------------------------------------------------------

@pytest.mark.parametrize("code, reason, errors, excepted, unrec, expect", [
    (0, "", 0, 0, 0, ("ok", "")),
    (24, "", 0, 0, 0, ("ok", "")),
    (-2, "stale", 0, 0, 0, ("incomplete", "stale")),
    (-2, "", 0, 0, 0, ("incomplete", "incomplete")),
    (23, "", 2, 2, 0, ("ok_with_exceptions", "")),
    (23, "", 1, 0, 0, ("failed", "1 file error not excepted")),
    (23, "", 2, 0, 0, ("failed", "2 file errors not excepted")),
    (23, "", 3, 1, 0, ("failed", "2 file errors not excepted")),
    (23, "", 3, 2, 1, ("failed", "1 unrecognised error line")),
    (23, "", 4, 1, 2, ("failed", "1 file error not excepted, 2 unrecognised error lines")),
    (23, "", 1, 0, 1, ("failed", "unrecognised errors")),
    (12, "", 0, 0, 0, ("failed", "")),
    (12, "connection died", 0, 0, 0, ("failed", "connection died")),
])
def test_status_and_reason(code, reason, errors, excepted, unrec, expect):
    from acorntui.core.status import compute_status

    assert compute_status(code, reason, errors, excepted, unrec) == expect
    if unrec == 0:  # the callers that know of no unrecognised lines leave it out
        assert compute_status(code, reason, errors, excepted) == expect


def test_a_message_pattern_narrows_an_exception(sqlite_db, tmp_path):
    """An exception with a message pattern covers a file only when rsync's message matches;
    the result counts exactly the files it covers."""
    _exception(None, pattern="*.pst", message_pattern="*Permission denied*")
    _exception(None, pattern="*.qbw", message_pattern="*No such file*")
    r = _ingest_one(tmp_path, FAIL_309, dt.datetime(2026, 11, 26, 2, 30))
    flags = {f.path: f.excepted for f in Failure.select()}
    assert flags == {PST: True, QBW: False}
    assert (r.status, r.reason, r.error_count, r.excepted_count) == (
        "failed", "1 file error not excepted", 2, 1)


def test_unrecognised_error_lines_keep_a_covered_23_failed(sqlite_db, tmp_path):
    odd = "rsync: read errors mapping something odd happened here (5)"
    text = FAIL_309.replace("\r\n\r\nsent", f"\r\n{odd}\r\n\r\nsent")
    _exception(None, pattern="*.pst")
    _exception(None, pattern="*.qbw")
    r = _ingest_one(tmp_path, text, dt.datetime(2026, 11, 26, 2, 30))
    assert (r.status, r.reason, r.error_count, r.excepted_count) == (
        "failed", "1 unrecognised error line", 3, 2)
    assert [(f.path, f.kind) for f in Failure.select().where(Failure.excepted == False)  # noqa: E712
            ] == [("", "unrecognised")]


def test_another_code_keeps_no_reason_of_its_own(sqlite_db, tmp_path):
    text = FAIL_ONE.replace("(code 23)", "(code 12)")
    r = _ingest_one(tmp_path, text, dt.datetime(2026, 11, 26, 2, 30))
    assert (r.code, r.status, r.reason) == (12, "failed", "")


def test_a_rule_whose_message_does_not_match_does_not_hide_a_later_one():
    from acorntui.core.status import match_exception

    msg = f'rsync: send_files failed to open "{PST}": Permission denied (13)'
    rules = [_rule(1, pattern="*.pst", message_pattern="*No such file*"), _rule(2, "global")]
    assert match_exception(rules, 5, 10, PST, msg).id == 2
    assert match_exception(rules[:1], 5, 10, PST, msg) is None


def test_adding_an_exception_reevaluates_with_messages_and_unrecognised_lines(sqlite_db,
                                                                              tmp_path):
    """The re-evaluation an exception change runs (no log re-read) applies the same rules as
    ingest: message patterns, and error lines that name no file keep a 23 failed."""
    from acorntui.services import exceptions as er
    from acorntui.services.roles import User

    tess = User("tess", "tsr3", "Tess", 3)
    odd = "rsync: read errors mapping something odd happened here (5)"
    text = FAIL_309.replace("\r\n\r\nsent", f"\r\n{odd}\r\n\r\nsent")
    r = _ingest_one(tmp_path, text, dt.datetime(2026, 11, 26, 2, 30))
    assert (r.status, r.reason) == ("failed", "2 file errors not excepted, "
                                    "1 unrecognised error line")
    er.add_exception(tess, er.ExceptionInput(scope="global", path_pattern="*.pst",
                                             message_pattern="*Permission denied*"))
    er.add_exception(tess, er.ExceptionInput(scope="global", path_pattern="*.qbw",
                                             message_pattern="*No such file*"))
    r = Result.get_by_id(r.id)
    assert (r.status, r.reason, r.excepted_count) == (
        "failed", "1 file error not excepted, 1 unrecognised error line", 1)
    assert {f.path: f.excepted for f in Failure.select()} == {PST: True, QBW: False, "": False}
    er.add_exception(tess, er.ExceptionInput(scope="global", path_pattern="*.qbw"))
    r = Result.get_by_id(r.id)
    assert (r.status, r.reason, r.excepted_count) == ("failed", "1 unrecognised error line", 2)
