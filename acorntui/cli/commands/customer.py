"""customer list|add|edit|remove|snooze: customers (a folder under /reports each)."""

from __future__ import annotations

from acorntui.cli.commands._manage import (
    acting_user,
    given,
    list_parser,
    print_json,
    print_table,
    remove_flow,
    remove_parser,
)
from acorntui.cli.common import UsageError, parse_date


def register(sub) -> None:
    p = sub.add_parser("customer", help="customers (a folder under /reports each)")
    sp = p.add_subparsers(dest="op", metavar="list|add|edit|remove|snooze", required=True)
    list_parser(sp, "list customers").set_defaults(func=cmd_customer_list)

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
    q.set_defaults(func=cmd_customer_add)
    q = sp.add_parser("edit", help="change a customer")
    q.add_argument("customer")
    fields(q, True)
    q.set_defaults(func=cmd_customer_edit)
    remove_parser(sp, "customer", "customer").set_defaults(func=cmd_customer_remove)
    q = sp.add_parser("snooze", help="a maintenance window: every server of the customer is "
                      "shown as snoozed and raises no notifications or escalations")
    q.add_argument("customer")
    g = q.add_mutually_exclusive_group(required=True)
    g.add_argument("--until", metavar="DATE", help="last day of the window (YYYY-MM-DD)")
    g.add_argument("--lift", action="store_true", help="end the window now")
    q.add_argument("--reason", default="", help="why (required with --until)")
    q.set_defaults(func=cmd_customer_snooze)


CUSTOMER_COLS = [("name", "NAME", 30), ("display_name", "DISPLAY NAME", 30),
                 ("csr", "CSR", 16), ("servers", "SERVERS", 7), ("active", "ACTIVE", 6),
                 ("email", "EMAIL", 30)]


def cmd_customer_list(args, ctx) -> int:
    from acorntui.services import manage

    ctx.connect()
    rows = manage.list_customers(text=args.filter, include_inactive=not args.active_only)
    if args.format == "json":
        print_json(rows)
    else:
        print_table(rows, CUSTOMER_COLS)
    return 0


_CUSTOMER_OPTS = {"display_name": "display_name", "email": "email", "csr": "csr",
                  "notes": "notes"}


def cmd_customer_add(args, ctx) -> int:
    from acorntui.services import manage

    user = acting_user(ctx)
    c = manage.add_customer(user, name=args.name, **given(args, _CUSTOMER_OPTS))
    print(f"added customer {c.name}")
    return 0


def cmd_customer_edit(args, ctx) -> int:
    from acorntui.services import manage

    user = acting_user(ctx)
    changes = given(args, dict(_CUSTOMER_OPTS, name="name", active="active"))
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

    return remove_flow(args, ctx, args.customer, question, manage.remove_customer)


def cmd_customer_snooze(args, ctx) -> int:
    from acorntui.core.textsafe import visible_controls
    from acorntui.services import manage, triage

    until = None if args.lift else parse_date(args.until, "--until")
    user = acting_user(ctx)
    c = triage.snooze_customer(user, manage.get_customer(args.customer).id, until, args.reason)
    name = visible_controls(c.name)
    if until is None:
        print(f"customer {name}: maintenance window lifted")
    else:
        print(f"customer {name}: snoozed until {until} ({visible_controls(c.snooze_reason)})")
    return 0
