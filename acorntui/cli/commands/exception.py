"""exception list|add|edit|disable|enable|remove: known failing files backed up another way."""

from __future__ import annotations

import datetime as dt
from typing import Any

from acorntui.cli.commands._manage import (
    FORMATS,
    acting_user,
    confirm,
    print_json,
    print_table,
    safe,
)
from acorntui.cli.common import UsageError


def register(sub) -> None:
    p = sub.add_parser("exception", help="known failing files backed up another way")
    sp = p.add_subparsers(dest="op", metavar="list|add|edit|disable|enable|remove",
                          required=True)
    q = sp.add_parser("list", help="list exceptions")
    q.add_argument("--server", metavar="CUSTOMER/SERVER", help="only those that apply here")
    q.add_argument("--format", choices=FORMATS, default="text")
    q.set_defaults(func=cmd_exception_list)

    def fields(q, edit: bool) -> None:
        scope = q.add_mutually_exclusive_group(required=not edit)
        scope.add_argument("--server", metavar="CUSTOMER/SERVER", help="scope: one server")
        scope.add_argument("--customer", help="scope: all of a customer's servers")
        scope.add_argument("--global", dest="is_global", action="store_true",
                           help="scope: every server")
        if edit:
            q.add_argument("--pattern", help="path glob (case-insensitive)")
        q.add_argument("--message", help="optional glob on the error message")
        q.add_argument("--reason", help="why it can be ignored")
        q.add_argument("--method", help="how it is backed up instead (NTBackup, SQL dump...)")
        q.add_argument("--expires", metavar="DATE", help="last day it applies (YYYY-MM-DD)")
        q.add_argument("--all-nights", action="store_true",
                       help="re-evaluate every night, not only each server's latest")

    q = sp.add_parser("add", help="add an exception")
    q.add_argument("pattern", help="path glob, e.g. '*/Outlook/*.pst'")
    fields(q, False)
    q.set_defaults(func=cmd_exception_add)
    q = sp.add_parser("edit", help="change an exception")
    q.add_argument("id", type=int)
    fields(q, True)
    q.set_defaults(func=cmd_exception_edit)
    for name, active in (("disable", False), ("enable", True)):
        q = sp.add_parser(name, help=f"{name} an exception (kept, not matched)"
                          if not active else "enable a disabled exception")
        q.add_argument("id", type=int)
        q.set_defaults(func=cmd_exception_active, active=active)
    q = sp.add_parser("remove", help="delete an exception")
    q.add_argument("id", type=int)
    q.add_argument("--yes", action="store_true", help="do not ask")
    q.set_defaults(func=cmd_exception_remove)


def _exception_row(e, labels: dict[int, str], customers: dict[int, str]) -> dict[str, Any]:
    from acorntui.core.status import SCOPE_GLOBAL, SCOPE_SERVER

    where = ("global" if e.scope == SCOPE_GLOBAL else
             labels.get(e.server_id, "?") if e.scope == SCOPE_SERVER else
             customers.get(e.customer_id, "?"))
    return {"id": e.id, "scope": e.scope, "applies_to": where, "path_pattern": e.path_pattern,
            "message_pattern": e.message_pattern, "reason": e.reason, "method": e.method,
            "created_by": e.created_by, "created_at": e.created_at,
            "expires_at": e.expires_at, "active": bool(e.active)}


def cmd_exception_list(args, ctx) -> int:
    from acorntui.core.status import SCOPE_CUSTOMER, SCOPE_GLOBAL, SCOPE_SERVER
    from acorntui.db.models import Customer, Server
    from acorntui.services import exceptions as exception_rules
    from acorntui.services import manage

    ctx.connect()
    customers = {c.id: c.name for c in Customer.select()}
    labels = {s.id: f"{customers.get(s.customer_id, '?')}/{s.name}" for s in Server.select()}
    rows = [_exception_row(e, labels, customers) for e in exception_rules.list_exceptions()]
    if args.server:
        s = manage.get_server(args.server)
        rows = [r for r in rows if r["scope"] == SCOPE_GLOBAL
                or (r["scope"] == SCOPE_SERVER and r["applies_to"] == labels[s.id])
                or (r["scope"] == SCOPE_CUSTOMER
                    and r["applies_to"] == customers[s.customer_id])]
    if args.format == "json":
        print_json(rows)
        return 0
    print_table(rows, [("id", "ID", 6), ("scope", "SCOPE", 8), ("applies_to", "APPLIES TO", 24),
                       ("path_pattern", "PATH PATTERN", 40), ("method", "METHOD", 14),
                       ("expires_at", "EXPIRES", 10), ("active", "ACTIVE", 6),
                       ("reason", "REASON", 30)])
    return 0


