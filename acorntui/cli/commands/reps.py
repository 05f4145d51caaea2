"""csr and tsr list|add|edit|remove: the customer service and technical support reps."""

from __future__ import annotations

from acorntui.cli.commands._manage import (
    acting_user,
    given,
    list_parser,
    print_json,
    print_table,
    remove_flow,
    remove_parser,
    safe,
)
from acorntui.cli.common import UsageError


def register(sub) -> None:
    _register_rep(sub, "csr", "customer service reps (read everything, add notes)")
    _register_rep(sub, "tsr", "technical support reps (level 1-3; a TSR3 manages)")


def _register_rep(sub, kind: str, help_: str) -> None:
    p = sub.add_parser(kind, help=help_)
    sp = p.add_subparsers(dest="op", metavar="list|add|edit|remove", required=True)
    list_parser(sp, f"list {kind.upper()}s").set_defaults(func=cmd_rep_list,
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
    from acorntui.cli.commands.grants import add_account_options

    add_account_options(q)
    q.set_defaults(func=cmd_rep_add, kind=kind)
    q = sp.add_parser("edit", help=f"change a {kind.upper()}")
    q.add_argument("login")
    fields(q, True)
    q.set_defaults(func=cmd_rep_edit, kind=kind)
    remove_parser(sp, kind.upper(), "login").set_defaults(func=cmd_rep_remove,
                                                         kind=kind)


REP_COLS = {
    "csr": [("login", "LOGIN", 20), ("name", "NAME", 30), ("email", "EMAIL", 30),
            ("customers", "CUSTOMERS", 9), ("active", "ACTIVE", 6)],
    "tsr": [("login", "LOGIN", 20), ("name", "NAME", 30), ("role", "LEVEL", 7),
            ("email", "EMAIL", 30), ("servers", "SERVERS", 7), ("active", "ACTIVE", 6)],
}


def cmd_rep_list(args, ctx) -> int:
    from acorntui.services import manage

    ctx.connect()
    fn = manage.list_tsrs if args.kind == "tsr" else manage.list_csrs
    rows = fn(text=args.filter, include_inactive=not args.active_only)
    if args.format == "json":
        print_json(rows)
    else:
        print_table(rows, REP_COLS[args.kind])
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
    if args.create_account:  # team mode checked and password read before anything is added
        from acorntui.cli.commands.grants import prepare_account

        prepare_account(args, ctx, login)
    user = acting_user(ctx)
    fn = manage.add_tsr if args.kind == "tsr" else manage.add_csr
    r = fn(user, login=login, **given(args, _rep_opts(args.kind)))
    role = f"TSR{r.level}" if args.kind == "tsr" else "CSR"
    print(f"added {role} {r.login}")
    if args.create_account:
        from acorntui.cli.commands.grants import create_account

        return create_account(args, ctx, r.login)
    return 0


def cmd_rep_edit(args, ctx) -> int:
    from acorntui.services import manage

    user = acting_user(ctx)
    changes = given(args, dict(_rep_opts(args.kind), new_login="login", active="active"))
    if not changes:
        raise UsageError("nothing to change: give at least one option (see --help)")
    fn = manage.edit_tsr if args.kind == "tsr" else manage.edit_csr
    r = fn(user, args.login, **changes)
    print(f"updated {args.kind.upper()} {r.login}")
    return 0


def cmd_rep_remove(args, ctx) -> int:
    from acorntui.services import manage

    fn = manage.remove_tsr if args.kind == "tsr" else manage.remove_csr
    return remove_flow(args, ctx, args.login,
                       lambda: f"delete {args.kind.upper()} {safe(args.login)}", fn)
