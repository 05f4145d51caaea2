"""Why, for every result (issue 13, point 1): what the parser collects, what ingest stores, the
schema migration that adds it, and the words history shows.

Logs come from real rsync runs (tests/rsync_logs.py and the runs below): a connection that
dies (code 12: ``-e false``), an I/O timeout (code 30: ``--timeout=1`` over a remote shell
that never answers), a run killed mid-transfer (cut off).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import rsync_logs

from acorntui.core.parser import (
    MAX_TAIL_BYTES,
    MAX_TAIL_LINES,
    MAX_WHY_LINES,
    WHY_LINE_CAP,
    parse_bytes,
    parse_file,
    why_kind,
)

NOW = dt.datetime(2026, 11, 26, 7, 0, 0)
NIGHT = dt.date(2026, 11, 25)
LOG_TIME = dt.datetime(2026, 11, 26, 2, 30, 0)  # night 2026-11-25


def run_fatal(tmp_path: Path, code: int, *, customer: str = "acme", server: str = "") -> Path:
    """A real rsync run that ends in code 12 (the remote shell exits at once) or 30 (the
    remote shell never answers, --timeout=1). Returns the log, dated LOG_TIME."""
    rsync_logs.require_rsync()
    src = tmp_path / f"src{code}"
    (src / "Docs").mkdir(parents=True, exist_ok=True)
    (src / "Docs" / "a.doc").write_text("x")
    log = tmp_path / "spool" / customer / f"{server or f'c{code}'}.out"
    log.parent.mkdir(parents=True, exist_ok=True)
    shell = ["-e", "false"] if code == 12 else ["--timeout=1", "-e", 'sh -c "sleep 10" x']
    with open(log, "wb") as fh:
        rc = subprocess.run([rsync_logs.RSYNC, *rsync_logs.CUSTOMER_FLAGS, *shell,
                             f"{src}/", "backup@host:dest"], stdout=fh,
                            stderr=subprocess.STDOUT, env=rsync_logs.RSYNC_ENV,
                            timeout=60).returncode
    assert rc == code, log.read_text()
    os.utime(log, (LOG_TIME.timestamp(), LOG_TIME.timestamp()))
    return log


# -- the parser ------------------------------------------------------------------------------

@pytest.mark.parametrize("code, words", [(12, "connection unexpectedly closed"),
                                         (30, "io timeout after 1 seconds -- exiting")])
def test_parser_keeps_rsync_error_lines_of_a_fatal_code(tmp_path, code, words):
    r = parse_file(run_fatal(tmp_path, code), max_age_hours=0)
    assert r.code == code
    kinds = [(w.kind, w.text) for w in r.why_lines]
    assert any(k == "error" and words in t for k, t in kinds), kinds
    assert kinds[-1][0] == "error" and f"(code {code})" in kinds[-1][1]
    assert r.why_lines == sorted(r.why_lines, key=lambda w: w.line)  # in log order
    assert r.tail_lines[-1].startswith("rsync error: ")  # the log's last line


def test_parser_says_warning_for_vanished_and_error_for_unreadable(tmp_path):
    vanished = parse_file(rsync_logs.make_vanished_log(tmp_path), max_age_hours=0)
    assert vanished.code == 24
    assert {w.kind for w in vanished.why_lines} == {"warning"}  # "rsync warning: ... (code 24)"
    locked = parse_file(rsync_logs.make_unreadable_log(tmp_path / "u"), max_age_hours=0)
    assert locked.code == 23
    assert all(w.kind == "error" for w in locked.why_lines)
    assert len(locked.why_lines) == locked.why_count >= 2


def test_cut_off_log_keeps_its_last_lines(tmp_path):
    log = rsync_logs.run_sigkill(tmp_path)
    r = parse_file(log, max_age_hours=0)
    assert (r.code, r.reason) == (-2, "incomplete")
    last = [x for x in log.read_bytes().decode("utf-8", "replace").split("\n") if x.strip()]
    assert r.tail_lines[-len(last[-3:]):] == [x.rstrip("\r") for x in last[-3:]]


def test_why_kind_reads_rsyncs_own_prefixes():
    assert why_kind("rsync error: error in rsync protocol data stream (code 12) at io.c(226)"
                    " [Receiver=3.2.7]") == "error"
    assert why_kind("rsync warning: some files vanished before they could be transferred "
                    "(code 24) at main.c(1338) [sender=3.2.7]") == "warning"
    assert why_kind('rsync: [sender] send_files failed to open "/a": Permission denied (13)'
                    ) == "error"
    assert why_kind('file has vanished: "/data/x.tmp"') == "warning"
    assert why_kind("@ERROR: Unknown module 'backup'") == "error"
    assert why_kind("Users/docs/rsync: notes.txt") is None  # a file name, not a message
    assert why_kind("total size is 9,999  speedup is 7.75") is None


def test_why_lines_and_tail_are_bounded():
    """5,000 error lines of 10 KB each: 50 lines kept (the first and the last, the code line
    among them), each cut; the tail is at most 40 lines and 8 KB."""
    long = "x" * 10_000
    errs = "".join(f'rsync: send_files failed to open "/d/{i}{long}": Permission denied (13)\n'
                   for i in range(5000))
    code = ("rsync error: some files/attrs were not transferred (see previous errors) "
            "(code 23) at main.c(1338) [sender=3.2.7]\n")
    r = parse_bytes(("sending incremental file list\n" + errs + code).encode())
    assert r.code == 23 and r.why_count == 5001
    assert len(r.why_lines) == MAX_WHY_LINES
    assert all(len(w.text) <= WHY_LINE_CAP for w in r.why_lines)
    assert r.why_lines[0].line == 2 and r.why_lines[-1].text.startswith("rsync error:")
    assert len(r.tail_lines) <= MAX_TAIL_LINES
    assert sum(len(x.encode()) + 1 for x in r.tail_lines) <= MAX_TAIL_BYTES
    assert r.tail_lines[-1].startswith("rsync error:")


_MEASURE = r"""
import json, sys, time
from acorntui.core.parser import parse_file
t = time.monotonic()
r = parse_file(sys.argv[1], max_age_hours=0)
with open("/proc/self/status") as fh:
    peak = next(int(x.split()[1]) for x in fh if x.startswith("VmHWM:")) / 1024
