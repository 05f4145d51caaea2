"""Exceptions: known failing files that are backed up another way. Add, edit, disable, delete.

Every change is checked against the user's role, audited in the same transaction, and
re-evaluates the affected results at once from their stored failures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from acorntui.core.status import (
    SCOPE_CUSTOMER,
    SCOPE_GLOBAL,
    SCOPE_SERVER,
    SCOPES,
    pattern_problem,
)
from acorntui.db.models import Customer, Exception_, Failure, Result, Server, database_proxy
from acorntui.services import audit
from acorntui.services.ingest import reevaluate
from acorntui.services.roles import User


class ExceptionInputError(ValueError):
    """A bad field; the message names it."""


@dataclass
class ExceptionInput:
    scope: str
    path_pattern: str
    server_id: int | None = None
    customer_id: int | None = None
    message_pattern: str = ""
    reason: str = ""
    method: str = ""
    expires_at: dt.date | None = None
    active: bool = True


def _validate(data: ExceptionInput) -> dict[str, Any]:
    if data.scope not in SCOPES:
        raise ExceptionInputError(f"scope: must be one of {', '.join(SCOPES)}, got {data.scope!r}")
    pat = (data.path_pattern or "").strip()
    if not pat:
        raise ExceptionInputError("path pattern: must not be empty")
    if len(pat) > 1000:
        raise ExceptionInputError("path pattern: longer than 1000 characters")
    why = pattern_problem(pat)
    if why:
        raise ExceptionInputError(f"path pattern {pat!r}: {why}")
    server_id, customer_id = data.server_id, data.customer_id
    if data.scope == SCOPE_SERVER:
        if server_id is None or Server.get_or_none(Server.id == server_id) is None:
            raise ExceptionInputError("server: a server-scoped exception needs an existing server")
        customer_id = Server.get_by_id(server_id).customer_id
    elif data.scope == SCOPE_CUSTOMER:
        if customer_id is None and server_id is not None:
            s = Server.get_or_none(Server.id == server_id)
            customer_id = s.customer_id if s else None
        if customer_id is None or Customer.get_or_none(Customer.id == customer_id) is None:
            raise ExceptionInputError(
                "customer: a customer-scoped exception needs an existing customer")
        server_id = None
    else:
        server_id = customer_id = None
    return dict(
        scope=data.scope, path_pattern=pat, server=server_id, customer=customer_id,
        message_pattern=(data.message_pattern or "").strip(), reason=data.reason.strip(),
        method=data.method.strip(), expires_at=data.expires_at, active=data.active,
    )


def _snapshot(e: Exception_) -> dict[str, Any]:
    return {
        "id": e.id, "scope": e.scope, "server_id": e.server_id, "customer_id": e.customer_id,
        "path_pattern": e.path_pattern, "message_pattern": e.message_pattern,
        "reason": e.reason, "method": e.method, "expires_at": e.expires_at, "active": e.active,
    }


def _reeval_for(snap: dict[str, Any], all_nights: bool) -> int:
    if snap["scope"] == SCOPE_SERVER:
        return reevaluate(server_ids=[snap["server_id"]], all_nights=all_nights)
    if snap["scope"] == SCOPE_CUSTOMER:
        return reevaluate(customer_ids=[snap["customer_id"]], all_nights=all_nights)
    return reevaluate(all_nights=all_nights)


def add_exception(user: User, data: ExceptionInput, *, all_nights: bool = False
                  ) -> tuple[Exception_, int]:
    """Create an exception; returns it and how many results changed status."""
    user.require("exception")
    values = _validate(data)
    with database_proxy.obj.atomic():
        e = Exception_.create(created_by=user.login, **values)
        audit.record("exception.add", user.login, table="exceptions", row_id=e.id,
                     server=values["server"], details=f"exception {e.path_pattern!r} "
                     f"({e.scope})", after=_snapshot(e))
    changed = _reeval_for(_snapshot(e), all_nights)
    return e, changed


def edit_exception(user: User, exc_id: int, data: ExceptionInput, *, all_nights: bool = False
                   ) -> tuple[Exception_, int]:
    user.require("exception")
    values = _validate(data)
    with database_proxy.obj.atomic():
        e = Exception_.get_by_id(exc_id)
        before = _snapshot(e)
        Exception_.update(**values).where(Exception_.id == exc_id).execute()
        e = Exception_.get_by_id(exc_id)
        audit.record("exception.edit", user.login, table="exceptions", row_id=e.id,
                     server=e.server_id, details=f"exception {e.path_pattern!r}",
                     before=before, after=_snapshot(e))
    changed = _reeval_for(before, all_nights) + _reeval_for(_snapshot(e), all_nights)
    return e, changed


def set_active(user: User, exc_id: int, active: bool, *, all_nights: bool = False) -> int:
    user.require("exception")
    with database_proxy.obj.atomic():
        e = Exception_.get_by_id(exc_id)
        before = _snapshot(e)
        Exception_.update(active=active).where(Exception_.id == exc_id).execute()
        e = Exception_.get_by_id(exc_id)
        audit.record("exception.enable" if active else "exception.disable", user.login,
                     table="exceptions", row_id=e.id, server=e.server_id,
                     details=f"exception {e.path_pattern!r}", before=before, after=_snapshot(e))
    return _reeval_for(before, all_nights)


def delete_exception(user: User, exc_id: int, *, all_nights: bool = False) -> int:
    user.require("exception")
    with database_proxy.obj.atomic():
        e = Exception_.get_by_id(exc_id)
        before = _snapshot(e)
        Failure.update(exception=None).where(Failure.exception == exc_id).execute()
        e.delete_instance()
        audit.record("exception.delete", user.login, table="exceptions", row_id=exc_id,
                     server=before["server_id"], details=f"exception {before['path_pattern']!r}",
                     before=before)
    return _reeval_for(before, all_nights)


def coverage(days: int = 30, today: dt.date | None = None) -> dict[int, int]:
    """exception id -> how many failures it covered in the last ``days`` nights."""
    from peewee import fn

    today = today or dt.date.today()
    since = today - dt.timedelta(days=days)
    q = (Failure.select(Failure.exception, fn.COUNT(Failure.id))
         .join(Result).where((Result.night >= since) & Failure.exception.is_null(False))
         .group_by(Failure.exception).tuples())
    return {eid: n for eid, n in q}


def list_exceptions() -> list[Exception_]:
    return list(Exception_.select().order_by(Exception_.scope, Exception_.path_pattern))


@dataclass
class ExceptionView:
    """One exception as the console lists it: where it applies, named, and how much it
    covered lately."""

    id: int
    scope: str
    applies_to: str  # "customer/server", "customer" or "everyone"
    path_pattern: str
    message_pattern: str
    reason: str
    method: str
    created_by: str
    created_at: dt.datetime | None
    expires_at: dt.date | None
    active: bool
    covered: int  # file errors covered in the last ``days`` nights
    stale: bool  # active, old enough, and covered nothing in that time
    expired: bool


def exception_views(days: int, ref: dt.date) -> list[ExceptionView]:
    """Every exception, with coverage over the ``days`` nights before ``ref``."""
    cov = coverage(days, today=ref)
    rows = list_exceptions()
    sids = {e.server_id for e in rows if e.server_id}
    cids = {e.customer_id for e in rows if e.customer_id}
    servers = {s.id: f"{s.customer.name}/{s.name}" for s in
               Server.select(Server, Customer).join(Customer).where(Server.id.in_(list(sids)))
               } if sids else {}
    customers = {c.id: c.name for c in Customer.select().where(Customer.id.in_(list(cids)))} \
        if cids else {}
    out = []
    for e in rows:
        applies = (servers.get(e.server_id, "?") if e.scope == SCOPE_SERVER else
                   customers.get(e.customer_id, "?") if e.scope == SCOPE_CUSTOMER
                   else "everyone")
        n = cov.get(e.id, 0)
        old_enough = e.created_at is None or e.created_at.date() <= ref - dt.timedelta(days=days)
        out.append(ExceptionView(
            e.id, e.scope, applies, e.path_pattern, e.message_pattern or "", e.reason or "",
            e.method or "", e.created_by or "", e.created_at, e.expires_at, bool(e.active), n,
            stale=bool(e.active and n == 0 and old_enough),
            expired=e.expires_at is not None and e.expires_at < ref))
    return out


def scope_ids(scope: str, applies_to: str) -> tuple[int | None, int | None]:
    """(server id, customer id) of what an exception form names: ``customer/server`` for a
    server scope, ``customer`` for a customer scope, nothing for global."""
    applies = (applies_to or "").strip()
    if scope == SCOPE_SERVER:
        cname, _, sname = applies.partition("/")
        s = (Server.select(Server.id).join(Customer)
             .where((Customer.name == cname) & (Server.name == sname)).first())
        if s is None:
            raise ExceptionInputError(f"applies to: no server {applies!r}")
        return s.id, None
    if scope == SCOPE_CUSTOMER:
        c = Customer.get_or_none(Customer.name == applies.split("/")[0])
        if c is None:
            raise ExceptionInputError(f"applies to: no customer {applies!r}")
        return None, c.id
    return None, None


__all__ = [
    "ExceptionInput", "ExceptionInputError", "add_exception", "edit_exception", "set_active",
    "delete_exception", "coverage", "list_exceptions", "ExceptionView", "exception_views",
    "scope_ids", "SCOPE_SERVER", "SCOPE_CUSTOMER", "SCOPE_GLOBAL",
]
