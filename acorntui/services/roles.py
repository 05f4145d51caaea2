"""Who is using acorntui and what they may do. Enforced here, not only in the screens.

The user is the OS login (TSRs reach the console over SSH), taken from the kernel: the
passwd entry of the effective uid, never ``USER`` or ``LOGNAME`` (which anyone can set). Roles
guard against mistakes by people who share a database; the database credentials remain the
real security boundary.
"""

from __future__ import annotations

import os
import pwd
import re
from dataclasses import dataclass

from acorntui.db.models import Csr, Tsr, database_proxy

READ_ONLY = "read-only"
CSR = "csr"
TSR = "tsr"  # level 1-2
TSR3 = "tsr3"
SERVICE = "ingest-service"  # the nightly job's account: a tsrs row at SERVICE_LEVEL (`acorntui
# service add`), or in team mode any MariaDB account on the acorn_ingest role
SERVICE_LEVEL = 0  # tsrs.level of a service account: records results, nothing of a person's

# action -> roles allowed
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "read": (READ_ONLY, CSR, TSR, TSR3, SERVICE),
    "note": (CSR, TSR, TSR3),
    "ack": (TSR, TSR3),
    "snooze": (TSR, TSR3),
    "exception": (TSR, TSR3),
    "reparse": (TSR, TSR3, SERVICE),
    "ingest": (TSR, TSR3, SERVICE),  # also fetch and the nightly job
    "manage": (TSR3,),
}

NEEDED = {
    "note": "a CSR or TSR",
    "ack": "a TSR",
    "snooze": "a TSR",
    "exception": "a TSR",
    "reparse": "a TSR",
    "ingest": "a TSR (or the nightly job's service account)",
    "manage": "a TSR3",
}


# what each action means, for refusals ("may not add or change exceptions")
ACTION_TEXT = {
    "read": "read",
    "note": "add notes",
    "ack": "acknowledge results",
    "snooze": "snooze servers",
    "exception": "add or change exceptions",
    "reparse": "re-parse results",
    "ingest": "ingest logs",
    "manage": "manage customers, servers and reps",
}


# the login columns (csrs, tsrs, updates) hold this many characters
LOGIN_MAX = Tsr.login.max_length


class PermissionDenied(Exception):
    """Refused: the message names the role needed. ``action`` and ``needed`` for callers."""

    def __init__(self, message: str, action: str = "", needed: str = ""):
        super().__init__(message)
        self.action = action
        self.needed = needed


@dataclass(frozen=True)
class User:
    login: str
    role: str
    name: str = ""
    level: int = 0

    def can(self, action: str) -> bool:
        return self.role in PERMISSIONS.get(action, ())

    def require(self, action: str) -> None:
        check_login(self.login, action)
        if not self.can(action):
            needed = NEEDED.get(action, "more rights")
            raise PermissionDenied(
                f"{self.login} ({describe_role(self)}) may not "
                f"{ACTION_TEXT.get(action, action)}: that needs {needed}. "
                + (how_to_be_added(self.login) if self.role == READ_ONLY
                   else "Ask a TSR3 if you need TSR rights." if self.role == CSR
                   else "A service account only records results (ingest, fetch, nightly, "
                        "re-parse); do this as a TSR." if self.role == SERVICE
                   else f"A TSR3 can raise your level: `acorntui tsr edit {self.login} "
                        f"--level 3`."),
                action, needed,
            )

    @property
    def role_label(self) -> str:
        return describe_role(self)


def check_login(login: str, action: str = "") -> None:
    """Refuse a login that the audit trail cannot hold (MariaDB would reject every row)."""
    if len(login) > LOGIN_MAX:
        raise PermissionDenied(
            f"login {login!r} is {len(login)} characters long; acorntui records who did what "
            f"under logins of at most {LOGIN_MAX} characters, so it cannot act for this one. "
            f"Use an account with a shorter login.", action, "")


def describe_role(user: User) -> str:
    if user.role == SERVICE:
        return "the nightly job's service account (ingest only)"
    if user.role == TSR3:
        return "TSR3"
    if user.role == TSR:
        return f"TSR{user.level}"
    if user.role == CSR:
        return "CSR"
    return "read-only: not a registered CSR or TSR"


