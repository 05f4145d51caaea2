"""Escalation by mail (issue 15): a server bad for `escalate_after_nights` nights running,
without an acknowledgement, gets a copy of its daily-mail entry sent to the TSR3s -- once per
night, through a real SMTP server (aiosmtpd on loopback). An acknowledgement stops it; a
customer's maintenance window silences it. And the daily mail's "Looks wrong" section lists
the results that said ok but copied far less than usual."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from smtp_server import start_smtp
from test_mail import listed, write_config
from test_reports import N, d, result, server

from acorntui.config import load_config
from acorntui.core.status import FAILED, INCOMPLETE, OK, OK_WITH_EXCEPTIONS
from acorntui.db.models import Customer, Notification, Result, Tsr
from acorntui.reports.build import build_report, render_json, render_text
from acorntui.reports.mail import ESCALATION_EVENT, send_daily_reports, send_escalations


@pytest.fixture
def smtp():
    srv = start_smtp()
    yield srv
    srv.stop()


def bad_nights(s, n: int, status: str = FAILED, code: int = 12) -> list[Result]:
    result(s, d(n), OK)
    return [result(s, d(k), status, code=code) for k in range(n - 1, -1, -1)]


@pytest.fixture
def estate(any_db):
    ann = Tsr.create(name="Ann Lee", login="ann", email="ann@example.com", level=3)
    Tsr.create(name="Bob Stone", login="bob", email="bob@example.com", level=3)
    Tsr.create(name="Old Three", login="old3", email="old3@example.com", level=3,
               active=False)
    Tsr.create(name="No Mail", login="nomail", email="", level=3)
    tom = Tsr.create(name="Tom Jones", login="tom", email="tom@example.com", level=2)
    w = {}
    w["long"] = server("acme", "exch1", custbak="cb1", tsr=tom)
    bad_nights(w["long"], 4)  # bad 4 nights: escalated
    w["two"] = server("acme", "fs2", custbak="cb1", tsr=tom)
    bad_nights(w["two"], 2)  # bad 2 nights: not yet
    w["acked"] = server("beta", "sql1", custbak="cb2", tsr=ann)
    rs = bad_nights(w["acked"], 3, INCOMPLETE, code=-2)
    Result.update(ack_at=dt.datetime.combine(N, dt.time(8)), ack_note="on it",
                  ack_by="ann").where(Result.id == rs[-2].id).execute()
    w["window"] = server("gamma", "web1", custbak="cb3", tsr=tom)
    bad_nights(w["window"], 5)
    Customer.update(snoozed_until=N + dt.timedelta(days=2),
                    snooze_reason="office move").where(Customer.name == "gamma").execute()
    # said ok, copied far less than usual
    w["wrong"] = s = server("delta", "files9", custbak="cb4", tsr=tom)
    r = result(s, N, OK)
    Result.update(anomaly="total size 1.1G, usual 10.4G (median of 14 nights)").where(
        Result.id == r.id).execute()
    w["wrong_star"] = s = server("delta", "files8", custbak="cb4")
    r = result(s, N, OK_WITH_EXCEPTIONS, code=23)
    Result.update(anomaly="total size 0B, usual 2.0G (median of 9 nights)").where(
        Result.id == r.id).execute()
    # an anomaly on a snoozed customer's server is not listed
    s = server("gamma", "web2", custbak="cb3")
    r = result(s, N, OK)
    Result.update(anomaly="total size 0B, usual 1.0G (median of 7 nights)").where(
        Result.id == r.id).execute()
    return w


def test_escalation_copy_goes_to_tsr3s_once_per_night(estate, smtp, tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, tmp_path / "outbox", port=smtp.port)
    cfg = load_config()
    run = send_escalations(cfg, N)
    assert run.problems == [] and run.sent == ["acme/exch1"]
    assert len(smtp.messages) == 1
    m = smtp.messages[0]
    # to the active TSR3s with an address, nobody else
    assert sorted(m.rcpt_tos) == ["ann@example.com", "bob@example.com"]
    assert "acme/exch1" in m.subject and "4 nights" in m.subject
    text = m.part("plain")
    # the daily mail's entry for that server: its block, its facts and its fix
    assert listed(text) == {"acme/exch1"}
    assert "TSR tom" in text and "custbak cb1" in text and "4 bad nights" in text
    assert "What to do" in text and "[12]" in text
    assert "exch1" in m.part("html") and "fs2" not in m.part("html")
    assert all(len(ln) <= 78 for ln in text.splitlines())
    # recorded, so a second run the same night sends nothing
    assert Notification.select().where(Notification.event == ESCALATION_EVENT).count() == 1
    again = send_escalations(cfg, N)
    assert again.sent == [] and again.already == 1
    assert len(smtp.messages) == 1


def test_acknowledging_stops_escalation(estate, smtp, tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, tmp_path / "outbox", port=smtp.port)
    Result.update(ack_at=dt.datetime.combine(N, dt.time(9)), ack_note="vendor call",
                  ack_by="ann").where((Result.server == estate["long"].id)
                                      & (Result.night == N)).execute()
    run = send_escalations(load_config(), N)
    assert run.sent == [] and smtp.messages == []


def test_no_tsr3_address_is_said_not_failed(estate, smtp, tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, tmp_path / "outbox", port=smtp.port)
    Tsr.update(email="").where(Tsr.level == 3).execute()
    run = send_escalations(load_config(), N)
    assert run.sent == [] and run.problems == [] and smtp.messages == []
    assert run.notes == ["escalation: 1 server bad 3+ nights running, but no active TSR3 has "
                         "an email address to send the copy to"]


def test_daily_mail_lists_what_looks_wrong(estate, smtp, tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, tmp_path / "outbox", port=smtp.port)
    assert send_daily_reports(load_config(), N) == []
    daily, three = smtp.messages
    text = daily.part("plain").replace("\r\n", "\n")
    assert "2 servers reported ok but look wrong (see Looks wrong)." in " ".join(text.split())
    section = text[text.index("\nLooks wrong\n"):text.index("\nWhat to do\n")]
    assert "delta/files9" in section and "delta/files8" in section
    assert "OK?: total size 1.1G, usual 10.4G (median of 14 nights)" in section
    assert "OK*?: total size 0B, usual 2.0G (median of 9 nights)" in section
    assert "gamma/web2" not in text  # the customer's window silences it
    # the anomalies are not failures: not in the servers list
    assert "delta/files9" not in listed(text)
    page = daily.part("html")
    assert re.search(r"<h2[^>]*>Looks wrong</h2>", page)
    assert "total size 1.1G, usual 10.4G (median of 14 nights)" in page
    assert "gamma/web2" not in page and "web2" not in page
    assert "Looks wrong" not in three.part("plain")  # the three-day mail is about failures
    # JSON carries the anomaly per server (nightly) and the section's list (failures)
    data = json.loads(render_json(build_report("failures", N)))
    assert {(w["server"], w["anomaly"][:15]) for w in data["looks_wrong"]} == {
        ("files9", "total size 1.1G"), ("files8", "total size 0B, ")}
    # acknowledging clears the anomaly, and the section goes
    from acorntui.services.roles import User
    from acorntui.services.triage import acknowledge

    for key in ("wrong", "wrong_star"):
        rid = Result.get((Result.server == estate[key].id) & (Result.night == N)).id
        acknowledge(User("ann", "tsr3", "Ann Lee", 3), rid, "share moved back")
    assert "Looks wrong" not in render_text(build_report("failures", N))


def test_nightly_sends_the_escalation_copy_once(tmp_path, monkeypatch, smtp, sqlite_url, capsys):
    """Through `acorntui nightly`: the third bad night escalates; running nightly again the
    same morning sends the daily mails again but not the escalation copy."""
    from test_nightly_mail import FAIL_LOG, NOW, OK_LOG, mail_config, put

    from acorntui import db as dbpkg
    from acorntui.cli.main import main

    spool = mail_config(tmp_path, smtp, monkeypatch)
    for back in (2, 1, 0):
        morning = NOW - dt.timedelta(days=back)
        when = morning - dt.timedelta(hours=4)
        put(spool, "acme", "mail01", FAIL_LOG, when)
        put(spool, "acme", "fs01", FAIL_LOG if back == 0 else OK_LOG, when)
        if back == 0:  # a TSR3 with an address, before the third morning's run
            database = dbpkg.connect(sqlite_url)
            Tsr.create(name="Ann Lee", login="ann", email="ann@example.com", level=3)
            database.close()
        args = ["--db", sqlite_url, "nightly", "--now", morning.isoformat()]
        if back:
            args.append("--no-mail")
        assert main(args) == 0
    out = capsys.readouterr().out
    first = [ln for ln in out.splitlines() if ln.startswith("nightly 2026-11-25:")]
    assert first and "mail 3 sent" in first[0], first
    assert "escalation: 1 copy of the daily entry mailed to the TSR3s (acme/mail01)" in out
    esc = [m for m in smtp.messages if m.subject.startswith("Escalation:")]
    assert [(m.rcpt_tos, "acme/mail01" in m.subject) for m in esc] == [
        (["ann@example.com"], True)]
    # the same morning again: daily mails again, no second escalation copy
    assert main(["--db", sqlite_url, "nightly", "--now", NOW.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "mail 2 sent" in out.splitlines()[0]
    assert "escalation: 1 already mailed to the TSR3s for this night" in out
    assert len([m for m in smtp.messages if m.subject.startswith("Escalation:")]) == 1
