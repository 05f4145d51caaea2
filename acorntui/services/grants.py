"""Team mode: MariaDB enforces the people roles, so a CSR's own account cannot do a TSR's work
even with raw SQL.

- Roles ``acorn_csr`` (read; notes, which are audit rows), ``acorn_tsr`` (also exceptions,
  acknowledgements, snoozes, re-parse and ingest), ``acorn_tsr3`` (also customers, servers and
  reps; may create the accounts of new reps) and ``acorn_ingest`` (the nightly job's service
  account, `acorntui service add`: records and re-parses results, adds servers that first
  appear through a log; may not touch exceptions, acknowledgements, snoozes or reps).
- A BEFORE INSERT trigger on ``updates`` sets ``login`` from the connected account, so a client
  cannot write an audit row in someone else's name. It reads ``USER()``: inside a trigger
  ``CURRENT_USER()`` names the trigger's definer (the admin who ran ``grants --apply``), not
  the client. ``USER()``'s user part is the name the client authenticated with.
- Each person connects with their own account named after their csrs/tsrs login
  (:func:`acorntui.services.roles.team_login`).

MariaDB 10.0.5+ (roles); MySQL 8's role syntax differs and is not covered.
"""

from __future__ import annotations

from dataclasses import dataclass

from acorntui.db.models import Csr, Tsr, database_proxy

ROLES = ("acorn_csr", "acorn_tsr", "acorn_tsr3", "acorn_ingest")
TRIGGER = "acorn_updates_login_from_account"


class GrantError(Exception):
    """The grants or an account could not be set up; the message says what and why."""


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def grant_statements(dbname: str) -> list[str]:
    """The SQL that creates the roles and their grants on ``dbname``, and the audit trigger.

    Safe to run again: roles are created IF NOT EXISTS, grants only add, the trigger is
    replaced.
    """
    db = _ident(dbname)

    def on(table: str) -> str:
        return f"{db}.{_ident(table)}"

    sql = [f"CREATE ROLE IF NOT EXISTS {r}" for r in ROLES]
    sql += [
        # CSR: read everything; notes are rows of the audit table
        f"GRANT SELECT ON {db}.* TO acorn_csr",
        f"GRANT INSERT ON {on('updates')} TO acorn_csr",
        # TSR: a CSR, plus exceptions, acks, snoozes, re-parse and ingest
        "GRANT acorn_csr TO acorn_tsr",
        *(f"GRANT INSERT, UPDATE, DELETE ON {on(t)} TO acorn_tsr"
          for t in ("exceptions", "results", "failures")),
        f"GRANT INSERT ON {on('customers')} TO acorn_tsr",
        f"GRANT INSERT ON {on('notifications')} TO acorn_tsr",
        f"GRANT INSERT, UPDATE (snoozed_until, snooze_reason) ON {on('servers')} TO acorn_tsr",
        f"GRANT UPDATE (snoozed_until, snooze_reason) ON {on('customers')} TO acorn_tsr",
        # TSR3: a TSR, plus customers, servers and reps, and the accounts of new reps
        "GRANT acorn_tsr TO acorn_tsr3",
        *(f"GRANT INSERT, UPDATE, DELETE ON {on(t)} TO acorn_tsr3"
          for t in ("customers", "servers", "csrs", "tsrs")),
        f"GRANT UPDATE (server_id, result_id) ON {on('updates')} TO acorn_tsr3",
        "GRANT CREATE USER ON *.* TO acorn_tsr3",
        # the nightly job (`acorntui service add`): records results and re-parses, adds
        # servers first seen in a log; never acknowledges (no UPDATE of the ack columns)
        f"GRANT SELECT ON {db}.* TO acorn_ingest",
        f"GRANT INSERT ON {on('customers')} TO acorn_ingest",
        f"GRANT INSERT ON {on('servers')} TO acorn_ingest",
        f"GRANT INSERT ON {on('updates')} TO acorn_ingest",
        f"GRANT INSERT ON {on('notifications')} TO acorn_ingest",
        f"GRANT INSERT, UPDATE, DELETE ON {on('failures')} TO acorn_ingest",
        f"GRANT INSERT, DELETE ON {on('results')} TO acorn_ingest",
        f"GRANT UPDATE ({', '.join(_ident(c) for c in ingest_result_columns())}) "
        f"ON {on('results')} TO acorn_ingest",
        # the audit row's login is the connected account, whatever the client sent
        f"DROP TRIGGER IF EXISTS {db}.{_ident(TRIGGER)}",
        f"CREATE TRIGGER {db}.{_ident(TRIGGER)} BEFORE INSERT ON {on('updates')} "
        "FOR EACH ROW SET NEW.login = LEFT(SUBSTRING_INDEX(USER(), '@', 1), 64)",
    ]
    return sql


ACK_COLUMNS = ("ack_note", "ack_by", "ack_at")


def ingest_result_columns() -> list[str]:
    """The results columns the nightly job's account may update: all but the key and the
    acknowledgement (read from the models, so a column a later schema adds is included)."""
    from acorntui.db.models import Result

    return [f.column_name for f in Result._meta.sorted_fields
            if not f.primary_key and f.column_name not in ACK_COLUMNS]


