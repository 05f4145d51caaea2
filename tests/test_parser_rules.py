"""The parser's verdict rules that mutation testing found unpinned (bench/mutation.py,
docs/testing.md): what a user reads from ``acorntui parse`` is checked here, that is the
code, the reason, and each failing file's path, kind, line and message.

Each log is the shape rsync (or ssh, or a wrapper script around rsync) really writes; the
comment on each test says which rule it pins.
"""

from __future__ import annotations

import pytest

from acorntui.core.parser import _LAST_LINE_CAP, parse_bytes, parse_number

START = b"sending incremental file list\n"
SUMMARY = (b"sent 1,234 bytes  received 5,678 bytes  4,608.00 bytes/sec\n"
           b"total size is 9,876,543  speedup is 1,428.89\n")
CODE_23 = (b"rsync error: some files/attrs were not transferred (see previous errors) "
           b"(code 23) at main.c(1338) [sender=3.2.7]\n")
CODE_24 = (b"rsync warning: some files vanished before they could be transferred "
           b"(code 24) at main.c(1338) [sender=3.2.7]\n")


def failures(r) -> list[tuple[str, str, int, str]]:
    return [(f.path, f.kind, f.line, f.message) for f in r.failures]


# -- what comes after the last completion line -------------------------------------------------


@pytest.mark.parametrize("late", [
    b"rsync: connection unexpectedly closed (0 bytes received so far) [sender]\n",
    # a second run of the script reached a daemon that refused it, and its output stops there
    b"@ERROR: auth failed on module backup\n",
], ids=["rsync-error", "daemon-error"])
def test_an_rsync_error_after_the_last_code_line_makes_the_log_incomplete(late):
    # a 24 ("vanished", ok-ish) followed by an error of rsync's own with no code line after it:
    # something ran after the completion line and did not finish, so the night is not green
    r = parse_bytes(START + SUMMARY + CODE_24 + late)
    assert (r.code, r.reason) == (-2, "incomplete")
    assert late.decode().strip() in r.unrecognised_errors
    assert "a run after the last completion line did not finish" in r.unrecognised_errors


def test_ssh_teardown_noise_after_the_code_line_keeps_rsyncs_code():
    # rsync kills its ssh child when it exits; ssh's last words are not an rsync error
    r = parse_bytes(START + SUMMARY + CODE_24 + b"Killed by signal 15.\n")
    assert (r.code, r.reason) == (24, None)


# -- failing files: path, line and message -------------------------------------------------------


def test_a_file_name_holding_rsync_colon_is_reported_whole():
    # the message is found at the first "rsync: ", not a later one inside the file's name
    line = (b'rsync: [sender] send_files failed to open "/cygdrive/E/shares/rsync: notes.txt": '
            b"Permission denied (13)\n")
    r = parse_bytes(START + line + SUMMARY + CODE_23)
    assert r.code == 23
    assert failures(r) == [("/cygdrive/E/shares/rsync: notes.txt", "open_failed", 2,
                            line.decode().strip())]
    assert r.unrecognised_errors == []


def test_messages_start_at_rsyncs_text_behind_a_wrapper_timestamp():
    # a wrapper script that stamps each line: the failure's message is rsync's text, for the
    # "rsync: ..." messages and for the ones rsync prints without that prefix
    ts = b"2026-12-06 02:00:0%d "
    log = b"".join([
        ts % 1 + START,
        ts % 2 + b'file has vanished: "/cygdrive/E/shares/Temp/~$budget.xlsx"\n',
        ts % 3 + b"ERROR: shares/Docs/changing.doc failed verification -- update discarded.\n",
        ts % 4 + b'rsync: [sender] send_files failed to open "/cygdrive/E/a.pst": '
                 b"Permission denied (13)\n",
        SUMMARY,
        ts % 9 + CODE_23,
    ])
    r = parse_bytes(log)
    assert r.code == 23
    assert failures(r) == [
        ("/cygdrive/E/shares/Temp/~$budget.xlsx", "vanished", 2,
         'file has vanished: "/cygdrive/E/shares/Temp/~$budget.xlsx"'),
        ("shares/Docs/changing.doc", "verification_failed", 3,
         "ERROR: shares/Docs/changing.doc failed verification -- update discarded."),
        ("/cygdrive/E/a.pst", "open_failed", 4,
         'rsync: [sender] send_files failed to open "/cygdrive/E/a.pst": Permission denied (13)'),
    ]


