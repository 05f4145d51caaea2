"""acorntui.core.parser on hand-written Windows-flavoured fixtures and edge cases."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from acorntui.core.parser import (
    KINDS,
    ParseError,
    parse_bytes,
    parse_file,
    parse_number,
)

LOGS = Path(__file__).parent / "fixtures" / "logs"


def parse(name: str):
    return parse_file(LOGS / name, max_age_hours=0)


def fail_map(result) -> dict[str, str]:
    return {f.path: f.kind for f in result.failures}


# --------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize(
    "name", ["writeup_sample.out", "writeup_sample_crlf.out", "utf8_bom.out", "trailing_nuls.out",
             "no_final_newline.out"],
)
def test_writeup_sample_is_clean_with_exact_stats(name):
    r = parse(name)
    assert (r.code, r.reason) == (0, None)
    assert r.failures == [] and r.unrecognised_errors == []
    s = r.stats
    assert (s.sent_bytes, s.received_bytes, s.total_size) == (23990367, 120237, 294748160)
    assert s.bytes_per_sec == pytest.approx(1176127.02)
    assert s.speedup == pytest.approx(12.22)
    assert r.lines == (14 if name == "trailing_nuls.out" else 13)  # NULs: a partial line
    assert r.rsync_version is None


def test_writeup_sample_json_shape_and_identity(tmp_path):
    target = tmp_path / "smithco" / "exch01.out"
    target.parent.mkdir()
    target.write_bytes((LOGS / "writeup_sample.out").read_bytes())
    r = parse_file(target, max_age_hours=0)
    d = r.to_dict()
    assert d == {
        "customer": "smithco",
        "server": "exch01",
        "code": 0,
        "reason": None,
        "failures": [],
        "stats": {
            "sent_bytes": 23990367,
            "received_bytes": 120237,
            "bytes_per_sec": 1176127.02,
            "total_size": 294748160,
            "speedup": 12.22,
        },
        "rsync_version": None,
    }
    assert r.size == target.stat().st_size and len(r.sha256) == 64


def test_cp1252_pst_and_quickbooks_309_crlf():
    r = parse("v309_cp1252_crlf.out")
    assert r.code == 23 and r.codes_seen == [23]
    assert r.rsync_version == "3.0.9"
    # the invalid UTF-8 byte 0xF6 stays visible, nothing is lost
    assert fail_map(r) == {
        "/cygdrive/E/shares/Buchhaltung/Bilanz_K\\xf6ln.xls": "open_failed",
        "/cygdrive/E/shares/Mail/outlook.pst": "open_failed",
        "/cygdrive/E/shares/QB/Company.QBW": "open_failed",
    }
    assert r.encoding == "utf-8+backslashreplace"
    pst = r.failures[1]
    assert pst.line == 13
    assert pst.message == (
        'rsync: send_files failed to open "/cygdrive/E/shares/Mail/outlook.pst": '
        "Device or resource busy (16)"
    )
    assert r.stats.total_size == 8123456789


def test_31_comma_numbers_and_utf16le_bom_agree():
    a, b = parse("v312_commas.out"), parse("utf16le_bom.out")
    for r in (a, b):
        assert r.code == 23 and r.rsync_version == "3.1.2"
        assert fail_map(r) == {
            "/cygdrive/E/shares/Mail/outlook.pst": "open_failed",
            "/cygdrive/E/shares/SQL/db.mdf": "read_error",
        }
        assert (r.stats.sent_bytes, r.stats.received_bytes) == (23990367, 120237)
        assert r.stats.bytes_per_sec == pytest.approx(1176127.02)
        assert r.stats.total_size == 294748160
    assert b.encoding == "utf-16-le"
    assert [f.line for f in a.failures] == [f.line for f in b.failures] == [3, 4]
    assert all("\r" not in f.message for f in b.failures)


def test_32_role_prefixes_every_kind():
    r = parse("v327_roles.out")
    assert r.code == 23 and r.rsync_version == "3.2.7"
    got = [(f.path, f.kind, m.group(1) if (m := re.match(r"rsync: \[(\w+)\] ", f.message))
            else None) for f in r.failures]
    # the message keeps rsync 3.2's role prefix, so a reader sees which side failed
    assert got == [
        ("/cygdrive/E/shares/Gone", "link_stat_failed", "sender"),
        ("/cygdrive/E/shares/Mail/outlook.pst", "open_failed", "sender"),
        ("/cygdrive/E/shares/System Volume Information", "opendir_failed", "sender"),
        ("/cygdrive/E/shares/link", "readlink_failed", "sender"),
        ("/cygdrive/E/shares/Temp/~$budget.xlsx", "vanished", None),
        ("/cygdrive/E/shares/dangling", "symlink_no_referent", None),
        ("/mirror/fs1/shares/New", "mkdir_failed", "generator"),
        ("/mirror/fs1/shares/Docs", "set_times_failed", "generator"),
        ("shares/old.txt", "delete_failed", "generator"),
        ("shares/OldDir", "delete_nonempty_dir", None),
        ("/mirror/fs1/shares/.a.txt.Gx1", "rename_failed", "receiver"),
        ("/mirror/fs1/shares/.b.txt.XXXXXX", "mkstemp_failed", "receiver"),
        ("/mirror/fs1/shares/big.vhd", "write_failed", "receiver"),
        ("/mirror/fs1/shares/Deep", "chdir_failed", "receiver"),
        ("shares/Docs/changing.doc", "verification_failed", None),
        ("/mirror/fs1/shares/x.txt", "other", "receiver"),
    ]
    assert all(f.kind in KINDS for f in r.failures)
    assert r.stats.speedup == pytest.approx(1428.89)
    assert r.unrecognised_errors == []


def test_269_log_and_cr_before_midline_message():
    r = parse("v269.out")
    assert (r.code, r.rsync_version) == (23, "2.6.9")
    assert fail_map(r) == {"/cygdrive/E/shares/Missing": "link_stat_failed"}
    assert r.failures[0].message.startswith("rsync: link_stat")


def test_connection_errors_12_and_255_are_not_file_errors():
    r12, r255 = parse("code12.out"), parse("code255.out")
    assert (r12.code, r255.code) == (12, 255)
    assert r12.failures == [] and r255.failures == []
    assert any("connection unexpectedly closed" in u for u in r12.unrecognised_errors)
    assert any("writefd_unbuffered" in u for u in r12.unrecognised_errors)
    assert any(u.startswith("ssh: connect to host") for u in r255.unrecognised_errors)
    assert all("\r" not in u for u in r255.unrecognised_errors)


def test_quotes_inside_names_escapes_and_midline():
    r = parse("quotes_escapes.out")
    assert r.code == 23
    assert [(f.path, f.kind, f.line) for f in r.failures] == [
        ('/cygdrive/E/shares/He said "no" again.txt', "link_stat_failed", 2),
        ('/cygdrive/E/shares/odd": name": here.pst', "open_failed", 3),
        ("/cygdrive/E/shares/esc\\#033[31mred.txt", "open_failed", 4),
    ]
    assert r.failures[0].message.startswith("rsync: [sender] link_stat")


def test_human_and_locale_numbers():
    h = parse("human.out")
    assert h.code == 0
    assert h.stats.sent_bytes == 22_880_000 and h.stats.received_bytes == 1230
    assert h.stats.bytes_per_sec == pytest.approx(4_560_000)
    assert h.stats.total_size == 4_560_000_000 and h.stats.speedup == pytest.approx(199.3)
    loc = parse("locale_numbers.out")
    assert (loc.stats.sent_bytes, loc.stats.received_bytes) == (23990367, 120237)
    assert loc.stats.bytes_per_sec == pytest.approx(1176127.02)
    assert loc.stats.total_size == 40331221 and loc.stats.speedup == pytest.approx(1.68)


def test_last_completion_line_counts():
    r = parse("multiple_codes.out")
    assert r.codes_seen == [11, 12] and r.code == 12
    assert r.rsync_version == "3.2.7"
    assert fail_map(r) == {"/mirror/fs1/shares/big.vhd": "write_failed"}


def test_rsync_that_exited_0_keeps_code_0_but_lists_errors():
    r = parse("exited0_with_errors.out")
    # errors and a final summary but no completion line: not a perfect completion, never ok
    assert (r.code, r.reason) == (-2, "incomplete")
    assert fail_map(r) == {"/cygdrive/E/shares/QB/Company.QBW": "open_failed"}


@pytest.mark.parametrize("name", ["incomplete.out", "truncated_nuls.out", "error_without_code.out"])
def test_no_code_and_no_summary_is_incomplete(name):
    r = parse(name)
    assert (r.code, r.reason) == (-2, "incomplete")
    assert r.codes_seen == []


def test_error_line_without_code_is_unrecognised():
    r = parse("error_without_code.out")
    assert r.unrecognised_errors == [
        "rsync error: this line has no code and is not a completion line"
    ]


# --------------------------------------------------------------------------- rules


def test_summary_not_last_means_incomplete():
    data = (LOGS / "writeup_sample.out").read_bytes() + b"/cygdrive/D/late/file.txt\n"
    assert parse_bytes(data).code == -2


def test_dry_run_is_not_a_clean_backup():
    r = parse_bytes(b"sent 10 bytes  received 20 bytes  60.00 bytes/sec\n"
                    b"total size is 30  speedup is 1.00 (DRY RUN)\n")
    assert (r.code, r.reason) == (-2, "incomplete")


def test_code_zero_line_is_not_trusted():
    r = parse_bytes(b"/a\nrsync error: forged (code 0) at main.c(1) [sender=3.2.7]\n")
    assert r.code == -2 and r.codes_seen == []


def test_vanished_warning_24_and_unprefixed_vanished():
    r = parse_bytes(
        b'file has vanished: "/cygdrive/E/shares/Temp/x.tmp"\n'
        b'directory has vanished: "/cygdrive/E/shares/Temp/dir"\n'
        b"rsync warning: some files vanished before they could be transferred (code 24) at "
        b"main.c(1865) [sender=3.2.7]\n"
    )
    assert r.code == 24 and r.rsync_version == "3.2.7"
    assert fail_map(r) == {
        "/cygdrive/E/shares/Temp/x.tmp": "vanished",
        "/cygdrive/E/shares/Temp/dir": "vanished",
    }


def test_receiver_tag_version_and_daemon_module_suffix():
    r = parse_bytes(
        b'rsync: [sender] send_files failed to open "/data/a.pst" (in backup): Permission '
        b"denied (13)\n"
        b"rsync error: some files/attrs were not transferred (see previous errors) (code 23) "
        b"at main.c(1338) [Receiver=3.1.3]\n"
    )
    assert r.rsync_version == "3.1.3"
    assert [f.path for f in r.failures] == ["/data/a.pst"]


def test_unknown_quoted_rsync_error_is_other_but_connection_errors_are_not():
    r = parse_bytes(
        b'rsync: [generator] symlink "/m/x" -> "target" failed: Operation not permitted (1)\n'
        b'rsync: server sent "HTTP/1.0 400 Bad Request" rather than greeting\n'
        b"rsync: read error: Connection reset by peer (104)\n"
        b"rsync error: error in socket IO (code 10) at io.c(785) [sender=3.2.7]\n"
    )
    assert [(f.path, f.kind) for f in r.failures] == [("/m/x", "other")]
    assert len(r.unrecognised_errors) == 2


def test_unrecognised_errors_are_capped():
    data = b"".join(b"rsync: some new problem number %d\n" % i for i in range(500))
    assert len(parse_bytes(data).unrecognised_errors) == 100


def test_line_numbers_across_block_boundaries():
    filler = b"/cygdrive/E/shares/Docs/file_%07d.doc\n"
    lines = [filler % i for i in range(120_000)]  # ~4.5 MB: several 1 MiB blocks
    lines[70_000] = (
        b'rsync: [sender] send_files failed to open "/x/y.pst": Permission denied (13)\n'
    )
    data = b"".join(lines) + (
        b"\nsent 1 bytes  received 2 bytes  3.00 bytes/sec\ntotal size is 4  speedup is 0.50\n"
    )
    r = parse_bytes(data)
    assert r.code == -2  # a file error without a completion line is not a perfect completion
    assert [(f.path, f.line) for f in r.failures] == [("/x/y.pst", 70_001)]
    assert r.lines == 120_003
    assert r.stats.total_size == 4


def test_huge_line_without_newline_does_not_break():
    r = parse_bytes(b"x" * (9 << 20) + b"\ntotal size is 1  speedup is 1.00\n")
    assert r.code == 0


def test_utf16_without_bom_is_detected():
    data = (LOGS / "writeup_sample.out").read_bytes().decode().encode("utf-16-le")
    r = parse_bytes(data)
    assert r.code == 0 and r.encoding == "utf-16-le" and r.stats.total_size == 294748160


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "decimal", "value"),
    [
        ("23990367", False, 23990367),
        ("23,990,367", False, 23990367),
        ("23.990.367", False, 23990367),
        ("1,234", False, 1234),
        ("22.88M", False, 22_880_000),
        ("1.23K", False, 1230),
        ("4.56G", False, 4_560_000_000),
        ("22,88M", False, 22_880_000),
        ("1176127.02", True, 1176127.02),
        ("1,176,127.02", True, 1176127.02),
        ("1.176.127,02", True, 1176127.02),
        ("1,68", True, 1.68),
        ("12.22", True, 12.22),
        ("1,234", True, 1234.0),
        ("4.56M", True, 4_560_000.0),
    ],
)
def test_parse_number(text, decimal, value):
    got = parse_number(text, decimal=decimal)
    assert got == pytest.approx(value)
    assert isinstance(got, float if decimal else int)


@pytest.mark.parametrize("text", ["", "abc", "1,2,3", "1..2", ",5", "12ab", "M"])
def test_parse_number_rejects_garbage(text):
    assert parse_number(text) is None


# --------------------------------------------------------------------------- files


def test_missing_file_raises_parse_error_naming_the_path(tmp_path):
    missing = tmp_path / "acme" / "nope.out"
    with pytest.raises(ParseError) as exc:
        parse_file(missing)
    assert str(missing) in str(exc.value)
    assert "No such file" in str(exc.value)


def test_directory_raises_parse_error(tmp_path):
    with pytest.raises(ParseError, match="Is a directory"):
        parse_file(tmp_path)


def test_path_under_a_file_raises_parse_error(tmp_path):
    f = tmp_path / "file.out"
    f.write_bytes(b"")
    with pytest.raises(ParseError, match=str(f)):
        parse_file(f / "child.out")


def test_fifo_raises_parse_error_instead_of_blocking(tmp_path):
    fifo = tmp_path / "pipe.out"
    os.mkfifo(fifo)
    with pytest.raises(ParseError, match="not a regular file"):
        parse_file(fifo)


def _as_nobody(fn) -> tuple[str, object]:
    """Run ``fn()`` as user nobody in a forked child: ("ok", its value) or (exception class
    name, message), through a pipe. Mode 000 means nothing to root, so a real "permission
    denied" needs a real unprivileged reader."""
    import pickle
    import pwd

    if os.geteuid() != 0:
        from conftest import skip_or_fail

        skip_or_fail("reading as another user needs root")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        from conftest import skip_or_fail

        skip_or_fail("there is no user 'nobody' to read as")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop root for good, run, report, leave without pytest's cleanup
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            try:
                out: tuple[str, object] = ("ok", fn())
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                out = (type(exc).__name__, str(exc))
            os.write(w, pickle.dumps(out))
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)


