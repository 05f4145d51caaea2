"""The green that isn't: good results that copied far less than usual, on built histories."""

from __future__ import annotations

import datetime as dt
import json

from acorntui.alerts.anomaly import mark_night
from acorntui.config import AnomalySettings
from acorntui.db.models import Customer, Result, Server

NIGHT = dt.date(2026, 11, 29)
G = 1024 ** 3


def _server(name: str, customer: str = "acme") -> Server:
    c, _ = Customer.get_or_create(name=customer)
    return Server.create(customer=c, name=name)


def history(server: Server, sizes: list[int], status: str = "ok") -> None:
    """Good nights before NIGHT, the newest first."""
    for back, size in enumerate(sizes, start=1):
        Result.create(server=server, night=NIGHT - dt.timedelta(days=back), code=0,
                      status=status, total_size=size)


def tonight(server: Server, size: int | None, status: str = "ok", code: int = 0) -> Result:
    return Result.create(server=server, night=NIGHT, code=code, status=status, total_size=size)


def anomaly_of(r: Result) -> str | None:
    return Result.get_by_id(r.id).anomaly


def test_drop_zero_and_normal(any_db):
    drop, zero, fine, star = (_server(n) for n in ("drop", "zero", "fine", "star"))
    for s in (drop, zero, fine):
        history(s, [10 * G] * 14)
    history(star, [10 * G] * 10, status="ok_with_exceptions")
    r_drop = tonight(drop, int(1.1 * G))
    r_zero = tonight(zero, 0)
    r_fine = tonight(fine, 6 * G)  # over half the usual size
    r_star = tonight(star, G, status="ok_with_exceptions")
    p = mark_night(NIGHT)
    assert (p.judged, p.flagged, p.changed) == (4, 3, 3)
    assert anomaly_of(r_drop) == "total size 1.1G, usual 10.0G (median of 14 nights)"
    assert anomaly_of(r_zero) == "total size 0B, usual 10.0G (median of 14 nights)"
    assert anomaly_of(r_fine) is None
    assert anomaly_of(r_star) == "total size 1.0G, usual 10.0G (median of 10 nights)"
    # the stored status stays as rsync said
    assert Result.get_by_id(r_drop.id).status == "ok"
    # running again changes nothing
    assert mark_night(NIGHT).changed == 0


def test_median_of_the_last_window_good_nights_only(any_db):
    """Old small nights beyond the window, bad nights and earlier anomalies do not count."""
    s = _server("fs")
    history(s, [10 * G] * 14 + [G] * 20)
    bad = Result.get(Result.server == s, Result.night == NIGHT - dt.timedelta(days=3))
    bad.status, bad.code, bad.total_size = "failed", 23, 0
    bad.save()
    odd = Result.get(Result.server == s, Result.night == NIGHT - dt.timedelta(days=2))
    odd.total_size, odd.anomaly = 0, "total size 0B, usual 10.0G (median of 14 nights)"
    odd.save()
    r = tonight(s, 3 * G)
    mark_night(NIGHT)
    # 14 nights: 12 recent 10G ones, then two 1G ones from before -> median 10G
    assert anomaly_of(r) == "total size 3.0G, usual 10.0G (median of 14 nights)"


def test_too_few_nights_and_settings(any_db):
    six, seven = _server("six"), _server("seven")
    history(six, [10 * G] * 6)
    history(seven, [10 * G] * 7)
    r6, r7 = tonight(six, 0), tonight(seven, 0)
    mark_night(NIGHT)
    assert anomaly_of(r6) is None
    assert anomaly_of(r7) == "total size 0B, usual 10.0G (median of 7 nights)"
    # stricter settings: 3 nights are enough, and 60 % of the usual is too little
    mark_night(NIGHT, AnomalySettings(size_drop=0.7, min_nights=3, window=5))
    assert anomaly_of(r6) == "total size 0B, usual 10.0G (median of 5 nights)"


def test_failed_result_never_anomalous_and_replacement_clears(any_db):
    s = _server("fs")
    history(s, [10 * G] * 14)
    r = tonight(s, 0)
    mark_night(NIGHT)
    assert anomaly_of(r)
    # a newer log replaced tonight's result with a failure: the anomaly goes
    Result.update(status="failed", code=23).where(Result.id == r.id).execute()
    assert mark_night(NIGHT).changed == 1
    assert anomaly_of(r) is None


def test_acknowledgement_clears_it_for_good(any_db):
    from acorntui.services import triage
    from acorntui.services.roles import User

    s = _server("fs")
    history(s, [10 * G] * 14)
    r = tonight(s, G // 10)
    mark_night(NIGHT)
    assert anomaly_of(r).startswith("total size 102.4M, usual 10.0G")
    tsr = User(login="tina", role="tsr", name="Tina", level=2)
    triage.acknowledge(tsr, r.id, "share moved to D:, new normal")
    assert anomaly_of(r) is None
    mark_night(NIGHT)
    assert anomaly_of(r) is None
    from acorntui.db.models import Update

    u = Update.get(Update.action == "result.ack")
    assert "total size 102.4M" in json.loads(u.before)["anomaly"]


def test_json_report_carries_anomaly(any_db):
    from acorntui.reports.build import build_report, report_data

    s, t = _server("fs"), _server("db")
    history(s, [10 * G] * 14)
    tonight(s, 0)
    tonight(t, 5 * G)
    mark_night(NIGHT)
    data = report_data(build_report("nightly", NIGHT))
    by = {d["server"]: d["anomaly"] for d in data["servers"]}
    assert by == {"fs": "total size 0B, usual 10.0G (median of 14 nights)", "db": None}
