"""Customers, servers, CSRs and TSRs: add, edit, remove, list. Used by the CLI and the console.

Every change is checked against the user's role (``manage``: a TSR3), validated field by field
(errors name the field), and written to ``updates`` in the same transaction as the change.
Removing something with history deactivates it; ``purge=True`` deletes it and its history.

Names of customers and servers become folder and file names on the report server
(``/reports/<customer>/<server>.out``), so they are restricted to what is safe there and on
Windows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from peewee import fn

from acorntui.db.models import (
    Csr,
    Customer,
    Exception_,
    Failure,
    Result,
    Server,
    Tsr,
    Update,
    database_proxy,
)
from acorntui.services import audit
from acorntui.services.roles import SERVICE_LEVEL, TSR3, User


class ManageInputError(ValueError):
    """A bad value; ``field`` names it and the message starts with it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(ManageInputError):
    pass


# -- validation (pure: usable from form validators without a database) ----------------------

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
LOGIN_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@$-]{0,63}$")
EMAIL_RE = re.compile(r"^[^@\s\"<>,;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{p}{n}" for p in ("COM", "LPT") for n in "123456789"
}


def validate_name(field: str, value: Any) -> str:
    """A customer or server name: a folder/file name on the report server and on Windows."""
    v = str(value if value is not None else "").strip()
    if not v:
        raise ManageInputError(field, "must not be empty")
    if not NAME_RE.match(v):
        raise ManageInputError(
            field, f"{v!r} is not usable as a folder or file name: use 1-100 letters, digits, "
            "'.', '_' or '-', starting with a letter or digit")
    if v.endswith("."):
        raise ManageInputError(field, f"{v!r} ends with '.', which Windows drops")
    if v.split(".")[0].upper() in WINDOWS_RESERVED:
        raise ManageInputError(field, f"{v!r} is a reserved device name on Windows")
    return v


def validate_login(field: str, value: Any) -> str:
    v = str(value if value is not None else "").strip()
    if not v:
        raise ManageInputError(field, "must not be empty")
    if not LOGIN_RE.match(v):
        raise ManageInputError(field, f"{v!r} is not an OS login name (letters, digits, "
                                      "'_', '.', '-', at most 64)")
    return v


def validate_email(field: str, value: Any) -> str:
    v = str(value if value is not None else "").strip()
    if not v:
        return ""
    if len(v) > 254 or not EMAIL_RE.match(v):
        raise ManageInputError(field, f"{v!r} is not an e-mail address")
    return v


def validate_level(field: str, value: Any) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        raise ManageInputError(field, f"{value!r} is not a number: use 1, 2 or 3") from None
    if n not in (1, 2, 3):
        raise ManageInputError(field, f"{n} is not a TSR level: use 1, 2 or 3")
    return n


def validate_text(field: str, value: Any, max_len: int, *, multiline: bool = False) -> str:
    v = str(value if value is not None else "").strip()
    if len(v) > max_len:
        raise ManageInputError(field, f"longer than {max_len} characters")
    check = v.replace("\n", "").replace("\t", "") if multiline else v
    if _CONTROL_RE.search(check):
        raise ManageInputError(field, "contains control characters" +
                               ("" if multiline else " or line breaks"))
    return v


def validate_bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in ("1", "yes", "y", "true", "on"):
        return True
    if s in ("0", "no", "n", "false", "off"):
        return False
    raise ManageInputError(field, f"{value!r} is not yes or no")


def validate_lines(field: str, value: Any, max_len: int = 4000) -> str:
    """shares / excludes: a list, or text with one item per line. Stored one per line."""
    if value is None:
        return ""
    items = value if isinstance(value, list | tuple) else str(value).splitlines()
    out = []
    for item in items:
        s = str(item).strip()
        if not s:
            continue
        if _CONTROL_RE.search(s):
            raise ManageInputError(field, f"{s!r} contains control characters")
        out.append(s)
    text = "\n".join(out)
    if len(text) > max_len:
        raise ManageInputError(field, f"longer than {max_len} characters")
    return text


def split_lines(text: str) -> list[str]:
    return [s for s in (text or "").splitlines() if s.strip()]


# -- snapshots (what before/after hold, and what list/JSON show) ----------------------------

