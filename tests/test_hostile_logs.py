"""Bounded cost on hostile logs (issue 12, finding 7).

A log with a million file-error lines must not cost a million rows and half a GB: the parser
keeps the first MAX_FAILURES (1,000) failures per log plus the true count; results.error_count
holds the true count; failures past the cap are never excepted, so they can never make a night
green; everything that lists failures says "and N more". The cap behaves the same at 1,001
failures as at 1,000,000, so these tests use 1,001 (bench/hostile.py measures the big case).

A line longer than the 4 MiB read cap is not one rsync wrote: even when it ends in the summary
line, the log is -2, at any length (300 MB included), in bounded memory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from acorntui.cli.main import main
from acorntui.core.parser import MAX_FAILURES, parse_bytes, parse_file
from acorntui.services import exceptions as er
from acorntui.services.ingest import Ingestor
from acorntui.services.roles import User

NOW = dt.datetime(2026, 11, 26, 7, 0, 0)
LOG_TIME = dt.datetime(2026, 11, 26, 2, 30, 0)  # night 2026-11-25
TSR = User("tess", "tsr", "Tess", 2)
SUMMARY = ("sent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\n"
           "total size is 9,999  speedup is 7.75\n")
CODE23 = ("rsync error: some files/attrs were not transferred (see previous errors) (code 23) "
          "at main.c(1338) [sender=3.2.7]\n")


def flood(n: int) -> str:
    """A code-23 log with ``n`` locked files under /data/locked."""
    lines = [f'rsync: [sender] send_files failed to open "/data/locked/f{i:07d}.tmp": '
             "Permission denied (13)\n" for i in range(n)]
    return "sending incremental file list\n" + "".join(lines) + SUMMARY + CODE23


def write(root: Path, customer: str, server: str, text: str) -> Path:
    p = root / customer / f"{server}.out"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    os.utime(p, (LOG_TIME.timestamp(), LOG_TIME.timestamp()))
    return p


def test_parser_keeps_the_first_1000_failures_and_the_true_count():
    assert MAX_FAILURES == 1000
    r = parse_bytes(flood(1001).encode())
    assert r.code == 23
    assert r.failure_count == 1001
    assert len(r.failures) == 1000
    assert r.failures[0].path == "/data/locked/f0000000.tmp"
    assert r.failures[-1].path == "/data/locked/f0000999.tmp"  # the first 1,000, in order
    assert r.failures_not_kept == 1
    at_cap = parse_bytes(flood(1000).encode())
    assert (at_cap.failure_count, len(at_cap.failures), at_cap.failures_not_kept) == (1000, 1000,
                                                                                      0)


def test_failures_past_the_cap_never_make_the_night_green(sqlite_db, tmp_path):
    """An exception that matches every stored failure turns 1,000 failures into OK*, but not
    1,001: the one past the cap is unseen, so it counts as not excepted."""
    from acorntui.db.models import Failure, Result, Server

    spool = tmp_path / "spool"
    write(spool, "acme", "big", flood(1001))
    write(spool, "acme", "cap", flood(1000))
    Ingestor(now=NOW).ingest_paths([spool])
    big = Result.get(Result.server == Server.get(Server.name == "big"))
    assert big.error_count == 1001  # the true count
    assert Failure.select().where(Failure.result == big).count() == 1000  # the stored ones
    server = Server.get(Server.name == "big")
    er.add_exception(TSR, er.ExceptionInput(scope="customer", customer_id=server.customer_id,
                                            path_pattern="/data/locked/*.tmp",
                                            reason="temp files", method="none"))
    cap = Result.get(Result.server == Server.get(Server.name == "cap"))
    assert (cap.status, cap.excepted_count) == ("ok_with_exceptions", 1000)
    big = Result.get(Result.server == server)
    assert big.status == "failed", big.reason
    assert (big.error_count, big.excepted_count) == (1001, 1000)
    assert "1 file error not excepted" in big.reason
    assert "1 past the first 1000 not listed, never excepted" in big.reason
    # a fresh ingest (the exception already there) decides the same
    write(spool, "acme", "big", flood(1001) + "\n")
    out = Ingestor(now=NOW).ingest_file(spool / "acme" / "big.out")
    assert (out.action, out.status) == ("replaced", "failed")
    big = Result.get(Result.server == server)
    assert (big.error_count, big.excepted_count) == (1001, 1000)


def test_parse_and_reports_say_and_n_more(sqlite_url, sqlite_db, tmp_path, capsys):
    spool = tmp_path / "spool"
    log = write(spool, "acme", "big", flood(1003))
    assert main(["--db", sqlite_url, "parse", "--now", NOW.isoformat(), str(log)]) == 0
    out = capsys.readouterr().out
    assert out.count("FAILING") == 1000
    assert "... and 3 more file errors (not listed, never excepted)" in out
    assert main(["--db", sqlite_url, "parse", "--json", "--now", NOW.isoformat(), str(log)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (len(data["failures"]), data["failure_count"], data["failures_not_listed"]) == (
        1000, 1003, 3)
    assert main(["--db", sqlite_url, "ingest", "--now", NOW.isoformat(), str(spool)]) == 0
    capsys.readouterr()
    assert main(["--db", sqlite_url, "report", "failures", "--night", "2026-11-25",
                 "--max-files", "5000"]) == 0
    text = capsys.readouterr().out
    assert "Failing files (1003):" in text
    assert "... and 3 more" in text
    assert main(["--db", sqlite_url, "report", "failures", "--night", "2026-11-25",
                 "--format", "json", "--max-files", "5000"]) == 0
    data = json.loads(capsys.readouterr().out)
    (srv,) = data["servers"]
    assert (srv["open_files"], len(srv["files"]), srv["file_errors"]) == (1003, 1000, 1003)


def test_many_runs_keep_the_verdict_and_bounded_codes():
    """Completion codes are tracked, not piled up: an early failing run still shows through
    150 later ones, and codes_seen lists at most 100."""
    failing = 'rsync: send_files failed to open "/x": Permission denied (13)\n' + CODE23
    ok24 = ("rsync warning: some files vanished before they could be transferred (code 24) "
            "at main.c(1338) [sender=3.2.7]\n")
    r = parse_bytes((failing + SUMMARY + ok24 * 150 + SUMMARY).encode())
    assert r.code == 23
    assert len(r.codes_seen) == 100 and r.codes_seen[:2] == [23, 24]


# -- the line cap at any length ------------------------------------------------------------------


def test_a_long_line_ending_in_the_summary_is_incomplete(tmp_path):
    """20 MiB of one line, then the summary on the same line: the 64 KiB "last line" cap used
    to stop working once the 4 MiB read cap cut the line (what was left looked short)."""
    p = tmp_path / "acme" / "srv.out"
    p.parent.mkdir()
    with open(p, "wb") as fh:
        block = b"x" * (1 << 20)
        for _ in range(20):
            fh.write(block)
        fh.write(b" total size is 9,999  speedup is 7.75\n")
    r = parse_file(p, max_age_hours=0)
    assert (r.code, r.reason) == (-2, "incomplete")
    assert r.lines == 1
    assert any("longer than 4 MiB" in u for u in r.unrecognised_errors)


def test_text_after_a_long_line_still_counts(tmp_path):
    """The line after an over-long one is read normally, with its right line number."""
    text = ("sending incremental file list\n" + "y" * (9 << 20) + "\n"
            'rsync: send_files failed to open "/data/a.pst": Permission denied (13)\n'
            + SUMMARY + CODE23)
    r = parse_bytes(text.encode())
    assert r.code == 23
    assert [(f.path, f.line) for f in r.failures] == [("/data/a.pst", 3)]
    assert r.stats.total_size == 9999 and r.lines == 6


# Peak RSS of this process alone: VmHWM belongs to the memory map made by exec, while Linux
# carries ru_maxrss over exec from the forked copy of the parent (a big pytest process).
_MEASURE = r"""
import json, resource, sys, time
from acorntui.core.parser import parse_file
t = time.monotonic()
r = parse_file(sys.argv[1], max_age_hours=0)
try:
    with open("/proc/self/status") as fh:
        peak = next(int(x.split()[1]) for x in fh if x.startswith("VmHWM:")) / 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"code": r.code, "reason": r.reason, "lines": r.lines, "size": r.size,
                  "s": time.monotonic() - t, "peak_rss_mb": peak}))
