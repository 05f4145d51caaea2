"""The mails read on a narrow screen: the text part wraps at 78 columns, long paths and names
broken after a ``/`` (never cut), on the demo data and on a built worst case; in the HTML,
seen in headless Chromium, a long path breaks only after a ``/`` and no date ever breaks."""

from __future__ import annotations

import re

import pytest
from browser import line_breaks
from smtp_server import start_smtp
from test_mail import write_config
from test_mail_content import build_estate
from test_reports import N, d, server

from acorntui.config import load_config
from acorntui.core.status import FAILED
from acorntui.db.models import Failure, Result
from acorntui.reports.mail import send_daily_reports

DEMO_TODAY = __import__("datetime").date(2026, 11, 26)
# 300 characters, no spaces: it can only be broken where the renderer allows it
SEGMENTS = ["cygdrive", "E", "shares"] + [f"Department{i:02d}-QuarterlyArchive" for i in
                                          range(9)]
HUGE = "/" + "/".join(SEGMENTS)
HUGE = HUGE + "/" + "x" * (294 - len(HUGE)) + ".xlsx"
LONG_CUSTOMER = "the-very-long-named-regional-accounting-and-partners-cooperative-of-" \
                "north-east-lincolnshire"


@pytest.fixture
def smtp():
    srv = start_smtp()
    yield srv
    srv.stop()


def plain(m) -> list[str]:
    return m.part("plain").replace("\r\n", "\n").splitlines()


def mails(smtp, tmp_path, monkeypatch, night=N):
    write_config(tmp_path, monkeypatch, tmp_path / "outbox", port=smtp.port)
    assert send_daily_reports(load_config(), night) == []
    daily, three = smtp.messages
    return daily, three


@pytest.fixture
def worst_case(sqlite_db):
    build_estate()
    s = server(LONG_CUSTOMER, "FILESERVER-PRIMARY-WITH-A-LONG-NAME-01", custbak="cb7")
    for n in (2, 1, 0):
        r = Result.create(server=s, night=d(n), status=FAILED, code=23, error_count=1)
        Failure.create(result=r, line=1, excepted=False, path=HUGE,
                       message=f'rsync: send_files failed to open "{HUGE}": Permission '
                               "denied (13)")
    return s


def test_demo_mail_text_fits_78_columns(tmp_path, smtp, monkeypatch):
    from acorntui.jobs.demo import build_demo

    build_demo(tmp_path / "demo.db", servers=60, days=10, today=DEMO_TODAY)
    from acorntui.services import queries

    daily, three = mails(smtp, tmp_path, monkeypatch, queries.latest_night())
    for m in (daily, three):
        lines = plain(m)
        assert len(lines) > 20
        assert not [ln for ln in lines if len(ln) > 78]


def test_long_path_and_customer_wrap_after_slashes(worst_case, smtp, tmp_path, monkeypatch):
    assert len(HUGE) == 300
    for m in mails(smtp, tmp_path, monkeypatch):
        lines = plain(m)
        long = [ln for ln in lines if len(ln) > 78]
        assert not long, long
        # the path: its lines, joined without their indent, give it back whole; each line
        # but its last ends with a "/"
        start = next(i for i, ln in enumerate(lines) if ln.strip().startswith("/cygdrive/E/"))
        got, parts = "", []
        for ln in lines[start:]:
            parts.append(ln.strip())
            got += ln.strip()
            if len(got) >= len(HUGE):
                break
        assert got.startswith(HUGE), got
        assert len(parts) >= 4
        assert all(p.endswith("/") for p in parts[:-1]), parts
        # the customer/server line: a name without "/" breaks after "-" or "/", never cut
        i = next(i for i, ln in enumerate(lines) if ln.startswith(LONG_CUSTOMER[:20]))
        label = f"{LONG_CUSTOMER}/FILESERVER-PRIMARY-WITH-A-LONG-NAME-01"
        got, parts = "", []
        for ln in lines[i:]:
            parts.append(ln.strip())
            got += ln.strip()
            if len(got) >= len(label):
                break
        assert got == label and len(parts) == 2, parts
        assert parts[0].endswith(("-", "/")), parts


@pytest.mark.parametrize("width", [390, 1280])
def test_html_paths_break_only_after_a_slash_and_dates_never(worst_case, smtp, tmp_path,
                                                             monkeypatch, width):
    for m in mails(smtp, tmp_path, monkeypatch):
        page = m.part("html")
        assert "break-all" not in page
        found = line_breaks(page, width, tmp_path / "chromium")
        assert found["innerWidth"] == width
        paths = [p for p in found["paths"] if p["text"] == HUGE]
        assert paths, [p["text"][:40] for p in found["paths"]]
        for p in found["paths"]:
            assert "".join(p["lines"]) == p["text"]
            assert all(ln.endswith(("/", "\\")) for ln in p["lines"][:-1]), p["lines"]
        # the 300-character path needs several lines even on a desktop
        assert all(len(p["lines"]) >= (4 if width < 600 else 2) for p in paths), paths
        assert found["dates"], "no date found on the page"
        broken = [x for x in found["dates"] if x["lines"] != 1]
        assert not broken, broken
        assert any(re.fullmatch(r"\d{4}-\d{2}-\d{2}", x["date"]) for x in found["dates"])