def _login_of(model: type[Tsr | Csr], rep_id: int | None, logins: dict[int, str] | None) -> str:
    """A CSR's/TSR's login by id: from ``logins`` (id -> login) when given, else looked up."""
    if logins is not None:
        return logins.get(rep_id, "") if rep_id is not None else ""
    r = model.get_or_none(model.id == rep_id) if rep_id else None
    return r.login if r else ""


def customer_dict(c: Customer, csrs: dict[int, str] | None = None) -> dict[str, Any]:
    return {
        "id": c.id, "name": c.name, "display_name": c.display_name, "email": c.email,
        "csr": _login_of(Csr, c.csr_id, csrs), "active": bool(c.active), "notes": c.notes,
    }


def server_dict(s: Server, cust: Customer | None = None, tsrs: dict[int, str] | None = None,
                csrs: dict[int, str] | None = None) -> dict[str, Any]:
    """``cust``, ``tsrs`` and ``csrs`` (id -> login) let a listing skip the per-row lookups."""
    if cust is None:
        cust = Customer.get_by_id(s.customer_id)
    return {
        "id": s.id, "customer": cust.name, "name": s.name, "description": s.description,
        "os": s.os, "role": s.role, "custbak": s.custbak,
        "tsr": _login_of(Tsr, s.tsr_id, tsrs),
        "csr": _login_of(Csr, cust.csr_id, csrs), "active": bool(s.active),
        "registered": bool(s.registered), "shares": split_lines(s.shares),
        "excludes": split_lines(s.excludes), "key_path": s.key_path,
        "mirror_path": s.mirror_path, "report_host": s.report_host,
    }


def csr_dict(c: Csr) -> dict[str, Any]:
    return {"id": c.id, "login": c.login, "name": c.name, "email": c.email,
            "active": bool(c.active)}


def tsr_dict(t: Tsr) -> dict[str, Any]:
    return {"id": t.id, "login": t.login, "name": t.name, "email": t.email,
            "level": t.level, "active": bool(t.active)}


def _edit_action(kind: str, after: dict[str, Any]) -> str:
    """``kind.edit``, or ``kind.deactivate``/``kind.activate`` when only ``active`` changed."""
    if set(after) == {"active"}:
        return f"{kind}.activate" if after["active"] else f"{kind}.deactivate"
    return f"{kind}.edit"


def _diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


# -- lookups ------------------------------------------------------------------------------

def get_customer(name: str) -> Customer:
    c = Customer.get_or_none(fn.LOWER(Customer.name) == str(name).strip().lower())
    if c is None:
        raise NotFound("customer", f"no customer named {name!r}")
    return c


def split_label(label: str) -> tuple[str, str]:
    parts = str(label).strip().split("/")
    if len(parts) != 2 or not all(parts):
        raise ManageInputError("server", f"{label!r}: give it as CUSTOMER/SERVER")
    return parts[0], parts[1]


def get_server(label: str) -> Server:
    cname, sname = split_label(label)
    cust = get_customer(cname)
    s = Server.get_or_none((Server.customer == cust.id)
                           & (fn.LOWER(Server.name) == sname.lower()))
    if s is None:
        raise NotFound("server", f"no server {sname!r} for customer {cust.name}")
    return s


def _get_rep(model: type[Tsr | Csr], kind: str, login: str) -> Any:
    r = model.get_or_none(model.login == str(login).strip())
    if r is None:
        raise NotFound(kind, f"no {kind.upper()} with login {login!r}")
    return r


def get_csr(login: str) -> Csr:
    return _get_rep(Csr, "csr", login)


def get_tsr(login: str) -> Tsr:
    return _get_rep(Tsr, "tsr", login)


def _rep_id(model: type[Tsr | Csr], kind: str, value: Any) -> int | None:
    """An assigned CSR/TSR given by login ('' or None unassigns)."""
    if value is None or str(value).strip() == "":
        return None
    rep = _get_rep(model, kind, validate_login(kind, value))
    if model is Tsr and rep.level == SERVICE_LEVEL:
        raise ManageInputError(kind, f"{rep.login} is the nightly job's service account, not a "
                                     "TSR: assign a person")
    return rep.id


