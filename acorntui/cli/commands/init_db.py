"""init-db: create the schema and load the code table (harmless to run again)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("init-db", help="create the schema and load the code table (idempotent)")
    p.set_defaults(func=cmd_init_db)


def cmd_init_db(args, ctx) -> int:
    from acorntui import db as dbpkg
    from acorntui.db.connection import parse_url

    u = parse_url(ctx.db_url)
    if u.backend == "sqlite":
        # a new file: its folders 0750 and the file 0640 (db.connection.create_sqlite_file)
        dbpkg.create_sqlite_file(u.path)
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
