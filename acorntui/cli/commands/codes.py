"""codes: the rsync completion-code reference."""

from __future__ import annotations

import json
import textwrap


def register(sub) -> None:
    p = sub.add_parser("codes", help="the rsync completion-code reference")
    p.add_argument("code", nargs="?", help="show one code in full")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_codes)


def cmd_codes(args, ctx) -> int:
    from acorntui.services import codes

    ctx.connect()
    if args.code is not None:
        try:
            n = int(args.code)
        except ValueError:
            print(f"acorntui: {args.code!r} is not a code number")
            return 2
        info = codes.get_code(n)
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
    rows = codes.all_codes()
    if args.json:
        print(json.dumps([c.__dict__ for c in rows], indent=2))
        return 0
    for c in rows:
        mark = " " if c.from_original else "+"
        print(f"{c.code:>5}{mark} {c.jargon[:70]}")
    print("\n+ = rsync code not in the original table.  `acorntui codes N` shows one in full.")
    return 0