def _check_fields(given: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    for k in given:
        if k not in allowed:
            raise ManageInputError(k, f"not a {what} field (fields: {', '.join(allowed)})")


# -- customers ------------------------------------------------------------------------------

CUSTOMER_FIELDS = ("name", "display_name", "email", "csr", "active", "notes")


def _customer_values(given: dict[str, Any], current: Customer | None) -> dict[str, Any]:
    _check_fields(given, CUSTOMER_FIELDS, "customer")
    out: dict[str, Any] = {}
    for k, v in given.items():
        if k == "name":
            name = validate_name("name", v)
            clash = Customer.get_or_none(fn.LOWER(Customer.name) == name.lower())
            if clash is not None and (current is None or clash.id != current.id):
                raise ManageInputError("name", f"a customer named {clash.name!r} exists")
            out["name"] = name
        elif k == "display_name":
            out[k] = validate_text("display_name", v, 200)
        elif k == "email":
            out[k] = validate_email("email", v)
        elif k == "csr":
            out["csr"] = _rep_id(Csr, "csr", v)
        elif k == "active":
            out[k] = validate_bool("active", v)
        elif k == "notes":
            out[k] = validate_text("notes", v, 4000, multiline=True)
    return out


def add_customer(user: User, **values: Any) -> Customer:
    user.require("manage")
    if "name" not in values:
        raise ManageInputError("name", "must not be empty")
    with database_proxy.obj.atomic():
        data = _customer_values(values, None)
        c = Customer.create(**data)
        audit.record("customer.add", user.login, table="customers", row_id=c.id,
                     details=f"customer {c.name}", after=customer_dict(c))
    return c


def edit_customer(user: User, name: str, **changes: Any) -> Customer:
    user.require("manage")
    with database_proxy.obj.atomic():
        c = get_customer(name)
        data = _customer_values(changes, c)
        before = customer_dict(c)
        if data:
            Customer.update(**data).where(Customer.id == c.id).execute()
        c = Customer.get_by_id(c.id)
        b, a = _diff(before, customer_dict(c))
        if a:
            audit.record(_edit_action("customer", a), user.login, table="customers",
                         row_id=c.id,
                         details=f"customer {c.name}", before=b, after=a)
    return c


@dataclass
class Removal:
    what: str  # "deactivated", "deleted" or "purged"
    label: str
    results: int = 0  # results deleted with a purge

    def __str__(self) -> str:
        extra = f" with {self.results} results" if self.what == "purged" else ""
        hint = (" (it has history, which is kept; --purge deletes it for good)"
                if self.what == "deactivated" else "")
        return f"{self.what} {self.label}{extra}{hint}"


def _server_history_count(server_ids: list[int]) -> int:
    """Results, notes and acknowledgements: what a removal must not lose silently."""
    if not server_ids:
        return 0
    notes = Update.select().where(Update.server.in_(server_ids)
                                  & ((Update.action == "note")
                                     | Update.action.startswith("result.")))
    return Result.select().where(Result.server.in_(server_ids)).count() + notes.count()


def _purge_servers(server_ids: list[int]) -> int:
    if not server_ids:
        return 0
    result_ids = Result.select(Result.id).where(Result.server.in_(server_ids))
    n = Result.select().where(Result.server.in_(server_ids)).count()
    Update.update(result=None).where(Update.result.in_(result_ids)).execute()
    Failure.delete().where(Failure.result.in_(result_ids)).execute()
    Result.delete().where(Result.server.in_(server_ids)).execute()
    exc_ids = Exception_.select(Exception_.id).where(Exception_.server.in_(server_ids))
    Failure.update(exception=None, excepted=False).where(
        Failure.exception.in_(exc_ids)).execute()
    Exception_.delete().where(Exception_.server.in_(server_ids)).execute()
    Update.update(server=None).where(Update.server.in_(server_ids)).execute()
    Server.delete().where(Server.id.in_(server_ids)).execute()
    return n


def remove_customer(user: User, name: str, *, purge: bool = False) -> Removal:
    user.require("manage")
    with database_proxy.obj.atomic():
        c = get_customer(name)
        before = customer_dict(c)
        sids = [s.id for s in Server.select(Server.id).where(Server.customer == c.id)]
        has_history = _server_history_count(sids) > 0
        if has_history and not purge:
            Customer.update(active=False).where(Customer.id == c.id).execute()
            Server.update(active=False).where(Server.customer == c.id).execute()
            audit.record("customer.deactivate", user.login, table="customers", row_id=c.id,
                         details=f"customer {c.name} and its {len(sids)} servers deactivated",
                         before={"active": before["active"]}, after={"active": False})
            return Removal("deactivated", c.name)
        n = _purge_servers(sids)
        exc_ids = Exception_.select(Exception_.id).where(Exception_.customer == c.id)
        Failure.update(exception=None, excepted=False).where(
            Failure.exception.in_(exc_ids)).execute()
        Exception_.delete().where(Exception_.customer == c.id).execute()
        c.delete_instance()
        before["servers"] = len(sids)
        before["results"] = n
        action = "customer.purge" if has_history else "customer.delete"
        audit.record(action, user.login, table="customers", row_id=c.id,
                     details=f"customer {c.name} deleted with {len(sids)} servers, {n} results",
                     before=before)
        return Removal("purged" if has_history else "deleted", c.name, n)


def list_customers(*, text: str = "", include_inactive: bool = True) -> list[dict[str, Any]]:
    q = Customer.select().order_by(Customer.name)
    if not include_inactive:
        q = q.where(Customer.active == True)  # noqa: E712
    counts = dict(Server.select(Server.customer, fn.COUNT(Server.id))
                  .group_by(Server.customer).tuples())
    csrs = {c.id: c.login for c in Csr.select()}
    rows = [dict(customer_dict(c, csrs), servers=counts.get(c.id, 0)) for c in q]
    return [r for r in rows if _matches(r, text)]


def _matches(row: dict[str, Any], text: str) -> bool:
    t = (text or "").strip().lower()
    if not t:
        return True
    return any(t in str(v).lower() for v in row.values() if isinstance(v, str))


# -- servers ------------------------------------------------------------------------------

SERVER_FIELDS = ("customer", "name", "description", "os", "role", "custbak", "tsr", "active",
                 "shares", "excludes", "key_path", "mirror_path", "report_host")
HOST_RE = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}@)?"
                     r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")