def _parse_date(field: str, text: str | None) -> dt.date | None:
    if text is None or text.strip() == "":
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{field}: {text!r} is not a date (YYYY-MM-DD)") from None


def _exception_input(args, current=None):
    from acorntui.core.status import SCOPE_CUSTOMER, SCOPE_GLOBAL, SCOPE_SERVER
    from acorntui.services import manage
    from acorntui.services.exceptions import ExceptionInput

    if args.server:
        s = manage.get_server(args.server)
        scope, sid, cid = SCOPE_SERVER, s.id, s.customer_id
    elif args.customer:
        scope, sid, cid = SCOPE_CUSTOMER, None, manage.get_customer(args.customer).id
    elif args.is_global:
        scope, sid, cid = SCOPE_GLOBAL, None, None
    else:
        scope, sid, cid = current.scope, current.server_id, current.customer_id

    def pick(value, old):
        return value if value is not None else old

    cur = current
    return ExceptionInput(
        scope=scope,
        path_pattern=pick(getattr(args, "pattern", None), cur.path_pattern if cur else ""),
        server_id=sid, customer_id=cid,
        message_pattern=pick(args.message, cur.message_pattern if cur else ""),
        reason=pick(args.reason, cur.reason if cur else ""),
        method=pick(args.method, cur.method if cur else ""),
        expires_at=(_parse_date("expires", args.expires) if args.expires is not None
                    else (cur.expires_at if cur else None)),
        active=cur.active if cur else True,
    )


def cmd_exception_add(args, ctx) -> int:
    from acorntui.services import exceptions as exception_rules

    user = acting_user(ctx)
    user.require("exception")
    e, changed = exception_rules.add_exception(user, _exception_input(args),
                                               all_nights=args.all_nights)
    print(f"added exception #{e.id} ({e.scope}) {safe(e.path_pattern)}; "
          f"{changed} result(s) changed status")
    return 0


def _get_exception(exc_id: int):
    from acorntui.db.models import Exception_

    e = Exception_.get_or_none(Exception_.id == exc_id)
    if e is None:
        raise UsageError(f"id: no exception #{exc_id}")
    return e


def cmd_exception_edit(args, ctx) -> int:
    from acorntui.services import exceptions as exception_rules

    user = acting_user(ctx)
    user.require("exception")
    cur = _get_exception(args.id)
    e, changed = exception_rules.edit_exception(user, args.id, _exception_input(args, cur),
                                                all_nights=args.all_nights)
    print(f"updated exception #{e.id}; {changed} result(s) re-evaluated")
    return 0


def cmd_exception_active(args, ctx) -> int:
    from acorntui.services import exceptions as exception_rules

    user = acting_user(ctx)
    user.require("exception")
    _get_exception(args.id)
    changed = exception_rules.set_active(user, args.id, args.active)
    print(f"{'enabled' if args.active else 'disabled'} exception #{args.id}; "
          f"{changed} result(s) changed status")
    return 0


def cmd_exception_remove(args, ctx) -> int:
    from acorntui.services import exceptions as exception_rules

    user = acting_user(ctx)
    user.require("exception")
    e = _get_exception(args.id)
    if not confirm(args, f"delete exception #{e.id} {safe(e.path_pattern)}"):
        print("nothing changed")
        return 1
    changed = exception_rules.delete_exception(user, args.id)
    print(f"deleted exception #{args.id}; {changed} result(s) changed status")
    return 0
