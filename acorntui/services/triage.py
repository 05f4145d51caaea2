"""Acknowledge a result, snooze a server, add a note. Role-checked and audited.

The ``*_many`` functions are the console's bulk actions (marked rows): every server in ONE
transaction, one audit row per server; any failure part-way leaves no change and no audit
row at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from acorntui.db.models import Customer, Result, Server, database_proxy, utcnow
from acorntui.services import audit
from acorntui.services.roles import User


class ActionInputError(ValueError):
    pass


def _ack_note(note: str) -> str:
    note = (note or "").strip()
    if not note:
        raise ActionInputError("note: an acknowledgement needs a note saying what is being done")
    return note


def acknowledge(user: User, result_id: int, note: str) -> Result:
    user.require("ack")
    note = _ack_note(note)
    with database_proxy.obj.atomic():
        _acknowledge_one(user, result_id, note)
    return Result.get_by_id(result_id)


def acknowledge_many(user: User, result_ids: Iterable[int], note: str) -> int:
    """Acknowledge every result with the same note in one transaction (one audit row each).
    Returns how many were acknowledged."""
    user.require("ack")
    note = _ack_note(note)
    ids = list(dict.fromkeys(result_ids))
    with database_proxy.obj.atomic():
        for rid in ids:
            _acknowledge_one(user, rid, note)
    return len(ids)


def _acknowledge_one(user: User, result_id: int, note: str) -> None:
    r = Result.get_by_id(result_id)
    before = {"ack_note": r.ack_note, "ack_by": r.ack_by}
    if r.anomaly:
        before["anomaly"] = r.anomaly
    # an acknowledgement also clears a silent-success anomaly (acorntui.alerts.anomaly)
    Result.update(ack_note=note[:2000], ack_by=user.login, ack_at=utcnow(),
                  anomaly=None).where(Result.id == result_id).execute()
    audit.record("result.ack", user.login, table="results", row_id=result_id,
                 server=r.server_id, result=result_id, details=note[:2000], before=before,
                 after={"ack_note": note[:2000], "ack_by": user.login})


def snooze(user: User, server_id: int, until: dt.date | None, reason: str) -> Server:
    """Snooze until a date (inclusive) with a reason; until=None lifts the snooze."""
    user.require("snooze")
    reason = _snooze_reason(until, reason)
    with database_proxy.obj.atomic():
        _snooze_one(user, server_id, until, reason)
    return Server.get_by_id(server_id)


def snooze_many(user: User, server_ids: Iterable[int], until: dt.date | None,
                reason: str) -> int:
    """Snooze (or, with until=None, un-snooze) every server in one transaction."""
    user.require("snooze")
    reason = _snooze_reason(until, reason)
    ids = list(dict.fromkeys(server_ids))
    with database_proxy.obj.atomic():
        for sid in ids:
            _snooze_one(user, sid, until, reason)
    return len(ids)


def _snooze_reason(until: dt.date | None, reason: str) -> str:
    reason = (reason or "").strip()
    if until is not None:
        if not reason:
            raise ActionInputError("reason: a snooze needs a reason")
        if until < dt.date.today():
            raise ActionInputError(f"until: {until} is in the past")
    return reason


def _snooze_one(user: User, server_id: int, until: dt.date | None, reason: str) -> None:
    s = Server.get_by_id(server_id)
    before = {"snoozed_until": s.snoozed_until, "snooze_reason": s.snooze_reason}
    Server.update(snoozed_until=until, snooze_reason=reason if until else "").where(
        Server.id == server_id).execute()
    audit.record("server.snooze" if until else "server.unsnooze", user.login,
                 table="servers", row_id=server_id, server=server_id, details=reason,
                 before=before, after={"snoozed_until": until, "snooze_reason": reason})


def snooze_customer(user: User, customer_id: int, until: dt.date | None,
                    reason: str) -> Customer:
    """A maintenance window: every server of the customer is snoozed until a date (inclusive)
    -- shown as snoozed, counted apart, no notifications or escalations. until=None lifts it."""
    user.require("snooze")
    reason = (reason or "").strip()
    if until is not None:
        if not reason:
            raise ActionInputError("reason: a maintenance window needs a reason")
        if until < dt.date.today():
            raise ActionInputError(f"until: {until} is in the past")
    with database_proxy.obj.atomic():
        c = Customer.get_by_id(customer_id)
        before = {"snoozed_until": c.snoozed_until, "snooze_reason": c.snooze_reason}
        Customer.update(snoozed_until=until, snooze_reason=reason[:255] if until else "").where(
            Customer.id == customer_id).execute()
        audit.record("customer.snooze" if until else "customer.unsnooze", user.login,
                     table="customers", row_id=customer_id, details=reason[:2000],
                     before=before, after={"snoozed_until": until,
                                           "snooze_reason": reason[:255] if until else ""})
    return Customer.get_by_id(customer_id)


def add_note(user: User, server_id: int, text: str, result_id: int | None = None) -> None:
    add_notes(user, [(server_id, result_id)], text)


def add_notes(user: User, targets: Sequence[tuple[int, int | None]], text: str) -> int:
    """The same note on each (server id, result id or None), in one transaction."""
    user.require("note")
    text = (text or "").strip()
    if not text:
        raise ActionInputError("note: empty")
    targets = list(dict.fromkeys(targets))
    with database_proxy.obj.atomic():
        for server_id, result_id in targets:
            if not Server.select().where(Server.id == server_id).exists():
                raise Server.DoesNotExist(f"no server with id {server_id}")
            audit.record("note", user.login, table="results" if result_id else "servers",
                         row_id=result_id or server_id, server=server_id, result=result_id,
                         details=text[:4000])
    return len(targets)
