"""What the management commands share (customer, server, csr/tsr, exception, audit,
whoami): --format, list/remove sub-parsers, tables, the acting user, confirmation.

Every handler works through the domain modules (:mod:`acorntui.services.manage`,
:mod:`acorntui.services.exceptions`), which check the user's role and write the audit trail.
Exit status (:mod:`acorntui.errors`, answered by `acorntui.cli.main`): 0 done, 2 bad input
(the message names the field), 3 refused (the message names the role needed).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from acorntui.cli.common import UsageError, json_text

FORMATS = ("text", "json")


def list_parser(sp, help_: str):
    p = sp.add_parser("list", help=help_)
    p.add_argument("--filter", default="", metavar="TEXT", help="only rows containing TEXT")
    p.add_argument("--active-only", action="store_true", help="hide inactive rows")
    p.add_argument("--format", choices=FORMATS, default="text")
    return p


def remove_parser(sp, what: str, arg: str):
    p = sp.add_parser("remove", help=f"remove a {what}: deactivated when it has history, "
                                     "deleted with --purge")
    p.add_argument(arg)
    p.add_argument("--purge", action="store_true", help="delete it and its history for good")
    p.add_argument("--yes", action="store_true", help="do not ask before purging")
    return p


def acting_user(ctx):
    from acorntui.services.roles import current_user

    ctx.connect()
    return current_user()


def safe(value: Any) -> str:
    from acorntui.reports.build import safe

    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(safe(v) for v in value)
    return safe(value)


def print_table(rows: Sequence[dict[str, Any]], cols: Sequence[tuple[str, str, int]]) -> None:
    """cols: (key, header, max width)."""
    cells = [[safe(r.get(k, "")) for k, _, _ in cols] for r in rows]
    widths = [min(w, max([len(h)] + [len(c[i]) for c in cells]))
              for i, (_, h, w) in enumerate(cols)]

    def fit(text: str, w: int) -> str:
        return text if len(text) <= w else text[: w - 1] + "…"

    print("  ".join(h.ljust(w) for (_, h, _), w in zip(cols, widths, strict=True)).rstrip())
    for c in cells:
        print("  ".join(fit(v, w).ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())
    if not rows:
        print("(none)")


def print_json(value: Any) -> None:
    print(json_text(value, indent=2, default=str))


def given(args, mapping: dict[str, str]) -> dict[str, Any]:
    """Only the options the user gave (None = not given; '' = clear)."""
    return {field: getattr(args, attr) for attr, field in mapping.items()
            if getattr(args, attr, None) is not None}


def confirm(args, question: str) -> bool:
    if getattr(args, "yes", False):
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"{question}: this cannot be undone; add --yes to confirm")
    answer = input(f"{question}? This cannot be undone. [y/N] ").strip().lower()
    return answer in ("y", "yes")


def remove_flow(args, ctx, target: str, question: Callable[[], str],
                remove: Callable[..., Any]) -> int:
    """The remove commands: a TSR3 only; a purge is confirmed first (``question`` is asked
    after the role check, so it may look the target up)."""
    user = acting_user(ctx)
    user.require("manage")
    if args.purge and not confirm(args, question()):
        print("nothing changed")
        return 1
    print(remove(user, target, purge=args.purge))
    return 0
