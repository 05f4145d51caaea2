"""Mail with a real SMTP server (aiosmtpd on loopback): daily and three-day reports, auth,
outbox and --resend, per-rep routing."""

from __future__ import annotations

import datetime as dt

import pytest
from smtp_server import free_port, start_smtp
from test_reports import N, d, result, server

from acorntui.cli.main import main
from acorntui.config import load_config
from acorntui.core.status import FAILED, INCOMPLETE, OK
from acorntui.db.models import Csr, Tsr
from acorntui.reports.mail import send_daily_reports

SECRET = "s3cr3t-Pa55"
# plain AUTH over a loopback test server is deliberate
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def listed(text: str) -> set[str]:
    """customer/server of each server the text report lists (its table's rows, or the
    failure mail's "Servers" section)."""
    lines = text.splitlines()
    if "Servers" in lines:  # failure mails: one block per server, its name unindented
        start = lines.index("Servers") + 1
        end = next((lines.index(h) for h in ("Looks wrong", "What to do") if h in lines),
                   len(lines))
        return {line for line in lines[start + 1:end]
                if line.strip() and not line[0].isspace()}
    start = next(i for i, line in enumerate(lines) if line.startswith("--------"))
    return {"/".join(line.split()[:2]) for line in lines[start + 1:]
            if line.strip() and not line[0].isspace()}


def shown(page: str, name: str) -> bool:
    """The HTML lists a server of that name."""
    return f"<strong>{name}</strong>" in page or f">{name}</td>" in page


@pytest.fixture
def smtp():
    srv = start_smtp()
    yield srv
    srv.stop()


@pytest.fixture
def smtp_auth():
    srv = start_smtp(user="acorn", password=SECRET)
    yield srv
    srv.stop()


@pytest.fixture
def outbox(tmp_path):
    return tmp_path / "outbox"


def write_config(tmp_path, monkeypatch, outbox, *, port, user="", password_env="",
                 extra="") -> None:
    path = tmp_path / "acorn.toml"
    path.write_text(f"""
[mail]
host = "127.0.0.1"
port = {port}
security = "none"
user = "{user}"
password_env = "{password_env}"
from = "backups@example.com"
to = ["tsr-team@example.com", "boss@example.com"]
timeout = 5
outbox_dir = "{outbox}"
{extra}
""", encoding="utf-8")
    path.chmod(0o600)
    monkeypatch.setenv("ACORN_CONFIG", str(path))


@pytest.fixture
def estate(sqlite_db):
    """acme (CSR Carla): exch failing 3 nights, dc1 fine; globex (no CSR): sql incomplete
    tonight only, files (TSR Tom) failing 3 nights; initech/old snoozed."""
    carla = Csr.create(name="Carla", login="carla", email="carla@example.com")
    tom = Tsr.create(name="Tom", login="tom", email="tom@example.com", level=2)
    Tsr.create(name="Idle", login="idle", email="idle@example.com")
    exch = server("acme", "exch", csr=carla)
    dc1 = server("acme", "dc1")
    sql = server("globex", "sql")
    files = server("globex", "files", tsr=tom)
    old = server("initech", "old", snoozed_until=d(-5), snooze_reason="moving")
    for n in (2, 1, 0):
        result(exch, d(n), FAILED, files=(("E:/mail/<big>.pst", False),))
        result(dc1, d(n), OK)
        result(old, d(n), FAILED)
    result(sql, d(2), OK)
    result(sql, d(1), OK)
    result(sql, N, INCOMPLETE)
    result(files, d(2), FAILED)  # no result on N-1: still not ok
    result(files, N, FAILED)
    return {"carla": carla, "tom": tom}


