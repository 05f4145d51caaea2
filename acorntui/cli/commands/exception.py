"""The management interface on the command line: customer, server, csr, tsr, exception,
audit, whoami.

Every handler works through the domain modules (:mod:`acorntui.services.manage`,
:mod:`acorntui.services.exceptions`), which check the user's role and write the audit trail.
Exit status: 0 done, 2 bad input (the message names the field), 3 refused (the message
names the role needed).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from acorntui.cli.common import UsageError, eprint
from acorntui.errors import EXIT_REFUSED as REFUSED

FORMATS = ("text", "json")


# -- registration ---------------------------------------------------------------------------

def register(sub) -> None:
    _register_customer(sub)
    _register_server(sub)
    _register_rep(sub, "csr", "customer service reps (read everything, add notes)")
    _register_rep(sub, "tsr", "technical support reps (level 1-3; a TSR3 manages)")
    _register_exception(sub)

    p = sub.add_parser("audit", help="the audit trail: who changed what, when")
    p.add_argument("--server", metavar="CUSTOMER/SERVER", help="only this server")
    p.add_argument("--login", help="only changes by this login")
    p.add_argument("--action", help="action or its prefix (exception, server.edit, note...)")
    p.add_argument("--since", metavar="DATE", help="ISO date/time, or 7d / 12h ago")
    p.add_argument("--limit", type=int, default=50, help="newest N rows (default 50)")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.set_defaults(func=_guarded(cmd_audit))

    p = sub.add_parser("whoami", help="your login and role")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.set_defaults(func=_guarded(cmd_whoami))


def _list_parser(sp, help_: str):
    p = sp.add_parser("list", help=help_)
    p.add_argument("--filter", default="", metavar="TEXT", help="only rows containing TEXT")
    p.add_argument("--active-only", action="store_true", help="hide inactive rows")
    p.add_argument("--format", choices=FORMATS, default="text")
    return p


def _remove_parser(sp, what: str, arg: str):
    p = sp.add_parser("remove", help=f"remove a {what}: deactivated when it has history, "
                                     "deleted with --purge")
    p.add_argument(arg)
    p.add_argument("--purge", action="store_true", help="delete it and its history for good")
    p.add_argument("--yes", action="store_true", help="do not ask before purging")
    return p


def _register_customer(sub) -> None:
    p = sub.add_parser("customer", help="customers (a folder under /reports each)")
    sp = p.add_subparsers(dest="op", metavar="list|add|edit|remove", required=True)
    _list_parser(sp, "list customers").set_defaults(func=_guarded(cmd_customer_list))

    def fields(q, edit: bool) -> None:
        if edit:
            q.add_argument("--name", help="rename (the folder name on the report server)")
            q.add_argument("--active", metavar="yes|no")
        q.add_argument("--display-name")
        q.add_argument("--email", help="contact e-mail address")
        q.add_argument("--csr", metavar="LOGIN", help="assigned CSR ('' to unassign)")
        q.add_argument("--notes")

    q = sp.add_parser("add", help="add a customer")
    q.add_argument("name")
    fields(q, False)
    q.set_defaults(func=_guarded(cmd_customer_add))
    q = sp.add_parser("edit", help="change a customer")
    q.add_argument("customer")
    fields(q, True)
    q.set_defaults(func=_guarded(cmd_customer_edit))
    _remove_parser(sp, "customer", "customer").set_defaults(func=_guarded(cmd_customer_remove))


def _register_server(sub) -> None:
    p = sub.add_parser("server", help="customer servers and their backup settings")
    sp = p.add_subparsers(dest="op", metavar="list|add|edit|remove", required=True)
    q = _list_parser(sp, "list servers")
    q.add_argument("--customer", help="only this customer's servers")
    q.set_defaults(func=_guarded(cmd_server_list))

    def fields(q, edit: bool) -> None:
        if edit:
            q.add_argument("--name", help="rename (the <server>.out stem)")
            q.add_argument("--customer", help="move to another customer")
            q.add_argument("--active", metavar="yes|no")
            q.add_argument("--clear-shares", action="store_true")
            q.add_argument("--clear-excludes", action="store_true")
        q.add_argument("--description")
        q.add_argument("--os", help="e.g. 'Windows 2008 R2' or 'Debian 12'")
        q.add_argument("--role", help="exchange, file, sql...")
        q.add_argument("--custbak", help="the backup server it sends to")
        q.add_argument("--tsr", metavar="LOGIN", help="assigned TSR ('' to unassign)")
        q.add_argument("--share", action="append", metavar="PATH",
                       help="a folder to back up (repeat; replaces the list on edit)")
        q.add_argument("--exclude", action="append", metavar="PATTERN",
                       help="an rsync exclude pattern (repeat; replaces the list on edit)")
        q.add_argument("--key-path", help="ssh key on the customer's server")
        q.add_argument("--mirror-path", help="rsync destination [user@]host[:port]:path "
                                             "(a bare path goes to the custbak)")
        q.add_argument("--report-host", help="[user@]host[:port] that receives stats.out")

    q = sp.add_parser("add", help="add (or register) a server")
    q.add_argument("server", metavar="CUSTOMER/SERVER")
    fields(q, False)
    q.set_defaults(func=_guarded(cmd_server_add))
    q = sp.add_parser("edit", help="change a server")
    q.add_argument("server", metavar="CUSTOMER/SERVER")
    fields(q, True)
    q.set_defaults(func=_guarded(cmd_server_edit))
    _remove_parser(sp, "server", "server").set_defaults(func=_guarded(cmd_server_remove))


def _register_rep(sub, kind: str, help_: str) -> None:
    p = sub.add_parser(kind, help=help_)
    sp = p.add_subparsers(dest="op", metavar="list|add|edit|remove", required=True)
    _list_parser(sp, f"list {kind.upper()}s").set_defaults(func=_guarded(cmd_rep_list),
                                                           kind=kind)

    def fields(q, edit: bool) -> None:
        q.add_argument("--name", help="full name")
        q.add_argument("--email")
        if kind == "tsr":
            q.add_argument("--level", help="1, 2 or 3 (a TSR3 manages)")
        if edit:
            q.add_argument("--new-login", help="change the login")
            q.add_argument("--active", metavar="yes|no")

    q = sp.add_parser("add", help=f"add a {kind.upper()}")
    q.add_argument("login_pos", nargs="?", metavar="LOGIN", help="their OS login")
    q.add_argument("--login", help="their OS login (same as LOGIN)")
    fields(q, False)
    q.set_defaults(func=_guarded(cmd_rep_add), kind=kind)
    q = sp.add_parser("edit", help=f"change a {kind.upper()}")
    q.add_argument("login")
    fields(q, True)
    q.set_defaults(func=_guarded(cmd_rep_edit), kind=kind)
    _remove_parser(sp, kind.upper(), "login").set_defaults(func=_guarded(cmd_rep_remove),
                                                           kind=kind)


def _register_exception(sub) -> None:
    p = sub.add_parser("exception", help="known failing files backed up another way")
    sp = p.add_subparsers(dest="op", metavar="list|add|edit|disable|enable|remove",
                          required=True)
    q = sp.add_parser("list", help="list exceptions")
    q.add_argument("--server", metavar="CUSTOMER/SERVER", help="only those that apply here")
    q.add_argument("--format", choices=FORMATS, default="text")
    q.set_defaults(func=_guarded(cmd_exception_list))

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
    q.set_defaults(func=_guarded(cmd_exception_add))
    q = sp.add_parser("edit", help="change an exception")
    q.add_argument("id", type=int)
    fields(q, True)
    q.set_defaults(func=_guarded(cmd_exception_edit))
    for name, active in (("disable", False), ("enable", True)):
        q = sp.add_parser(name, help=f"{name} an exception (kept, not matched)"
                          if not active else "enable a disabled exception")
        q.add_argument("id", type=int)
        q.set_defaults(func=_guarded(cmd_exception_active), active=active)
    q = sp.add_parser("remove", help="delete an exception")
    q.add_argument("id", type=int)
    q.add_argument("--yes", action="store_true", help="do not ask")
    q.set_defaults(func=_guarded(cmd_exception_remove))


# -- plumbing -------------------------------------------------------------------------------

def _guarded(fn: Callable[[Any, Any], int]) -> Callable[[Any, Any], int]:
    """Domain errors -> one line and an exit status: bad input 2, refused 3."""

    def run(args, ctx) -> int:
        from acorntui.services.manage import ManageInputError
        from acorntui.services.roles import PermissionDenied
        from acorntui.services.script import ScriptError

        try:
            return fn(args, ctx)
        except PermissionDenied as exc:
            eprint(f"acorntui: refused: {exc}")
            return REFUSED
        except (ManageInputError, ScriptError) as exc:
            raise UsageError(str(exc)) from None
        except ValueError as exc:
            from acorntui.services.exceptions import ExceptionInputError

            if isinstance(exc, ExceptionInputError):
                raise UsageError(str(exc)) from None
            raise

    run.__name__ = fn.__name__
    return run


def _user(ctx):
    from acorntui.services.roles import current_user

    ctx.connect()
    return current_user()


def _safe(value: Any) -> str:
    from acorntui.reports.build import safe

    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(safe(v) for v in value)
    return safe(value)


def _print_table(rows: Sequence[dict[str, Any]], cols: Sequence[tuple[str, str, int]]) -> None:
    """cols: (key, header, max width)."""
    cells = [[_safe(r.get(k, "")) for k, _, _ in cols] for r in rows]
    widths = [min(w, max([len(h)] + [len(c[i]) for c in cells]))
              for i, (_, h, w) in enumerate(cols)]

    def fit(text: str, w: int) -> str:
        return text if len(text) <= w else text[: w - 1] + "…"

    print("  ".join(h.ljust(w) for (_, h, _), w in zip(cols, widths, strict=True)).rstrip())
    for c in cells:
        print("  ".join(fit(v, w).ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())
    if not rows:
        print("(none)")


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def _given(args, mapping: dict[str, str]) -> dict[str, Any]:
    """Only the options the user gave (None = not given; '' = clear)."""
    return {field: getattr(args, attr) for attr, field in mapping.items()
            if getattr(args, attr, None) is not None}


def _confirm(args, question: str) -> bool:
    if getattr(args, "yes", False):
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"{question}: this cannot be undone; add --yes to confirm")
    answer = input(f"{question}? This cannot be undone. [y/N] ").strip().lower()
    return answer in ("y", "yes")


def _remove(args, ctx, target: str, question: Callable[[], str],
            remove: Callable[..., Any]) -> int:
    """The remove commands: a TSR3 only; a purge is confirmed first (``question`` is asked
    after the role check, so it may look the target up)."""
    user = _user(ctx)
    user.require("manage")
    if args.purge and not _confirm(args, question()):
        print("nothing changed")
        return 1
    print(remove(user, target, purge=args.purge))
    return 0


# -- customers ------------------------------------------------------------------------------

CUSTOMER_COLS = [("name", "NAME", 30), ("display_name", "DISPLAY NAME", 30),
                 ("csr", "CSR", 16), ("servers", "SERVERS", 7), ("active", "ACTIVE", 6),
                 ("email", "EMAIL", 30)]


def cmd_customer_list(args, ctx) -> int:
    from acorntui.services import manage

    ctx.connect()
    rows = manage.list_customers(text=args.filter, include_inactive=not args.active_only)
    if args.format == "json":
        _print_json(rows)
    else:
        _print_table(rows, CUSTOMER_COLS)
    return 0


_CUSTOMER_OPTS = {"display_name": "display_name", "email": "email", "csr": "csr",
                  "notes": "notes"}


def cmd_customer_add(args, ctx) -> int:
    from acorntui.services import manage

    user = _user(ctx)
    c = manage.add_customer(user, name=args.name, **_given(args, _CUSTOMER_OPTS))
    print(f"added customer {c.name}")
    return 0


def cmd_customer_edit(args, ctx) -> int:
    from acorntui.services import manage

    user = _user(ctx)
    changes = _given(args, dict(_CUSTOMER_OPTS, name="name", active="active"))
    if not changes:
        raise UsageError("nothing to change: give at least one option (see --help)")
    c = manage.edit_customer(user, args.customer, **changes)
    print(f"updated customer {c.name}")
    return 0


def cmd_customer_remove(args, ctx) -> int:
    from acorntui.services import manage

    def question() -> str:
        c = manage.get_customer(args.customer)
        return f"delete customer {c.name}, its servers and all their history"

    return _remove(args, ctx, args.customer, question, manage.remove_customer)


# -- servers --------------------------------------------------------------------------------

SERVER_COLS = [("customer", "CUSTOMER", 20), ("name", "SERVER", 20), ("os", "OS", 16),
               ("role", "ROLE", 10), ("custbak", "CUSTBAK", 12), ("tsr", "TSR", 12),
               ("csr", "CSR", 12), ("active", "ACTIVE", 6), ("description", "DESCRIPTION", 30)]
_SERVER_OPTS = {"description": "description", "os": "os", "role": "role", "custbak": "custbak",
                "tsr": "tsr", "share": "shares", "exclude": "excludes", "key_path": "key_path",
                "mirror_path": "mirror_path", "report_host": "report_host"}


def cmd_server_list(args, ctx) -> int:
    from acorntui.services import manage

    ctx.connect()
    rows = manage.list_servers(customer=args.customer, text=args.filter,
                               include_inactive=not args.active_only)
    if args.format == "json":
        _print_json(rows)
    else:
        _print_table(rows, SERVER_COLS)
    return 0


def cmd_server_add(args, ctx) -> int:
    from acorntui.services import manage

    user = _user(ctx)
    cust, name = manage.split_label(args.server)
    s = manage.add_server(user, customer=cust, name=name, **_given(args, _SERVER_OPTS))
    print(f"added server {cust}/{s.name}" if s.registered else f"registered {cust}/{s.name}")
    return 0


def cmd_server_edit(args, ctx) -> int:
    from acorntui.services import manage

    user = _user(ctx)
    changes = _given(args, dict(_SERVER_OPTS, name="name", customer="customer",
                                active="active"))
    if args.clear_shares:
        changes["shares"] = changes.get("shares") or []
    if args.clear_excludes:
        changes["excludes"] = changes.get("excludes") or []
    if not changes:
        raise UsageError("nothing to change: give at least one option (see --help)")
    s = manage.edit_server(user, args.server, **changes)
    print(f"updated server {manage.server_dict(s)['customer']}/{s.name}")
    return 0


def cmd_server_remove(args, ctx) -> int:
    from acorntui.services import manage

    def question() -> str:
        s = manage.server_dict(manage.get_server(args.server))
        return f"delete server {s['customer']}/{s['name']} and all its history"

    return _remove(args, ctx, args.server, question, manage.remove_server)


# -- CSRs and TSRs --------------------------------------------------------------------------

REP_COLS = {
    "csr": [("login", "LOGIN", 20), ("name", "NAME", 30), ("email", "EMAIL", 30),
            ("customers", "CUSTOMERS", 9), ("active", "ACTIVE", 6)],
    "tsr": [("login", "LOGIN", 20), ("name", "NAME", 30), ("role", "LEVEL", 5),
            ("email", "EMAIL", 30), ("servers", "SERVERS", 7), ("active", "ACTIVE", 6)],
}


def cmd_rep_list(args, ctx) -> int:
    from acorntui.services import manage

    ctx.connect()
    fn = manage.list_tsrs if args.kind == "tsr" else manage.list_csrs
    rows = fn(text=args.filter, include_inactive=not args.active_only)
    if args.format == "json":
        _print_json(rows)
    else:
        _print_table(rows, REP_COLS[args.kind])
    return 0


def _rep_opts(kind: str) -> dict[str, str]:
    opts = {"name": "name", "email": "email"}
    if kind == "tsr":
        opts["level"] = "level"
    return opts


def cmd_rep_add(args, ctx) -> int:
    from acorntui.services import manage

    login = args.login or args.login_pos
    if args.login and args.login_pos and args.login != args.login_pos:
        raise UsageError("login: given twice with different values")
    if not login:
        raise UsageError("login: missing (give LOGIN or --login)")
    user = _user(ctx)
    fn = manage.add_tsr if args.kind == "tsr" else manage.add_csr
    r = fn(user, login=login, **_given(args, _rep_opts(args.kind)))
    role = f"TSR{r.level}" if args.kind == "tsr" else "CSR"
    print(f"added {role} {r.login}")
    return 0


def cmd_rep_edit(args, ctx) -> int:
    from acorntui.services import manage

    user = _user(ctx)
    changes = _given(args, dict(_rep_opts(args.kind), new_login="login", active="active"))
    if not changes:
        raise UsageError("nothing to change: give at least one option (see --help)")
    fn = manage.edit_tsr if args.kind == "tsr" else manage.edit_csr
    r = fn(user, args.login, **changes)
    print(f"updated {args.kind.upper()} {r.login}")
    return 0


def cmd_rep_remove(args, ctx) -> int:
    from acorntui.services import manage

    fn = manage.remove_tsr if args.kind == "tsr" else manage.remove_csr
    return _remove(args, ctx, args.login,
                   lambda: f"delete {args.kind.upper()} {_safe(args.login)}", fn)


# -- exceptions -----------------------------------------------------------------------------

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
        _print_json(rows)
        return 0
    _print_table(rows, [("id", "ID", 6), ("scope", "SCOPE", 8), ("applies_to", "APPLIES TO", 24),
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

    user = _user(ctx)
    user.require("exception")
    e, changed = exception_rules.add_exception(user, _exception_input(args),
                                               all_nights=args.all_nights)
    print(f"added exception #{e.id} ({e.scope}) {_safe(e.path_pattern)}; "
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

    user = _user(ctx)
    user.require("exception")
    cur = _get_exception(args.id)
    e, changed = exception_rules.edit_exception(user, args.id, _exception_input(args, cur),
                                                all_nights=args.all_nights)
    print(f"updated exception #{e.id}; {changed} result(s) re-evaluated")
    return 0


def cmd_exception_active(args, ctx) -> int:
    from acorntui.services import exceptions as exception_rules

    user = _user(ctx)
    user.require("exception")
    _get_exception(args.id)
    changed = exception_rules.set_active(user, args.id, args.active)
    print(f"{'enabled' if args.active else 'disabled'} exception #{args.id}; "
          f"{changed} result(s) changed status")
    return 0


def cmd_exception_remove(args, ctx) -> int:
    from acorntui.services import exceptions as exception_rules

    user = _user(ctx)
    user.require("exception")
    e = _get_exception(args.id)
    if not _confirm(args, f"delete exception #{e.id} {_safe(e.path_pattern)}"):
        print("nothing changed")
        return 1
    changed = exception_rules.delete_exception(user, args.id)
    print(f"deleted exception #{args.id}; {changed} result(s) changed status")
    return 0


# -- audit and whoami -----------------------------------------------------------------------

_REL = re.compile(r"^(\d+)\s*([dh])$")


def parse_since(text: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """ISO date/datetime (UTC, as stored) or a relative ``7d`` / ``12h``."""
    if not text:
        return None
    t = text.strip()
    m = _REL.match(t)
    if m:
        from acorntui.db.models import utcnow

        n, unit = int(m.group(1)), m.group(2)
        delta = dt.timedelta(days=n) if unit == "d" else dt.timedelta(hours=n)
        return (now or utcnow()) - delta
    try:
        return dt.datetime.fromisoformat(t).replace(tzinfo=None)
    except ValueError:
        raise UsageError(f"since: {text!r} is not a date (YYYY-MM-DD[THH:MM]) or 7d/12h"
                         ) from None


def cmd_audit(args, ctx) -> int:
    from acorntui.services import manage

    ctx.connect()
    if args.limit < 1:
        raise UsageError("limit: must be at least 1")
    server_id = manage.get_server(args.server).id if args.server else None
    rows = manage.audit_rows(server_id=server_id, login=args.login, action=args.action,
                             since=parse_since(args.since), limit=args.limit)
    if args.format == "json":
        for r in rows:
            for k in ("before", "after"):
                r[k] = json.loads(r[k]) if r[k] else None
        _print_json(rows)
        return 0
    if not rows:
        print("(no changes recorded)")
    for r in rows:
        where = f" {r['server']}" if r["server"] else ""
        print(f"{r['at']:%Y-%m-%d %H:%M:%S}  {_safe(r['login']):<12} {_safe(r['action']):<20}"
              f"{_safe(where)}  {_safe(r['details'])}")
        if r["before"]:
            print(f"    before: {_safe(r['before'])}")
        if r["after"]:
            print(f"    after:  {_safe(r['after'])}")
    return 0


def cmd_whoami(args, ctx) -> int:
    from acorntui.services import roles

    user = _user(ctx)
    if args.format == "json":
        _print_json({"login": user.login, "role": user.role, "role_label": user.role_label,
                     "name": user.name, "level": user.level,
                     "may": [a for a in roles.PERMISSIONS if user.can(a)]})
        return 0
    print(roles.whoami_text(user))
    return 0
