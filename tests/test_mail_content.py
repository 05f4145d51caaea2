"""What the daily and three-day mails say, read as a TSR reads them: every code with its
meaning and a fix that fits the reason, each fix once, the server's own facts, custbak
outages first, new servers not blamed for nights before they existed. Sent through a real
SMTP server (aiosmtpd on loopback) and checked on SQLite and MariaDB."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from smtp_server import start_smtp
from test_mail import listed, write_config
from test_reports import N, d, result, server

from acorntui.config import load_config
from acorntui.core.status import FAILED, FETCH_FAILED, INCOMPLETE, OK
from acorntui.db.models import ErrorCode, Failure, Result, Server, Tsr
from acorntui.reports.build import build_report, render_text
from acorntui.reports.mail import send_daily_reports

SEE_TRANSLATION_CODES = (1, 5, 11, 13, 20, 21, 22, 25, 30)
MINUS2_REASONS = ("missing", "stale", "incomplete", "future")


def flat(text: str) -> str:
    """Text with line breaks and runs of spaces made single spaces (wrapping undone)."""
    return " ".join(text.split())


@pytest.fixture
def smtp():
    srv = start_smtp()
    yield srv
    srv.stop()


@pytest.fixture
def estate(any_db):
    return build_estate()


def build_estate() -> dict:
    tom = Tsr.create(name="Tom Jones", login="tom", email="tom@example.com", level=2)
    ann = Tsr.create(name="Ann Lee", login="ann", email="ann@example.com", level=3)
    w = {}
    # a custbak outage: three servers of two customers on cb9 fail the same night
    for cust, name in (("acme", "a1"), ("acme", "a2"), ("beta", "b1")):
        s = server(cust, name, custbak="cb9", tsr=tom)
        result(s, d(1), OK)
        result(s, N, FAILED, code=12)
    # codes whose shipped resolution is only "See Translation."
    for code in SEE_TRANSLATION_CODES:
        s = server("codes", f"c{code}", custbak=f"cb-{code}", tsr=ann)
        result(s, d(3), OK)
        for n in (2, 1, 0):
            result(s, d(n), FAILED, code=code)
    # code 23 on two servers; rsync's message names the path again
    for name in ("x1", "x2"):
        s = server("files", name, custbak="cb2", tsr=ann)
        r = Result.create(server=s, night=N, status=FAILED, code=23, error_count=1)
        Failure.create(result=r, line=1, excepted=False, path="E:/mail/boss.pst",
                       message='rsync: send_files failed to open "E:/mail/boss.pst": '
                               "Permission denied (13)")
    # -2 for each reason, and a failed pull
    for reason in MINUS2_REASONS:
        s = server("minus", f"m-{reason}", custbak=f"cb-{reason}")
        result(s, d(1), OK)
        result(s, N, INCOMPLETE, code=-2, reason=reason)
    w["fetch"] = s = server("pull", "web", custbak="cb4")
    result(s, d(1), OK)
    result(s, N, FETCH_FAILED, reason="fetch failed: timed out")
    # registered today (the report night): one failed night, not "3 nights running"
    w["new"] = s = server("fresh", "new1", created=dt.datetime.combine(N, dt.time(9)))
    result(s, N, FAILED)
    # registered a month ago and never reported: every night since counts
    w["silent"] = server("fresh", "silent1", created=dt.datetime.combine(d(30), dt.time(9)))
    # snoozed and bad: counted by neither history nor the failure report
    s = server("zzz", "snoozy", snoozed_until=N + dt.timedelta(days=3), snooze_reason="move")
    result(s, N, FAILED)
    return w


def mails(smtp, tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, tmp_path / "outbox", port=smtp.port)
    assert send_daily_reports(load_config(), N) == []
    daily, three = smtp.messages
    return daily, three


def test_every_code_shows_its_meaning_and_a_fix_once(estate, smtp, tmp_path, monkeypatch):
    daily, three = mails(smtp, tmp_path, monkeypatch)
    texts = dict(ErrorCode.select(ErrorCode.code, ErrorCode.translation).tuples())
    rep = build_report("failures", N)
    for m in (daily, three):
        text, page = m.part("plain"), m.part("html")
        assert "see translation" not in (text + page).lower()
        assert "If 1, monitor" not in text  # the three-case -2 paragraph is split by reason
    body = flat(daily.part("plain"))
    for code in SEE_TRANSLATION_CODES:
        assert flat(texts[code]) in body, code
    # each distinct fix is written once, in "What to do"; rows point to it by key
    keys = [fx.key for fx, _n in rep.fixes]
    for fx, _n in rep.fixes:
        assert body.count(flat(fx.todo)) == 1, fx.key
        assert body.count(f"what to do: [{fx.key}]") >= 1
    assert {"-2 log missing", "-2 log stale", "-2 log cut off", "-2 clock ahead",
            "fetch failed", "23", "12"} <= set(keys)
    # the two code-23 servers point to one fix; their failing file is shown once each
    assert body.count("E:/mail/boss.pst") == 2
    assert "[23] Partial transfer due to error (3 servers)" in body  # x1, x2 and new1
    assert "(1 server)" in body and "1 servers" not in body


def test_text_part_fits_78_columns(estate, smtp, tmp_path, monkeypatch):
    for m in mails(smtp, tmp_path, monkeypatch):
        long = [ln for ln in m.part("plain").splitlines() if len(ln) > 78]
        assert not long, long


def test_rows_carry_tsr_and_custbak_and_outages_come_first(estate, smtp, tmp_path,
                                                            monkeypatch):
    daily, _three = mails(smtp, tmp_path, monkeypatch)
    text, page = daily.part("plain").replace("\r\n", "\n"), daily.part("html")
    lines = text.splitlines()
    block = lines[lines.index("acme/a1"):lines.index("acme/a1") + 3]
    assert block[1].strip() == "FAILED, code 12; what to do: [12]"
    assert block[2].strip() == "TSR tom; custbak cb9; last good 2026-11-24; 1 bad night"
    # the outage is the first thing after the counts
    assert lines[lines.index("") + 1].startswith(
        "CUSTBAK OUTAGE: cb9, 3 servers bad on 2026-11-25: acme/a1, acme/a2,")
    assert text.count("CUSTBAK OUTAGE") == 1
    assert "acme/a1, acme/a2, beta/b1" in flat(text)
    assert page.index("Custbak outage: cb9") < page.index("<table")
    assert re.search(r"<td[^>]*><span class=\"lbl\"[^>]*>TSR: </span>tom</td>", page)
    assert re.search(r"<td[^>]*><span class=\"lbl\"[^>]*>Custbak: </span>cb9</td>", page)


def test_fetch_failed_is_not_called_an_incomplete_backup(estate, smtp, tmp_path, monkeypatch):
    daily, _three = mails(smtp, tmp_path, monkeypatch)
    lines = daily.part("plain").splitlines()
    i = lines.index("pull/web")
    assert lines[i + 1].strip() == "FETCH FAILED; what to do: [fetch failed]"
    nightly = render_text(build_report("nightly", N))
    row = next(ln for ln in nightly.splitlines() if ln.startswith("pull "))
    assert "Backup did not complete" not in row and "Log not fetched" in row
    assert "Meaning" in nightly and "Jargon" not in nightly


def test_nights_before_a_new_server_existed_do_not_count(estate, smtp, tmp_path, monkeypatch):
    daily, three = mails(smtp, tmp_path, monkeypatch)
    assert "fresh/new1" in listed(daily.part("plain"))  # it did fail last night
    three_listed = listed(three.part("plain"))
    assert "fresh/new1" not in three_listed
    # registered a month ago and silent since: all three nights count
    assert "fresh/silent1" in three_listed
    assert {f"codes/c{c}" for c in SEE_TRANSLATION_CODES} <= three_listed
    assert three.subject.endswith("not ok 3 nights running")


def test_history_and_failure_report_count_the_same_servers(estate):
    fail = build_report("failures", N)
    hist = build_report("history", N)
    m = re.search(r"(\d+) needs? attention", fail.summary())
    h = re.search(r"(\d+) needs? attention", hist.summary())
    assert m and h and m.group(1) == h.group(1) == str(len(fail.entries))
    assert f"{len(fail.entries)} of" in hist.subject
    snoozy = Server.get(Server.name == "snoozy")
    assert snoozy.id not in {e.server_id for e in fail.entries}



def test_counts_of_one_are_singular(any_db, smtp, tmp_path, monkeypatch):
    """One server, one bad night: "1 server", "1 needs attention", "1 bad night", never
    "1 servers"; and no "Jargon" heading in any format."""
    s = server("solo", "only1", custbak="cb1")
    result(s, d(1), OK)
    result(s, N, FAILED, code=12)
    write_config(tmp_path, monkeypatch, tmp_path / "outbox", port=smtp.port)
    assert send_daily_reports(load_config(), N) == []
    from acorntui.reports.build import render

    texts = [m.part("plain") + m.part("html") + m.subject for m in smtp.messages]
    texts += [render(build_report(k, N), f) for k in ("nightly", "history", "failures")
              for f in ("text", "html", "csv")]
    body = flat(" ".join(texts))
    assert "1 server on 2026-11-25" in body and "1 needs attention" in body
    assert "1 bad night" in body and "(1 server)" in body
    for wrong in ("1 servers", "1 need attention", "1 bad nights", "1 nights", "(s)",
                  "Jargon"):
        assert re.search(rf"(?<![\d.]){re.escape(wrong)}(?!\w)", body) is None, wrong