def test_unreadable_file_raises_parse_error():
    """A log its reader may not open (mode 000, read by an unprivileged user): a ParseError
    that names the file and says why."""
    base = Path(tempfile.mkdtemp(prefix="acorn-unreadable-"))
    try:
        os.chmod(base, 0o755)  # the folder can be entered; only the file is closed
        f = base / "locked.out"
        f.write_bytes(b"total size is 1  speedup is 1.00\n")
        f.chmod(0)
        readable = base / "open.out"
        readable.write_bytes(b"total size is 1  speedup is 1.00\n")
        readable.chmod(0o644)
        # the same reader reads a readable file: what refuses it is the file's mode
        assert _as_nobody(lambda: parse_file(readable).code) == ("ok", 0)
        kind, message = _as_nobody(lambda: parse_file(f))
        assert kind == "ParseError", message
        assert "Permission denied" in message and str(f) in message
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_read_error_midway_is_a_parse_error(tmp_path, monkeypatch):
    import acorntui.core.parser as parser_module

    f = tmp_path / "eio.out"
    f.write_bytes(b"x" * (3 << 20))

    class Failing:
        def __init__(self, *a, **k):
            self.n = 0

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def fileno(self):
            return os.open(f, os.O_RDONLY)

        def read(self, n=-1):
            self.n += 1
            if self.n > 1:
                raise OSError(5, "Input/output error")
            return b"y" * n

    monkeypatch.setattr(parser_module, "open", Failing, raising=False)
    with pytest.raises(ParseError, match="Input/output error"):
        parse_file(f)