def test_daily_and_three_day_mails_arrive(estate, smtp, outbox, tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, outbox, port=smtp.port)
    assert send_daily_reports(load_config(), N) == []
    assert [m.subject for m in smtp.messages] == [
        "Backups 2026-11-25: 2 failed, 1 incomplete of 5 servers",
        "Backups 2026-11-23 to 2026-11-25: 2 of 5 servers not ok 3 nights running",
    ]
    daily, three = smtp.messages
    for m in (daily, three):
        assert sorted(m.rcpt_tos) == ["boss@example.com", "tsr-team@example.com"]
        assert m.mail_from == "backups@example.com"
        assert m.message.get_content_type() == "multipart/alternative"
    text, page = daily.part("plain"), daily.part("html")
    # not listed: acme/dc1 (fine), initech/old (snoozed)
    assert listed(text) == {"acme/exch", "globex/sql", "globex/files"}
    for name in ("exch", "sql", "files"):
        assert shown(page, name)
    assert not shown(page, "dc1") and not shown(page, "old")
    assert "E:/mail/<big>.pst" in text and "E:/<wbr>mail/<wbr>&lt;big&gt;.pst" in page
    assert "What to do" in text.splitlines()
    assert "background: #b3261e" in page and ">FAILED</span>" in page
    text3 = three.part("plain")
    assert listed(text3) == {"acme/exch", "globex/files"}
    assert "NO RESULT" in text3  # globex/files had no result on N-1
    assert not list(outbox.glob("*.eml"))


def test_send_daily_reports_defaults_to_latest_night(estate, smtp, outbox, tmp_path,
                                                     monkeypatch):
    write_config(tmp_path, monkeypatch, outbox, port=smtp.port)
    assert send_daily_reports(load_config()) == []
    assert smtp.messages[0].subject.startswith("Backups 2026-11-25:")


def test_authentication_with_password_from_environment(estate, smtp_auth, outbox, tmp_path,
                                                       monkeypatch, capsys):
    monkeypatch.setenv("ACORN_SMTP_PW", SECRET)
    write_config(tmp_path, monkeypatch, outbox, port=smtp_auth.port, user="acorn",
                 password_env="ACORN_SMTP_PW")
    assert main(["--db", f"sqlite:///{tmp_path / 'acorn.db'}", "report", "failures",
                 "--email"]) == 0
    (m,) = smtp_auth.messages
    assert m.auth_user == "acorn"
    assert "sent 'Backups 2026-11-25: 2 failed" in capsys.readouterr().out


def test_wrong_password_fails_with_the_servers_answer(estate, smtp_auth, outbox, tmp_path,
                                                      monkeypatch, capsys):
    monkeypatch.setenv("ACORN_SMTP_PW", "wrong-" + SECRET)
    write_config(tmp_path, monkeypatch, outbox, port=smtp_auth.port, user="acorn",
                 password_env="ACORN_SMTP_PW")
    rc = main(["--db", f"sqlite:///{tmp_path / 'acorn.db'}", "report", "failures", "--email"])
    out = capsys.readouterr()
    assert rc == 1 and not smtp_auth.messages
    assert "535 5.7.8 Authentication credentials invalid" in out.err
    assert SECRET not in out.err + out.out
    (kept,) = outbox.glob("*.eml")
    assert SECRET not in kept.read_text()
    problems = send_daily_reports(load_config(), N)
    assert len(problems) == 2 and all("535" in p for p in problems)


def test_unreachable_server_keeps_report_then_resend(estate, outbox, tmp_path, monkeypatch,
                                                    capsys):
    dead = free_port()  # nothing listens here
    write_config(tmp_path, monkeypatch, outbox, port=dead)
    url = f"sqlite:///{tmp_path / 'acorn.db'}"
    assert main(["--db", url, "report", "failures", "--days", "3", "--email"]) == 1
    err = capsys.readouterr().err
    assert f"cannot reach SMTP server 127.0.0.1:{dead}" in err and "--resend" in err
    (kept,) = outbox.glob("*.eml")
    assert kept.stat().st_mode & 0o077 == 0  # reports name customers: owner only
    # resending while the server is still down fails and keeps the file
    assert main(["report", "--resend", str(kept)]) == 1
    assert kept.exists()
    srv = start_smtp()
    try:
        write_config(tmp_path, monkeypatch, outbox, port=srv.port)
        assert main(["report", "--resend", str(kept)]) == 0
        (m,) = srv.messages
        assert m.subject == ("Backups 2026-11-23 to 2026-11-25: 2 of 5 servers not ok "
                             "3 nights running")
        assert sorted(m.rcpt_tos) == ["boss@example.com", "tsr-team@example.com"]
        assert listed(m.part("plain")) == {"acme/exch", "globex/files"}
        assert shown(m.part("html"), "files")
        assert not kept.exists()
    finally:
        srv.stop()


