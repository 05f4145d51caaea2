"""Hostile and broken logs through the parser (issue #8, part 5).

- A fuzz run of mutated real-format logs (truncation, byte flips, inserted garbage, CRLF,
  NUL, BOMs, UTF-16, huge numbers, quotes in names...) and of logs generated from rsync's
  own fragments: the parser never raises, the code and the status (acorntui.core.status.
  compute_status) are always known values, and a log is never ok without a completion line
  or a final `total size is` line.
- Big logs (bytes and line counts) parse in bounded memory: peak RSS of a subprocess,
  against the same subprocess parsing a tiny log.
- Binary garbage and one endless line (no newline) give a non-ok result in bounded memory.

Counts (scripts/reliability.py sets the long ones):
  ACORN_REL_FUZZ        mutated examples (default 2000; generated ones: a quarter of it)
  ACORN_REL_BIG_MB      size of the big verbose log (default 64)
  ACORN_REL_LINES       line count of the many-lines log (default 500000)
  ACORN_REL_ENDLESS_MB  size of the one-line log (default 20)
  ACORN_REL_GARBAGE_MB  size of the random-bytes log (default 8)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acorntui.core.parser import KINDS, ParseResult, parse_bytes
from acorntui.core.status import compute_status

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "logs"

N_FUZZ = int(os.environ.get("ACORN_REL_FUZZ", "2000"))
BIG_MB = int(os.environ.get("ACORN_REL_BIG_MB", "64"))
N_LINES = int(os.environ.get("ACORN_REL_LINES", "500000"))
ENDLESS_MB = int(os.environ.get("ACORN_REL_ENDLESS_MB", "20"))
GARBAGE_MB = int(os.environ.get("ACORN_REL_GARBAGE_MB", "8"))
# what the parser may hold besides the interpreter: 1 MiB blocks, a 4 MiB cut for endless
# lines, a rolling tail of about 1 MiB plus the block it sits in, 3 blocks queued for the
# hash thread, and the failures list
RSS_ALLOWANCE_MB = 64

STATUSES = {"ok", "ok_with_exceptions", "failed", "incomplete"}
REASONS = {None, "incomplete", "stale"}


def report_figures(test: str, **figures) -> None:
    line = json.dumps({"test": test, **figures}, default=str)
    print(f"\nFIGURES {line}")
    path = os.environ.get("ACORN_REL_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


# -- seeds: real-format logs -------------------------------------------------------------

INLINE_SEEDS = [
    (
        b"cygwin warning:\r\n  MS-DOS style path detected: c:\\progra~1\\cwRsync\\bin\\plink.exe"
        b"\r\nbuilding file list ... done\r\n/cygdrive/D/\r\n/cygdrive/D/atc/exchbak/pf.bkf\r\n"
        b"\r\nsent 23990367 bytes  received 120237 bytes  1176127.02 bytes/sec\r\n"
        b"total size is 294748160  speedup is 12.22\r\n"
    ),
    (
        b"building file list ... done\r\n/cygdrive/E/shares/\r\n"
        b'rsync: send_files failed to open "/cygdrive/E/shares/Mail/outlook.pst": '
        b"Permission denied (13)\r\n"
        b'rsync: read errors mapping "/cygdrive/E/shares/QB/Company.QBW": '
        b"Device or resource busy (16)\r\n"
        b"\r\nsent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\r\n"
        b"total size is 9,999  speedup is 7.75\r\n"
        b"rsync error: some files could not be transferred (code 23) at main.c(1039) "
        b"[sender=3.0.9]\r\n"
    ),
    b"sending incremental file list\nsent 22.88M bytes  received 1,23K bytes  1,68 bytes/sec\n"
    b"total size is 23.990.367  speedup is 1,68\n",
]
SEEDS = INLINE_SEEDS + [p.read_bytes() for p in sorted(FIXTURES.glob("*.out"))]

FRAGMENTS = [
    b"rsync: ", b"[sender] ", b"[receiver] ", b'send_files failed to open "', b'link_stat "',
    b'" failed: ', b'": Permission denied (13)', b"file has vanished: ", b"rsync error: ",
    b"rsync warning: ", b"(code 23)", b"(code 24)", b"(code 0)", b"(code -1)",
    b"(code 99999999999999999999)", b" at main.c(1039) ", b"[sender=3.0.9]",
    b"total size is ", b"speedup is ", b"sent ", b" bytes  received ", b" bytes/sec",
    b"1,68", b"22.88M", b"9" * 40, b"\r\n", b"\n", b"\r", b"\x00", b"\xff\xfe", b"\xfe\xff",
    b"\xef\xbb\xbf", b"\xf6", b'"', b'""', b'": ', b"\\#033", b"\x1b[31m", b"ERROR: ",
    b" failed verification -- update discarded.", b"cannot delete non-empty directory: ",
    b"Number of files: ", b"delete_file: unlink(", b"symlink has no referent: ",
    b"@ERROR: auth failed on module backup\n", b"building file list ... ", b"\t", b" " * 50,
]


# one branch per mutation kind: a flat dispatch that reads top to bottom
def _mutate(draw, data: bytearray) -> bytearray:  # noqa: C901
    n = len(data)
    pos = draw(st.integers(0, n)) if n else 0
    op = draw(st.sampled_from([
        "truncate", "flip", "garbage", "fragment", "delete", "dup_line", "crlf", "lf", "cr",
        "nul_tail", "nul_inside", "bom8", "utf16", "bom16_only", "huge", "quote", "append_total",
        "append_code", "double",
    ]))
    if op == "truncate":
        return data[:pos]
    if op == "flip" and n:
        i = min(pos, n - 1)
        data[i] = draw(st.integers(0, 255))
        return data
    if op == "garbage":
        return data[:pos] + draw(st.binary(min_size=1, max_size=64)) + data[pos:]
    if op == "fragment":
        return data[:pos] + draw(st.sampled_from(FRAGMENTS)) + data[pos:]
    if op == "delete":
        return data[:pos] + data[pos + draw(st.integers(1, 200)):]
    if op == "dup_line":
        s = data.rfind(b"\n", 0, pos) + 1
        e = data.find(b"\n", pos)
        e = n if e < 0 else e + 1
        return data[:e] + data[s:e] + data[e:]
    if op == "crlf":
        return bytearray(bytes(data).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    if op == "lf":
        return bytearray(bytes(data).replace(b"\r\n", b"\n"))
    if op == "cr":
        return bytearray(bytes(data).replace(b"\n", b"\r"))
    if op == "nul_tail":
        return data + b"\x00" * draw(st.integers(1, 5000))
    if op == "nul_inside":
        return data[:pos] + b"\x00" * draw(st.integers(1, 64)) + data[pos:]
    if op == "bom8":
        return bytearray(b"\xef\xbb\xbf") + data
    if op == "utf16":
        enc = draw(st.sampled_from(["utf-16-le", "utf-16-be"]))
        bom = draw(st.sampled_from([b"", b"\xff\xfe" if enc.endswith("le") else b"\xfe\xff"]))
        return bytearray(bom + bytes(data).decode("latin-1").encode(enc))
    if op == "bom16_only":
        return bytearray(draw(st.sampled_from([b"\xff\xfe", b"\xfe\xff"]))) + data
    if op == "huge":
        # replace the next number by a huge one (or a negative / absurd code)
        i = pos
        while i < n and not chr(data[i]).isdigit():
            i += 1
        j = i
        while j < n and chr(data[j]).isdigit():
            j += 1
        big = draw(st.sampled_from([b"9" * 30, b"18446744073709551616", b"-1", b"0" * 25,
                                    b"1" + b",000" * 12, b"1e308"]))
        return data[:i] + big + data[j:]
    if op == "quote":
        q = data.find(b'"', pos)
        if q < 0:
            return data + b'"'
        return data[:q + 1] + draw(st.sampled_from([b'"', b'": ', b'" failed ', b'\\"']))\
            + data[q + 1:]
    if op == "append_total":
        return data + b"total size is 1  speedup is 1.00" + draw(st.sampled_from(
            [b"", b"\n", b"\r\n", b"\x00\x00"]))
    if op == "append_code":
        return data + b"rsync error: x (code " + str(draw(st.integers(-5, 300))).encode() \
            + b") at main.c(1)\n"
    if op == "double":
        return data + data if n < 20000 else data
    return data


@st.composite
def mutated_logs(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        data = _mutate(draw, data)
    return bytes(data)


generated_logs = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=24)),
                          max_size=60).map(b"".join)


def _variants(data: bytes) -> list[bytes]:
    """The bytes as the parser may read them (UTF-8, or UTF-16 transcoded)."""
    out = [data]
    for enc in ("utf-16-le", "utf-16-be"):
        for skip in (0, 1, 2):
            out.append(data[skip:].decode(enc, "ignore").encode("utf-8", "ignore"))
    return out


def last_line(data: bytes, encoding: str) -> bytes:
    """The last non-blank line of the log as the parser decoded it."""
    enc = encoding.split("+")[0]
    if enc.startswith("utf-16"):
        body = data[2:] if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data
        body = body.decode(enc, "ignore").encode("utf-8")
    else:
        body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    return body.rstrip(b" \t\r\n\x00\x0b\x0c").rsplit(b"\n", 1)[-1]


def check_properties(data: bytes) -> ParseResult:
    r = parse_bytes(data)  # never raises: an exception fails the test
    assert isinstance(r, ParseResult)
    assert r.code == -2 or 0 <= r.code <= 255, r.code
    assert r.reason in REASONS
    assert (r.reason is None) == (r.code != -2)
    n = len(r.failures)
    for excepted in {0, n}:
        status, _reason = compute_status(r.code, r.reason or "", n, excepted)
        assert status in STATUSES
    status, _ = compute_status(r.code, r.reason or "", n, 0)
    for f in r.failures:
        assert f.kind in KINDS and f.path and f.line >= 1
    variants = _variants(data)
    has_code_line = any(b"(code " in v for v in variants)
    has_total = any(b"total size is" in v for v in variants)
    if not has_code_line and not has_total:
        assert status != "ok", "ok without a completion line and without 'total size is'"
        assert r.code == -2
    if r.code == 0:
        # rule 5: no completion line, and the LAST non-blank line is the summary line
        assert has_total and not r.codes_seen
        last = last_line(data, r.encoding)
        assert b"total size is" in last, last[-200:]
    if status == "ok":
        assert r.code in (0, 24)
    json.dumps(r.to_dict())
    return r


FUZZ = settings(max_examples=N_FUZZ, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
_seen = {"mutated": 0, "generated": 0, "ok": 0, "failed": 0, "incomplete": 0,
         "ok_with_exceptions": 0}


@FUZZ
@given(mutated_logs())
def test_fuzz_mutated_real_logs(data):
    r = check_properties(data)
    _seen["mutated"] += 1
    _seen[compute_status(r.code, r.reason or "", len(r.failures), 0)[0]] += 1


@settings(FUZZ, max_examples=max(N_FUZZ // 4, 100))
@given(generated_logs)
def test_fuzz_generated_logs(data):
    check_properties(data)
    _seen["generated"] += 1


def test_fuzz_ran_its_examples_and_reached_every_verdict(request):
    """The two fuzz tests above really ran (hypothesis can quietly give up on a strategy that
    filters too much), and the mutated real logs reached ok, failed and incomplete, so the
    properties were checked on each kind of verdict, not only on one. Reports the counts."""
    ran = {item.name for item in request.session.items}
    if not {"test_fuzz_mutated_real_logs", "test_fuzz_generated_logs"} <= ran:
        pytest.skip("only meaningful in the same run as both fuzz tests")
    report_figures("fuzz_parser", **_seen)
    assert _seen["mutated"] >= N_FUZZ // 4, _seen
    assert _seen["generated"] >= max(N_FUZZ // 4, 100) // 4, _seen
    assert all(_seen[v] > 0 for v in ("ok", "failed", "incomplete")), _seen


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_every_truncation_of_a_seed_before_its_end_is_never_ok(seed):
    """Cut a log anywhere before its last line is complete: never ok unless a completion
    line survived (every 7th byte position, and every position of the last 200 bytes)."""
    data = SEEDS[seed]
    end = len(data.rstrip(b" \t\r\n\x00"))
    cuts = sorted(set(range(0, end, 7)) | set(range(max(0, end - 200), end)))
    for cut in cuts:
        piece = data[:cut]
        r = check_properties(piece)
        if b"total size is" not in last_line(piece, r.encoding) and not r.codes_seen:
            assert r.code == -2, (seed, cut)


# -- big, endless and garbage logs in a subprocess: peak RSS ---------------------------------

PARSE_AND_MEASURE = """
import json, resource, sys, time
from acorntui.core.parser import parse_file

