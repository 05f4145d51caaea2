"""service add|list|remove: the nightly job's service account.

A service account may ingest, fetch, run `nightly` and re-parse, and nothing a person does
(acknowledge, snooze, exceptions, management). It is a tsrs row at level 0; in team mode its
MariaDB account gets the ``acorn_ingest`` role (`--create-account`). See docs/nightly-job.md.
"""

from __future__ import annotations

from acorntui.cli.commands._manage import (
    acting_user,
    list_parser,
    print_json,
    print_table,
    remove_flow,
    remove_parser,
    safe,
)
from acorntui.cli.common import UsageError


def register(sub) -> None:
    p = sub.add_parser("service", help="the nightly job's service account (ingest, fetch, "
                       "nightly, reparse only)")
    sp = p.add_subparsers(dest="op", metavar="list|add|remove", required=True)
    list_parser(sp, "list service accounts").set_defaults(func=cmd_service_list)
    q = sp.add_parser("add", help="add a service account (a TSR3 does)")
    q.add_argument("login", metavar="LOGIN", help="the OS login the job runs as (SQLite), or "
                   "its MariaDB account name (team mode)")
    q.add_argument("--name", help="what it is, e.g. \"nightly job\"")
    q.add_argument("--email")
    from acorntui.cli.commands.grants import add_account_options

    add_account_options(q)
    q.set_defaults(func=cmd_service_add)
    remove_parser(sp, "service account", "login").set_defaults(func=cmd_service_remove)


COLS = [("login", "LOGIN", 20), ("name", "NAME", 30), ("email", "EMAIL", 30),
        ("active", "ACTIVE", 6)]


def cmd_service_list(args, ctx) -> int:
    from acorntui.services import manage

    ctx.connect()
    rows = [r for r in manage.list_services(include_inactive=not args.active_only)
            if not args.filter or args.filter.lower() in " ".join(
                str(v) for v in r.values()).lower()]
    if args.format == "json":
        print_json(rows)
    else:
        print_table(rows, COLS)
    return 0


def cmd_service_add(args, ctx) -> int:
    from acorntui.services import manage

    if not args.login.strip():
        raise UsageError("login: missing")
    if args.create_account:  # team mode checked and password read before anything is added
        from acorntui.cli.commands.grants import prepare_account

        prepare_account(args, ctx, args.login)
    user = acting_user(ctx)
    r = manage.add_service(user, login=args.login, name=args.name or "",
                           email=args.email or "")
    print(f"added service account {safe(r.login)}: may ingest, fetch, run nightly and re-parse, "
          "nothing else")
    if args.create_account:
        from acorntui.cli.commands.grants import create_account

        return create_account(args, ctx, r.login)
    return 0


def cmd_service_remove(args, ctx) -> int:
    from acorntui.services import manage

    def remove(user, login, purge=False):
        if manage.get_tsr(login).level != 0:
            raise manage.ManageInputError("login", f"{login} is a TSR, not a service account: "
                                                   "use `acorntui tsr remove`")
        return manage.remove_tsr(user, login, purge=purge)

    return remove_flow(args, ctx, args.login,
                       lambda: f"delete service account {safe(args.login)}", remove)