def test_openrsync_errors_carry_their_line_number():
    # openrsync (macOS 15's /usr/bin/rsync) has its own message format; the line number is
    # what the console and `parse --json` show next to the path
    log = (b"Transfer starting: 5 files\n"
           b"Documents/a.pages\n"
           b"Documents/b.pages\n"
           b"sender.c:412: error: Documents/Mail/locked: 1.pst: open: Permission denied\n"
           b"rsync: error: Documents/Photos/big.heic: read: Input/output error\n")
    r = parse_bytes(log)
    assert (r.code, r.reason) == (-2, "incomplete")  # openrsync wrote no summary
    assert [(f.path, f.kind, f.line) for f in r.failures] == [
        ("Documents/Mail/locked: 1.pst", "open_failed", 4),
        ("Documents/Photos/big.heic", "read_error", 5),
    ]
    assert r.to_dict()["failures"][0]["line"] == 4


def test_a_quoted_name_in_a_line_that_is_not_rsyncs_is_not_a_failing_file():
    # only rsync's messages name the files that failed: a wrapper's own complaint about a
    # quoted folder is not one of them, and a clean run around it stays clean
    log = (b'cannot access "E:/shares/Mail": Permission denied\n'
           + START + SUMMARY)
    r = parse_bytes(log)
    assert (r.code, r.reason) == (0, None)
    assert r.failures == []


def test_a_verification_failure_of_a_name_holding_rsync_colon_is_listed():
    line = b"ERROR: shares/rsync: x.doc failed verification -- update discarded.\n"
    r = parse_bytes(START + line + SUMMARY + CODE_23)
    assert [(f.path, f.kind, f.line, f.message) for f in r.failures] == [
        ("shares/rsync: x.doc", "verification_failed", 2,
         "ERROR: shares/rsync: x.doc failed verification -- update discarded.")]


def test_a_verification_failure_behind_a_wrapper_prefix_is_listed_from_its_error():
    """A wrapper's timestamp before rsync's ERROR: line: the message shown starts at ERROR:."""
    line = (b"2026/12/01 03:00:01 [812] ERROR: data/rsync: y.xls failed verification -- "
            b"update discarded.\n")
    r = parse_bytes(START + line + SUMMARY + CODE_23)
    assert [(f.path, f.line, f.message) for f in r.failures] == [
        ("data/rsync: y.xls", 2,
         "ERROR: data/rsync: y.xls failed verification -- update discarded.")]
    assert r.code == 23


def test_an_error_line_holding_rsync_colon_that_is_no_verification_is_not_a_crash():
    """ERROR: then rsync: on one line, but not rsync's verification message: read as before
    (never a crash), and the night stays failed on its code."""
    line = b"ERROR: backup job said rsync: something odd happened\n"
    r = parse_bytes(START + line + SUMMARY + CODE_23)
    assert r.code == 23
    assert all(f.kind != "verification_failed" for f in r.failures)
    assert r.unrecognised_errors == ["ERROR: backup job said rsync: something odd happened"]


def test_a_verification_failure_behind_a_timestamp_holding_rsync_colon_is_listed():
    """A wrapper's own timestamp (not rsync's --log-file prefix) before ERROR:, and a name
    holding "rsync: ": the failing file is the name, the message starts at ERROR:."""
    line = (b"2026-12-06 02:00:03 ERROR: data/rsync: y.xls failed verification -- "
            b"update discarded.\n")
    r = parse_bytes(START + line + SUMMARY + CODE_23)
    assert failures(r) == [
        ("data/rsync: y.xls", "verification_failed", 2,
         "ERROR: data/rsync: y.xls failed verification -- update discarded.")]


def test_a_verification_failure_of_a_name_holding_error_and_rsync_colons():
    # a hostile name: both of the markers the parser looks for are inside it; the name runs
    # from the first "ERROR: " to rsync's fixed text
    line = (b"ERROR: a/ERROR: b/rsync: c.doc failed verification -- update discarded.\n")
    r = parse_bytes(START + line + SUMMARY + CODE_23)
    assert [(f.path, f.kind) for f in r.failures] == [
        ("a/ERROR: b/rsync: c.doc", "verification_failed")]


def test_rsyncs_error_and_warning_lines_are_kept_for_why():
    """The console's "Why" shows rsync's own error and warning lines (and ssh's), in log
    order with their line numbers; a file listed by -v that merely looks odd is none."""
    log = (START
           + b"Docs/rsync: notes.txt\n"  # a name in the verbose listing
           + b'file has vanished: "/cygdrive/E/Temp/~$a.xlsx"\n'
           + b'rsync: [sender] send_files failed to open "/cygdrive/E/a.pst": '
             b"Permission denied (13)\n"
           + SUMMARY + CODE_23)
    r = parse_bytes(log)
    assert [(w.line, w.kind, w.text[:24]) for w in r.why_lines] == [
        (3, "warning", 'file has vanished: "/cyg'),
        (4, "error", "rsync: [sender] send_fil"),
        (7, "error", "rsync error: some files/"),
    ]
    assert r.why_count == 3
    assert r.tail_lines[-1] == CODE_23.decode().rstrip("\n")