def validate_host(field: str, value: Any) -> str:
    """report_host: ``[user@]host[:port]``."""
    v = str(value if value is not None else "").strip()
    if not v:
        return ""
    if not HOST_RE.match(v):
        raise ManageInputError(field, f"{v!r} is not [user@]host[:port]")
    return v


def _server_values(given: dict[str, Any], current: Server | None) -> dict[str, Any]:
    _check_fields(given, SERVER_FIELDS, "server")
    out: dict[str, Any] = {}
    for k, v in given.items():
        if k == "customer":
            out["customer"] = get_customer(validate_name("customer", v)).id
        elif k == "name":
            out["name"] = validate_name("name", v)
        elif k == "description":
            out[k] = validate_text(k, v, 255)
        elif k in ("os", "role"):
            out[k] = validate_text(k, v, 60)
        elif k == "custbak":
            out[k] = validate_name(k, v) if str(v or "").strip() else ""
        elif k == "tsr":
            out["tsr"] = _rep_id(Tsr, "tsr", v)
        elif k == "active":
            out[k] = validate_bool(k, v)
        elif k in ("shares", "excludes"):
            out[k] = validate_lines(k, v)
        elif k in ("key_path", "mirror_path"):
            out[k] = validate_text(k, v, 255)
        elif k == "report_host":
            out[k] = validate_host(k, v)
    cust_id = out.get("customer", current.customer_id if current else None)
    name = out.get("name", current.name if current else None)
    if cust_id is not None and name is not None:
        clash = Server.get_or_none((Server.customer == cust_id)
                                   & (fn.LOWER(Server.name) == name.lower()))
        if clash is not None and (current is None or clash.id != current.id):
            raise ManageInputError("name", f"{Customer.get_by_id(cust_id).name}/{clash.name} "
                                           "exists")
    return out


def add_server(user: User, **values: Any) -> Server:
    """Add a server. One that first appeared through a log (unregistered) is registered."""
    user.require("manage")
    for f in ("customer", "name"):
        if not str(values.get(f) or "").strip():
            raise ManageInputError(f, "must not be empty")
    with database_proxy.obj.atomic():
        cust = get_customer(validate_name("customer", values["customer"]))
        name = validate_name("name", values["name"])
        existing = Server.get_or_none((Server.customer == cust.id)
                                      & (fn.LOWER(Server.name) == name.lower()))
        if existing is not None and not existing.registered:
            before = server_dict(existing)
            data = _server_values(values, existing)
            data["registered"] = True
            Server.update(**data).where(Server.id == existing.id).execute()
            s = Server.get_by_id(existing.id)
            b, a = _diff(before, server_dict(s))
            audit.record("server.register", user.login, table="servers", row_id=s.id, server=s,
                         details=f"server {cust.name}/{s.name} (first seen in a log) registered",
                         before=b, after=a)
            return s
        data = _server_values(values, None)
        s = Server.create(registered=True, **data)
        audit.record("server.add", user.login, table="servers", row_id=s.id, server=s,
                     details=f"server {cust.name}/{s.name}", after=server_dict(s))
    return s


