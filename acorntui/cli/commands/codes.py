"""codes: the rsync completion-code reference."""

from __future__ import annotations

import json
import textwrap

from acorntui.cli.common import eprint


def register(sub) -> None:
    p = sub.add_parser("codes", help="the rsync completion-code reference")
    p.add_argument("code", nargs="?", help="show one code in full")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_codes)


def code_table(ctx) -> list:
    """The database's code table when there is a database with one; else the shipped table.

    `codes` is a reference: it neither needs nor creates a database. A configured database that
    cannot be reached is said on stderr, and the shipped table is shown."""
    from pathlib import Path

    from acorntui.db.connection import DatabaseUnavailable, parse_url
    from acorntui.db.models import ErrorCode
    from acorntui.services import codes

    u = parse_url(ctx.db_url)
    if u.backend == "sqlite" and not Path(u.path).is_file():
        return codes.shipped_codes()
    try:
        ctx.connect(create=False)
    except DatabaseUnavailable as exc:
        eprint(f"acorntui: {exc}; showing the code table acorntui ships")
        return codes.shipped_codes()
    if not ErrorCode.table_exists():
        return codes.shipped_codes()
    return codes.all_codes() or codes.shipped_codes()


def cmd_codes(args, ctx) -> int:
    table = code_table(ctx)
    if args.code is not None:
        try:
            n = int(args.code)
        except ValueError:
            print(f"acorntui: {args.code!r} is not a code number")
            return 2
        info = next((c for c in table if c.code == n), None)
        if info is None:
            print(f"acorntui: unknown code {n}; `acorntui codes` lists the known ones")
            return 2
        if args.json:
            print(json.dumps(info.__dict__, indent=2))
            return 0
        w = 78
        print(f"Code {info.code}: {info.jargon}")
        print(f"rsync's name: {info.rsync_name}")
        if not info.from_original:
            print("(not in the original code table; added from rsync's own codes)")
        for title, body in (("Translation", info.translation), ("Resolution", info.resolution)):
            print(f"\n{title}:")
            print(textwrap.fill(body, w, initial_indent="  ", subsequent_indent="  "))
        return 0
    rows = table
    if args.json:
        print(json.dumps([c.__dict__ for c in rows], indent=2))
        return 0
    for c in rows:
        mark = " " if c.from_original else "+"
        print(f"{c.code:>5}{mark} {c.jargon[:70]}")
    print("\n+ = rsync code not in the original table.  `acorntui codes N` shows one in full.")
    return 0
