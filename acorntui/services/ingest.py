"""ParseResult -> results/failures rows. Idempotent, one transaction per file.

- The backup night of a log is the date of (mtime - cutoff hours), 12 h by default: a log
  written at 02:00 belongs to the night before.
- A stale log (older than max_age_hours) gives -2 (stale) for the *current* night, which is
  the date of (now - cutoff hours). So does a log dated later than now + future_tolerance_hours
  (-2, future: the writer's clock runs ahead), instead of a night that has not happened.
- The same file twice changes nothing (same sha256). A newer file for the same server and night
  replaces the result and its failures, and the replacement is written to `updates`.
- A log from an unknown customer or server is recorded; the server is created with
  registered=False so that it shows up instead of vanishing.
- Recording results needs the 'ingest' role (a TSR, or the nightly job's account as a TSR row):
  :class:`Ingestor` checks it when it is made, so every path that writes results (the CLI,
  the nightly job, reparse, fetch_failed) is refused for a CSR.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from acorntui.config import AnomalySettings
from acorntui.core.nights import current_night, local_from_epoch, night_of, now_local
from acorntui.core.parser import (
    MAX_FAILURES,
    ParseError,
    ParseResult,
    not_regular_error,
    parse_file,
)
from acorntui.core.refs import customer_server_from_path
from acorntui.core.status import (
    FETCH_FAILED,
    INCOMPLETE,
    REASON_FUTURE,
    REASON_MISSING,
    REASON_STALE,
    ExceptionRule,
    blocking_notes,
    compute_status,
    match_exception,
)
from acorntui.db.models import (
    Customer,
    Exception_,
    Failure,
    Result,
    Server,
    Update,
    database_proxy,
    utcnow,
)
from acorntui.services import audit
from acorntui.services.roles import User, acting_user


def load_rules() -> list[ExceptionRule]:
    """Every active exception (expiry is checked per night by the matcher)."""
    rules = []
    for e in Exception_.select().where(Exception_.active == True):  # noqa: E712
        rules.append(
            ExceptionRule(
                id=e.id, scope=e.scope, server_id=e.server_id, customer_id=e.customer_id,
                path_pattern=e.path_pattern, message_pattern=e.message_pattern or "",
                expires_at=e.expires_at, active=e.active,
            )
        )
    return rules


@dataclass
class Evaluation:
    flags: list[ExceptionRule | None]  # the exception covering each failure, or None
    notes: list[str]  # error lines of a 23 that name no recognised file
    excepted: int
    status: str
    reason: str


def evaluate(pr: ParseResult, rules: list[ExceptionRule], customer_id: int | None,
             server_id: int | None, on: dt.date) -> Evaluation:
    """Status of a parsed log under the exceptions: the one rule for ingest and `parse`.

    Error lines of a 23 that name no recognised file count as errors no exception can cover
    (status.blocking_notes); ingest stores them as failures without a path.

    Only the first ``MAX_FAILURES`` file errors of a log are kept (and matched); the ones past
    the cap are counted as NOT excepted, so a log with more file errors than that is never
    green (see :func:`status_of`).
    """
    flags = [match_exception(rules, customer_id, server_id, f.path, f.message, on=on)
             for f in pr.failures]
    excepted = sum(1 for r in flags if r is not None)
    notes = blocking_notes(pr.code, pr.unrecognised_errors)
    not_kept = pr.failures_not_kept
    status, reason = status_of(pr.code, pr.reason or "", len(pr.failures) + not_kept + len(notes),
                               excepted, len(notes), not_kept)
    return Evaluation(flags, notes, excepted, status, reason)


def status_of(code: int, reason: str, error_count: int, excepted: int, unrecognised: int,
              not_kept: int) -> tuple[str, str]:
    """compute_status, with the file errors past the cap (``not_kept``) counted in
    ``error_count`` and never excepted: nobody can see which files they name, so no exception
    can be said to cover them. A TSR who knows why a log holds that many errors fixes the
    cause (an exclude in the server's backup settings) or acknowledges the night; an
    exception alone cannot turn it green."""
    status, why = compute_status(code, reason, error_count, excepted, unrecognised)
    if not_kept and code == 23:
        why = f"{why}; {not_kept} past the first {MAX_FAILURES} not listed, never excepted"
    return status, why


@dataclass
class Outcome:
    path: str
    customer: str
    server: str
    night: dt.date | None = None
    action: str = ""  # created | replaced | unchanged | older | error
    status: str = ""
    reason: str = ""
    code: int | None = None
    error: str = ""
    result_id: int | None = None


@dataclass
class BatchReport:
    outcomes: list[Outcome] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    night: dt.date | None = None
    reevaluated: int = 0  # latest results re-evaluated because an exception expired
    anomalies: int = 0  # good results of the recorded nights that copied far less than usual

    @property
    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action == "error"]

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    def summary(self) -> str:
        parts = [f"{len(self.outcomes)} logs"]
        for a in ("created", "replaced", "unchanged", "older"):
            n = self.count(a)
            if n:
                parts.append(f"{n} {a}")
        if self.missing:
            parts.append(f"{len(self.missing)} missing")
        if self.errors:
            parts.append(f"{len(self.errors)} unreadable")
        if self.anomalies:
            parts.append(f"{self.anomalies} look wrong (far smaller than usual)")
        return ", ".join(parts)


class Ingestor:
    """Records parsed logs. Keeps lookups cached for a batch.

    ``user`` (default: the kernel login) must have the 'ingest' role; PermissionDenied
    otherwise, before anything is read or written. Audit rows name that user.
    """

    def __init__(
        self,
        *,
        now: dt.datetime | None = None,
        max_age_hours: float = 24.0,
        cutoff_hours: float = 12.0,
        future_tolerance_hours: float = 2.0,
        user: User | None = None,
        parse: Callable[..., ParseResult] = parse_file,
        anomaly: AnomalySettings | None = None,
        mark_anomalies: bool = True,
    ):
        self.user = acting_user("ingest", user)
        self.login = self.user.login
        self.now = now or now_local()
        self.max_age_hours = max_age_hours
        self.cutoff_hours = cutoff_hours
        self.future_tolerance_hours = future_tolerance_hours
        self._parse = parse
        self.anomaly = anomaly  # None: the config's [anomaly] (acorntui.services.anomaly)
        self.mark_anomalies = mark_anomalies  # False: only for the benchmark's reference run
        self.rules = load_rules()
        self._stmt_cache: dict = {}
        self._load_lookups()

    # -- lookups (cached per batch: one query per table, not per file) ---------------------
    def _load_lookups(self) -> None:
        self._customer_ids = {n: i for i, n in Customer.select(Customer.id, Customer.name)
                              .tuples()}
        self._server_ids = {(c, n): i for i, c, n in
                            Server.select(Server.id, Server.customer, Server.name).tuples()}
        self._night_cache: dict[dt.date, dict[int, tuple]] = {}

    def customer_id(self, name: str) -> int:
        cid = self._customer_ids.get(name)
        if cid is None:
            # the cache was loaded at start; a concurrent insert surfaces as IntegrityError,
            # which ingest_file answers by reloading the cache and retrying
            cid = self._insert(Customer, dict(name=name, display_name=name,
                                              notes="first seen in a stats.out log"))
            self._insert(Update, dict(login=self.login, action="customer.auto_add",
                                      table_name="customers", row_id=cid,
                                      details=f"customer {name!r} first seen in a log"))
            self._customer_ids[name] = cid
        return cid

    def server_id(self, customer: str, name: str) -> int:
        cid = self.customer_id(customer)
        sid = self._server_ids.get((cid, name))
        if sid is None:
            sid = self._insert(Server, dict(customer=cid, name=name, registered=False))
            self._insert(Update, dict(login=self.login, action="server.auto_add",
                                      table_name="servers", row_id=sid, server=sid,
                                      details=f"server {customer}/{name} first seen in a log; "
                                      "not registered"))
            self._server_ids[(cid, name)] = sid
        return sid

    def _existing(self, sid: int, night: dt.date) -> tuple | None:
        """(id, sha256, log_mtime, status, code, reason) of the server's result for the
        night, from a per-night cache loaded with one query."""
        cache = self._night_cache.get(night)
        if cache is None:
            cache = self._night_cache[night] = {
                srv: (rid, sha, mt, st, code, reason) for rid, srv, sha, mt, st, code, reason in
                Result.select(Result.id, Result.server, Result.log_sha256, Result.log_mtime,
                              Result.status, Result.code, Result.reason)
                .where(Result.night == night).tuples()}
        return cache.get(sid)

    def _insert(self, model, values: dict) -> int:
        """INSERT through a cached statement: peewee's SQL building costs more than SQLite's
        insert itself, and ingest does thousands of them. Python-side defaults are applied
        here because they are not in the DDL."""
        tmpl = self._stmt_cache.get(model)
        if tmpl is None:
            db = database_proxy.obj
            fields = [f for f in model._meta.sorted_fields if not f.primary_key]
            q0, q1 = db.quote
            cols = ", ".join(f"{q0}{f.column_name}{q1}" for f in fields)
            marks = ", ".join([db.param] * len(fields))
            sql = f"INSERT INTO {q0}{model._meta.table_name}{q1} ({cols}) VALUES ({marks})"
            tmpl = self._stmt_cache[model] = (sql, fields)
        sql, fields = tmpl
        params = []
        for f in fields:
            if f.name in values:
                v = values[f.name]
            else:
                v = f.default() if callable(f.default) else f.default
            params.append(f.db_value(v))
        cur = database_proxy.obj.execute_sql(sql, params)
        return cur.lastrowid

    # -- recording -----------------------------------------------------------------------
    def ingest_file(self, path: str | os.PathLike, *, customer: str | None = None,
                    server: str | None = None, night: dt.date | None = None,
                    force: bool = False, audit_action: str | None = "result.replace",
                    in_spool: bool = False) -> Outcome:
        """Parse and record one log. ``force`` replaces the night's result even when the log
        is the same (a re-parse); ``audit_action=None`` leaves auditing to the caller.

        ``in_spool``: the file was listed from a spool, so its folder (the customer folder)
        is opened without following a link and the file is read through it: a folder
        swapped for a symlink after the listing cannot point the read outside the spool."""
        p = Path(path)
        cname, sname = customer_server_from_path(p)
        cname, sname = customer or cname, server or sname
        out = Outcome(str(p), cname, sname)
        try:
            if in_spool:
                pr = self._parse_in_folder(p)
            else:
                pr = self._parse(p, now=_aware(self.now), max_age_hours=self.max_age_hours,
                                 future_tolerance_hours=self.future_tolerance_hours)
        except ParseError as exc:
            out.action, out.error = "error", str(exc)
            return out
        except Exception as exc:  # noqa: BLE001 - the batch goes on; the file is named
            out.action, out.error = "error", f"cannot parse {p}: {exc.__class__.__name__}: {exc}"
            return out
        from peewee import IntegrityError, InterfaceError, OperationalError

        from acorntui.services.roles import PermissionDenied

        for attempt in (1, 2):
            try:
                return self.record(pr, customer=cname, server=sname, night=night, out=out,
                                   force=force, audit_action=audit_action)
            except IntegrityError:
                # another ingest recorded the same server/night meanwhile: reload and retry
                self._load_lookups()
                if attempt == 2:
                    raise
            except (OperationalError, InterfaceError, PermissionDenied):
                # the database is in trouble, or refuses this account (team mode): every
                # other file would fail the same way; stop the batch, say so
                raise
            except Exception as exc:  # noqa: BLE001
                out.action, out.error = "error", f"cannot record {p}: {exc}"
                return out
        return out

    def _parse_in_folder(self, p: Path) -> ParseResult:
        try:
            dfd = os.open(p.parent, _DIR_FLAGS)
        except OSError as exc:
            # O_NOFOLLOW | O_DIRECTORY on a symlink: ELOOP, or ENOTDIR on Linux
            link = exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(p.parent)
            why = ("its folder is a symbolic link (not followed)" if link
                   else f"cannot open its folder: {exc.strerror or exc}")
            raise ParseError(f"cannot read stats file: {p}: {why}") from None
        try:
            return self._parse(p, now=_aware(self.now), max_age_hours=self.max_age_hours,
                               future_tolerance_hours=self.future_tolerance_hours, dir_fd=dfd)
        finally:
            os.close(dfd)

    def record(self, pr: ParseResult, *, customer: str, server: str,
               night: dt.date | None = None, out: Outcome | None = None,
               force: bool = False, audit_action: str | None = "result.replace") -> Outcome:
        out = out or Outcome(pr.path, customer, server)
        mtime = local_from_epoch(pr.mtime)
        if night is None:
            night = (current_night(self.now, self.cutoff_hours)
                     if pr.reason in (REASON_STALE, REASON_FUTURE)
                     else night_of(mtime, self.cutoff_hours))
        out.night = night
        db = database_proxy.obj
        with db.atomic():
            sid = self.server_id(customer, server)
            cid = self._customer_ids[customer]
            existing = self._existing(sid, night)
            if existing is not None and existing[1] == pr.sha256 and not force:
                out.action, out.result_id = "unchanged", existing[0]
                out.status, out.code, out.reason = existing[3], existing[4], existing[5]
                return out
            if existing is not None and existing[1] and existing[2] is not None \
                    and existing[2] > mtime and not force:
                out.action, out.result_id = "older", existing[0]
                out.status, out.code, out.reason = existing[3], existing[4], existing[5]
                return out
            ev = evaluate(pr, self.rules, cid, sid, night)
            flags, notes, excepted = ev.flags, ev.notes, ev.excepted
            status, reason = ev.status, ev.reason
            n_errors = len(pr.failures) + pr.failures_not_kept + len(notes)  # the true count
            st = pr.stats
            values = dict(
                code=pr.code, status=status, reason=reason, log_path=str(pr.path)[:1000],
                log_mtime=mtime, log_size=pr.size, log_sha256=pr.sha256, parsed_at=utcnow(),
                sent_bytes=_clamp(st.sent_bytes), received_bytes=_clamp(st.received_bytes),
                bytes_per_sec=st.bytes_per_sec, total_size=_clamp(st.total_size),
                speedup=st.speedup, error_count=n_errors, excepted_count=excepted,
                rsync_version=(pr.rsync_version or "")[:40],
                why_lines=why_json(pr), log_tail="\n".join(pr.tail_lines) or None,
                fetch_error=None,  # a real log replaces a failed fetch's error
            )
            if existing is None:
                rid = self._insert(Result, dict(server=sid, night=night, **values))
                out.action = "created"
            else:
                rid = existing[0]
                before = result_summary(Result.get_by_id(rid))
                Failure.delete().where(Failure.result == rid).execute()
                Result.update(**values).where(Result.id == rid).execute()
                out.action = "replaced"
                if audit_action:
                    audit.record(audit_action, self.login, table="results", row_id=rid,
                                 server=sid, result=rid,
                                 details=f"{customer}/{server} night {night}: result replaced "
                                 "by a newer log", before=before,
                                 after=result_summary(Result.get_by_id(rid)))
            if pr.failures or notes:
                rows = [
                    dict(result=rid, path=f.path, message=f.message[:4000], line=f.line,
                         kind=f.kind, excepted=rule is not None,
                         exception=rule.id if rule else None)
                    for f, rule in zip(pr.failures, flags, strict=True)
                ] + [
                    dict(result=rid, path="", message=text[:4000], line=_note_line(text),
                         kind="unrecognised", excepted=False, exception=None)
                    for text in notes
                ]
                for i in range(0, len(rows), 500):
                    Failure.insert_many(rows[i:i + 500]).execute()
        self._night_cache.setdefault(night, {})[sid] = (rid, pr.sha256, mtime, status, pr.code,
                                                        reason)
        out.status, out.reason, out.code, out.result_id = status, reason, pr.code, rid
        return out

    def ingest_paths(self, paths: Iterable[str | os.PathLike], *, mark_missing: bool | None = None,
                     progress: Callable[[Outcome], None] | None = None,
                     night: dt.date | None = None, in_spool: bool = False,
                     skipped: Iterable[Outcome] = ()) -> BatchReport:
        """Files, or spool folders laid out as <customer>/<server>.out.

        When a folder is given (or mark_missing=True), every active server with no result for
        the current night (or ``night``, which then also holds every file) afterwards gets -2
        (missing).

        In a spool folder only regular ``.out`` files in real (not symlinked) customer folders
        are read; anything else, and a customer folder that cannot be read, is reported by
        name as an ``error`` outcome and the batch goes on (:func:`list_spool`).
        ``in_spool=True`` says the files given were listed from a spool (the nightly job);
        ``skipped`` are that listing's refusals, reported with the batch.
        """
        batch_night = night or current_night(self.now, self.cutoff_hours)
        report = BatchReport(night=batch_night)
        any_dir = False

        def note(o: Outcome) -> None:
            report.outcomes.append(o)
            if progress:
                progress(o)

        for o in skipped:
            note(o)
        for item in paths:
            p = Path(item)
            spooled = in_spool
            if p.is_dir() and not p.name.endswith(".out"):
                any_dir = spooled = True
                listing = list_spool(p)
                for o in listing.skipped:
                    note(o)
                files = listing.files
            else:
                files = [p]
            for f in files:
                note(self.ingest_file(f, night=night, in_spool=spooled))
        if mark_missing or (mark_missing is None and any_dir):
            report.missing = self.record_missing(batch_night)
        report.reevaluated = reevaluate_expired(self.now.date())
        if self.mark_anomalies:
            report.anomalies = _mark_batch_anomalies(report, self.anomaly)
        return report

    def record_missing(self, night: dt.date) -> list[str]:
        """-2 (missing) for every active server that has no result for ``night``."""
        have = Result.select(Result.server).where(Result.night == night)
        q = (Server.select(Server, Customer).join(Customer)
             .where((Server.active == True) & (Customer.active == True)  # noqa: E712
                    & (Server.id.not_in(have))))
        labels = []
        with database_proxy.obj.atomic():
            for s in q.order_by(Server.id):
                # a concurrent ingest may mark (or record) the same server meanwhile: the
                # unique (server, night) keeps one row, and the loser skips it instead of
                # failing the batch (tests/test_reliability_ingest.py, missing race)
                n = (Result.insert(server=s, night=night, code=-2, status=INCOMPLETE,
                                   reason=REASON_MISSING, parsed_at=utcnow())
                     .on_conflict_ignore().as_rowcount().execute())
                if n:
                    labels.append(f"{s.customer.name}/{s.name}")
        return labels


def _mark_batch_anomalies(report: BatchReport, st: AnomalySettings | None) -> int:
    """The anomaly pass over every night this batch recorded results for (one query a night,
    every server of it): how many good results of those nights look wrong."""
    from acorntui.services.anomaly import mark_nights

    nights = {o.night for o in report.outcomes
              if o.action in ("created", "replaced") and o.night is not None}
    if report.missing and report.night is not None:
        nights.add(report.night)  # a missing night cannot be an anomaly; an earlier one may clear
    ap = mark_nights(nights, st)
    return ap.flagged if ap is not None else 0


def record_fetch_failed(customer: str, server: str, night: dt.date, message: str,
                        user: User | None = None, ingestor: Ingestor | None = None
                        ) -> Result | None:
    """Our own pull failed: say so, distinct from missing/stale/incomplete.

    Never overwrites a result that came from a real log. Needs the 'ingest' role.
    """
    ing = ingestor or Ingestor(user=user)
    with database_proxy.obj.atomic():
        s = ing.server_id(customer, server)
        existing = Result.get_or_none((Result.server == s) & (Result.night == night))
        reason = f"fetch failed: {message}"[:255]
        # the reason column is cut at 255; the console shows the whole error from here
        error = message[:MAX_FETCH_ERROR]
        if existing is not None and existing.log_sha256:
            return None
        if existing is not None:
            Result.update(code=-2, status=FETCH_FAILED, reason=reason, fetch_error=error,
                          parsed_at=utcnow()).where(Result.id == existing.id).execute()
            return Result.get_by_id(existing.id)
        return Result.create(server=s, night=night, code=-2, status=FETCH_FAILED, reason=reason,
                             fetch_error=error, parsed_at=utcnow())


MAX_FETCH_ERROR = 4000
_MAX_WHY_JSON = 32_000  # characters: well inside a MariaDB TEXT (64 KiB) in any script


def why_json(pr: ParseResult) -> str | None:
    """The parse's rsync error/warning lines as stored in ``results.why_lines``:
    ``{"count": N, "lines": [[line, kind, text], ...]}``, cut to fit the column (hostile
    lines full of escaped control characters grow in JSON)."""
    if not pr.why_count:
        return None
    lines = [[w.line, w.kind, w.text] for w in pr.why_lines]
    while True:
        text = json.dumps({"count": pr.why_count, "lines": lines}, ensure_ascii=False)
        if len(text) <= _MAX_WHY_JSON or not lines:
            return text
        k = len(lines) // 4  # keep the first and the last ones (the completion line)
        lines = lines[:k] + lines[len(lines) - k:] if k else []


_DIR_FLAGS = (os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
              | getattr(os, "O_CLOEXEC", 0))


@dataclass
class SpoolListing:
    files: list[Path] = field(default_factory=list)  # regular <customer>/<server>.out files
    skipped: list[Outcome] = field(default_factory=list)  # refused entries, as error outcomes


def list_spool(root: Path) -> SpoolListing:
    """`<customer>/<server>.out` files under a spool folder, sorted; dot (temp) names skipped.

    Nothing is followed or opened here (``lstat`` only): a customer folder that is a
    symlink, a ``.out`` that is a symlink, FIFO, device, socket or folder, and a customer
    folder that cannot be listed are each refused with their name and reason, and the rest
    of the spool is listed. The spool folder itself may be a symlink (it is configured).
    """
    out = SpoolListing()

    def refuse(path: str, customer: str, server: str, why: str) -> None:
        out.skipped.append(Outcome(path, customer, server, action="error", error=why))

    try:
        customers = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        refuse(str(root), "", "", f"cannot read spool folder {root}: {exc.strerror or exc}")
        return out
    for cust in customers:
        if cust.name.startswith("."):
            continue
        try:
            if cust.is_symlink():
                refuse(cust.path, cust.name, "",
                       f"customer folder {cust.path} is a symbolic link: not followed")
                continue
            if not cust.is_dir(follow_symlinks=False):
                continue  # a stray file next to the customer folders is no log
            entries = sorted(os.scandir(cust.path), key=lambda e: e.name)
        except OSError as exc:
            refuse(cust.path, cust.name, "",
                   f"cannot read customer folder {cust.path}: {exc.strerror or exc}")
            continue
        for f in entries:
            if not f.name.endswith(".out") or f.name.startswith("."):
                continue
            try:
                mode = f.stat(follow_symlinks=False).st_mode
            except OSError as exc:
                refuse(f.path, cust.name, f.name[:-4],
                       f"cannot read stats file: {f.path}: {exc.strerror or exc}")
                continue
            if not stat.S_ISREG(mode):
                refuse(f.path, cust.name, f.name[:-4], not_regular_error(f.path, mode))
                continue
            out.files.append(Path(f.path))
    return out


def iter_spool(root: Path) -> Iterable[Path]:
    """The regular log files of :func:`list_spool` (refusals dropped)."""
    return iter(list_spool(root).files)


def _note_line(text: str) -> int:
    """The line number a parser note starts with (``line 12: ...``), else 0."""
    head = text[5:].split(":", 1)[0] if text.startswith("line ") else ""
    return int(head) if head.isdigit() else 0


def _clamp(n: int | None) -> int | None:
    """Keep absurd numbers from a hostile log inside BIGINT."""
    if n is None:
        return None
    return max(min(n, 2**63 - 1), -(2**63))


def result_summary(r: Result) -> dict:
    return {
        "code": r.code, "status": r.status, "reason": r.reason, "sha256": r.log_sha256,
        "log_mtime": r.log_mtime, "errors": r.error_count, "excepted": r.excepted_count,
    }


def _aware(now: dt.datetime) -> dt.datetime:
    return now if now.tzinfo else now.astimezone()


# -- re-evaluation ---------------------------------------------------------------------------

def reevaluate(
    *,
    server_ids: Iterable[int] | None = None,
    customer_ids: Iterable[int] | None = None,
    all_nights: bool = False,
    since: dt.date | None = None,
    today: dt.date | None = None,
) -> int:
    """Recompute excepted flags and status from stored failures, without reading logs.

    Affects code-23 results of the given servers/customers (all servers when both are None):
    the latest night of each server, or every night with all_nights, or nights >= since.
    Returns how many results changed status or excepted count.
    """
    rules = load_rules()
    q = (Result.select(Result.id, Result.server, Result.night, Result.code, Result.reason,
                       Result.status, Result.excepted_count, Result.error_count, Server.customer)
         .join(Server).where((Result.code == 23) & (Result.error_count > 0)))
    if server_ids is not None or customer_ids is not None:
        cond = None
        if server_ids is not None:
            cond = Server.id.in_(list(server_ids))
        if customer_ids is not None:
            c2 = Server.customer.in_(list(customer_ids))
            cond = c2 if cond is None else (cond | c2)
        q = q.where(cond)
    if since is not None:
        q = q.where(Result.night >= since)
    elif not all_nights:
        from peewee import fn

        R2 = Result.alias()
        latest = (R2.select(fn.MAX(R2.night)).where(R2.server == Result.server))
        q = q.where(Result.night == latest)
    changed = 0
    touched: dict[dt.date, list[int]] = {}  # night -> servers whose status changed
    results = list(q.tuples())
    today = today or dt.date.today()
    for rid, sid, night, code, reason, status, old_excepted, errors, cid in results:
        with database_proxy.obj.atomic():
            fails = list(Failure.select().where(Failure.result == rid))
            excepted = 0
            for f in fails:
                rule = match_exception(rules, cid, sid, f.path, f.message, on=max(night, today))
                new_exc = rule.id if rule else None
                if f.excepted != (rule is not None) or f.exception_id != new_exc:
                    Failure.update(excepted=rule is not None, exception=new_exc).where(
                        Failure.id == f.id).execute()
                excepted += rule is not None
            unrec = sum(1 for f in fails if f.kind == "unrecognised")
            # errors past the cap were counted at ingest but not stored: still not excepted
            not_kept = max(0, (errors or 0) - len(fails))
            new_status, new_reason = status_of(code, reason, len(fails) + not_kept, excepted,
                                               unrec, not_kept)
            if new_status != status or excepted != old_excepted or new_reason != reason:
                Result.update(status=new_status, reason=new_reason, excepted_count=excepted,
                              error_count=len(fails) + not_kept).where(Result.id == rid).execute()
                changed += 1
                if new_status != status:
                    touched.setdefault(night, []).append(sid)
    if touched:  # ok* <-> failed: the result may now be (or no longer be) a good one that
        from acorntui.services.anomaly import mark_nights  # copied far less than usual

        mark_nights(touched, server_ids=touched)
    return changed


def reevaluate_expired(today: dt.date | None = None) -> int:
    """An exception that expired stops covering files: re-evaluate the latest result of every
    server whose failures it still marks as excepted. Run by every ingest (and so nightly)."""
    today = today or dt.date.today()
    expired = Exception_.select(Exception_.id).where(
        Exception_.expires_at.is_null(False) & (Exception_.expires_at < today))
    sids = {sid for (sid,) in Result.select(Result.server).join(Failure)
            .where(Failure.exception.in_(expired) & (Failure.excepted == True))  # noqa: E712
            .distinct().tuples()}
    if not sids:
        return 0
    return reevaluate(server_ids=sorted(sids), today=today)