def how_to_be_added(login: str) -> str:
    return (f"A TSR3 can add you with `acorntui tsr add {login} --level 1` or "
            f"`acorntui csr add {login}`.")


@dataclass(frozen=True)
class Registry:
    """Who is registered, so that whoami can name the real fix (read by :func:`registry`)."""

    anyone: bool  # any TSR or CSR row, active or not: init-db makes a first TSR3 only when none
    tsr3s: tuple[str, ...] = ()  # active TSR3 logins: the people who can add you
    deactivated: str = ""  # "TSR" or "CSR" when the login has a row that was deactivated


def registry(login: str) -> Registry:
    """A few queries: call it off the UI thread."""
    anyone = Tsr.select().exists() or Csr.select().exists()
    tsr3s = tuple(t.login for t in Tsr.select(Tsr.login)
                  .where((Tsr.active == True) & (Tsr.level >= 3))  # noqa: E712
                  .order_by(Tsr.login).limit(5))
    deactivated = ("TSR" if Tsr.select().where((Tsr.login == login)
                                               & (Tsr.active == False)).exists()  # noqa: E712
                   else "CSR" if Csr.select().where((Csr.login == login)
                                                    & (Csr.active == False)).exists()  # noqa: E712
                   else "")
    return Registry(anyone, tsr3s, deactivated)


def whoami_fix(user: User, reg: Registry) -> str:
    """The one thing to do so that a read-only login gets a role ("" for a CSR or TSR)."""
    if user.role != READ_ONLY:
        return ""
    if not reg.anyone:
        return (f"Run `acorntui init-db`: on a database without TSRs or CSRs it makes "
                f"{user.login} the first user, a TSR3 (full rights).")
    if not reg.tsr3s:
        return ("No active TSR3 is registered, so nobody can add you with acorntui: ask "
                "whoever runs the database to re-activate a TSR3 (tsrs.active).")
    who = f"A TSR3 ({', '.join(reg.tsr3s)})"
    if reg.deactivated:
        return (f"{who} can re-activate it: `acorntui {reg.deactivated.lower()} edit "
                f"{user.login} --active yes`.")
    return (f"{who} can add you: `acorntui tsr add {user.login} --level 1` (a TSR; level 3 "
            f"also manages) or `acorntui csr add {user.login}` (a CSR).")


def whoami_text(user: User, reg: Registry | None = None) -> str:
    """One or two lines: login, role, what it allows; for a read-only login, why and the fix
    (exact when ``reg`` is given: the first user, a deactivated entry, who can add you)."""
    allowed = [ACTION_TEXT[a] for a in PERMISSIONS if a != "read" and user.can(a)]
    if user.role == READ_ONLY:
        if reg is None:
            return (f"{user.login}: not a registered CSR or TSR, so read-only access.\n"
                    f"{how_to_be_added(user.login)}")
        why = ("nobody is registered as a CSR or TSR yet" if not reg.anyone
               else f"your {reg.deactivated} entry is deactivated" if reg.deactivated
               else "not a registered CSR or TSR")
        return f"{user.login}: {why}, so read-only access.\n{whoami_fix(user, reg)}"
    line = f"{user.login}: {describe_role(user)}"
    if user.name and user.name != user.login:
        line += f" ({user.name})"
    return f"{line}; may read everything, " + ", ".join(allowed) + "."


