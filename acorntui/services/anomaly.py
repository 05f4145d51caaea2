"""The green that isn't: a good result (ok, ok*) that copied far less than usual.

For each good result of a night, ``total_size`` is compared with the median of that server's
last ``window`` good nights (nights that were themselves anomalies do not count, unless they were
acknowledged). With at least ``min_nights`` such nights, a size under ``size_drop`` of the
median, or zero, sets ``results.anomaly`` to a sentence saying so. The stored status stays as
rsync said. An acknowledgement clears it (:func:`acorntui.services.triage.acknowledge`) and
this pass never sets it again on an acknowledged result.

One read query per night, whatever the number of servers, plus one write per changed result.
It runs wherever a night's results change: every ingest (plain `acorntui ingest`, the nightly
job), a re-parse, and a re-evaluation (an exception added, changed, removed or expired).
The settings are the config's ``[anomaly]`` (:func:`use_settings`, set by the CLI once it has
read the config), else the defaults.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from acorntui.config import AnomalySettings
from acorntui.core.status import GOOD_STATUSES
from acorntui.db.models import Result, database_proxy


@dataclass
class AnomalyPass:
    night: dt.date
    judged: int = 0  # good results with enough history
    flagged: int = 0  # results with an anomaly after the pass
    changed: int = 0  # results whose anomaly text was set, changed or cleared


def human_size(n: int | float) -> str:
    n = float(n)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(n) < 1024 or unit == "T":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}P"  # pragma: no cover - the loop returns at T


def judge(total: int | None, history: list[int], st: AnomalySettings) -> str | None:
    """The anomaly text for ``total`` against earlier good sizes (newest first), or None."""
    history = history[:st.window]
    if total is None or len(history) < st.min_nights:
        return None
    usual = statistics.median(history)
    if usual <= 0 or (total > 0 and total >= st.size_drop * usual):
        return None
    return (f"total size {human_size(total)}, usual {human_size(usual)} "
            f"(median of {len(history)} nights)")


_settings: AnomalySettings | None = None


def use_settings(st: AnomalySettings | None) -> None:
    """The ``[anomaly]`` settings every later pass uses when not given its own."""
    global _settings
    _settings = st


def settings() -> AnomalySettings:
    return _settings or AnomalySettings()


# a longer list of servers is not worth spelling out in the query: judge the whole night
_MAX_LISTED = 500


def mark_night(night: dt.date, st: AnomalySettings | None = None,
               server_ids: list[int] | None = None) -> AnomalyPass:
    """Set or clear ``results.anomaly`` for every result of ``night`` (or only those of
    ``server_ids``, as a re-parse or re-evaluation needs). One query. The database must be
    connected."""
    st = st or settings()
    if server_ids is not None and len(server_ids) > _MAX_LISTED:
        server_ids = None
    db = database_proxy.obj
    q0, q1 = db.quote

    def c(name: str) -> str:
        return f"{q0}{name}{q1}"

    p = db.param
    good = ", ".join(p for _ in GOOD_STATUSES)
    listed = sorted(set(server_ids)) if server_ids is not None else []
    if server_ids is not None and not listed:
        return AnomalyPass(night)
    only = (f" AND t.{c('server_id')} IN ({', '.join(p for _ in listed)})" if listed else "")
    # Tonight's result of each server is row 1 (the newest night <= tonight); rows 2.. are its
    # earlier good, non-anomalous nights with a size, newest first.
    sql = (
        f"SELECT {c('id')}, {c('server_id')}, {c('night')}, {c('total_size')}, {c('status')}, "
        f"{c('ack_at')}, {c('anomaly')}, {c('rn')} FROM ("
        f"SELECT r.{c('id')}, r.{c('server_id')}, r.{c('night')}, r.{c('total_size')}, "
        f"r.{c('status')}, r.{c('ack_at')}, r.{c('anomaly')}, ROW_NUMBER() OVER "
        f"(PARTITION BY r.{c('server_id')} ORDER BY r.{c('night')} DESC) AS {c('rn')} "
        f"FROM {c('results')} r WHERE r.{c('night')} <= {p} AND r.{c('server_id')} IN "
        f"(SELECT t.{c('server_id')} FROM {c('results')} t WHERE t.{c('night')} = {p}{only}) "
        f"AND (r.{c('night')} = {p} OR (r.{c('status')} IN ({good}) "
        f"AND r.{c('anomaly')} IS NULL AND r.{c('total_size')} IS NOT NULL))"
        f") h WHERE {c('rn')} <= {p} ORDER BY {c('server_id')}, {c('rn')}"
    )
    iso = night.isoformat()
    params = [iso, iso, *listed, iso, *GOOD_STATUSES, st.window + 1]
    tonight: dict[int, tuple] = {}
    history: dict[int, list[int]] = {}
    for rid, sid, _night, size, status, ack_at, anomaly, rn in db.execute_sql(sql, params):
        if int(rn) == 1:
            tonight[sid] = (rid, size, status, ack_at, anomaly)
        else:
            history.setdefault(sid, []).append(int(size))
    out = AnomalyPass(night)
    clear: list[int] = []
    for sid, (rid, size, status, ack_at, old) in tonight.items():
        new = None
        if status in GOOD_STATUSES and ack_at is None:
            hist = history.get(sid, [])
            if len(hist) >= st.min_nights and size is not None:
                out.judged += 1
            new = judge(None if size is None else int(size), hist, st)
        if new is not None:
            out.flagged += 1
        if new == old:
            continue
        out.changed += 1
        if new is None:
            clear.append(rid)
        else:
            Result.update(anomaly=new).where(Result.id == rid).execute()
    for i in range(0, len(clear), 500):
        Result.update(anomaly=None).where(Result.id.in_(clear[i:i + 500])).execute()
    return out


def mark_nights(nights: Iterable[dt.date], st: AnomalySettings | None = None,
                server_ids: dict[dt.date, list[int]] | None = None) -> AnomalyPass | None:
    """:func:`mark_night` for each night (oldest first, so a night judged anomalous no longer
    counts as usual for the next), one query each; the counts summed under the newest night.
    ``server_ids``: per night, only those servers. None when there was no night."""
    total: AnomalyPass | None = None
    for night in sorted(set(nights)):
        ap = mark_night(night, st, None if server_ids is None else server_ids.get(night, []))
        if total is None:
            total = ap
        else:
            total = AnomalyPass(night, total.judged + ap.judged, total.flagged + ap.flagged,
                                total.changed + ap.changed)
    return total
