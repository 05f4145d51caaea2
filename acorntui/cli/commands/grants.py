"""grants: the MariaDB roles, grants and audit trigger of team mode; the accounts of reps.

`acorntui grants` prints the SQL for the configured database; `--apply` runs it (as an account
that may create roles and grant). `--account LOGIN` creates (or brings up to date) a rep's own
MariaDB account; `csr add` / `tsr add` do the same with `--create-account`. The password comes
from ACORN_ACCOUNT_PASSWORD or a prompt, never from an argument (`ps` would show it).
"""

from __future__ import annotations

import getpass
import os
import sys

from acorntui.cli.common import UsageError, eprint

PASSWORD_ENV = "ACORN_ACCOUNT_PASSWORD"


def register(sub) -> None:
    p = sub.add_parser("grants", help="team mode (MariaDB): the roles, grants and audit trigger "
                       "that make the database enforce the people roles")
    p.add_argument("--apply", action="store_true", help="run the SQL (as an account that may "
                   "create roles and grant) instead of printing it")
    p.add_argument("--account", metavar="LOGIN", help="create or update the MariaDB account of "
                   f"this CSR/TSR with its role (password from {PASSWORD_ENV} or a prompt)")
    p.add_argument("--account-host", default="%", metavar="HOST",
                   help="host part of the account (default %%: any host)")
    p.set_defaults(func=cmd_grants)


def add_account_options(parser) -> None:
    """`--create-account` for `csr add` / `tsr add`."""
    parser.add_argument("--create-account", action="store_true",
                        help="also create their own MariaDB account with the matching role "
                        f"(team mode; password from {PASSWORD_ENV} or a prompt)")
    parser.add_argument("--account-host", default="%", metavar="HOST",
                        help="host part of the account (default %%: any host)")


def _mysql_url(ctx):
    from acorntui.db.connection import parse_url

    u = parse_url(ctx.db_url)
    if u.backend != "mysql":
        raise UsageError("grants: the database is SQLite (single-host mode), which has no "
                         "accounts: whoever can write the file can change anything. Team mode "
                         "needs MariaDB (see README, Security model)")
    return u


def read_password(login: str) -> str:
    pw = os.environ.get(PASSWORD_ENV)
    if pw:
        return pw
    if not sys.stdin.isatty():
        raise UsageError(f"account {login}: no password: set {PASSWORD_ENV} or run in a "
                         "terminal to be asked (never on the command line)")
    first = getpass.getpass(f"password for the MariaDB account {login}: ")
    if not first or first != getpass.getpass("again: "):
        raise UsageError(f"account {login}: the passwords were empty or did not match")
    return first


def prepare_account(args, ctx, login: str) -> None:
    """Check team mode and read the password, before `csr add`/`tsr add` adds the row."""
    _mysql_url(ctx)
    args.account_password = read_password(login)


def create_account(args, ctx, login: str) -> int:
    """Create the account of ``login`` (after `csr add`/`tsr add`, or `grants --account`)."""
    from acorntui.services import grants

    if getattr(args, "account_password", None) is None:
        prepare_account(args, ctx, login)
    password = args.account_password
    ctx.connect()
    try:
        acct = grants.create_account(login, password, host=args.account_host)
    except grants.GrantError as exc:
        eprint(f"acorntui: {exc}")
        return 1
    how = "created" if acct.created else "existed (password unchanged); role set"
    print(f"MariaDB account {acct.login}@{acct.host} {how}: default role {acct.role}")
    return 0


def cmd_grants(args, ctx) -> int:
    from acorntui.services import grants

    u = _mysql_url(ctx)
    if args.account:
        return create_account(args, ctx, args.account)
    statements = grants.grant_statements(u.name)
    if not args.apply:
        print(f"-- acorntui team mode for database {u.name}: run as an account that may create "
              "roles and grant,\n-- or let `acorntui grants --apply` run it.")
        for stmt in statements:
            print(stmt + ";")
        return 0
    ctx.connect()
    try:
        n = grants.apply_grants(u.name)
    except grants.GrantError as exc:
        eprint(f"acorntui: {exc}")
        return 1
    print(f"applied {n} statements to {u.masked}: roles {', '.join(grants.ROLES)}, and the "
          "audit trigger")
    return 0
