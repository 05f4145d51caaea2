"""notify: chat and webhook notifications ([[notify]] targets, sent through Apprise)."""

from __future__ import annotations

from acorntui.cli.common import eprint


def register(sub) -> None:
    p = sub.add_parser("notify", help="send a test message to every [[notify]] target; exit 1 "
                       "when one fails")
    p.add_argument("action", choices=["test"])
    p.set_defaults(func=cmd_notify)


def cmd_notify(args, ctx) -> int:
    from acorntui.alerts.notify import send_test

    if not ctx.cfg.notify:
        eprint(f"acorntui: no [[notify]] target in {ctx.cfg.path}")
        return 1
    failed = 0
    for label, problem in send_test(ctx.cfg):
        if problem:
            failed += 1
            eprint(f"failed: {problem}")
        else:
            print(f"sent: {label}")
    print(f"{len(ctx.cfg.notify) - failed} of {len(ctx.cfg.notify)} target(s) reached")
    return 1 if failed else 0
