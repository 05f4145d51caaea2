"""Acknowledge a result, snooze a server, add a note. Role-checked and audited."""

from __future__ import annotations

import datetime as dt

from acorntui.db.models import Customer, Result, Server, database_proxy, utcnow
from acorntui.services import audit
from acorntui.services.roles import User


class ActionInputError(ValueError):
    pass


def acknowledge(user: User, result_id: int, note: str) -> Result:
    user.require("ack")
    note = (note or "").strip()
    if not note:
        raise ActionInputError("note: an acknowledgement needs a note saying what is being done")
    with database_proxy.obj.atomic():
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
    return Result.get_by_id(result_id)


def snooze(user: User, server_id: int, until: dt.date | None, reason: str) -> Server:
    """Snooze until a date (inclusive) with a reason; until=None lifts the snooze."""
    user.require("snooze")
    reason = (reason or "").strip()
    if until is not None:
        if not reason:
            raise ActionInputError("reason: a snooze needs a reason")
        if until < dt.date.today():
            raise ActionInputError(f"until: {until} is in the past")
    with database_proxy.obj.atomic():
        s = Server.get_by_id(server_id)
        before = {"snoozed_until": s.snoozed_until, "snooze_reason": s.snooze_reason}
        Server.update(snoozed_until=until, snooze_reason=reason if until else "").where(
            Server.id == server_id).execute()
        audit.record("server.snooze" if until else "server.unsnooze", user.login,
                     table="servers", row_id=server_id, server=server_id, details=reason,
                     before=before, after={"snoozed_until": until, "snooze_reason": reason})
    return Server.get_by_id(server_id)


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
    user.require("note")
    text = (text or "").strip()
    if not text:
        raise ActionInputError("note: empty")
    with database_proxy.obj.atomic():
        audit.record("note", user.login, table="results" if result_id else "servers",
                     row_id=result_id or server_id, server=server_id, result=result_id,
                     details=text[:4000])
