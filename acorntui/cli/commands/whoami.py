"""whoami: your login and role."""

from __future__ import annotations

from acorntui.cli.commands._manage import FORMATS, acting_user, guarded, print_json


def register(sub) -> None:
    p = sub.add_parser("whoami", help="your login and role")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.set_defaults(func=guarded(cmd_whoami))


def cmd_whoami(args, ctx) -> int:
    from acorntui.services import roles

    user = acting_user(ctx)
    if args.format == "json":
        print_json({"login": user.login, "role": user.role, "role_label": user.role_label,
                    "name": user.name, "level": user.level,
                    "may": [a for a in roles.PERMISSIONS if user.can(a)]})
        return 0
    print(roles.whoami_text(user))
    return 0