"""


@pytest.mark.timeout(120)
def test_a_300_mb_line_ending_in_the_summary_is_incomplete_in_bounded_memory(tmp_path):
    """300 MB of one line (written sparse: NULs cost no disk and no write time) ending in the
    summary line: -2, and the parse stays far under 100 MB."""
    p = tmp_path / "acme" / "srv.out"
    p.parent.mkdir()
    tail = b" total size is 9,999  speedup is 7.75\n"
    with open(p, "wb") as fh:
        fh.truncate(300_000_000)
        fh.seek(300_000_000)
        fh.write(tail)
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(p)], capture_output=True,
                          text=True, timeout=110)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert (got["code"], got["reason"], got["lines"]) == (-2, "incomplete", 1), got
    assert got["size"] == 300_000_000 + len(tail)
    assert got["peak_rss_mb"] < 100, got


def test_lines_full_of_colons_cost_little():
    """Ten 3 MiB lines of ``rsync: a:b:`` (each under the 4 MiB cut, so each was matched whole
    against every rule: about 3 s a line) parse in about a second: only the first 64 KiB of a
    line is matched (no rsync message is longer)."""
    import time

    data = ((b"rsync: a:b:" * 300_000) + b"\n") * 10 + SUMMARY.encode()
    t = time.monotonic()
    r = parse_bytes(data)
    took = time.monotonic() - t
    assert r.code == 0 and r.lines == 12
    assert took < 10, took