def test_send_daily_reports_reports_unreachable_server(estate, outbox, tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, outbox, port=free_port())
    problems = send_daily_reports(load_config(), N)
    assert len(problems) == 2 and all("cannot reach" in p for p in problems)
    assert len(list(outbox.glob("*.eml"))) == 2


def test_each_rep_gets_only_their_customers(estate, smtp, outbox, tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, outbox, port=smtp.port, extra="route_to_reps = true")
    assert send_daily_reports(load_config(), N) == []
    carla, tom = smtp.to("carla@example.com"), smtp.to("tom@example.com")
    assert not smtp.to("idle@example.com")  # nothing of theirs failed
    assert [m.subject for m in carla] == [
        "Backups 2026-11-25 for Carla: 1 failed, 0 incomplete of 2 servers",
        "Backups 2026-11-23 to 2026-11-25 for Carla: 1 of 2 servers not ok 3 nights running",
    ]
    for m in carla:
        assert m.rcpt_tos == ["carla@example.com"]
        assert listed(m.part("plain")) == {"acme/exch"}
        assert not shown(m.part("html"), "files")
    assert [m.subject for m in tom] == [
        "Backups 2026-11-25 for Tom: 1 failed, 0 incomplete of 1 server",
        "Backups 2026-11-23 to 2026-11-25 for Tom: 1 of 1 server not ok 3 nights running",
    ]
    assert all(listed(m.part("plain")) == {"globex/files"} for m in tom)
    # the team list still gets the whole report, once per report
    assert len(smtp.to("tsr-team@example.com")) == 2


def test_no_mail_settings_is_a_problem_not_a_crash(estate):
    assert send_daily_reports(load_config(), N) == [
        "mail: no SMTP server configured (host in the [mail] table of the config file)"]


def test_starttls_is_not_skipped_when_the_server_lacks_it(estate, smtp, outbox, tmp_path,
                                                          monkeypatch):
    write_config(tmp_path, monkeypatch, outbox, port=smtp.port)
    cfg = load_config()
    cfg.mail.security = "starttls"
    (problem,) = send_daily_reports(cfg, N)[:1]
    assert "STARTTLS" in problem and not smtp.messages


def test_nightly_report_by_mail(estate, smtp, outbox, tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, outbox, port=smtp.port)
    url = f"sqlite:///{tmp_path / 'acorn.db'}"
    night = (N - dt.timedelta(days=1)).isoformat()
    assert main(["--db", url, "report", "nightly", "--night", night, "--email"]) == 0
    (m,) = smtp.messages
    assert m.subject == "Backups 2026-11-24: 2 ok, 1 failed, 1 incomplete of 5 servers"
    assert listed(m.part("plain")) == {"acme/exch", "acme/dc1", "globex/sql", "globex/files",
                                       "initech/old"}


def test_names_from_the_database_cannot_inject_headers(estate):
    from acorntui.config import MailSettings
    from acorntui.reports.build import build_report
    from acorntui.reports.mail import report_message

    rep = build_report("failures", N).only({1}, scope="for Eve\r\nBcc: all@example.com")
    msg = report_message(MailSettings(sender="b@example.com"), rep, ["eve@example.com"])
    assert "\n" not in str(msg["Subject"]) and msg["Bcc"] is None
    head = msg.as_string().split("\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith("bcc") for line in head.splitlines())
    assert "for Eve\\#015\\#012Bcc" in str(msg["Subject"])


def test_a_stored_address_with_a_line_break_is_a_problem_not_a_crash(estate, smtp, outbox,
                                                                     tmp_path, monkeypatch):
    from acorntui.db.models import Csr

    Csr.update(email="carla@example.com\r\nBcc: evil@example.com").where(
        Csr.email == "carla@example.com").execute()
    write_config(tmp_path, monkeypatch, outbox, port=smtp.port, extra="route_to_reps = true")
    problems = send_daily_reports(load_config(), N)
    assert problems and all("cannot address" in p for p in problems)
    assert "\r" not in "".join(problems) and "\n" not in "".join(problems)
    assert not smtp.to("evil@example.com")
    assert len(smtp.to("tsr-team@example.com")) == 2  # the rest was still sent