def test_stale_file_is_minus_2_but_keeps_failures(tmp_path):
    f = tmp_path / "acme" / "fs1.out"
    f.parent.mkdir()
    f.write_bytes((LOGS / "v312_commas.out").read_bytes())
    old = datetime(2024, 1, 1, 3, 0, tzinfo=UTC).timestamp()
    os.utime(f, (old, old))
    now = datetime(2024, 1, 2, 4, 0, tzinfo=UTC)  # 25 hours later
    r = parse_file(f, now=now)
    assert (r.code, r.reason) == (-2, "stale")
    assert r.codes_seen == [23] and len(r.failures) == 2
    assert r.mtime == old
    fresh = parse_file(f, now=now - timedelta(hours=2))
    assert (fresh.code, fresh.reason) == (23, None)
    assert parse_file(f, now=now, max_age_hours=0).code == 23
    assert parse_file(f, now=now, max_age_hours=48).code == 23


def test_empty_file_is_incomplete(tmp_path):
    f = tmp_path / "empty.out"
    f.write_bytes(b"")
    r = parse_file(f, max_age_hours=0)
    assert (r.code, r.reason, r.lines, r.size) == (-2, "incomplete", 0, 0)


def test_million_line_log_parses_in_bounded_memory(tmp_path):
    """A 1M-line verbose log: right answer, and the parse does not hold the file."""
    log = tmp_path / "big.out"
    line = b"/cygdrive/E/shares/Users/jsmith/Documents/Project/file_%07d.docx\n"
    with open(log, "wb") as fh:
        for start in range(0, 1_000_000, 10_000):
            fh.write(b"".join(line % i for i in range(start, start + 10_000)))
            if start == 500_000:
                fh.write(b'rsync: [sender] send_files failed to open "/cygdrive/E/q.pst": '
                         b"Permission denied (13)\n")
        fh.write(b"\nsent 9 bytes  received 9 bytes  9.00 bytes/sec\n"
                 b"total size is 9  speedup is 0.50\n"
                 b"rsync error: some files/attrs were not transferred (see previous errors) "
                 b"(code 23) at main.c(1338) [sender=3.2.7]\n")
    # VmHWM (peak RSS of this process image; ru_maxrss would include pytest's, across exec)
    code = (
        "import re; from acorntui.core.parser import parse_file; "
        f"r = parse_file({str(log)!r}, max_age_hours=0); "
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
        "print(r.code, r.lines, [f.line for f in r.failures], hwm)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parent.parent, check=True).stdout.split(maxsplit=3)
    assert out[0] == "23" and out[1] == "1000005"
    assert out[2] == "[510001]"
    size_mb = log.stat().st_size / 1e6
    peak_mb = int(out[3]) / 1024
    assert size_mb > 60
    assert peak_mb < 45, f"peak RSS {peak_mb:.0f} MB for a {size_mb:.0f} MB log"
