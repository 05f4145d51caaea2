"""The tables of backup_serverlist, as peewee models.

Everything binds to ``database_proxy``; :mod:`db.connection` initialises it from a URL.
The same models run unchanged on SQLite (the embedded default) and MariaDB/MySQL.
"""

from __future__ import annotations

import datetime as dt

from peewee import (
    SQL,
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DatabaseProxy,
    DateField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

database_proxy = DatabaseProxy()

def utcnow() -> dt.datetime:
    """Naive UTC timestamp (both backends store DATETIME without zone)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class BaseModel(Model):  # type: ignore[misc]  # peewee is Any to mypy: see pyproject.toml
    class Meta:
        database = database_proxy
        legacy_table_names = False


class Csr(BaseModel):
    id = AutoField()
    name = CharField(max_length=120)
    login = CharField(max_length=64, unique=True)
    email = CharField(max_length=254, default="")
    active = BooleanField(default=True)

    class Meta:
        table_name = "csrs"


class Tsr(BaseModel):
    id = AutoField()
    name = CharField(max_length=120)
    login = CharField(max_length=64, unique=True)
    email = CharField(max_length=254, default="")
    level = IntegerField(default=1)  # 1-3; a TSR3 handles backup-server problems
    active = BooleanField(default=True)

    class Meta:
        table_name = "tsrs"


class Customer(BaseModel):
    id = AutoField()
    name = CharField(max_length=100, unique=True)  # folder name under /reports
    display_name = CharField(max_length=200, default="")
    email = CharField(max_length=254, default="")
    csr = ForeignKeyField(Csr, null=True, backref="customers", on_delete="SET NULL")
    active = BooleanField(default=True)
    notes = TextField(default="")
    created = DateTimeField(default=utcnow)
    # a maintenance window: every server of the customer is snoozed (schema version 3)
    snoozed_until = DateField(null=True)
    # a database default too: older clients and raw INSERTs that do not name it still work
    snooze_reason = CharField(max_length=255, default="", constraints=[SQL("DEFAULT ''")])

    class Meta:
        table_name = "customers"


class Server(BaseModel):
    id = AutoField()
    customer = ForeignKeyField(Customer, backref="servers", on_delete="CASCADE")
    name = CharField(max_length=100)  # the <server>.out stem
    description = CharField(max_length=255, default="")
    os = CharField(max_length=60, default="")
    role = CharField(max_length=60, default="")  # exchange, file, sql...
    custbak = CharField(max_length=100, default="")  # backup target/frontend it sends to
    tsr = ForeignKeyField(Tsr, null=True, backref="servers", on_delete="SET NULL")
    active = BooleanField(default=True)
    registered = BooleanField(default=True)  # False when it first appeared through a log
    snoozed_until = DateField(null=True)
    snooze_reason = TextField(default="")
    # Settings for the generated customer-side backup script.
    shares = TextField(default="")  # one per line
    excludes = TextField(default="")  # one pattern per line
    key_path = CharField(max_length=255, default="")
    mirror_path = CharField(max_length=255, default="")
    report_host = CharField(max_length=255, default="")
    created = DateTimeField(default=utcnow)

    class Meta:
        table_name = "servers"
        indexes = ((("customer", "name"), True),)

    @property
    def label(self) -> str:
        return f"{self.customer.name}/{self.name}"

    def is_snoozed(self, on: dt.date) -> bool:
        return self.snoozed_until is not None and self.snoozed_until >= on


class ErrorCode(BaseModel):
    code = IntegerField(primary_key=True)
    jargon = TextField()
    translation = TextField(default="")
    resolution = TextField(default="")
    rsync_name = TextField(default="")  # rsync's own wording (errcode.h / log.c)
    from_original = BooleanField(default=True)  # False: added from rsync, not the write-up

    class Meta:
        table_name = "errors"


class Exception_(BaseModel):
    """A known failing file that is backed up another way (or does not matter)."""

    id = AutoField()
    scope = CharField(max_length=10, default="server")  # the core status module's SCOPE_SERVER
    server = ForeignKeyField(Server, null=True, backref="exceptions", on_delete="CASCADE")
    customer = ForeignKeyField(Customer, null=True, backref="exceptions", on_delete="CASCADE")
    path_pattern = CharField(max_length=1000)  # case-insensitive glob on the path
    message_pattern = CharField(max_length=500, default="")  # optional glob on the message
    reason = TextField(default="")
    method = CharField(max_length=120, default="")  # NTBackup, Hobocopy, SQL dump...
    created_by = CharField(max_length=64, default="")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateField(null=True)
    active = BooleanField(default=True)

    class Meta:
        table_name = "exceptions"


class Result(BaseModel):
    """One row per server per backup night."""

    id = AutoField()
    # no separate FK index: the unique (server_id, night) index serves the foreign key
    server = ForeignKeyField(Server, backref="results", on_delete="CASCADE", index=False)
    night = DateField()
    code = IntegerField()
    status = CharField(max_length=24)
    reason = CharField(max_length=255, default="")
    log_path = CharField(max_length=1000, default="")
    log_mtime = DateTimeField(null=True)
    log_size = BigIntegerField(null=True)
    log_sha256 = CharField(max_length=64, default="")
    parsed_at = DateTimeField(default=utcnow)
    sent_bytes = BigIntegerField(null=True)
    received_bytes = BigIntegerField(null=True)
    bytes_per_sec = FloatField(null=True)
    total_size = BigIntegerField(null=True)
    speedup = FloatField(null=True)
    error_count = IntegerField(default=0)
    excepted_count = IntegerField(default=0)
    rsync_version = CharField(max_length=40, default="")
    ack_note = TextField(default="")
    ack_by = CharField(max_length=64, default="")
    ack_at = DateTimeField(null=True)
    # "total size 1.1G, usual 10.4G (median of 14 nights)": a good result that copied far less
    # than usual (schema version 3). The status stays as rsync said; an acknowledgement clears it.
    anomaly = TextField(null=True)
    # why (schema version 4): rsync's error and warning lines as JSON {"count": N, "lines":
    # [[line, "error"|"warning", text], ...]} (the first and last 25, each cut), the last 40
    # lines of the log (at most 8 KB), and for fetch_failed the whole error of our pull
    why_lines = TextField(null=True)
    log_tail = TextField(null=True)
    fetch_error = TextField(null=True)
    # changes of this row (schema version 5): a database trigger adds 1 at every UPDATE,
    # whatever code ran it, so the console's poll sees a result that changed without an audit
    # row or a new parse time (an anomaly mark, an exception expiring, a replacement within
    # the same second) -- see results_rev_trigger_sql() in db/schema.py
    rev = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])  # raw INSERTs too

    class Meta:
        table_name = "results"
        indexes = (
            # one result per server per night; also serves one server's history and its
            # latest result (server_id, night DESC)
            (("server", "night"), True),
            # all results of one night, and counts per status for a night
            (("night", "status"), False),
            # last good night / bad streaks per server without touching the table rows
            # (schema version 2; bench/reports.py: nightly on MariaDB 2.1 s -> 0.45 s)
            (("server", "night", "status"), False),
        )


class Failure(BaseModel):
    """One file error in a result. Keeps the raw error so exceptions re-evaluate without logs."""

    id = AutoField()
    result = ForeignKeyField(Result, backref="failures", on_delete="CASCADE")
    path = TextField()
    message = TextField(default="")
    line = IntegerField(default=0)
    kind = CharField(max_length=32, default="other")
    excepted = BooleanField(default=False)
    exception = ForeignKeyField(
        Exception_, null=True, backref="failures", on_delete="SET NULL", column_name="exception_id"
    )

    class Meta:
        table_name = "failures"


class Update(BaseModel):
    """The audit trail: who did what, when, before and after; also notes on results."""

    id = AutoField()
    at = DateTimeField(default=utcnow, index=True)
    login = CharField(max_length=64, default="")
    action = CharField(max_length=40)  # e.g. exception.add, result.replace, result.ack, note
    table_name = CharField(max_length=32, default="")
    row_id = IntegerField(null=True)
    server = ForeignKeyField(Server, null=True, backref="updates", on_delete="SET NULL")
    result = ForeignKeyField(Result, null=True, backref="updates", on_delete="SET NULL")
    details = TextField(default="")
    before = TextField(default="")  # JSON
    after = TextField(default="")  # JSON

    class Meta:
        table_name = "updates"


class Notification(BaseModel):
    """What the nightly job sent to a ``[[notify]]`` target, so it never sends it twice
    (schema version 3). One row per night, event, subject (a custbak, or empty) and target."""

    id = AutoField()
    night = DateField()
    event = CharField(max_length=20)  # failed | custbak | anomaly | escalation
    subject = CharField(max_length=100, default="")
    target = CharField(max_length=16)  # a hash of the target URL, never the URL
    servers = IntegerField(default=0)
    sent_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "notifications"
        indexes = ((("night", "event", "subject", "target"), True),)


class SchemaVersion(BaseModel):
    version = IntegerField()
    applied_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "acorn_schema_version"


ALL_MODELS = [Csr, Tsr, Customer, Server, ErrorCode, Exception_, Result, Failure, Update,
              Notification]
TABLE_NAMES = sorted(m._meta.table_name for m in ALL_MODELS)

__all__ = [
    "SQL",
    "database_proxy",
    "Csr",
    "Tsr",
    "Customer",
    "Server",
    "ErrorCode",
    "Exception_",
    "Result",
    "Failure",
    "Update",
    "Notification",
    "SchemaVersion",
    "ALL_MODELS",
    "TABLE_NAMES",
]