# -- numbers in the summary lines --------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("4608", 4608.0),  # a rate or speedup printed without decimals (not rsync's "%.2f")
    ("12M", 12_000_000.0),  # with a unit, no decimals
    ("1,234,567", 1234567.0),  # grouped thousands read the same in a rate as in a byte count
    ("1.234.567", 1234567.0),
    ("1'234'567", 1234567.0),
    ("1'234", 1234.0),  # Swiss grouping, one group
    ("1\u00a0234", 1234.0),  # a no-break space groups too
    ("1'23", None),  # not a group of three: not a number
    ("1,5", 1.5),  # a decimal comma with one decimal
    ("12.", None),  # a number cut off after its separator is not a number
    ("12,", None),
    ("1,234,56", None),  # broken grouping
])
def test_decimal_numbers(text, value):
    got = parse_number(text, decimal=True)
    assert got == (None if value is None else pytest.approx(value))
    if value is not None:
        assert isinstance(got, float)


def test_a_grouped_rate_and_speedup_are_read_whole():
    # the figures a user compares with rsync's own summary
    r = parse_bytes(START + b"sent 1,234 bytes  received 5,678 bytes  1,234,567 bytes/sec\n"
                    b"total size is 9,876,543  speedup is 1.234.567\n")
    assert (r.code, r.reason) == (0, None)
    assert r.stats.bytes_per_sec == pytest.approx(1234567.0)
    assert r.stats.speedup == pytest.approx(1234567.0)


@pytest.mark.parametrize(("text", "decimal", "value"), [
    ("5M", False, 5_000_000),  # -h with no decimals
    ("1.234M", False, 1_234_000),  # with a unit, one separator is the decimal mark...
    ("1,234M", False, 1_234_000),
    ("1,234.56M", False, 1_234_560_000),  # ...two are grouping and a decimal mark
    ("1,234.56M", True, 1_234_560_000.0),
    ("1.176.127,02", False, 1_176_127),  # a byte count is whole
])
def test_numbers_with_units_and_decimals(text, decimal, value):
    got = parse_number(text, decimal=decimal)
    assert got == pytest.approx(value)
    assert isinstance(got, float if decimal else int)


# -- completion codes ----------------------------------------------------------------------------


def test_code_255_is_rsyncs_last_code_and_256_is_not_a_code():
    # an exit status is 0..255: "(code 256)" cannot be rsync's, so it gives no code (and no
    # verdict of its own) and is shown as an unrecognised line; rsync never prints "(code 0)"
    line_255 = b"rsync error: unexplained error (code 255) at io.c(226) [Receiver=3.1.3]\n"
    r = parse_bytes(START + SUMMARY + line_255)
    assert (r.code, r.reason, r.codes_seen) == (255, None, [255])
    for bad in (b"rsync error: unexplained error (code 256) at io.c(226) [Receiver=3.1.3]\n",
                b"rsync error: success (code 0) at main.c(1338) [sender=3.1.3]\n"):
        r = parse_bytes(START + SUMMARY + bad)
        assert (r.code, r.reason, r.codes_seen) == (-2, "incomplete", [])
        assert r.unrecognised_errors == [bad.decode().strip()]


# -- what a line holds ---------------------------------------------------------------------------


def test_unquoted_names_keep_every_character_and_lose_nul_padding():
    # rsync prints some names unquoted to the end of the line; the name is read to its last
    # character ("BOX", not "BO"), and the NUL padding a crash leaves after the last line is
    # not part of it
    log = (START
           + b"cannot delete non-empty directory: shares/TAX\n"
           + b"file has vanished: shares/BOX\x00\x00\x00\x00")
    r = parse_bytes(log)
    assert (r.code, r.reason) == (-2, "incomplete")
    assert [(f.path, f.kind, f.message) for f in r.failures] == [
        ("shares/TAX", "delete_nonempty_dir", "cannot delete non-empty directory: shares/TAX"),
        ("shares/BOX", "vanished", "file has vanished: shares/BOX"),
    ]


