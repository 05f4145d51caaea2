"""server list|add|edit|remove: customer servers and their backup settings."""

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
from acorntui.cli.common import UsageError


def register(sub) -> None:
    p = sub.add_parser("server", help="customer servers and their backup settings")
    sp = p.add_subparsers(dest="op", metavar="list|add|edit|remove", required=True)
    q = list_parser(sp, "list servers")
    q.add_argument("--customer", help="only this customer's servers")
    q.set_defaults(func=cmd_server_list)

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
    q.set_defaults(func=cmd_server_add)
    q = sp.add_parser("edit", help="change a server")
    q.add_argument("server", metavar="CUSTOMER/SERVER")
    fields(q, True)
    q.set_defaults(func=cmd_server_edit)
    remove_parser(sp, "server", "server").set_defaults(func=cmd_server_remove)


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
        print_json(rows)
    else:
        print_table(rows, SERVER_COLS)
    return 0


def cmd_server_add(args, ctx) -> int:
    from acorntui.services import manage

    user = acting_user(ctx)
    cust, name = manage.split_label(args.server)
    s = manage.add_server(user, customer=cust, name=name, **given(args, _SERVER_OPTS))
    print(f"added server {cust}/{s.name}" if s.registered else f"registered {cust}/{s.name}")
    return 0


def cmd_server_edit(args, ctx) -> int:
    from acorntui.services import manage

    user = acting_user(ctx)
    changes = given(args, dict(_SERVER_OPTS, name="name", customer="customer",
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

    return remove_flow(args, ctx, args.server, question, manage.remove_server)