def edit_server(user: User, label: str, **changes: Any) -> Server:
    user.require("manage")
    with database_proxy.obj.atomic():
        s = get_server(label)
        before = server_dict(s)
        data = _server_values(changes, s)
        if data:
            Server.update(**data).where(Server.id == s.id).execute()
        s = Server.get_by_id(s.id)
        after = server_dict(s)
        b, a = _diff(before, after)
        if a:
            audit.record(_edit_action("server", a), user.login, table="servers",
                         row_id=s.id, server=s,
                         details=f"server {after['customer']}/{s.name}", before=b, after=a)
    return s


def remove_server(user: User, label: str, *, purge: bool = False) -> Removal:
    user.require("manage")
    with database_proxy.obj.atomic():
        s = get_server(label)
        before = server_dict(s)
        lbl = f"{before['customer']}/{s.name}"
        has_history = _server_history_count([s.id]) > 0
        if has_history and not purge:
            Server.update(active=False).where(Server.id == s.id).execute()
            audit.record("server.deactivate", user.login, table="servers", row_id=s.id,
                         server=s, details=f"server {lbl} deactivated",
                         before={"active": before["active"]}, after={"active": False})
            return Removal("deactivated", lbl)
        n = _purge_servers([s.id])
        before["results"] = n
        audit.record("server.purge" if has_history else "server.delete", user.login,
                     table="servers", row_id=before["id"],
                     details=f"server {lbl} deleted with {n} results", before=before)
        return Removal("purged" if has_history else "deleted", lbl, n)


def list_servers(*, customer: str | None = None, text: str = "",
                 include_inactive: bool = True) -> list[dict[str, Any]]:
    q = (Server.select(Server, Customer).join(Customer)
         .order_by(Customer.name, Server.name))
    if customer:
        q = q.where(Customer.id == get_customer(customer).id)
    if not include_inactive:
        q = q.where(Server.active == True)  # noqa: E712
    tsrs = {t.id: t.login for t in Tsr.select()}
    csrs = {c.id: c.login for c in Csr.select()}
    out = []
    for s in q:
        d = server_dict(s, s.customer, tsrs, csrs)
        if _matches(d, text) or _matches({"label": f"{d['customer']}/{d['name']}"}, text):
            out.append(d)
    return out


# -- CSRs and TSRs --------------------------------------------------------------------------

CSR_FIELDS = ("login", "name", "email", "active")
TSR_FIELDS = ("login", "name", "email", "level", "active")


def _rep_values(given: dict[str, Any], model: type[Tsr | Csr], current: Any) -> dict[str, Any]:
    is_tsr = model is Tsr
    _check_fields(given, TSR_FIELDS if is_tsr else CSR_FIELDS, "TSR" if is_tsr else "CSR")
    out: dict[str, Any] = {}
    for k, v in given.items():
        if k == "login":
            login = validate_login("login", v)
            clash = model.get_or_none(model.login == login)
            if clash is not None and (current is None or clash.id != current.id):
                raise ManageInputError("login", f"{login} is already a "
                                                f"{'TSR' if is_tsr else 'CSR'}")
            other = Csr if is_tsr else Tsr
            if other.get_or_none((other.login == login) & (other.active == True)):  # noqa: E712
                raise ManageInputError("login", f"{login} is already a "
                                                f"{'CSR' if is_tsr else 'TSR'}; remove that first")
            out["login"] = login
        elif k == "name":
            out[k] = validate_text("name", v, 120)
        elif k == "email":
            out[k] = validate_email("email", v)
        elif k == "level":
            out[k] = validate_level("level", v)
        elif k == "active":
            out[k] = validate_bool("active", v)
    return out


def _guard_last_tsr3(t: Tsr, level: int, active: bool) -> None:
    """Never leave a database without an active TSR3: nobody could manage it any more."""
    if t.level >= 3 and t.active and (level < 3 or not active):
        others = (Tsr.select().where((Tsr.level >= 3) & (Tsr.active == True)  # noqa: E712
                                     & (Tsr.id != t.id)).count())
        if others == 0:
            raise ManageInputError("level" if active else "tsr",
                                   f"{t.login} is the last active TSR3; make someone else a "
                                   "TSR3 first")