def test_an_unknown_rsync_message_is_shown_as_it_is():
    # a quoted word in a message rsync has no rule for, that names no file: the line itself
    # is listed as unrecognised; a quoted name before ": <error>" is an "other" failure
    odd = b'rsync: [receiver] something odd "happened" here\n'
    lchown = b'rsync: [receiver] lchown "/mirror/x.txt" failed: Operation not permitted (1)\n'
    r = parse_bytes(START + odd + lchown + SUMMARY + CODE_23)
    assert r.code == 23
    assert r.unrecognised_errors == [odd.decode().strip()]
    assert failures(r) == [("/mirror/x.txt", "other", 3, lchown.decode().strip())]


# -- the transfer figures without rsync's summary lines ------------------------------------------


def test_log_file_trailer_gives_sent_received_and_total():
    # a --log-file log ends with "sent X bytes  received Y bytes  total size Z"
    log = (b"2026/11/25 23:00:01 [12345] building file list\n"
           b"2026/11/25 23:00:02 [12345] >f+++++++++ Docs/report.docx\n"
           b"2026/11/25 23:00:05 [12345] sent 1,234 bytes  received 567 bytes  total size 89,012\n")
    r = parse_bytes(log)
    assert (r.code, r.reason) == (0, None)
    s = r.to_dict()["stats"]
    assert (s["sent_bytes"], s["received_bytes"], s["total_size"]) == (1234, 567, 89012)


def test_stats_block_gives_sent_received_and_total_when_the_summary_is_missing():
    # --stats in a --log-file: "Total bytes sent/received", "Total file size" and no summary
    p = b"2018/05/22 01:01:21 [4740] "
    log = (p + b"building file list\n"
           + p + b"Number of files: 5,210 (reg: 4,977, dir: 233)\n"
           + p + b"Total file size: 51,072,714 bytes\n"
           + p + b"Total bytes sent: 4,821\n"
           + p + b"Total bytes received: 535,033\n"
           + p + CODE_23)
    r = parse_bytes(log)
    assert r.code == 23
    s = r.to_dict()["stats"]
    assert (s["sent_bytes"], s["received_bytes"], s["total_size"]) == (4821, 535033, 51072714)
    assert r.stats.files_total == 5210


# -- logs with no completion line ----------------------------------------------------------------


def test_a_dry_run_says_why_it_is_not_ok_after_the_other_notes():
    # rsync exits 0 after --dry-run but backed nothing up; the note saying so comes after
    # the log's own unrecognised lines (they are listed in line order)
    log = (START + b"IO error encountered -- skipping file deletion\n"
           + b"sent 1 bytes  received 2 bytes  3.00 bytes/sec\n"
           + b"total size is 4  speedup is 0.50 (DRY RUN)\n")
    r = parse_bytes(log)
    assert (r.code, r.reason) == (-2, "incomplete")
    assert r.unrecognised_errors == ["IO error encountered -- skipping file deletion",
                                     "dry run or batch-only run: nothing was transferred"]


def test_file_errors_and_a_summary_but_no_code_line_say_why_they_are_not_ok():
    log = (START + b'rsync: [sender] send_files failed to open "/x.pst": Permission denied (13)\n'
           + SUMMARY)
    r = parse_bytes(log)
    assert (r.code, r.reason) == (-2, "incomplete")
    assert [f.path for f in r.failures] == ["/x.pst"]
    assert r.unrecognised_errors == ["file errors but no completion line: not a perfect "
                                     "completion"]


def test_a_last_line_of_exactly_the_cap_can_still_be_the_summary():
    # a last line longer than _LAST_LINE_CAP (64 KiB) cannot be rsync's summary; one of
    # exactly that length still can (test_hostile_logs has the longer ones)
    tail = b"total size is 4  speedup is 0.50"
    for extra, code in ((0, 0), (1, -2)):
        line = b"x" * (_LAST_LINE_CAP + extra - len(tail) - 1) + b" " + tail
        r = parse_bytes(START + b"sent 1 bytes  received 2 bytes  3.00 bytes/sec\n" + line + b"\n")
        assert r.code == code, extra


def test_the_no_completion_line_note_stands_at_the_first_failing_file():
    # `parse` lists the notes in log order; the "not a perfect completion" note belongs to
    # the file error that makes the night not ok, between the lines around it
    r = parse_bytes(START
                    + b"rsync: something new went wrong\n"
                    + b'rsync: send_files failed to open "/a.pst": Permission denied (13)\n'
                    + b"rsync: another odd thing\n"
                    + SUMMARY)
    assert (r.code, r.reason) == (-2, "incomplete")
    assert r.unrecognised_errors == [
        "rsync: something new went wrong",
        "file errors but no completion line: not a perfect completion",
        "rsync: another odd thing",
    ]
    assert [(f.path, f.line) for f in r.failures] == [("/a.pst", 3)]
