"""The monthly report for customers, checked against a hand-built month (SQLite and MariaDB),
its four formats, `report monthly --email` to the customer's address and `nightly` sending
last month's reports on the 1st."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from smtp_server import start_smtp
from test_mail import write_config

from acorntui.cli.main import main
from acorntui.core.status import FAILED, FETCH_FAILED, INCOMPLETE, OK, OK_WITH_EXCEPTIONS
from acorntui.db.models import Customer, Result, Server, Tsr
from acorntui.reports.monthly import monthly_report, render_monthly

NOV = dt.date(2026, 11, 1)
CODE = {OK: 0, OK_WITH_EXCEPTIONS: 23, FAILED: 23, INCOMPLETE: -2, FETCH_FAILED: -2}


def day(n: int) -> dt.date:
    return dt.date(2026, 11, n)


def res(s: Server, night: dt.date, status: str, **kw) -> None:
    Result.create(server=s, night=night, status=status, code=CODE[status],
                  reason="missing" if status == INCOMPLETE else "", **kw)


@pytest.fixture
def month(any_db):
    build_month()


@pytest.fixture
def month_sqlite(sqlite_db):
    build_month()


def build_month() -> None:
    tom = Tsr.create(name="Tom Jones", login="tom", email="tom@example.com")
    acme = Customer.create(name="acme", display_name="Acme Ltd", email="it@acme.example")
    other = Customer.create(name="other", email="x@other.example")
    dc1 = Server.create(customer=acme, name="dc1", tsr=tom,
                        created=dt.datetime(2026, 10, 1, 9))
    odd = {5: FAILED, 6: INCOMPLETE, 8: OK_WITH_EXCEPTIONS, 20: FETCH_FAILED, 21: FAILED}
    for n in range(1, 31):
        if n == 7:
            continue  # no result at all: incomplete
        res(dc1, day(n), odd.get(n, OK),
            ack_note="internal: customer wont pay for more bandwidth" if n == 5 else "",
            ack_by="tom" if n == 5 else "")
    res(dc1, dt.date(2026, 10, 31), FAILED)  # other months do not count
    res(dc1, dt.date(2026, 12, 1), FAILED)
    new = Server.create(customer=acme, name="new", created=dt.datetime(2026, 11, 20, 15))
    for n in range(20, 31):
        res(new, day(n), FAILED if n == 25 else OK)
    gone = Server.create(customer=acme, name="gone", active=False)
    res(gone, day(3), FAILED)
    elsewhere = Server.create(customer=other, name="dc1")
    res(elsewhere, day(3), FAILED)


DC1_STRIP = "....FIIe..........." + "?F" + "........."
NEW_STRIP = " " * 19 + ".....F....."


def test_counts_rate_streak_and_strip(month):
    rep = monthly_report("acme", NOV)
    assert [s.server for s in rep.servers] == ["dc1", "new"]
    dc1, new = rep.servers
    assert (dc1.counted, dc1.backed_up, dc1.ok_with_exceptions, dc1.failed, dc1.incomplete,
            dc1.not_fetched, dc1.longest_bad) == (30, 24, 1, 2, 2, 1, 3)
    assert round(dc1.success, 4) == round(25 / 29, 4)  # the not-fetched night left out
    assert dc1.strip == DC1_STRIP
    # registered on the 20th: the nights before do not count against it
    assert (new.counted, new.backed_up, new.failed, new.longest_bad) == (11, 10, 1, 1)
    assert new.strip == NEW_STRIP
    assert rep.subject == ("Backups November 2026, Acme Ltd: 87.5% of nights backed up on "
                           "2 servers")  # (25 + 10) / (29 + 11)


def test_formats_share_one_table(month):
    rep = monthly_report("acme", NOV)
    data = json.loads(render_monthly(rep, "json"))
    assert data["month"] == "2026-11" and data["customer"] == "acme"
    d = {s["server"]: s for s in data["servers"]}
    assert (d["dc1"]["backed_up"], d["dc1"]["failed"], d["dc1"]["incomplete"],
            d["dc1"]["not_fetched"], d["dc1"]["longest_bad"]) == (24, 2, 2, 1, 3)
    assert d["new"]["strip"][:19] == [""] * 19 and d["new"]["nights"] == 11
    rows = {r["server"]: r for r in csv.DictReader(io.StringIO(render_monthly(rep, "csv")))}
    assert rows["dc1"]["success"] == "0.8621" and rows["dc1"]["strip"] == DC1_STRIP
    text = render_monthly(rep, "text")
    assert all(len(line) <= 78 for line in text.splitlines())
    assert f"dc1  {DC1_STRIP}" in text and "86.2%" in text and "90.9%" in text
    page = render_monthly(rep, "html")
    # for the customer: no internal notes, no TSR names, no other customer's servers
    for secret in ("internal", "bandwidth", "Tom Jones", "tom@example.com", "x@other"):
        assert secret not in page and secret not in text, secret
    assert not re.search(r"\btom\b|\bgone\b", page + text)
    assert "Acme Ltd" in page and "86.2%" in page
    assert page.count('class="strip st-') >= 60


def test_cli_monthly_and_email_to_the_customer(sqlite_url, month_sqlite, tmp_path,
                                               monkeypatch, capsys):
    assert main(["--db", sqlite_url, "report", "monthly", "--customer", "acme", "--month",
                 "2026-11", "--format", "csv"]) == 0
    assert "dc1,30,24,1,2,2,1,0.8621,3," in capsys.readouterr().out
    assert main(["--db", sqlite_url, "report", "monthly", "--month", "2026-11"]) == 2
    assert "--customer C is required" in capsys.readouterr().err
    assert main(["--db", sqlite_url, "report", "monthly", "--customer", "acme", "--month",
                 "11/2026"]) == 2
    assert "--month: '11/2026' is not a month (YYYY-MM)" in capsys.readouterr().err
    srv = start_smtp()
    try:
        write_config(tmp_path, monkeypatch, tmp_path / "outbox", port=srv.port)
        assert main(["--db", sqlite_url, "report", "monthly", "--customer", "acme",
                     "--month", "2026-11", "--email"]) == 0
        (m,) = srv.messages
        assert m.rcpt_tos == ["it@acme.example"]
        assert m.subject.startswith("Backups November 2026, Acme Ltd: 87.5%")
        assert DC1_STRIP in m.part("plain") and "Tom" not in m.part("html")
    finally:
        srv.stop()


def test_nightly_on_the_first_sends_last_months_reports(sqlite_url, month_sqlite, tmp_path,
                                                        monkeypatch):
    srv = start_smtp()
    try:
        spool = tmp_path / "spool"
        spool.mkdir()
        write_config(tmp_path, monkeypatch, tmp_path / "outbox", port=srv.port,
                     extra=f'monthly_customer_reports = true\n[spool]\ndir = "{spool}"')
        from acorntui.db.models import Tsr
        from acorntui.services.roles import current_login

        # nightly ingests, which needs a TSR: the job runs as this login (docs/nightly-job.md)
        Tsr.get_or_create(login=current_login(), defaults={"name": "nightly job", "level": 1})
        assert main(["--db", sqlite_url, "nightly", "--now", "2026-12-01T07:00:00"]) in (0, 1)
        monthly = [m for m in srv.messages if m.subject.startswith("Backups November 2026")]
        assert sorted(m.rcpt_tos[0] for m in monthly) == ["it@acme.example",
                                                           "x@other.example"]
        srv.messages.clear()
        assert main(["--db", sqlite_url, "nightly", "--now", "2026-12-02T07:00:00"]) in (0, 1)
        assert not [m for m in srv.messages if "November 2026" in m.subject]
    finally:
        srv.stop()