def _revoke_wider_ingest_grants(dbname: str) -> None:
    """Grants only add: an acorn_ingest role set up by an older acorntui may UPDATE every
    column of results (the ack columns too). Take that back; nothing to take back is fine."""
    from acorntui.db.connection import driver_errno

    try:
        database_proxy.obj.execute_sql(
            f"REVOKE UPDATE ON {_ident(dbname)}.{_ident('results')} FROM acorn_ingest")
    except Exception as exc:  # noqa: BLE001
        if driver_errno(exc) not in (1141, 1147, 1449, 1959):  # no such grant / role yet
            raise


def apply_grants(dbname: str) -> int:
    """Run :func:`grant_statements` on the bound database. Returns how many ran."""
    db = database_proxy.obj
    statements = grant_statements(dbname)
    try:
        _revoke_wider_ingest_grants(dbname)
    except Exception as exc:  # noqa: BLE001
        from acorntui.db.connection import error_text

        raise GrantError(f"grants: REVOKE UPDATE ON results FROM acorn_ingest: "
                         f"{error_text(exc)}") from None
    for stmt in statements:
        try:
            db.execute_sql(stmt)
        except Exception as exc:  # noqa: BLE001  (name the statement that failed)
            from acorntui.db.connection import error_text

            raise GrantError(f"grants: {stmt.split(' TO ')[0][:80]}: {error_text(exc)} "
                             "(run --apply as an account that may create roles and grant, "
                             "e.g. the database administrator's)") from None
    return len(statements)


@dataclass(frozen=True)
class Account:
    login: str
    host: str
    role: str  # one of ROLES
    created: bool


def role_for(login: str) -> str:
    """The MariaDB role that matches ``login``'s csrs/tsrs row."""
    from acorntui.services.roles import SERVICE_LEVEL

    t = Tsr.get_or_none((Tsr.login == login) & (Tsr.active == True))  # noqa: E712
    if t is not None:
        if t.level == SERVICE_LEVEL:  # `acorntui service add`: the nightly job's account
            return "acorn_ingest"
        return "acorn_tsr3" if t.level >= 3 else "acorn_tsr"
    c = Csr.get_or_none((Csr.login == login) & (Csr.active == True))  # noqa: E712
    if c is not None:
        return "acorn_csr"
    raise GrantError(f"account {login}: no active CSR, TSR or service account has this login; "
                     "add them first (`acorntui csr add` / `acorntui tsr add` / "
                     "`acorntui service add`)")


def create_account(login: str, password: str, *, host: str = "%") -> Account:
    """Create the MariaDB account ``login``@``host`` with the role of its csrs/tsrs row as its
    default role. An account that exists keeps its password and gets the role brought up to
    date (after a level change, say)."""
    from acorntui.db.connection import driver_errno, error_text

    role = role_for(login)
    db = database_proxy.obj

    def run(sql: str, *args: str) -> None:
        db.execute_sql(sql, args)

    try:
        try:
            run("CREATE USER %s@%s IDENTIFIED BY %s", login, host, password)
            created = True
        except Exception as exc:  # noqa: BLE001
            if driver_errno(exc) != 1396:  # 1396: the account exists
                raise
            created = False
        for other in ("acorn_csr", "acorn_tsr", "acorn_tsr3"):
            if other != role and role != "acorn_tsr3":  # a lower level: drop the others
                try:
                    run(f"REVOKE {other} FROM %s@%s", login, host)
                except Exception as exc:  # noqa: BLE001
                    if driver_errno(exc) not in (1962, 1959, 1396, 1141, 1147):  # was not granted
                        raise
        # a TSR3 may create the accounts of new reps: the roles WITH ADMIN OPTION
        admin = " WITH ADMIN OPTION" if role == "acorn_tsr3" else ""
        # (acorn_ingest too: a TSR3 sets up the nightly job's account, `service add`)
        for r in (ROLES if admin else (role,)):
            run(f"GRANT {r} TO %s@%s{admin}", login, host)
        try:
            run(f"SET DEFAULT ROLE {role} FOR %s@%s", login, host)
        except Exception as exc:  # noqa: BLE001
            # FOR another account needs write access to the mysql schema, which a TSR3 has not:
            # the new account sets its own default role (the TSR3 has just set its password)
            if driver_errno(exc) not in (1044, 1142, 1227):
                raise
            _set_own_default_role(login, password, role)
    except Exception as exc:  # noqa: BLE001
        raise GrantError(f"account {login}@{host}: {error_text(exc)} (creating accounts needs "
                         "a TSR3's own account after `acorntui grants --apply`, or the database "
                         "administrator's)") from None
    return Account(login, host, role, created)


def _set_own_default_role(login: str, password: str, role: str) -> None:
    import pymysql

    params = database_proxy.obj.connect_params
    conn = pymysql.connect(host=params.get("host"), port=params.get("port", 3306), user=login,
                           password=password, connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SET DEFAULT ROLE {role}")
    finally:
        conn.close()