def _add_rep(user: User, model: type[Tsr | Csr], values: dict[str, Any]) -> Any:
    user.require("manage")
    kind = "tsr" if model is Tsr else "csr"
    if not str(values.get("login") or "").strip():
        raise ManageInputError("login", "must not be empty")
    with database_proxy.obj.atomic():
        data = _rep_values(values, model, None)
        data.setdefault("name", data["login"])
        if kind == "tsr":
            data.setdefault("level", 1)
        r = model.create(**data)
        snap = tsr_dict(r) if kind == "tsr" else csr_dict(r)
        audit.record(f"{kind}.add", user.login, table=f"{kind}s", row_id=r.id,
                     details=f"{kind.upper()} {r.login}", after=snap)
    return r


def _edit_rep(user: User, model: type[Tsr | Csr], login: str, changes: dict[str, Any]) -> Any:
    user.require("manage")
    kind = "tsr" if model is Tsr else "csr"
    snapf = tsr_dict if kind == "tsr" else csr_dict
    with database_proxy.obj.atomic():
        r = get_tsr(login) if kind == "tsr" else get_csr(login)
        data = _rep_values(changes, model, r)
        if kind == "tsr":
            _guard_last_tsr3(r, data.get("level", r.level), data.get("active", r.active))
        before = snapf(r)
        if data:
            model.update(**data).where(model.id == r.id).execute()
        r = model.get_by_id(r.id)
        b, a = _diff(before, snapf(r))
        if a:
            audit.record(_edit_action(kind, a), user.login, table=f"{kind}s", row_id=r.id,
                         details=f"{kind.upper()} {r.login}", before=b, after=a)
    return r


def _remove_rep(user: User, model: type[Tsr | Csr], login: str, purge: bool) -> Removal:
    user.require("manage")
    kind = "tsr" if model is Tsr else "csr"
    snapf = tsr_dict if kind == "tsr" else csr_dict
    with database_proxy.obj.atomic():
        r = get_tsr(login) if kind == "tsr" else get_csr(login)
        if kind == "tsr":
            _guard_last_tsr3(r, r.level, False)
        before = snapf(r)
        assigned = (Server.select().where(Server.tsr == r.id).count() if kind == "tsr"
                    else Customer.select().where(Customer.csr == r.id).count())
        acted = Update.select().where(Update.login == r.login).count()
        if (assigned or acted) and not purge:
            model.update(active=False).where(model.id == r.id).execute()
            audit.record(f"{kind}.deactivate", user.login, table=f"{kind}s", row_id=r.id,
                         details=f"{kind.upper()} {r.login} deactivated",
                         before={"active": before["active"]}, after={"active": False})
            return Removal("deactivated", r.login)
        if kind == "tsr":
            Server.update(tsr=None).where(Server.tsr == r.id).execute()
        else:
            Customer.update(csr=None).where(Customer.csr == r.id).execute()
        r.delete_instance()
        audit.record(f"{kind}.delete", user.login, table=f"{kind}s", row_id=before["id"],
                     details=f"{kind.upper()} {before['login']} deleted", before=before)
        return Removal("deleted", before["login"])


def add_csr(user: User, **values: Any) -> Csr:
    return _add_rep(user, Csr, values)


def edit_csr(user: User, login: str, **changes: Any) -> Csr:
    return _edit_rep(user, Csr, login, changes)


def remove_csr(user: User, login: str, *, purge: bool = False) -> Removal:
    return _remove_rep(user, Csr, login, purge)


def add_tsr(user: User, **values: Any) -> Tsr:
    return _add_rep(user, Tsr, values)


def edit_tsr(user: User, login: str, **changes: Any) -> Tsr:
    return _edit_rep(user, Tsr, login, changes)


def remove_tsr(user: User, login: str, *, purge: bool = False) -> Removal:
    return _remove_rep(user, Tsr, login, purge)


def _list_reps(model: type[Tsr | Csr], owned_fk: Any, text: str, include_inactive: bool,
               row: Any) -> list[dict[str, Any]]:
    """CSRs or TSRs by login; ``row(rep, count)`` builds a row from the rep and how many
    rows point at it through ``owned_fk`` (Customer.csr, Server.tsr)."""
    q = model.select().order_by(model.login)
    if not include_inactive:
        q = q.where(model.active == True)  # noqa: E712
    owned = owned_fk.model
    counts = dict(owned.select(owned_fk, fn.COUNT(owned.id))
                  .where(owned_fk.is_null(False)).group_by(owned_fk).tuples())
    rows = [row(r, counts.get(r.id, 0)) for r in q]
    return [r for r in rows if _matches(r, text)]


