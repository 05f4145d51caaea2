"""whoami: your login and role, and when you have none, the one thing that gives you one.

It only reads: no database is created or upgraded by asking.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from acorntui.cli.commands._manage import FORMATS, print_json
from acorntui.cli.common import eprint
from acorntui.errors import EXIT_FAILED


def register(sub) -> None:
    p = sub.add_parser("whoami", help="your login and role")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.set_defaults(func=cmd_whoami)


def _init_db_command(ctx) -> str:
    """`acorntui init-db` as the user must type it: with --db when they gave one (a URL with
    a password is not repeated)."""
    from acorntui.db.connection import mask_url

    if ctx.db_source != "--db":
        return "acorntui init-db"
    url = ctx.db_url if mask_url(ctx.db_url) == ctx.db_url else "URL"
    return f"acorntui init-db --db {shlex.quote(url)}"


def _database_state(ctx, login: str) -> tuple[str, str, str, int] | None:
    """(state, problem, fix, exit status) when there is no usable acorntui database, else None
    (then connected)."""
    from acorntui.db.connection import DatabaseUnavailable, mask_url, parse_url
    from acorntui.db.schema import current_version

    init_db = _init_db_command(ctx)
    first = f"{login} becomes its first user: a TSR3, with full rights"
    where = "`acorntui config show` says where the URL comes from"
    u = parse_url(ctx.db_url)
    if u.backend == "sqlite" and not Path(u.path).is_file():
        path = Path(u.path).absolute()
        if ctx.db_source == "default":
            return ("missing", f"no database yet ({path} does not exist)",
                    f"Run `{init_db}` (or any command that uses the database): it creates it "
                    f"and {first}.", 0)
        if not path.parent.is_dir():
            return ("missing", f"no database at {path}: the folder {path.parent} does not exist "
                    f"(URL from {ctx.db_source})",
                    f"Check the URL ({where}), or create the folder and run `{init_db}`.", 0)
        return ("missing", f"no database at {path} (URL from {ctx.db_source})",
                f"Run `{init_db}` to create it ({first}), or check the URL ({where}).", 0)
    try:
        ctx.connect(create=False)
    except DatabaseUnavailable as exc:
        if u.backend == "mysql" and "(1049)" in str(exc):  # Unknown database
            return ("missing", f"no database {u.name} on {u.host}:{u.port} yet",
                    f"Run `{init_db}`: it creates it and {first}.", 0)
        return ("unreachable", f"cannot tell your role: {exc}",
                f"Check the URL ({where}) and that the database server is running.",
                EXIT_FAILED)
    if current_version() is None:
        return ("empty", f"{mask_url(ctx.db_url)} has no acorntui tables yet",
                f"Run `{init_db}`: it creates them and {first}.", 0)
    return None


def cmd_whoami(args, ctx) -> int:
    from acorntui.services import roles

    login = roles.current_login()
    state = _database_state(ctx, login)
    if state is None:
        user = roles.current_user()
        reg = roles.registry(user.login)
        database, fix, status = "ok", roles.whoami_fix(user, reg), 0
        text = roles.whoami_text(user, reg)
    else:
        user = roles.User(login, roles.READ_ONLY)
        database, problem, fix, status = state
        text = f"{login}: {problem}.\n{fix}"
    if args.format == "json":
        print_json({"login": user.login, "role": user.role, "role_label": user.role_label,
                    "name": user.name, "level": user.level,
                    "may": [a for a in roles.PERMISSIONS if user.can(a)],
                    "database": database, "fix": fix})
        return status
    if status:
        eprint(f"acorntui: {text}")
    else:
        print(text)
    return status
