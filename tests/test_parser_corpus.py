"""Red-team corpus: realistic rsync logs (tests/fixtures/logs/corpus, written by its
_make_corpus.py from rsync's own format strings) run through ``parse_file`` and through
``acorntui parse --json``; each log's ``NAME.expect.json`` holds the hand-checked code,
status (no exceptions), sorted failing paths and optionally kinds (in log order),
total_size, sent_bytes and rsync_version.

Decisions pinned here (see the sidecars):
* a log holding several rsync runs (a ``>>`` redirect, or a script running rsync once per
  share) keeps every run's file errors; the last completion line gives the code, except
  that an ok-ish last run (24, or a clean summary) never hides an earlier run's failing
  code, and a run that started after the last completion line but never finished makes
  the log incomplete (-2);
* ``_exit_cleanup ... about to call exit(0)`` (-vvv) after the summary is not "more log";
* the ``--log-file`` trailer ``sent X bytes  received Y bytes  total size Z`` ends a clean
  run like ``total size is``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acorntui.cli.main import main
from acorntui.core.parser import KINDS, parse_bytes, parse_file
from acorntui.core.status import compute_status

CORPUS = Path(__file__).parent / "fixtures" / "logs" / "corpus"
LOGS = sorted(CORPUS.glob("*.out"))


def expect(log: Path) -> dict:
    return json.loads((log.parent / (log.name + ".expect.json")).read_text(encoding="utf-8"))


def test_corpus_is_big_enough_and_every_log_has_a_sidecar():
    assert len(LOGS) >= 40
    for log in LOGS:
        assert (log.parent / (log.name + ".expect.json")).is_file(), log.name
    statuses = {expect(log)["status"] for log in LOGS}
    assert statuses == {"ok", "failed", "incomplete"}


@pytest.mark.parametrize("log", LOGS, ids=[p.name for p in LOGS])
def test_parse_file_meets_expectation(log):
    exp = expect(log)
    r = parse_file(log, max_age_hours=0)
    status, _ = compute_status(r.code, r.reason or "", len(r.failures), 0)
    got = {"code": r.code, "status": status, "paths": sorted(f.path for f in r.failures)}
    assert got == {k: exp[k] for k in ("code", "status", "paths")}, r.unrecognised_errors
    assert all(f.kind in KINDS for f in r.failures)
    if "kinds" in exp:
        assert [f.kind for f in r.failures] == exp["kinds"]
    if "total_size" in exp:
        assert r.stats.total_size == exp["total_size"]
    if "sent_bytes" in exp:
        assert r.stats.sent_bytes == exp["sent_bytes"]
    if "rsync_version" in exp:
        assert r.rsync_version == exp["rsync_version"]
    for f in r.failures:  # a message is one line, with no terminal control left in
        assert "\r" not in f.message and "\n" not in f.message and "\x00" not in f.message


def test_cli_parse_json_agrees_with_every_sidecar(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'corpus.db'}"
    for log in LOGS:
        exp = expect(log)
        rc = main(["--db", url, "parse", "--json", "--max-age-hours", "0", str(log)])
        out = capsys.readouterr().out
        assert rc == 0, log.name
        obj = json.loads(out)
        got = {"code": obj["code"], "status": obj["status"],
               "paths": sorted(f["path"] for f in obj["failures"])}
        assert got == {k: exp[k] for k in ("code", "status", "paths")}, log.name
        if "total_size" in exp:
            assert obj["stats"]["total_size"] == exp["total_size"], log.name
        if "rsync_version" in exp:
            assert obj["rsync_version"] == exp["rsync_version"], log.name
        assert obj["server"] == log.stem and obj["customer"] == "corpus"


# The same multi-run and tail rules when the runs span several 1 MiB read blocks.
_FILLER = b"".join(b"/cygdrive/E/shares/Docs/file_%07d.docx\n" % i for i in range(90_000))
_OK = (b"sending incremental file list\n" + _FILLER
       + b"\nsent 1 bytes  received 2 bytes  3.00 bytes/sec\ntotal size is 4  speedup is 0.50\n")
_BAD = (b"sending incremental file list\n"
        b'rsync: send_files failed to open "/cygdrive/E/Mail/a.pst": Device or resource busy (16)\n'
        + _FILLER + b"rsync error: some files/attrs were not transferred (see previous errors) "
        b"(code 23) at main.c(1207) [sender=3.1.3]\n")
_V24 = (b"sending incremental file list\n" + b'file has vanished: "/cygdrive/E/t.tmp"\n'
        + _FILLER + b"rsync warning: some files vanished before they could be transferred "
        b"(code 24) at main.c(1207) [sender=3.1.3]\n")
_EXIT0 = b"[sender] _exit_cleanup(code=0, file=main.c, line=1394): about to call exit(0)\n"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (_OK + _EXIT0 + b"\n\x00\x00", 0),
        (_BAD + _OK, 23),
        (_OK + _BAD, 23),
        (_BAD + _V24, 23),
        (_V24 + _OK, 24),
        (_V24 + b"sending incremental file list\n" + _FILLER, -2),
        (_V24 + _FILLER, 24),  # no new run, no error: only more names after the code line
    ],
    ids=["vvv-exit0", "bad-then-ok", "ok-then-bad", "bad-then-24", "24-then-ok",
         "24-then-cut-off", "24-then-names"],
)
def test_multi_run_rules_across_read_blocks(data, code):
    assert len(data) > 3 << 20  # several 1 MiB blocks
    assert parse_bytes(data).code == code