def current_login() -> str:
    """The login of the effective uid, from the kernel and the passwd database."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # no passwd entry (containers): the uid itself, never the environment
        return f"uid{uid}"


def lookup(login: str) -> User:
    t = Tsr.get_or_none((Tsr.login == login) & (Tsr.active == True))  # noqa: E712
    if t is not None:
        if t.level == SERVICE_LEVEL:
            return User(login, SERVICE, t.name, 0)
        return User(login, TSR3 if t.level >= 3 else TSR, t.name, t.level)
    c = Csr.get_or_none((Csr.login == login) & (Csr.active == True))  # noqa: E712
    if c is not None:
        return User(login, CSR, c.name, 0)
    return User(login, READ_ONLY)


def team_login() -> str | None:
    """Team mode: the user name of the MariaDB account the server authenticated,
    ``CURRENT_USER()``, which no client setting can change.

    Team mode is an account whose active role is one of ``acorntui grants``' roles (acorn_csr,
    acorn_tsr, acorn_tsr3, acorn_ingest). None otherwise: on SQLite, and on MariaDB through an
    account without such a role (an administrator's, or one account shared by everyone), where
    the OS login is the identity and the roles are guard rails, as on SQLite."""

    account = team_account()
    return account[0] if account else None


def team_account() -> tuple[str, str] | None:
    """(login, acorn role) of the MariaDB account in team mode (see :func:`team_login`)."""
    from acorntui.db.connection import is_mysql

    db = database_proxy.obj
    if db is None or not is_mysql(db):
        return None
    row = db.execute_sql("SELECT CURRENT_USER(), CURRENT_ROLE()").fetchone()
    if not row or not row[0] or not str(row[1] or "").startswith("acorn_"):
        return None
    return str(row[0]).rsplit("@", 1)[0], str(row[1])


def current_user() -> User:
    account = team_account()
    if account is None:
        return lookup(current_login())
    user = lookup(account[0])
    if user.role == READ_ONLY and account[1] == "acorn_ingest":
        return User(account[0], SERVICE, "nightly job service account")
    return user


# MariaDB's refusals (1142 table, 1143 column, 1227 global privilege) said as the role they need
_DENIED_TABLE = re.compile(r"(\w+) command denied to user '([^']*)'.*?(?:table|in table) "
                           r"[`']?(?:[^`'.]+[`']?\.[`']?)?([A-Za-z_]+)[`']?", re.S)
_TABLE_NEEDS = {"exceptions": "a TSR", "results": "a TSR", "failures": "a TSR",
                "customers": "a TSR3", "servers": "a TSR3", "csrs": "a TSR3", "tsrs": "a TSR3",
                "updates": "a CSR or TSR"}


def database_refusal(exc: BaseException) -> PermissionDenied | None:
    """A PermissionDenied for a MariaDB privilege error (the database refused a write the
    account's role does not allow), or None for any other error."""
    from acorntui.db.connection import driver_errno, error_text

    if driver_errno(exc) not in (1142, 1143, 1227):
        return None
    text = error_text(exc)
    m = _DENIED_TABLE.search(text)
    if m:
        verb, account, table = m.group(1), m.group(2), m.group(3)
        needed = "a TSR" if table == "servers" and verb == "UPDATE" and "snooze" in text \
            else _TABLE_NEEDS.get(table, "more rights")
        return PermissionDenied(
            f"the database refused {verb} on {table} for account {account}: that needs "
            f"{needed}. Ask a TSR3 to check your level and your account's role "
            "(`acorntui tsr list`, `acorntui grants`).", "database", needed)
    return PermissionDenied(f"the database refused: {text}", "database", "more rights")


def acting_user(action: str, user: User | None = None) -> User:
    """The user doing ``action``, checked: ``user`` when given, else the kernel login.

    On a database with no people at all, the kernel login is first made a TSR3
    (:func:`claim_first_user`, as `init-db` does), so a fresh single-host install works; once
    the database has people, the login needs its role. Raises PermissionDenied.
    """
    if user is None:
        claim_first_user()
        user = current_user()
    user.require(action)
    return user


def claim_first_user(login: str | None = None) -> str | None:
    """On a database with no TSRs and no CSRs, make ``login`` a TSR3. Returns it if so."""
    from peewee import IntegrityError

    from acorntui.services import audit

    login = login or team_login() or current_login()
    check_login(login)
    try:
        with database_proxy.atomic():
            if Tsr.select().exists() or Csr.select().exists():
                return None
            Tsr.create(name=login, login=login, level=3)
            audit.record("tsr.add", login, table="tsrs",
                         details="first user on an empty database",
                         after={"login": login, "level": 3})
    except IntegrityError:  # a concurrent first run claimed it meanwhile
        return None
    return login


def _install_refusal_translator() -> None:
    from acorntui.db.connection import set_refusal_translator

    set_refusal_translator(database_refusal)


_install_refusal_translator()
