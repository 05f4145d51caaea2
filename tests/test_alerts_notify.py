"""Chat/webhook notifications through Apprise, against a real HTTP sink on loopback.

The sink is a real http.server in a thread; Apprise posts to it with its json:// plugin. The
nightly job runs through the real CLI entry point on a real database (SQLite and MariaDB).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from smtp_server import free_port, start_smtp

from acorntui.cli.main import main

NOW = "2026-11-30T08:00:00"  # the morning after night 2026-11-29
NIGHT = dt.date(2026, 11, 29)
G = 1024 ** 3


class Sink:
    def __init__(self) -> None:
        self.received: list[dict] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server hook
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sink.received.append({"path": self.path, **json.loads(body)})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def titles(self) -> list[str]:
        return sorted(m["title"] for m in self.received)

    def by_kind(self, word: str) -> dict:
        [m] = [m for m in self.received if word in m["title"]]
        return m

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.stop()


def closed_port() -> int:
    return free_port()  # bound, then released: nothing listens there


def _server(customer: str, name: str, custbak: str = ""):
    from acorntui.db.models import Customer, Server

    c, _ = Customer.get_or_create(name=customer)
    return Server.create(customer=c, name=name, custbak=custbak)


def _result(server, night, status="ok", code=0, size=10 * G, **kw):
    from acorntui.db.models import Result

    return Result.create(server=server, night=night, code=code, status=status, total_size=size,
                         **kw)


def build_night():
    """acme/fs1 fine; acme/fs2 failed; beta's three servers on custbak cb1 failed; gamma/sh1
    ok but copied a tenth of its usual size (after 14 good nights); delta/old snoozed and failed.
    """
    fs1, fs2 = _server("acme", "fs1"), _server("acme", "fs2")
    beta = [_server("beta", f"b{i}", custbak="cb1") for i in range(3)]
    sh1 = _server("gamma", "sh1")
    old = _server("delta", "old")
    old.snoozed_until = NIGHT + dt.timedelta(days=5)
    old.snooze_reason = "decommissioning"
    old.save()
    for back in range(1, 15):
        n = NIGHT - dt.timedelta(days=back)
        for s in (fs1, fs2, sh1, *beta, old):
            _result(s, n)
    _result(fs1, NIGHT)
    _result(fs2, NIGHT, status="failed", code=23, error_count=4)
    for s in beta:
        _result(s, NIGHT, status="failed", code=12)
    _result(sh1, NIGHT, size=G)
    _result(old, NIGHT, status="failed", code=23)


def write_cfg(tmp_path, targets: list[str], extra: str = "") -> str:
    p = tmp_path / "acorn.toml"
    blocks = "".join(f"[[notify]]\n{t}\n" for t in targets)
    p.write_text(f'[spool]\ndir = "{tmp_path / "spool"}"\n{blocks}{extra}')
    p.chmod(0o600)
    return str(p)


def test_nightly_sends_each_event_once_across_runs(tmp_path, db_url, sink, capsys):
    from acorntui.db.models import Notification, Result

    build_night()
    cfg = write_cfg(tmp_path, [f'url = "{sink.url()}"'])
    assert main(["--db", db_url, "--config", cfg, "nightly", "--now", NOW]) == 0
    out = capsys.readouterr().out
    assert "notify: 3 message(s) sent" in out, out

    # one failed message (acme/fs2 only: beta is in the custbak message, delta is snoozed)
    failed = sink.by_kind("1 server failed")
    assert failed["path"] == "/hook"
    assert failed["title"] == "acorntui 2026-11-29: 1 server failed"
    assert failed["message"].splitlines() == [
        "Night 2026-11-29: 1 of 7 servers failed.",
        "- acme/fs2: FAILED (code 23, 4 errors)",
    ]
    # one message for the custbak outage, listing its servers
    cb = sink.by_kind("custbak")
    assert cb["title"] == "acorntui 2026-11-29: custbak cb1 outage: 3 servers failed"
    assert [ln for ln in cb["message"].splitlines() if ln.startswith("- ")] == [
        "- beta/b0: FAILED (code 12)", "- beta/b1: FAILED (code 12)",
        "- beta/b2: FAILED (code 12)"]
    # the green that isn't
    an = sink.by_kind("look")
    assert an["title"] == "acorntui 2026-11-29: 1 backup looks wrong"
    assert "- gamma/sh1: total size 1.0G, usual 10.0G (median of 14 nights)" in an["message"]
    assert "delta/old" not in json.dumps(sink.received)
    assert Result.get(Result.night == NIGHT, Result.anomaly.is_null(False)).status == "ok"

    # a second run the same morning, and one later that day: nothing is sent again
    for now in (NOW, "2026-11-30T11:00:00"):
        assert main(["--db", db_url, "--config", cfg, "nightly", "--now", now]) == 0
        out = capsys.readouterr().out
        assert "notify: 0 message(s) sent, 3 already sent earlier" in out, out
    assert len(sink.received) == 3
    assert Notification.select().count() == 3
    assert sorted(n.event for n in Notification.select()) == ["anomaly", "custbak", "failed"]


def test_failing_target_is_reported_masked_and_stops_nothing(tmp_path, db_url, sink, capsys):
    build_night()
    smtp = start_smtp()
    try:
        bad = f"json://acorn:s3cretpw@127.0.0.1:{closed_port()}/hook"
        cfg = write_cfg(tmp_path, [f'url = "{bad}"', f'url = "{sink.url("second")}"'],
                        extra=f'[mail]\nhost = "127.0.0.1"\nport = {smtp.port}\n'
                              'security = "none"\nfrom = "b@example.com"\n'
                              'to = ["tsr@example.com"]\n')
        rc = main(["--db", db_url, "--config", cfg, "nightly", "--now", NOW])
        captured = capsys.readouterr()
        out = captured.out + captured.err
        assert rc == 1, out
        assert "s3cretpw" not in out
        problems = [ln for ln in out.splitlines() if ln.startswith("problem: notify")]
        assert len(problems) == 3, out  # one per event kind, each naming the target
        assert all("[[notify]] #1 json://acorn:****@127.0.0.1:" in p for p in problems), problems
        assert "Connection error" in problems[0]
        # the other target got every message, and the mail went
        assert len(sink.received) == 3 and {m["path"] for m in sink.received} == {"/second"}
        assert "mail: sent" in out
        assert len(smtp.messages) >= 1
        # the failed target is tried again next run; the one that worked is not
        rc = main(["--db", db_url, "--config", cfg, "nightly", "--now", NOW, "--no-mail"])
        out = capsys.readouterr().out
        assert rc == 1 and "0 message(s) sent, 3 already sent earlier, 3 problem(s)" in out, out
        assert len(sink.received) == 3
    finally:
        smtp.stop()


def test_target_filters_events_and_customers(tmp_path, db_url, sink, capsys):
    build_night()
    cfg = write_cfg(tmp_path, [
        f'url = "{sink.url("acme")}"\nevents = ["failed", "anomaly"]\ncustomers = ["acme"]',
        f'url = "{sink.url("gamma")}"\ncustomers = ["gamma", "beta"]\nevents = ["anomaly"]',
    ])
    assert main(["--db", db_url, "--config", cfg, "nightly", "--now", NOW]) == 0
    got = sorted((m["path"], m["title"]) for m in sink.received)
    assert got == [("/acme", "acorntui 2026-11-29: 1 server failed"),
                   ("/gamma", "acorntui 2026-11-29: 1 backup looks wrong")]


def test_notify_test_command(tmp_path, sink, capsys, monkeypatch):
    monkeypatch.setenv("ACORN_HOOK", f"json://hook:t0psecret@127.0.0.1:{closed_port()}/x")
    cfg = write_cfg(tmp_path, [f'url = "{sink.url()}"', 'url_env = "ACORN_HOOK"',
                               'url_env = "ACORN_UNSET_HOOK"'])
    rc = main(["--config", cfg, "notify", "test"])
    captured = capsys.readouterr()
    assert rc == 1
    assert "t0psecret" not in captured.out + captured.err
    assert f"sent: [[notify]] #1 json://127.0.0.1:{sink.port}/hook" in captured.out
    err = captured.err.splitlines()
    assert err[0].startswith("failed: [[notify]] #2 (url_env ACORN_HOOK) json://hook:****@")
    assert "Connection error" in err[0]
    assert err[1] == ("failed: [[notify]] #3 (url_env ACORN_UNSET_HOOK): environment variable "
                      "ACORN_UNSET_HOOK is not set")
    assert "1 of 3 target(s) reached" in captured.out
    assert [m["title"] for m in sink.received] == ["acorntui test message"]

    ok = write_cfg(tmp_path, [f'url = "{sink.url()}"'])
    assert main(["--config", ok, "notify", "test"]) == 0
    assert len(sink.received) == 2


def test_notify_test_without_targets_says_so(tmp_path, capsys):
    cfg = write_cfg(tmp_path, [])
    assert main(["--config", cfg, "notify", "test"]) == 1
    assert "no [[notify]] target" in capsys.readouterr().err


@pytest.mark.parametrize("block, words", [
    ('url = "json://x/y"\nevents = ["failed", "fire"]', "[[notify]] #1 events: unknown event"),
    ('url = "json://x/y"\nurl_env = "X"', "[[notify]] #1 url: give either url or url_env"),
    ('events = ["failed"]', "[[notify]] #1 url: give either url or url_env"),
    ('url = "hooks.slack.com/abc"', "[[notify]] #1 url: not an Apprise URL"),
    ('url = "json://x/y"\ncustomers = "acme"', "[[notify]] #1 customers: expected a list"),
    ('url = "json://x/y"\nchannel = "#ops"', "[[notify]] #1 channel: unknown key"),
])
def test_bad_notify_config_names_the_field(tmp_path, capsys, block, words):
    cfg = write_cfg(tmp_path, [block])
    assert main(["--config", cfg, "notify", "test"]) == 2
    err = capsys.readouterr().err
    assert words in err and "acorn.toml" in err, err


def test_bad_anomaly_config_names_the_field(tmp_path, capsys):
    cfg = write_cfg(tmp_path, [], extra="[anomaly]\nsize_drop = 2\n")
    assert main(["--config", cfg, "notify", "test"]) == 2
    assert "[anomaly] size_drop: must be between 0 and 1" in capsys.readouterr().err


def test_escalation_after_nights_without_ack(tmp_path, db_url, sink, capsys):
    """Bad three nights running, none acknowledged: escalated. An ack on any of them, or a
    shorter streak, stops it. A fourth bad night escalates again (a new night)."""
    from acorntui.db.models import Result

    long, acked, short = _server("acme", "long"), _server("acme", "acked"), _server("beta", "s")
    for s in (long, acked, short):
        for back in range(3, 10):
            _result(s, NIGHT - dt.timedelta(days=back))
    for back in (2, 1, 0):
        n = NIGHT - dt.timedelta(days=back)
        _result(long, n, status="failed", code=23)
        _result(acked, n, status="failed", code=23,
                **({"ack_note": "on it", "ack_by": "tina", "ack_at": dt.datetime(2026, 11, 29)}
                   if back == 1 else {}))
        if back < 2:
            _result(short, n, status="failed", code=12)
        else:
            _result(short, n)
    cfg = write_cfg(tmp_path, [f'url = "{sink.url()}"\nevents = ["escalation"]'])
    assert main(["--db", db_url, "--config", cfg, "nightly", "--now", NOW]) == 0
    [m] = sink.received
    assert m["title"] == "acorntui 2026-11-29: 1 server still failing, not acknowledged"
    assert m["message"].splitlines()[1:] == [
        "- acme/long: FAILED, bad for 3 nights (last good 2026-11-26)"]
    # [alerts] escalate_after_nights = 2 brings in beta/s too (a separate target, new rows)
    cfg2 = write_cfg(tmp_path, [f'url = "{sink.url("two")}"\nevents = ["escalation"]'],
                     extra="[alerts]\nescalate_after_nights = 2\n")
    assert main(["--db", db_url, "--config", cfg2, "nightly", "--now", NOW]) == 0
    assert [ln[2:12] for ln in sink.received[1]["message"].splitlines()[1:]] == [
        "acme/long:", "beta/s: FA"]
    # acknowledged tonight: no escalation the next night either
    Result.update(ack_at=dt.datetime(2026, 11, 30), ack_note="x", ack_by="tina").where(
        Result.server == long.id, Result.night == NIGHT).execute()
    _result(long, NIGHT + dt.timedelta(days=1), status="failed", code=23)
    _result(acked, NIGHT + dt.timedelta(days=1))
    _result(short, NIGHT + dt.timedelta(days=1))
    assert main(["--db", db_url, "--config", cfg, "nightly", "--now",
                 "2026-12-01T08:00:00"]) == 0
    assert len(sink.received) == 2


def test_customer_maintenance_window_silences_notifications(tmp_path, db_url, sink, capsys):
    import os
    import pwd

    from acorntui.db.models import Customer, Tsr, Update
    from acorntui.reports.build import build_report, report_data

    build_night()
    Tsr.create(login=pwd.getpwuid(os.geteuid()).pw_name, name="Tina", level=2)
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    # a window needs a reason
    assert main(["--db", db_url, "customer", "snooze", "beta", "--until", until]) == 2
    assert "reason: a maintenance window needs a reason" in capsys.readouterr().err
    for c in ("beta", "gamma"):
        assert main(["--db", db_url, "customer", "snooze", c, "--until", until,
                     "--reason", "moving racks"]) == 0
    assert f"customer gamma: snoozed until {until} (moving racks)" in capsys.readouterr().out
    [u, _] = Update.select().where(Update.action == "customer.snooze").order_by(Update.id)
    assert u.details == "moving racks" and u.table_name == "customers"

    cfg = write_cfg(tmp_path, [f'url = "{sink.url()}"'])
    assert main(["--db", db_url, "--config", cfg, "nightly", "--now", NOW]) == 0
    # beta's custbak outage and gamma's anomaly raise nothing; acme/fs2 still does
    assert sink.titles() == ["acorntui 2026-11-29: 1 server failed"]
    rows = {d["server"]: d for d in report_data(build_report("nightly", NIGHT))["servers"]}
    assert rows["b0"]["snoozed"] and not rows["b0"]["counts_as_failing"]
    assert rows["b0"]["snooze_reason"] == "customer maintenance: moving racks"
    assert not rows["fs2"]["snoozed"]

    assert main(["--db", db_url, "customer", "snooze", "beta", "--lift"]) == 0
    assert Customer.get(Customer.name == "beta").snoozed_until is None
    assert Update.select().where(Update.action == "customer.unsnooze").count() == 1