def peak_mb():
    # VmHWM: this process's own peak (ru_maxrss would carry over the forking pytest's peak
    # across exec on Linux)
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

t = time.monotonic()
r = parse_file(sys.argv[1], max_age_hours=0)
print(json.dumps({"code": r.code, "reason": r.reason, "failures": len(r.failures),
                  "lines": r.lines, "size": r.size, "seconds": round(time.monotonic() - t, 2),
                  "unrecognised": len(r.unrecognised_errors),
                  "maxrss_mb": peak_mb()}))
"""


def measure(path: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", PARSE_AND_MEASURE, str(path)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def baseline_rss(tmp_path_factory) -> float:
    p = tmp_path_factory.mktemp("base") / "tiny.out"
    p.write_bytes(SEEDS[0])
    return measure(p)["maxrss_mb"]


def _write_repeated(path: Path, chunk: bytes, total: int, tail: bytes = b"") -> None:
    with open(path, "wb") as fh:
        for _ in range(total // len(chunk)):
            fh.write(chunk)
        fh.write(tail)


def _bounded(m: dict, baseline: float) -> None:
    assert m["maxrss_mb"] - baseline < RSS_ALLOWANCE_MB, (m, baseline)


def test_big_verbose_log_parses_in_bounded_memory(tmp_path, baseline_rss):
    """BIG_MB of verbose listing with a file error every ~10,000 lines, code 23 at the end."""
    lines = b"".join(b"/cygdrive/E/shares/Projects/2026/Drawings/part-%06d.dwg\n" % i
                     for i in range(10_000))
    err = b'rsync: send_files failed to open "/cygdrive/E/shares/locked.pst": ' \
          b"Permission denied (13)\n"
    chunk = lines + err
    tail = (b"sent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\n"
            b"total size is 9,999  speedup is 7.75\n"
            b"rsync error: some files could not be transferred (code 23) at main.c(1039) "
            b"[sender=3.0.9]\n")
    path = tmp_path / "acme" / "big.out"
    path.parent.mkdir()
    _write_repeated(path, chunk, BIG_MB << 20, tail)
    reps = (BIG_MB << 20) // len(chunk)
    m = measure(path)
    path.unlink()
    assert m["code"] == 23 and m["failures"] == reps
    _bounded(m, baseline_rss)
    report_figures("big_log", mb=BIG_MB, baseline_rss_mb=baseline_rss, **m)


def test_many_lines_log_parses_in_bounded_memory(tmp_path, baseline_rss):
    """N_LINES short lines, ending clean."""
    block = b"".join(b"/cygdrive/D/f/%07d\n" % i for i in range(100_000))
    path = tmp_path / "acme" / "lines.out"
    path.parent.mkdir()
    n_blocks = max(1, N_LINES // 100_000)
    with open(path, "wb") as fh:
        for _ in range(n_blocks):
            fh.write(block)
        fh.write(b"sent 1 bytes  received 2 bytes  3.00 bytes/sec\n"
                 b"total size is 5  speedup is 1.00\n")
    m = measure(path)
    path.unlink()
    assert m["code"] == 0 and m["lines"] == n_blocks * 100_000 + 2
    _bounded(m, baseline_rss)
    report_figures("many_lines_log", baseline_rss_mb=baseline_rss, **m)


def test_endless_line_is_not_ok_and_bounded(tmp_path, baseline_rss):
    """One line of ENDLESS_MB with no newline, full of words the parser looks for."""
    path = tmp_path / "acme" / "endless.out"
    path.parent.mkdir()
    _write_repeated(path, b"rsync: total size is 5  speedup is 1 -- " * 4096, ENDLESS_MB << 20)
    m = measure(path)
    path.unlink()
    assert m["code"] == -2 and m["reason"] == "incomplete"
    _bounded(m, baseline_rss)
    # and in bounded time: a long line full of the words the tail scan looks for once took
    # quadratic time (14 s for 4 MiB)
    assert m["seconds"] < 5 + ENDLESS_MB / 10, m
    report_figures("endless_line", mb=ENDLESS_MB, baseline_rss_mb=baseline_rss, **m)


def test_binary_garbage_is_not_ok_and_bounded(tmp_path, baseline_rss):
    path = tmp_path / "acme" / "garbage.out"
    path.parent.mkdir()
    rnd = os.urandom(1 << 20)
    _write_repeated(path, rnd, GARBAGE_MB << 20)
    t = time.monotonic()
    m = measure(path)
    path.unlink()
    assert m["code"] != 0 and m["code"] != 24
    _bounded(m, baseline_rss)
    report_figures("binary_garbage", mb=GARBAGE_MB, wall_s=round(time.monotonic() - t, 2),
                   baseline_rss_mb=baseline_rss, **m)