print(json.dumps({"code": r.code, "why": len(r.why_lines), "count": r.why_count,
                  "tail": len(r.tail_lines), "tail_bytes": sum(len(x.encode()) + 1
                  for x in r.tail_lines), "last": r.why_lines[-1].text,
                  "s": time.monotonic() - t, "peak_rss_mb": peak}))
"""


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_million_error_lines_stay_under_100_mb(tmp_path):
    """The hostile log of issue 12: 1,000,000 error lines. The why lines and the tail stay
    bounded, and the parse stays under 100 MB peak (measured in a fresh process)."""
    p = tmp_path / "acme" / "flood.out"
    p.parent.mkdir()
    with open(p, "w") as fh:
        fh.write("sending incremental file list\n")
        line = ('rsync: [sender] send_files failed to open "/srv/d/f{}.dat": '
                'Permission denied (13)\n')
        for start in range(0, 1_000_000, 10_000):
            fh.write("".join(line.format(i) for i in range(start, start + 10_000)))
        fh.write("rsync error: some files/attrs were not transferred (see previous errors) "
                 "(code 23) at main.c(1338) [sender=3.2.7]\n")
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(p)], capture_output=True,
                          text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["code"] == 23 and got["count"] == 1_000_001
    assert got["why"] == MAX_WHY_LINES and "(code 23)" in got["last"]
    assert got["tail"] == MAX_TAIL_LINES and got["tail_bytes"] <= MAX_TAIL_BYTES
    assert got["peak_rss_mb"] < 100, got


# -- ingest stores it ---------------------------------------------------------------------------

def test_ingest_stores_error_lines_tail_and_fetch_error(any_db, tmp_path):
    from acorntui.db.models import Result, Server
    from acorntui.services.ingest import Ingestor, record_fetch_failed

    log = run_fatal(tmp_path, 12, server="db01")
    out = Ingestor(now=NOW).ingest_file(log)
    assert (out.action, out.code, out.night) == ("created", 12, NIGHT)
    r = Result.get_by_id(out.result_id)
    why = json.loads(r.why_lines)
    assert why["count"] == len(why["lines"]) == 2
    assert why["lines"][-1][1] == "error" and "(code 12)" in why["lines"][-1][2]
    assert r.log_tail.split("\n")[-1].startswith("rsync error: error in rsync protocol")
    assert r.log_size == log.stat().st_size and r.log_mtime == LOG_TIME
    assert r.fetch_error is None
    # our own pull failed for another server: the whole error is kept (the reason is cut)
    long_error = "reports1: timed out reading /reports/acme/fs01.out after 30 s " + "x" * 400
    Server.create(customer=Server.get_by_id(r.server_id).customer_id, name="fs01")
    ff = record_fetch_failed("acme", "fs01", NIGHT, long_error)
    assert ff is not None and ff.status == "fetch_failed"
    ff = Result.get_by_id(ff.id)
    assert ff.fetch_error == long_error and len(ff.reason) == 255
    # a real log for that night later replaces the fetch error
    log2 = run_fatal(tmp_path, 30, server="fs01")
    again = Ingestor(now=NOW).ingest_file(log2)
    assert again.result_id == ff.id and again.code == 30
    assert Result.get_by_id(ff.id).fetch_error is None


def test_migration_from_version_3_adds_the_why_columns(any_db):
    """A version-3 database (no why columns) upgrades in place, every row kept."""
    from acorntui.db.models import Customer, Result, SchemaVersion, Server
    from acorntui.db.schema import SCHEMA_VERSION, init_schema

    c = Customer.create(name="acme")
    s = Server.create(customer=c, name="fs1")
    for i in range(3):
        Result.create(server=s, night=NIGHT - dt.timedelta(days=i), code=0, status="ok",
                      total_size=100 + i, reason="")
    q0, q1 = any_db.quote
    for col in ("why_lines", "log_tail", "fetch_error"):
        any_db.execute_sql(f"ALTER TABLE {q0}results{q1} DROP COLUMN {q0}{col}{q1}")
    SchemaVersion.delete().execute()
    SchemaVersion.create(version=3)
    assert not {"why_lines", "log_tail", "fetch_error"} & {
        c.name for c in any_db.get_columns("results")}
    did = init_schema(any_db)
    assert did["migrated_to"] == SCHEMA_VERSION == 5
    assert {"why_lines", "log_tail", "fetch_error"} <= {
        c.name for c in any_db.get_columns("results")}
    assert sorted(r.total_size for r in Result.select()) == [100, 101, 102]
    assert all(r.why_lines is None and r.log_tail is None for r in Result.select())
    assert init_schema(any_db)["migrated_to"] is None


# -- the words -----------------------------------------------------------------------------------

def _why(**kw):
    from acorntui.services.why import NightWhy

    base = dict(result_id=1, night=NIGHT, status="incomplete", code=-2, reason="")
    base.update(kw)
    return NightWhy(**base)


def test_why_words_for_each_reason():
    from acorntui.services.why import WhyLine, why_words

    assert why_words(_why(reason="missing")).headline == "no log arrived for this night"
    # the night ends at noon the day after (cutoff 12 h): 31 h before that
    stale = why_words(_why(reason="stale", log_mtime=dt.datetime(2026, 11, 25, 5, 0)))
    assert stale.headline.startswith("log is 31 h old: written 2026-11-25 05:00")
    future = why_words(_why(reason="future", log_mtime=dt.datetime(2026, 11, 27, 15, 0)))
    assert future.headline.startswith("clock ahead: the log is dated 2026-11-27 15:00, 27 h after")
    cut = why_words(_why(reason="incomplete", tail=[f"line {i}" for i in range(20)]))
    assert cut.headline.startswith("log stops mid-transfer")
    assert cut.tail == [f"line {i}" for i in range(12, 20)]
    fetch = why_words(_why(status="fetch_failed", reason="fetch failed: cut",
                           fetch_error="reports1: timed out reading /reports/a/b.out"))
    assert fetch.headline == ("could not fetch the log from the report server: "
                              "reports1: timed out reading /reports/a/b.out")
    lines = [WhyLine(i, "error", f"rsync: e{i}") for i in range(1, 11)]
    fatal = why_words(_why(status="failed", code=12, jargon="Connection Died",
                           why_lines=lines, why_count=30))
    assert fatal.headline == "rsync stopped with code 12: Connection Died"
    assert [x.line for x in fatal.lines] == [5, 6, 7, 8, 9, 10] and fatal.more == 24
    assert why_words(_why(status="ok", code=0)).headline == ""


def test_fetch_failed_meaning_says_our_pull_failed(sqlite_db, sqlite_url, capsys):
    """The grid's Meaning and the JSON reports' ``jargon`` for a fetch_failed row."""
    from acorntui.cli.main import main
    from acorntui.db.models import Customer, Server
    from acorntui.services.ingest import record_fetch_failed
    from acorntui.services.queries import FETCH_FAILED_MEANING, nightly_rows

    Server.create(customer=Customer.create(name="tamarack"), name="FS01")
    record_fetch_failed("tamarack", "FS01", NIGHT, "reports1: timed out")
    (row,) = nightly_rows(NIGHT)
    assert row.jargon == FETCH_FAILED_MEANING == "Could not fetch the log from the report server"
    assert main(["--db", sqlite_url, "report", "nightly", "--night", NIGHT.isoformat(),
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = [r for r in data["servers"] if r["status"] == "fetch_failed"]
    assert rows and all(r["jargon"] == FETCH_FAILED_MEANING for r in rows)
    assert "Backup did not complete" not in json.dumps(rows)


def test_code_reference_names_the_console_keys():
    from acorntui.services.codes import in_console, shipped_codes

    by = {c.code: c for c in shipped_codes()}
    assert "clear the database" in by[12].resolution
    assert in_console(by[12].resolution).endswith("If it finishes, press r to re-parse the log.")
    minus2 = in_console(by[-2].resolution)
    assert "Press r to re-parse the log." in minus2 and "clear the database" not in minus2
    assert "press x on the failing file (in history) to add an exception" in in_console(
        by[23].resolution)