def list_csrs(*, text: str = "", include_inactive: bool = True) -> list[dict[str, Any]]:
    return _list_reps(Csr, Customer.csr, text, include_inactive,
                      lambda c, n: dict(csr_dict(c), customers=n))


def list_tsrs(*, text: str = "", include_inactive: bool = True) -> list[dict[str, Any]]:
    return _list_reps(Tsr, Server.tsr, text, include_inactive,
                      lambda t, n: dict(tsr_dict(t), servers=n, role=tsr_role_label(t.level)))


def tsr_role_label(level: int) -> str:
    return ("service" if level == SERVICE_LEVEL else "TSR3" if level >= 3
            else f"TSR{level}")


def add_service(user: User, *, login: str, name: str = "", email: str = "") -> Tsr:
    """The nightly job's service account: a tsrs row at level 0 (SERVICE_LEVEL), which may
    ingest, fetch, run the nightly job and re-parse, and nothing else (no acknowledgements,
    exceptions, snoozes or management). Its MariaDB account gets the acorn_ingest role
    (`--create-account`). A TSR3 adds it; audited as ``service.add``."""
    user.require("manage")
    if not str(login or "").strip():
        raise ManageInputError("login", "must not be empty")
    with database_proxy.obj.atomic():
        given = {"login": login, "email": email}
        if name:
            given["name"] = name
        data = _rep_values(given, Tsr, None)
        data.setdefault("name", "nightly job service account")
        r = Tsr.create(level=SERVICE_LEVEL, **data)
        audit.record("service.add", user.login, table="tsrs", row_id=r.id,
                     details=f"service account {r.login} (ingest only)", after=tsr_dict(r))
    return r


def list_services(*, include_inactive: bool = True) -> list[dict[str, Any]]:
    return [r for r in list_tsrs(include_inactive=include_inactive)
            if r["level"] == SERVICE_LEVEL]


# -- the audit trail, read side -------------------------------------------------------------

def audit_rows(*, server_id: int | None = None, login: str | None = None,
               action: str | None = None, since: Any = None, text: str = "",
               limit: int = 200) -> list[dict[str, Any]]:
    """Newest first. ``action`` matches exactly or as a prefix (``exception`` -> exception.*)."""
    q = Update.select().order_by(Update.at.desc(), Update.id.desc())
    if server_id is not None:
        q = q.where(Update.server == server_id)
    if login:
        q = q.where(Update.login == login)
    if action:
        q = q.where((Update.action == action) | Update.action.startswith(action + "."))
    if since is not None:
        q = q.where(Update.at >= since)
    t = (text or "").strip().lower()
    labels = {s.id: f"{s.customer.name}/{s.name}"
              for s in Server.select(Server, Customer).join(Customer)}
    out: list[dict[str, Any]] = []
    for u in q.iterator() if t else q.limit(limit):
        row = {"id": u.id, "at": u.at, "login": u.login, "action": u.action,
               "table": u.table_name, "row_id": u.row_id,
               "server": labels.get(u.server_id, ""), "result_id": u.result_id,
               "details": u.details, "before": u.before, "after": u.after}
        if t and not _matches(row, t):
            continue
        out.append(row)
        if len(out) >= limit:
            break
    return out


__all__ = [
    "ManageInputError", "NotFound", "Removal", "TSR3",
    "validate_name", "validate_login", "validate_email", "validate_level", "validate_host",
    "validate_text", "validate_lines", "split_lines",
    "add_customer", "edit_customer", "remove_customer", "list_customers", "get_customer",
    "add_server", "edit_server", "remove_server", "list_servers", "get_server",
    "add_csr", "edit_csr", "remove_csr", "list_csrs",
    "add_tsr", "edit_tsr", "remove_tsr", "list_tsrs", "add_service", "list_services",
    "tsr_role_label",
    "audit_rows", "customer_dict", "server_dict", "csr_dict", "tsr_dict",
    "CUSTOMER_FIELDS", "SERVER_FIELDS", "CSR_FIELDS", "TSR_FIELDS",
]
