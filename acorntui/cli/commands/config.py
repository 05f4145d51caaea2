"""config: where the config file is and what is in effect."""

from __future__ import annotations

import json

from acorntui.config import config_path, effective_settings


def register(sub) -> None:
    p = sub.add_parser("config", help="where the config file is and what is in effect")
    p.add_argument("action", choices=["path", "show"])
    p.set_defaults(func=cmd_config)


def cmd_config(args, ctx) -> int:
    if args.action == "path":
        print(ctx.cfg.path if ctx.cfg.path else config_path())
        return 0
    masker = None
    if ctx.cfg.notify:  # Apprise's privacy mode: passwords and tokens in the path hidden
        from acorntui.alerts import notify

        masker = notify.mask
    print(json.dumps(effective_settings(getattr(args, "db", None), ctx.cfg, masker), indent=2))
    return 0
