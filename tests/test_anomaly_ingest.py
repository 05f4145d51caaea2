"""Issue 15: the silent-success rule (a good result that copied far less than usual) is judged
wherever a night's results change: plain `acorntui ingest`, a re-parse, and a re-evaluation
(an exception added or removed), on built histories: a drop, a zero, too few nights, and an
acknowledgement. Real logs, real parser, SQLite and MariaDB."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sshd import write_config
from test_ingest import CLEAN_309, FAIL_309, LOG_TIME, NIGHT, NOW, TSR, write_log

from acorntui.cli.main import main
from acorntui.config import load_config
from acorntui.db.models import Customer, Result, Server
from acorntui.services import exceptions as er
from acorntui.services import triage

G = 1024 ** 3
ZERO_LOG = CLEAN_309.replace("total size is 294748160", "total size is 0")
SMALL = "total size 281.1M"  # CLEAN_309's 294,748,160 bytes


def _history(customer: str, server: str, nights: int, size: int = 10 * G,
             status: str = "ok") -> Server:
    """``nights`` good nights before NIGHT, as earlier ingests would have left them."""
    c, _ = Customer.get_or_create(name=customer, defaults={"display_name": customer})
    s, _ = Server.get_or_create(customer=c, name=server)
    for back in range(1, nights + 1):
        Result.create(server=s, night=NIGHT - dt.timedelta(days=back), code=0, status=status,
                      total_size=size)
    return s


def _tonight(customer: str, server: str) -> Result:
    return (Result.select().join(Server).join(Customer)
            .where((Customer.name == customer) & (Server.name == server)
                   & (Result.night == NIGHT)).get())


def _ingest(url: str, spool, capsys) -> str:
    assert main(["--db", url, "ingest", "--now", NOW.isoformat(), str(spool)]) == 0
    return capsys.readouterr().out


@pytest.fixture
def url(any_db):
    from acorntui.db.models import database_proxy

    db = database_proxy.obj
    if db.__class__.__name__.lower().startswith("sqlite"):
        return f"sqlite:///{db.database}"
    p = db.connect_params
    return f"mysql://{p.get('user', 'root')}@{p['host']}:{p.get('port', 3306)}/{db.database}"


def test_plain_ingest_flags_a_drop_and_a_zero_not_too_few_nights(url, tmp_path, capsys):
    spool = tmp_path / "spool"
    _history("acme", "drop", 14)
    _history("acme", "zero", 14)
    _history("acme", "few", 6)
    _history("acme", "fine", 14, size=400 * 1024 ** 2)  # 281M of a usual 400M: over half
    for name in ("drop", "few", "fine"):
        write_log(spool, "acme", name, CLEAN_309, LOG_TIME)
    write_log(spool, "acme", "zero", ZERO_LOG, LOG_TIME)
    out = _ingest(url, spool, capsys)
    assert "2 look wrong" in out, out
    drop, zero = _tonight("acme", "drop"), _tonight("acme", "zero")
    assert drop.anomaly == f"{SMALL}, usual 10.0G (median of 14 nights)"
    assert zero.anomaly == "total size 0B, usual 10.0G (median of 14 nights)"
    assert drop.status == zero.status == "ok"  # the stored status stays as rsync said
    assert _tonight("acme", "few").anomaly is None  # 6 good nights: not judged
    assert _tonight("acme", "fine").anomaly is None
    # the JSON report carries it
    main(["--db", url, "report", "nightly", "--format", "json"])
    servers = json.loads(capsys.readouterr().out)["servers"]
    assert {d["server"]: d["anomaly"] for d in servers}["zero"] == zero.anomaly


def test_an_acknowledgement_clears_it_and_a_new_ingest_keeps_it_cleared(url, tmp_path, capsys):
    spool = tmp_path / "spool"
    _history("acme", "fs1", 14)
    log = write_log(spool, "acme", "fs1", CLEAN_309, LOG_TIME)
    _ingest(url, spool, capsys)
    r = _tonight("acme", "fs1")
    assert r.anomaly and r.anomaly.startswith(SMALL)
    triage.acknowledge(TSR, r.id, "share moved to D:, new normal")
    assert _tonight("acme", "fs1").anomaly is None
    # a newer log for the same night replaces the result: still acknowledged, still cleared
    write_log(spool, "acme", "fs1", ZERO_LOG, LOG_TIME + dt.timedelta(minutes=5))
    assert log.exists()
    out = _ingest(url, spool, capsys)
    assert "1 replaced" in out and "look wrong" not in out, out
    assert _tonight("acme", "fs1").anomaly is None


def test_reparse_judges_it(any_db, tmp_path):
    from acorntui.jobs.reparse import reparse_server

    spool = tmp_path / "spool"
    _history("acme", "fs1", 14)
    _history("acme", "fs2", 3)
    for name in ("fs1", "fs2"):
        write_log(spool, "acme", name, ZERO_LOG, LOG_TIME)
    cfg = load_config(write_config(tmp_path / "c.toml", spool=spool, servers=[]))
    out = reparse_server(cfg, "acme", "fs1", night=NIGHT, user=TSR, now=NOW)
    assert out.status == "ok"
    assert _tonight("acme", "fs1").anomaly == "total size 0B, usual 10.0G (median of 14 nights)"
    reparse_server(cfg, "acme", "fs2", night=NIGHT, user=TSR, now=NOW)
    assert _tonight("acme", "fs2").anomaly is None  # too few nights
    # a fixed log, re-parsed, clears it; an acknowledged one is never flagged again
    write_log(spool, "acme", "fs1", CLEAN_309.replace("294748160", str(9 * G)), LOG_TIME)
    reparse_server(cfg, "acme", "fs1", night=NIGHT, user=TSR, now=NOW)
    assert _tonight("acme", "fs1").anomaly is None
    write_log(spool, "acme", "fs1", ZERO_LOG, LOG_TIME)
    reparse_server(cfg, "acme", "fs1", night=NIGHT, user=TSR, now=NOW)
    r = _tonight("acme", "fs1")
    assert r.anomaly and r.anomaly.startswith("total size 0B")
    triage.acknowledge(TSR, r.id, "new normal")
    reparse_server(cfg, "acme", "fs1", night=NIGHT, user=TSR, now=NOW)
    assert _tonight("acme", "fs1").anomaly is None


def test_reevaluation_judges_it_when_an_exception_turns_a_night_good(url, tmp_path, capsys):
    spool = tmp_path / "spool"
    s = _history("acme", "mail01", 14)
    write_log(spool, "acme", "mail01", FAIL_309, LOG_TIME)  # code 23, total size 9,999 bytes
    _ingest(url, spool, capsys)
    r = _tonight("acme", "mail01")
    assert (r.status, r.anomaly) == ("failed", None)  # a failure is not a silent success
    e, changed = er.add_exception(TSR, er.ExceptionInput(
        scope="server", server_id=s.id, path_pattern="*/shares/*", reason="covered elsewhere",
        method="NTBackup"))
    assert changed == 1
    r = _tonight("acme", "mail01")
    assert r.status == "ok_with_exceptions"
    assert r.anomaly == "total size 9.8K, usual 10.0G (median of 14 nights)"
    er.delete_exception(TSR, e.id)  # red again: no longer a green that isn't
    assert (_tonight("acme", "mail01").status, _tonight("acme", "mail01").anomaly) == (
        "failed", None)


def test_an_ingestor_judges_with_its_own_anomaly_settings(sqlite_db, tmp_path):
    # the nightly job hands ingest the config's [anomaly] rule: three earlier nights are
    # enough under `min_nights = 3`, where the default (7) would judge nothing yet
    from acorntui.config import AnomalySettings
    from acorntui.services.anomaly import use_settings
    from acorntui.services.ingest import Ingestor

    use_settings(None)
    _history("acme", "fs1", 3)
    spool = tmp_path / "spool"
    write_log(spool, "acme", "fs1", CLEAN_309, when=LOG_TIME)
    report = Ingestor(now=NOW, user=TSR, anomaly=AnomalySettings(min_nights=3)).ingest_paths(
        [spool])
    assert report.anomalies == 1
    assert _tonight("acme", "fs1").anomaly.startswith(SMALL)
    _history("acme", "fs2", 3)
    write_log(spool, "acme", "fs2", CLEAN_309, when=LOG_TIME)
    assert Ingestor(now=NOW, user=TSR).ingest_paths([spool / "acme" / "fs2.out"]).anomalies == 0
    assert _tonight("acme", "fs2").anomaly is None
