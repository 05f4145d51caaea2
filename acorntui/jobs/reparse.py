"""Re-parse one server's log and replace that night's result (CLI and console key)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paramiko

from acorntui import fetch
from acorntui.config import Config
from acorntui.db.models import Customer, Result, Server, database_proxy
from acorntui.services import audit
from acorntui.services.ingest import Ingestor, Outcome, current_night, night_of
from acorntui.services.ingest import result_summary as _summary
from acorntui.services.roles import User, acting_user


@dataclass
class ReparseOutcome(Outcome):
    source: str = ""  # which copy was read: fetched, identical spool copy, spool only


class ReparseError(Exception):
    """The log could not be fetched or read; nothing was changed."""


def reparse_server(cfg: Config, customer: str, server: str, *, night: dt.date | None = None,
                   user: User | None = None,
                   client_factory: Callable[[], paramiko.SSHClient] | None = None,
                   now: dt.datetime | None = None) -> ReparseOutcome:
    """Fetch ``customer/server``'s log (or re-read the spool copy when no report server is
    configured), parse it and replace the result of its night (or of ``night``).

    Needs the 'reparse' role. Writes ``result.reparse`` to the audit trail. The Outcome's
    ``error`` says what went wrong (action 'error'); ``path`` says which copy was read.
    Raises PermissionDenied, ReparseError.
    """
    user = acting_user("reparse", user)
    rel = f"{customer}/{server}.out"
    for part in (customer, server):
        why = fetch.unsafe_name(part)
        if why:
            raise ReparseError(f"{fetch.printable(part)!r} is not a valid name: {why}")
    source = ""
    if cfg.report_servers:
        path, report = fetch.fetch_one(cfg, customer, server, client_factory=client_factory)
        if path is None:
            problems = [p for p in report.problems() if "skipped unsafe" not in p]
            if not problems:
                names = ", ".join(s.name for s in report.servers)
                problems = [f"{rel} is not on the report server(s) {names}"]
            raise ReparseError("cannot fetch the log: " + "; ".join(problems))
        srv = next(s for s in report.servers if rel in s.remote)
        source = (f"fetched from {srv.name}" if rel in srv.fetched
                  else f"spool copy, identical to the one on {srv.name}")
    else:
        path = Path(cfg.spool_dir) / rel
        if not path.is_file():
            raise ReparseError(f"no report server is configured and the spool has no {path}")
        source = "no report server configured: re-read the spool copy"

    ing = Ingestor(now=now, max_age_hours=cfg.max_age_hours,
                   cutoff_hours=cfg.night_cutoff_hours,
                   future_tolerance_hours=cfg.future_tolerance_hours, user=user,
                   anomaly=cfg.anomaly)
    db = database_proxy.obj
    with db.atomic():
        before = _snapshot(customer, server, night) if night is not None else None
        if night is None:
            # the night comes from the log (its mtime, or tonight when stale): keep what the
            # candidates' results were, for the audit trail
            mtime = dt.datetime.fromtimestamp(path.stat().st_mtime)
            candidates = {night_of(mtime, cfg.night_cutoff_hours),
                          current_night(ing.now, cfg.night_cutoff_hours)}
            snapshots = {n: _snapshot(customer, server, n) for n in candidates}
        # force: replace even when the log is the same, so a parser fix reaches old results;
        # the audit row is ours (result.reparse), not ingest's
        out = ing.ingest_file(path, customer=customer, server=server, night=night, force=True,
                              audit_action=None, in_spool=True)  # no link out of the spool
        if out.action == "error":
            raise ReparseError(out.error)
        if night is None:
            before = snapshots.get(out.night) if out.night is not None else None
        res = Result.get_by_id(out.result_id)
        from acorntui.services.anomaly import mark_night

        if mark_night(res.night, cfg.anomaly, [res.server_id]).changed:  # that server only
            res = Result.get_by_id(out.result_id)
        audit.record("result.reparse", user.login, table="results", row_id=res.id,
                     server=res.server, result=res,
                     details=f"{customer}/{server} night {out.night}: re-parsed ({source})",
                     before=before, after=_summary(res))
    return ReparseOutcome(**{**out.__dict__, "action": "reparsed"}, source=source)


def _find(customer: str, server: str, night: dt.date) -> Result | None:
    return (Result.select(Result).join(Server).join(Customer)
            .where((Customer.name == customer) & (Server.name == server)
                   & (Result.night == night)).first())


def _snapshot(customer: str, server: str, night: dt.date) -> dict | None:
    res = _find(customer, server, night)
    return _summary(res) if res is not None else None
