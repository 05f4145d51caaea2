"""The model layer on SQLite and on the real MariaDB."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys

import pytest
from peewee import IntegrityError

from acorntui import db as dbpkg
from acorntui.db.models import (
    TABLE_NAMES,
    Customer,
    ErrorCode,
    Exception_,
    Failure,
    Result,
    SchemaVersion,
    Server,
    database_proxy,
)
from acorntui.db.schema import SCHEMA_VERSION, init_schema


def _server(name="mail01", customer="acme"):
    c, _ = Customer.get_or_create(name=customer)
    return Server.create(customer=c, name=name)


def test_tables_and_codes(any_db):
    tables = set(any_db.get_tables())
    assert set(TABLE_NAMES) == {"csrs", "customers", "errors", "exceptions", "failures",
                                "notifications", "results", "servers", "tsrs", "updates"}
    assert set(TABLE_NAMES) <= tables
    assert tables - set(TABLE_NAMES) == {"acorn_schema_version"}
    assert ErrorCode.select().count() == 29
    assert ErrorCode.get_by_id(24).jargon == "Partial transfer due to vanished source files"
    assert ErrorCode.get_by_id(23).rsync_name.startswith("some files/attrs were not transferred")
    extra = {c.code for c in ErrorCode.select().where(ErrorCode.from_original == False)}  # noqa: E712
    assert {15, 16, 19, 124, 125, 126} <= extra
    assert SchemaVersion.select().first().version == SCHEMA_VERSION


def test_one_result_per_server_per_night(any_db):
    s = _server()
    night = dt.date(2026, 11, 25)
    Result.create(server=s, night=night, code=0, status="ok")
    with pytest.raises(IntegrityError):
        with database_proxy.atomic():
            Result.create(server=s, night=night, code=23, status="failed")
    assert Result.select().count() == 1
    # another night or another server is fine
    Result.create(server=s, night=night + dt.timedelta(days=1), code=0, status="ok")
    Result.create(server=_server("mail02"), night=night, code=0, status="ok")
    assert Result.select().count() == 3


def test_unique_customer_and_server_within_customer(any_db):
    _server("fs01", "acme")
    with pytest.raises(IntegrityError), database_proxy.atomic():
        Customer.create(name="acme")
    with pytest.raises(IntegrityError), database_proxy.atomic():
        Server.create(customer=Customer.get(name="acme"), name="fs01")
    # the same server name under another customer is allowed
    _server("fs01", "globex")
    assert Server.select().where(Server.name == "fs01").count() == 2


def test_failures_cascade_with_result_and_utf8(any_db):
    s = _server()
    r = Result.create(server=s, night=dt.date(2026, 11, 25), code=23, status="failed")
    name = "/cygdrive/E/Buchhaltung/Bilanz_Köln_\u2603_😀.xls"
    Failure.create(result=r, path=name, message="failed to open", line=7, kind="open_failed")
    assert Failure.get().path == name  # utf8mb4 round trip on MariaDB
    r.delete_instance()
    assert Failure.select().count() == 0


def test_exception_fk_set_null_on_delete(any_db):
    s = _server()
    e = Exception_.create(scope="server", server=s, path_pattern="*.pst")
    r = Result.create(server=s, night=dt.date(2026, 11, 25), code=23, status="ok_with_exceptions")
    Failure.create(result=r, path="/x.pst", excepted=True, exception=e)
    e.delete_instance()
    assert Failure.get().exception_id is None


def test_init_schema_twice_changes_nothing(any_db):
    did = init_schema(any_db)
    assert did == {"created_tables": [], "migrated_to": None, "codes_added": 0}
    assert ErrorCode.select().count() == 29
    assert SchemaVersion.select().count() == 1
    assert SchemaVersion.select().first().version == SCHEMA_VERSION


def test_indexes_exist(sqlite_db):
    idx = {i.name: i for i in sqlite_db.get_indexes("results")}
    cols = {tuple(i.columns): i.unique for i in idx.values()}
    assert cols[("server_id", "night")] is True
    assert ("night", "status") in cols
    plan = sqlite_db.execute_sql(
        "EXPLAIN QUERY PLAN SELECT * FROM results WHERE server_id=1 ORDER BY night DESC LIMIT 1"
    ).fetchall()
    assert any("USING INDEX" in str(row) for row in plan), plan
    plan = sqlite_db.execute_sql(
        "EXPLAIN QUERY PLAN SELECT * FROM results WHERE night='2026-11-25'").fetchall()
    assert any("USING INDEX" in str(row) for row in plan), plan


def test_sqlite_wal_and_foreign_keys(sqlite_db):
    assert sqlite_db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert sqlite_db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_unreachable_database_is_one_clear_line():
    with pytest.raises(dbpkg.DatabaseUnavailable) as ei:
        dbpkg.connect("mysql://root:s3cret@127.0.0.1:1/nope")
    msg = str(ei.value)
    assert "s3cret" not in msg and "***" in msg and "127.0.0.1:1" in msg
    assert "\n" not in msg


def test_init_db_cli_on_sqlite(tmp_path):
    path = tmp_path / "x.db"
    run = [sys.executable, "-m", "acorntui", "init-db", "--help"]
    assert subprocess.run(run, capture_output=True).returncode == 0
    out = subprocess.run([sys.executable, "-m", "acorntui", "--db", f"sqlite:///{path}",
                          "init-db"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    tables = {r[0] for r in sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == set(TABLE_NAMES) | {"acorn_schema_version"}
    again = subprocess.run([sys.executable, "-m", "acorntui", "--db", f"sqlite:///{path}",
                            "init-db"], capture_output=True, text=True)
    assert again.returncode == 0 and "already up to date" in again.stdout


def test_init_db_cli_creates_mariadb_database(mariadb_server_url):
    import pymysql

    name = mariadb_server_url.rsplit("/", 1)[1] + "_cli"
    url = mariadb_server_url.rsplit("/", 1)[0] + "/" + name
    try:
        out = subprocess.run([sys.executable, "-m", "acorntui", "--db", url, "init-db"],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        conn = pymysql.connect(host="127.0.0.1", user="root", database=name)
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            tables = {r[0] for r in cur.fetchall()}
        conn.close()
        assert set(TABLE_NAMES) <= tables
    finally:
        conn = pymysql.connect(host="127.0.0.1", user="root")
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def test_init_db_unreachable_exit_1_no_traceback():
    out = subprocess.run([sys.executable, "-m", "acorntui", "--db",
                          "mysql://acorn:hunter2@127.0.0.1:1/x", "init-db"],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "hunter2" not in out.stderr + out.stdout
    assert out.stderr.count("\n") == 1 and "127.0.0.1:1" in out.stderr


def test_migration_from_version_1_keeps_data(any_db):
    """A database made by schema version 1 is upgraded in place, nothing lost."""
    s = _server()
    Result.create(server=s, night=dt.date(2026, 11, 25), code=0, status="ok")
    q = any_db.quote
    any_db.execute_sql(f"DROP INDEX {q[0]}results_server_id_night_status{q[1]}"
                       + (f" ON {q[0]}results{q[1]}" if q[0] == "`" else ""))
    SchemaVersion.delete().execute()
    SchemaVersion.create(version=1)
    did = init_schema(any_db)
    assert did["migrated_to"] == SCHEMA_VERSION == 5
    assert any(i.name == "results_server_id_night_status" for i in any_db.get_indexes("results"))
    assert Result.select().count() == 1
    assert init_schema(any_db)["migrated_to"] is None


def test_migration_from_version_2_adds_anomaly_and_notifications(any_db):
    """A version-2 database (no results.anomaly, no notifications table) upgrades in place."""
    s = _server()
    Result.create(server=s, night=dt.date(2026, 11, 25), code=0, status="ok", total_size=5)
    q0, q1 = any_db.quote
    any_db.execute_sql(f"ALTER TABLE {q0}results{q1} DROP COLUMN {q0}anomaly{q1}")
    for col in ("snoozed_until", "snooze_reason"):
        any_db.execute_sql(f"ALTER TABLE {q0}customers{q1} DROP COLUMN {q0}{col}{q1}")
    any_db.execute_sql(f"DROP TABLE {q0}notifications{q1}")
    SchemaVersion.delete().execute()
    SchemaVersion.create(version=2)
    did = init_schema(any_db)
    assert did["migrated_to"] == SCHEMA_VERSION
    assert "notifications" in did["created_tables"]
    assert any(c.name == "anomaly" for c in any_db.get_columns("results"))
    assert {"snoozed_until", "snooze_reason"} <= {c.name for c in any_db.get_columns("customers")}
    r = Result.get()
    assert (r.total_size, r.anomaly) == (5, None)
    assert init_schema(any_db)["migrated_to"] is None


def test_migration_from_version_4_counts_each_results_change(any_db):
    """Version 5 adds ``results.rev`` and the trigger that raises it at every UPDATE of a
    result, whoever runs it (the console's poll relies on it); old rows start at 0."""
    from acorntui.db.schema import REV_TRIGGER

    s = _server()
    Result.create(server=s, night=dt.date(2026, 11, 25), code=0, status="ok", total_size=5)
    q0, q1 = any_db.quote
    any_db.execute_sql(f"DROP TRIGGER {q0}{REV_TRIGGER}{q1}")
    any_db.execute_sql(f"ALTER TABLE {q0}results{q1} DROP COLUMN {q0}rev{q1}")
    SchemaVersion.delete().execute()
    SchemaVersion.create(version=4)
    did = init_schema(any_db)
    assert did["migrated_to"] == SCHEMA_VERSION == 5
    r = Result.get()
    assert (r.total_size, r.rev) == (5, 0)
    # a raw UPDATE, as any client would send it, still counts
    any_db.execute_sql(f"UPDATE {q0}results{q1} SET {q0}status{q1} = 'failed'")
    any_db.execute_sql(f"UPDATE {q0}results{q1} SET {q0}anomaly{q1} = 'x'")
    assert Result.get().rev == 2
    assert init_schema(any_db)["migrated_to"] is None
