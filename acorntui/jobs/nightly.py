"""The nightly job: fetch every log, ingest the spool, mail the daily reports.

A failed pull is not a failed backup: a server whose log could not be fetched gets
``fetch_failed`` with the reason, never ``missing`` or ``stale``. To make that so, a spool copy
that is not fresh (older than the age rule) is not ingested when its fetch failed this run,
or when it belongs to no report server that answered; after ingesting, such servers have no
result for the night and :func:`acorntui.services.ingest.record_fetch_failed` says why.

The job records results, so its account needs the 'ingest' role: a TSR row for its login
(docs/nightly-job.md). It is checked before anything is fetched.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from acorntui import fetch
from acorntui.config import Config
from acorntui.core.refs import split_rel
from acorntui.services.ingest import (
    BatchReport,
    Ingestor,
    Outcome,
    SpoolListing,
    current_night,
    list_spool,
    record_fetch_failed,
)
from acorntui.services.roles import User, acting_user


@dataclass
class NightlyRun:
    night: dt.date
    pull: fetch.PullReport | None = None
    batch: BatchReport | None = None
    fetch_failed: dict[str, str] = field(default_factory=dict)  # customer/server -> reason
    mail: str = ""  # sent | mail not configured | mail module missing | mail problems
    mail_sent: int = 0  # messages the SMTP server took
    backups: dict[str, int] = field(default_factory=dict)  # shown status -> servers, the night
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    today: dt.date = dt.date.min  # the run's date (monthly customer reports go on the 1st)

    @property
    def ok(self) -> bool:
        return not self.problems

    def job_state(self) -> str:
        """How the job's own steps went: ``job ok (fetch 121, ingest 121, mail 17 sent)``."""
        steps = []
        steps.append(f"fetch {self.pull.fetched}" if self.pull is not None else "no fetch")
        if self.batch is not None:
            steps.append(f"ingest {len(self.batch.outcomes)}")
        if self.mail == "sent":
            steps.append(f"mail {self.mail_sent} sent")
        elif self.mail:
            steps.append(f"mail: {self.mail}")
        head = ("job ok" if self.ok else
                f"job: {len(self.problems)} problem{'' if len(self.problems) == 1 else 's'}")
        return f"{head} ({', '.join(steps)})"

    def backup_state(self) -> str:
        """How the customers' backups went on the night (the daily report's counts)."""
        from acorntui.core.status import FAILED, FETCH_FAILED, GOOD_STATUSES, INCOMPLETE

        c = self.backups
        total = sum(c.values())
        if not total:
            return "backups: no servers"
        parts = [f"{c.get(FAILED, 0)} failed" if c.get(FAILED) else "",
                 f"{c.get(INCOMPLETE, 0) + c.get('no_data', 0)} incomplete"
                 if c.get(INCOMPLETE) or c.get("no_data") else "",
                 f"{c.get(FETCH_FAILED, 0)} not fetched" if c.get(FETCH_FAILED) else "",
                 f"{c['snoozed']} bad but snoozed" if c.get("snoozed") else ""]
        parts = [p for p in parts if p]
        good = sum(c.get(s, 0) for s in GOOD_STATUSES)
        if not [p for p in parts if "snoozed" not in p]:
            return f"backups: all {good} ok" + (f" ({parts[0]})" if parts else "")
        return "backups: " + ", ".join(parts)

    def summary(self) -> list[str]:
        lines = [f"nightly {self.night}: {self.job_state()}; {self.backup_state()}"]
        if self.pull is not None:
            for s in self.pull.servers:
                lines.append(f"fetch {s.summary()}")
        lines.extend(self.notes)
        if self.batch is not None:
            counts: dict[str, int] = {}
            for o in self.batch.outcomes:
                if o.status:
                    counts[o.status] = counts.get(o.status, 0) + 1
            status = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
            lines.append(f"ingest: {self.batch.summary()}" + (f" ({status})" if status else ""))
        if self.fetch_failed:
            lines.append(f"fetch_failed recorded for {len(self.fetch_failed)} server(s)")
        lines.append(f"mail: {self.mail}")
        for p in self.problems[:50]:
            lines.append(f"problem: {p}")
        if len(self.problems) > 50:
            lines.append(f"... and {len(self.problems) - 50} more problems")
        return lines


def run_fetch(cfg: Config, *, user: User | None = None, **kwargs) -> fetch.PullReport:
    """`acorntui fetch`: pull the report servers into the spool. Fills the spool that ingest
    and the nightly job record from, so it needs the same 'ingest' role (PermissionDenied).
    ``kwargs`` go to :func:`acorntui.fetch.pull`."""
    acting_user("ingest", user)
    return fetch.pull(cfg, **kwargs)


def _fresh(path: Path, now: dt.datetime, max_age_hours: float) -> bool:
    if max_age_hours <= 0:
        return True
    try:
        mtime = dt.datetime.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return False
    return now - mtime <= dt.timedelta(hours=max_age_hours)


