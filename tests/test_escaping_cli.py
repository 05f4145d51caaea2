"""`ingest`, `parse` and JSON output show hostile names escaped (issue 12, finding 9).

Customer and server names come from folder and file names on a report server. A folder named
``ESC]0;pwned BEL`` set the terminal title, ``ESC[2J`` cleared the screen, and the JSON output
passed bidi (U+202E) and C1 (U+009B, a one-character CSI) characters through raw. Every
output is checked as the bytes a terminal would receive.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

NOW = dt.datetime(2026, 11, 26, 7, 0, 0)
LOG_TIME = dt.datetime(2026, 11, 26, 2, 30, 0)  # night 2026-11-25
CUSTOMER = "evil\x1b]0;pwned\x07\x1b[2J\u202etxt.exe\u009b"
SERVER = "srv\u202e\x1b[2J"
BAD_PATH = "/data/\x1b[2Jreport\u202efdp.exe\u009b1m"
FAIL_LOG = (f'rsync: send_files failed to open "{BAD_PATH}": Permission denied (13)\n'
            "sent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\n"
            "total size is 9,999  speedup is 7.75\n"
            "rsync error: some files could not be transferred (code 23) at main.c(1039) "
            "[sender=3.0.9]\n")
RAW = [b"\x1b", b"\x07", "\u202e".encode(), "\u009b".encode()]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "acorntui", *args], capture_output=True,
                          timeout=120, env=os.environ.copy())


def assert_no_raw_controls(proc: subprocess.CompletedProcess) -> None:
    for stream in (proc.stdout, proc.stderr):
        for raw in RAW:
            assert raw not in stream, (raw, stream[:2000])


@pytest.fixture
def hostile(tmp_path) -> tuple[str, Path, Path]:
    spool = tmp_path / "spool"
    folder = spool / CUSTOMER
    folder.mkdir(parents=True)
    log = folder / f"{SERVER}.out"
    log.write_text(FAIL_LOG)
    os.utime(log, (LOG_TIME.timestamp(), LOG_TIME.timestamp()))
    (folder / "bad\x1b[2J.out").mkdir()  # an error message that names a hostile path
    url = f"sqlite:///{tmp_path / 'e.db'}"
    assert run("--db", url, "init-db").returncode == 0
    return url, spool, log


def test_parse_text_and_json_escape_hostile_names(hostile):
    url, _, log = hostile
    text = run("--db", url, "parse", "--now", NOW.isoformat(), str(log))
    assert text.returncode == 0, text.stderr
    assert_no_raw_controls(text)
    out = text.stdout.decode()
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J\\u202etxt.exe\\x9b/srv\\u202e\\x1b[2J: FAILED" in out
    assert "/data/\\x1b[2Jreport\\u202efdp.exe\\x9b1m" in out

    js = run("--db", url, "parse", "--json", "--now", NOW.isoformat(), str(log))
    assert js.returncode == 0, js.stderr
    assert_no_raw_controls(js)
    assert b"\\u001b]0;pwned\\u0007\\u001b[2J\\u202etxt.exe\\u009b" in js.stdout
    data = json.loads(js.stdout)
    assert (data["customer"], data["server"]) == (CUSTOMER, SERVER)  # exact text round-trips
    assert data["failures"][0]["path"] == BAD_PATH

    missing = run("--db", url, "parse", str(log.parent / "\x1b]0;gone\x07.out"))
    assert missing.returncode == 2
    assert_no_raw_controls(missing)
    assert b"\\x1b]0;gone\\x07.out" in missing.stderr


def test_ingest_text_and_json_escape_hostile_names(hostile):
    url, spool, _ = hostile
    text = run("--db", url, "ingest", "--now", NOW.isoformat(), str(spool))
    assert text.returncode == 1  # the folder named like a log
    assert_no_raw_controls(text)
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J\\u202etxt.exe\\x9b/srv\\u202e\\x1b[2J" in \
        text.stdout.decode()
    assert "bad\\x1b[2J.out: Is a directory" in text.stderr.decode()

    js = run("--db", url, "ingest", "--json", "--now", NOW.isoformat(), str(spool))
    assert_no_raw_controls(js)
    data = json.loads(js.stdout)
    assert {o["customer"] for o in data} == {CUSTOMER}
    assert SERVER in {o["server"] for o in data}


@pytest.mark.parametrize("kind", ["failures", "nightly"])
def test_report_json_escapes_hostile_names(hostile, kind):
    url, spool, _ = hostile
    run("--db", url, "ingest", "--now", NOW.isoformat(), str(spool))
    js = run("--db", url, "report", kind, "--night", "2026-11-25", "--format", "json")
    assert js.returncode == 0, js.stderr
    assert_no_raw_controls(js)
    assert b"\\u202e" in js.stdout and b"\\u009b" in js.stdout
    data = json.loads(js.stdout)
    assert {s["customer"] for s in data["servers"]} == {CUSTOMER}
    if kind == "failures":
        assert data["servers"][0]["files"][0]["path"] == BAD_PATH


def test_json_text_escapes_what_visible_controls_escapes():
    from acorntui.core.textsafe import json_text

    value = {"k\u2066": ["\x00\x1b\x7f\x85\x9b", "\u200b\u202e\u2028", "\U000e0041", "ok é ✓"]}
    text = json_text(value, indent=1)
    assert json.loads(text) == value
    assert text.isascii() is False  # readable text stays readable: é and ✓ are kept
    assert "é" in text and "✓" in text
    for ch in "\x00\x1b\x7f\x85\x9b\u200b\u202e\u2028\u2066\U000e0041":
        assert ch not in text
    assert "\\udb40\\udc41" in text  # a tag character, as a JSON surrogate pair
