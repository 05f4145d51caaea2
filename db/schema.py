"""Schema creation, versioning and migration; loading the shipped code table."""

from __future__ import annotations

import csv
from collections.abc import Callable
from importlib import resources
from typing import Any

from peewee import Database

from .connection import is_mysql
from .models import ALL_MODELS, ErrorCode, SchemaVersion, database_proxy

SCHEMA_VERSION = 5


def _add_index(db: Database, table: str, name: str, columns: list[str]) -> None:
    if any(i.name == name for i in db.get_indexes(table)):
        return
    q0, q1 = db.quote
    cols = ", ".join(f"{q0}{c}{q1}" for c in columns)
    db.execute_sql(f"CREATE INDEX {q0}{name}{q1} ON {q0}{table}{q1} ({cols})")


def _v2_results_server_night_status(db: Database) -> None:
    _add_index(db, "results", "results_server_id_night_status", ["server_id", "night", "status"])


def _v3_alerts(db: Database) -> None:
    """results.anomaly (silent-success detection) and customer maintenance windows; the
    notifications table itself is created by init_schema's create_tables before migrations."""
    _add_column(db, "results", "anomaly", "TEXT NULL")
    # customer maintenance windows
    _add_column(db, "customers", "snoozed_until", "DATE NULL")
    _add_column(db, "customers", "snooze_reason", "VARCHAR(255) NOT NULL DEFAULT ''")


def _add_column(db: Database, table: str, column: str, ddl: str) -> None:
    if not any(c.name == column for c in db.get_columns(table)):
        q0, q1 = db.quote
        db.execute_sql(f"ALTER TABLE {q0}{table}{q1} ADD COLUMN {q0}{column}{q1} {ddl}")


def _v4_why(db: Database) -> None:
    """What the console shows as "why" for a result: rsync's error lines, the log's last
    lines, and the error of a failed fetch. Results stored before have none (NULL)."""
    for column in ("why_lines", "log_tail", "fetch_error"):
        _add_column(db, "results", column, "TEXT NULL")


REV_TRIGGER = "results_rev"


def results_rev_trigger_sql(db: Database) -> str:
    """The trigger that adds 1 to ``results.rev`` at every UPDATE of a results row.

    MariaDB: a BEFORE UPDATE trigger sets the new row's value (checked against its definer's
    rights, so an account that may update only some columns still bumps it). SQLite: an AFTER
    UPDATE trigger updates the row once more; the WHEN clause stops it from firing again."""
    if is_mysql(db):
        return (f"CREATE TRIGGER IF NOT EXISTS `{REV_TRIGGER}` BEFORE UPDATE ON `results` "
                "FOR EACH ROW SET NEW.`rev` = OLD.`rev` + 1")
    return (f'CREATE TRIGGER IF NOT EXISTS "{REV_TRIGGER}" AFTER UPDATE ON "results" '
            'FOR EACH ROW WHEN NEW."rev" = OLD."rev" BEGIN '
            'UPDATE "results" SET "rev" = OLD."rev" + 1 WHERE "id" = NEW."id"; END')


def _v5_results_rev(db: Database) -> None:
    """results.rev and the trigger that counts each row's changes (the console's poll)."""
    _add_column(db, "results", "rev", "INTEGER NOT NULL DEFAULT 0")
    db.execute_sql(results_rev_trigger_sql(db))


# version -> function(db) that upgrades from version-1. Add entries as the schema changes;
# init-db runs the ones a database is missing, in order, each in a transaction.
MIGRATIONS: dict[int, Callable[[Database], None]] = {
    2: _v2_results_server_night_status,
    3: _v3_alerts,
    4: _v4_why,
    5: _v5_results_rev,
}


def load_code_rows() -> list[dict[str, Any]]:
    """The shipped code reference: the write-up's 23 codes plus rsync's own extra codes."""
    data = resources.files(__package__ or "acorntui.db").joinpath("data/error_codes.tsv")
    text = data.read_text(encoding="utf-8")
    rows = []
    for r in csv.DictReader(text.splitlines(), delimiter="\t"):
        rows.append(
            {
                "code": int(r["code"]),
                "jargon": r["jargon"],
                "translation": r["translation"],
                "resolution": r["resolution"],
                "rsync_name": r["rsync_name"],
                "from_original": r["from_original"] == "1",
            }
        )
    return rows


def current_version(db: Database | None = None) -> int | None:
    db = db or database_proxy.obj
    if not db.table_exists(SchemaVersion._meta.table_name):
        return None
    row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
    return row.version if row else None


def init_schema(db: Database | None = None) -> dict[str, Any]:
    """Create missing tables/indexes, run pending migrations, load missing codes.

    Safe to run again: changes nothing on an up-to-date database. Returns what it did.
    """
    db = db or database_proxy.obj
    did: dict[str, Any] = {"created_tables": [], "migrated_to": None, "codes_added": 0}
    existing = set(db.get_tables())
    with db.atomic():
        for model in ALL_MODELS + [SchemaVersion]:
            if model._meta.table_name not in existing:
                did["created_tables"].append(model._meta.table_name)
        db.create_tables(ALL_MODELS + [SchemaVersion], safe=True)
        if "results" in did["created_tables"]:
            db.execute_sql(results_rev_trigger_sql(db))
    version = current_version(db)
    if version is None:
        SchemaVersion.create(version=SCHEMA_VERSION)
        version = SCHEMA_VERSION
    for v in range(version + 1, SCHEMA_VERSION + 1):
        with db.atomic():
            MIGRATIONS[v](db)
            SchemaVersion.create(version=v)
        did["migrated_to"] = v
    have = {c for (c,) in ErrorCode.select(ErrorCode.code).tuples()}
    missing = [r for r in load_code_rows() if r["code"] not in have]
    if missing:
        with db.atomic():
            ErrorCode.insert_many(missing).execute()
    did["codes_added"] = len(missing)
    return did


def needs_init(db: Database | None = None) -> bool:
    db = db or database_proxy.obj
    return current_version(db) != SCHEMA_VERSION