def run_nightly(cfg: Config, *, now: dt.datetime | None = None,
                client_factory: Callable[[], paramiko.SSHClient] | None = None,
                fetch_progress: fetch.Progress | None = None,
                ingest_progress: Callable[[Outcome], None] | None = None,
                send_mail: bool = True, user: User | None = None) -> NightlyRun:
    """Fetch, ingest, mail. The database must be connected. Database errors propagate.

    ``user`` (default: the kernel login) needs the 'ingest' role: PermissionDenied before
    anything is fetched otherwise.
    """
    user = acting_user("ingest", user)
    started = time.monotonic()
    now = (now.astimezone().replace(tzinfo=None) if now and now.tzinfo else now) \
        or dt.datetime.now()
    run = NightlyRun(night=current_night(now, cfg.night_cutoff_hours), today=now.date())
    spool = Path(cfg.spool_dir)

    # 1. fetch
    if cfg.report_servers:
        run.pull = fetch.pull(cfg, client_factory=client_factory, progress=fetch_progress,
                              notify=run.notes.append)
        run.problems.extend(run.pull.problems())
    else:
        run.notes.append(f"no report server configured: ingesting the spool {spool} as it is")

    # 2. which spool copies to ingest
    # refused entries (symlinks, FIFOs, an unreadable customer folder) are reported by name
    # with the batch; the rest of the spool, the missing pass and the mails still run
    listing = list_spool(spool) if spool.is_dir() else SpoolListing()
    files = listing.files
    failed_files: dict[str, str] = {}
    down: list[fetch.ServerPull] = []
    listed_ok: set[str] = set()
    if run.pull is not None:
        failed_files = run.pull.failed_files
        down = run.pull.down
        for s in run.pull.servers:
            if not s.error:
                listed_ok |= s.remote
    keep = []
    for f in files:
        rel = f"{f.parent.name}/{f.name}"
        doubtful = rel in failed_files or (down and rel not in listed_ok)
        if doubtful and not _fresh(f, now, cfg.max_age_hours):
            continue  # an old copy would say "stale"; the truth is that we could not fetch
        keep.append(f)

    # 3. ingest
    ing = Ingestor(now=now, max_age_hours=cfg.max_age_hours,
                   cutoff_hours=cfg.night_cutoff_hours,
                   future_tolerance_hours=cfg.future_tolerance_hours, user=user,
                   anomaly=cfg.anomaly)
    run.batch = ing.ingest_paths(keep, mark_missing=True, progress=ingest_progress,
                                 in_spool=True, skipped=listing.skipped)
    for o in run.batch.errors:
        where = f"{o.customer}/{o.server}" if o.server else o.customer or o.path
        run.problems.append(f"ingest {where}: {o.error}")

    # 4. fetch_failed instead of missing
    for rel, why in failed_files.items():
        cs = split_rel(rel)
        if cs and record_fetch_failed(cs[0], cs[1], run.night, why, ingestor=ing) is not None:
            run.fetch_failed[f"{cs[0]}/{cs[1]}"] = why
    if down:
        why = "; ".join(f"report server {s.name}: {s.error}" for s in down)
        for label in run.batch.missing:
            customer, _, server = label.partition("/")
            if f"{customer}/{server}.out" in listed_ok:
                continue
            if record_fetch_failed(customer, server, run.night, why,
                                   ingestor=ing) is not None:
                run.fetch_failed[label] = why

    # 4b. alerts (acorntui.alerts): anomalies, then chat/webhook notifications. A failing
    # target is a problem in the summary; it never stops the mails.
    _alerts(cfg, run)

    # 5. the night's backups, as the daily report counts them
    from acorntui.services.queries import nightly_rows, status_counts

    run.backups = status_counts(nightly_rows(run.night))

    # 6. mail
    if send_mail:
        _mail(cfg, run)
    else:
        run.mail = "not sent (--no-mail)"
    run.seconds = time.monotonic() - started
    return run


def _alerts(cfg: Config, run: NightlyRun) -> None:
    from acorntui.alerts.anomaly import mark_night
    from acorntui.alerts.notify import notify_night

    marked = mark_night(run.night, cfg.anomaly)
    if marked.flagged:
        run.notes.append(f"anomalies: {marked.flagged} good result(s) copied far less than "
                         "usual")
    if cfg.notify:
        report = notify_night(cfg, run.night)
        run.notes.append(f"notify: {report.summary()}")
        run.problems.extend(report.problems)


def _escalate(cfg: Config, run: NightlyRun) -> list[str]:
    """Copies of long-bad servers' daily entries to the TSR3s (once per night)."""
    from acorntui.reports.mail import send_escalations

    esc = send_escalations(cfg, run.night)
    run.mail_sent += len(esc.sent)
    if esc.sent:
        n = len(esc.sent)
        run.notes.append(f"escalation: {n} cop{'y' if n == 1 else 'ies'} of the daily entry "
                         f"mailed to the TSR3s ({', '.join(esc.sent[:10])}"
                         f"{', ...' if n > 10 else ''})")
    if esc.already:
        run.notes.append(f"escalation: {esc.already} already mailed to the TSR3s for this "
                         "night")
    run.notes.extend(esc.notes)
    return esc.problems


def _mail(cfg: Config, run: NightlyRun) -> None:
    if not cfg.mail.host:
        run.mail = "mail not configured"
        return
    try:
        from acorntui.reports.mail import deliver_daily_reports
    except ImportError as exc:
        run.mail = "mail module missing"
        run.problems.append(f"mail: cannot load acorntui.reports.mail ({exc})")
        return
    run.mail_sent, problems = deliver_daily_reports(cfg, run.night)
    problems = problems + _escalate(cfg, run)
    if run.today.day == 1 and cfg.mail.extra.get("monthly_customer_reports", False):
        from acorntui.reports.mail import send_previous_month

        n, more = send_previous_month(cfg, run.today)
        run.mail_sent += n
        problems = problems + more
    if problems:
        n = len(problems)
        run.mail = f"{n} problem{'' if n == 1 else 's'}"
        run.problems.extend(problems)
    else:
        run.mail = "sent"
