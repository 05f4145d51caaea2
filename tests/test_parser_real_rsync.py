"""acorntui.core.parser on logs written by the real /usr/bin/rsync (see tests/rsync_logs.py)."""

from __future__ import annotations

import re

import pytest
import rsync_logs

from acorntui.core.parser import parse_file


@pytest.fixture(scope="module")
def version() -> str:
    rsync_logs.require_rsync()
    return rsync_logs.rsync_version()


def parse(log):
    return parse_file(log, max_age_hours=0)


def failing(result) -> dict[str, str]:
    return {f.path: f.kind for f in result.failures}


def test_clean_run_is_code_0_with_stats(tmp_path, version):
    log = rsync_logs.run_clean(tmp_path, customer="acme", server="fs1")
    assert log.exit_code == 0
    r = parse(log)
    assert (r.code, r.reason, r.failures, r.unrecognised_errors) == (0, None, [], [])
    assert (r.customer, r.server) == ("acme", "fs1")
    assert r.stats.total_size == 6802  # the tree's size, as rsync summed it
    assert r.stats.sent_bytes and r.stats.received_bytes and r.stats.bytes_per_sec
    assert r.stats.speedup is not None
    assert r.rsync_version is None  # a clean run prints no [sender=x.y.z] tag


def test_stats_and_human_numbers(tmp_path, version):
    log = rsync_logs.run_stats_human(tmp_path)
    assert log.exit_code == 0
    text = log.read_bytes().decode()
    assert re.search(r"total size is \d+\.\d\dM", text), text  # really humanised
    r = parse(log)
    assert r.code == 0 and r.failures == []
    assert r.stats.total_size == pytest.approx(3_006_802, rel=0.01)
    assert r.stats.sent_bytes == pytest.approx(3_010_000, rel=0.02)
    # "Number of files: N (reg: 5, dir: ...)": -R also lists every parent folder
    assert r.stats.files_total == 5 + (len(log.source.parts) - 1) + 3
    assert r.stats.files_transferred == 5


def test_unreadable_files_as_nobody_code_23(tmp_path, version):
    log = rsync_logs.run_unreadable(tmp_path)
    assert log.exit_code == 23
    r = parse(log)
    assert r.code == 23 and r.codes_seen == [23]
    assert failing(r) == log.failing
    assert r.rsync_version == version
    major_minor = tuple(int(x) for x in version.split(".")[:2])
    if major_minor >= (3, 2):
        assert all(f.message.startswith("rsync: [sender] ") for f in r.failures)
    assert r.unrecognised_errors == []
    assert r.stats.total_size is not None


def test_missing_source_code_23_link_stat(tmp_path, version):
    log = rsync_logs.run_missing_source(tmp_path)
    assert log.exit_code == 23
    r = parse(log)
    assert r.code == 23
    assert failing(r) == log.failing
    assert r.rsync_version == version
    assert r.failures[0].message.endswith("No such file or directory (2)")


def test_vanished_file_code_24(tmp_path, version):
    log = rsync_logs.run_vanished(tmp_path)
    assert log.exit_code == 24, log.read_bytes().decode(errors="replace")
    r = parse(log)
    assert r.code == 24
    assert failing(r) == log.failing
    assert r.rsync_version == version


def test_bad_option_code_1(tmp_path, version):
    log = rsync_logs.run_bad_option(tmp_path)
    assert log.exit_code == 1
    r = parse(log)
    assert r.code == 1 and r.failures == []
    assert any("--no-such-option" in u for u in r.unrecognised_errors)


def test_sigkill_leaves_no_final_line_minus_2(tmp_path, version):
    log = rsync_logs.run_sigkill(tmp_path)
    assert log.exit_code < 0
    r = parse(log)
    assert (r.code, r.reason) == (-2, "incomplete")
    assert r.codes_seen == []


def test_sigterm_code_20(tmp_path, version):
    log = rsync_logs.run_sigterm(tmp_path)
    assert log.exit_code == 20
    r = parse(log)
    assert 20 in r.codes_seen
    # a local copy's children can print their own line (code 19, SIGUSR1) after the
    # parent's: the last line counts, and either way the backup is not reported clean
    assert r.code == r.codes_seen[-1] and r.code in (19, 20)
    assert r.reason is None and r.failures == []
