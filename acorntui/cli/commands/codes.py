"""init-db, codes, config."""

from __future__ import annotations

import json
import textwrap

from acorntui.config import config_path, effective_settings


def register(sub) -> None:
    p = sub.add_parser("init-db", help="create the schema and load the code table (idempotent)")
    p.set_defaults(func=cmd_init_db)

    p = sub.add_parser("codes", help="the rsync completion-code reference")
    p.add_argument("code", nargs="?", help="show one code in full")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_codes)

    p = sub.add_parser("config", help="where the config file is and what is in effect")
    p.add_argument("action", choices=["path", "show"])
    p.set_defaults(func=cmd_config)


def cmd_init_db(args, ctx) -> int:
    from acorntui import db as dbpkg
    from acorntui.db.connection import parse_url

    u = parse_url(ctx.db_url)
    database = dbpkg.connect(ctx.db_url, create_mysql_db=(u.backend == "mysql"))
    ctx._db = database
    did = dbpkg.init_schema(database)
    from acorntui.services import roles

    first = roles.claim_first_user()
    if did["created_tables"]:
        print(f"created {len(did['created_tables'])} tables in {u.masked}: "
              + ", ".join(did["created_tables"]))
    else:
        print(f"schema already up to date in {u.masked} (version {dbpkg.SCHEMA_VERSION})")
    if did["migrated_to"]:
        print(f"migrated schema to version {did['migrated_to']}")
    if did["codes_added"]:
        print(f"loaded {did['codes_added']} completion codes")
    if first:
        print(f"{first} is the first user and was made a TSR3 (full rights)")
    return 0


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


def cmd_config(args, ctx) -> int:
    if args.action == "path":
        print(ctx.cfg.path if ctx.cfg.path else config_path())
        return 0
    print(json.dumps(effective_settings(getattr(args, "db", None), ctx.cfg), indent=2))
    return 0
