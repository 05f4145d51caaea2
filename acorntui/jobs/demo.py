"""A realistic demo database, built through the real parser and ingest. No Textual.

Logs are written in the formats real rsync writes (cwRsync 3.0.9 with the cygwin preamble and
CRLF for Windows servers, rsync 3.2.7 with `[sender]` roles and grouped numbers for Linux),
given the mtime a scheduled task would leave (02:00-06:00 the morning after the night), and
recorded with ``Ingestor(now=that morning).ingest_file(path)``: what the console shows is what
the parser and the status rules made of them.

The situations a TSR meets are all there: locked PST and QuickBooks files (some covered by
exceptions), vanished temp files, connection drops, a stale log, a missing log, a fetch that
failed, a custbak outage hitting a dozen servers on the last night, a three-night failure
streak, a snoozed server, a server first seen through its log, acknowledgements and notes.

A seeded generator makes the demo reproducible; ``today`` defaults to the real today, so the
latest night is last night (tests pass a fixed ``today`` so snapshots do not follow the
calendar).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_SERVERS = 120
DEFAULT_DAYS = 60
DEFAULT_SEED = 1977
FORMAT_VERSION = 4  # bump when the generator changes, so old demo files are rebuilt

_CUSTOMER_A = ["acme", "birch", "cedar", "delta", "elm", "falcon", "granite", "harbor", "iris",
               "juniper", "kestrel", "lakeside", "maple", "northgate", "oakridge", "pinecrest",
               "quarry", "redwood", "summit", "tamarack", "union", "valley", "willow", "yarrow",
               "zephyr", "aspen", "bayview", "coral", "dunmore", "everest"]
_CUSTOMER_B = ["dental", "law", "clinic", "realty", "cpa", "motors", "vet", "church", "school",
               "supply", "insurance", "builders", "pharmacy", "design", "logistics", "foods"]
_TSRS = [("Maria Kowalski", "mkowalski", 3), ("Dev Patel", "dpatel", 2),
         ("Sam Okafor", "sokafor", 1), ("Lena Brandt", "lbrandt", 2), ("Tom Reyes", "treyes", 1)]
_CSRS = [("Jo Whitfield", "jwhitfield"), ("Ana Lima", "alima"), ("Chris Dunn", "cdunn")]
_CUSTBAKS = ["custbak01", "custbak02", "custbak03", "custbak04", "custbak05", "custbak06"]

_WIN_ROLES = [("DC01", "domain controller", "dc"), ("FS01", "file server", "file"),
              ("EXCH01", "Exchange 2010", "exchange"), ("SQL01", "SQL Server 2008 R2", "sql"),
              ("QB01", "QuickBooks host", "file"), ("TS01", "terminal server", "ts"),
              ("APP01", "line-of-business app", "app"), ("FS02", "file server (scans)", "file")]
_LINUX_ROLES = [("web01", "web server", "web"), ("files", "Samba file server", "file"),
                ("db01", "PostgreSQL", "sql")]
_WIN_OS = ["Windows Server 2003", "Windows Server 2008 R2", "Windows Server 2012 R2",
           "Windows Small Business Server 2011"]
_LINUX_OS = ["Debian 12", "Ubuntu 22.04"]

CYGWIN_PREAMBLE = (
    "cygwin warning:\n"
    "  MS-DOS style path detected: C:\\Program Files\\cwRsync\\home\\backup/.ssh/known_hosts\n"
    "  Preferred POSIX equivalent is: /cygdrive/c/Program Files/cwRsync/home/backup/.ssh/"
    "known_hosts\n"
    "  CYGWIN environment variable option \"nodosfilewarning\" turns off this warning.\n"
    "  Consult the user's guide for more details about POSIX paths:\n"
    "    http://cygwin.com/cygwin-ug-net/using.html#using-pathnames\n"
)


@dataclass
class DemoServer:
    customer: str
    name: str
    windows: bool
    os: str
    role: str
    description: str
    custbak: str
    base_size: int
    growth: float
    churn: float  # share of the data sent each night
    pst: str = ""  # a PST that is open all day (locked at night)
    pst_covered: bool = False
    quickbooks: str = ""  # a QuickBooks file someone sometimes leaves open
    qb_covered: bool = False
    flaky: float = 0.004  # chance of a connection drop on a night
    odd_name: str = ""  # a file name holding markup/escape characters
    scenario: str = ""  # streak | stale | missing | fetch | snoozed
    id: int = 0

    @property
    def root(self) -> str:
        return "/cygdrive/E/shares" if self.windows else "/srv"


@dataclass
class DemoInfo:
    path: str
    servers: int
    days: int
    seed: int
    today: str
    built_on: str
    format: int = FORMAT_VERSION
    logs: int = 0
    seconds: float = 0.0
    nights: list[str] = field(default_factory=list)

    def same_build(self, other: DemoInfo) -> bool:
        return (self.servers, self.days, self.seed, self.today, self.format) == (
            other.servers, other.days, other.seed, other.today, other.format)


class NotADemoDatabase(ValueError):
    """The demo was pointed at a file it did not build: it never replaces such a file."""


def default_demo_path() -> Path:
    from acorntui.config import data_dir

    return data_dir() / "demo.db"


def _info_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".json")


def read_info(db_path: Path) -> DemoInfo | None:
    try:
        data = json.loads(_info_path(db_path).read_text())
        return DemoInfo(**data)
    except (OSError, ValueError, TypeError):
        return None


def ensure_demo(db_path: str | os.PathLike | None = None, *, servers: int = DEFAULT_SERVERS,
                days: int = DEFAULT_DAYS, seed: int = DEFAULT_SEED,
                today: dt.date | None = None, rebuild: bool = False,
                progress: Callable[[str], None] | None = None) -> tuple[DemoInfo, bool]:
    """Reuse the demo database when it was built today with the same parameters, else build.

    Returns (info, built). The database is left connected (``db.database_proxy``).
    """
    from acorntui import db as dbpkg

    path = Path(db_path) if db_path else default_demo_path()
    today = today or dt.date.today()
    want = DemoInfo(str(path), servers, days, seed, today.isoformat(), dt.date.today().isoformat())
    have = read_info(path)
    if have is None and path.exists():
        # a database the demo did not build (no demo stamp beside it): someone's real data
        raise NotADemoDatabase(
            f"demo: {path} exists and is not a demo database (no {_info_path(path).name} "
            "beside it); the demo never replaces a database it did not build: give --db a "
            "new file, or leave --db out to use the demo's own file")
    if not rebuild and have is not None and path.exists() and have.same_build(want):
        dbpkg.connect(f"sqlite:///{path}")
        return have, False
    info = build_demo(path, servers=servers, days=days, seed=seed, today=today,
                      spool=spool_path(path), progress=progress)
    return info, True


def spool_path(db_path: Path) -> Path:
    """Where a demo keeps its logs (the console's `r` re-reads them: no report server)."""
    return db_path.with_name(db_path.name + "-spool")


def _remove_db(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
              _info_path(path)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def build_demo(db_path: str | os.PathLike, *, servers: int = DEFAULT_SERVERS,
               days: int = DEFAULT_DAYS, seed: int = DEFAULT_SEED,
               today: dt.date | None = None, spool: str | os.PathLike | None = None,
               progress: Callable[[str], None] | None = None) -> DemoInfo:
    """Build a fresh demo SQLite database at ``db_path`` (replacing it). Left connected."""
    import time

    from acorntui import db as dbpkg

    t0 = time.perf_counter()
    path = Path(db_path)
    # often the user data folder, made here on a first `acorntui demo`: 0750, as for the database
    from acorntui.config import make_private_dir

    make_private_dir(path.parent)
    today = today or dt.date.today()
    if servers < 1 or days < 1:
        raise ValueError("servers and days must be at least 1")
    _remove_db(path)
    database = dbpkg.connect(f"sqlite:///{path}")
    dbpkg.init_schema(database)
    rng = random.Random(seed)
    nights = [today - dt.timedelta(days=d) for d in range(days, 0, -1)]
    plan = _plan(rng, servers)
    own_spool = spool is None
    if spool is not None:
        shutil.rmtree(spool, ignore_errors=True)
    spool_dir = Path(spool) if spool else Path(tempfile.mkdtemp(prefix="acorn-demo-spool-"))
    try:
        _people_and_servers(rng, plan, nights[0])
        logs = _run_nights(rng, plan, nights, spool_dir, progress)
        _notes_and_snoozes(plan, nights, today)
    finally:
        if own_spool:
            shutil.rmtree(spool_dir, ignore_errors=True)
    info = DemoInfo(str(path), servers, days, seed, today.isoformat(),
                    dt.date.today().isoformat(), logs=logs,
                    seconds=round(time.perf_counter() - t0, 2),
                    nights=[nights[0].isoformat(), nights[-1].isoformat()])
    _info_path(path).write_text(json.dumps(asdict(info), indent=1))
    return info


# -- the plan: customers, servers and what happens to them ----------------------------------

def _plan(rng: random.Random, n_servers: int) -> list[DemoServer]:
    n_customers = max(1, min(len(_CUSTOMER_A), round(n_servers / 4.8)))
    names: list[str] = []
    for a in rng.sample(_CUSTOMER_A, n_customers):
        names.append(f"{a}-{rng.choice(_CUSTOMER_B)}")
    # every customer gets one server, the rest spread unevenly (a few big customers)
    counts = [1] * n_customers
    weights = [rng.choice([1, 1, 1, 2, 3, 5]) for _ in names]
    for _ in range(n_servers - n_customers):
        counts[rng.choices(range(n_customers), weights)[0]] += 1
    plan: list[DemoServer] = []
    big_custbak = _CUSTBAKS[2]  # the one that goes down on the last night
    quiet = [c for c in _CUSTBAKS if c != big_custbak]
    for cname, count in zip(names, counts, strict=True):
        linux_share = rng.choice([0.0, 0.0, 0.2, 0.5])
        custbak = rng.choice(quiet)
        used: set[str] = set()
        for i in range(count):
            windows = rng.random() >= linux_share
            pool = _WIN_ROLES if windows else _LINUX_ROLES
            name, desc, role = pool[i % len(pool)]
            while name in used:
                stem, num = name.rstrip("0123456789"), name[len(name.rstrip("0123456789")):]
                name = f"{stem}{int(num or '1') + 1:0{max(2, len(num))}d}"
            used.add(name)
            s = DemoServer(
                customer=cname, name=name, windows=windows,
                os=rng.choice(_WIN_OS if windows else _LINUX_OS), role=role, description=desc,
                custbak=custbak if rng.random() < 0.8 else rng.choice(quiet),
                base_size=int(rng.lognormvariate(23.5, 1.1)), growth=rng.uniform(0.0, 0.004),
                churn=rng.uniform(0.002, 0.04),
            )
            if windows and role in ("exchange", "file", "ts") and rng.random() < 0.6:
                user = rng.choice(["jsmith", "mgarcia", "office", "reception", "owner"])
                s.pst = f"{s.root}/Users/{user}/Outlook/{user}.pst"
            if windows and (role == "file" or name.startswith("QB")) and rng.random() < 0.35:
                s.quickbooks = f"{s.root}/QuickBooks/{cname.split('-')[0].title()} Company.QBW"
            s.flaky = rng.choice([0.002, 0.004, 0.004, 0.01, 0.03])
            plan.append(s)
    # one custbak carries a dozen servers (or all of them, for a small demo)
    for s in rng.sample(plan, min(len(plan), 12)):
        s.custbak = big_custbak
    # coverage: most PSTs have an exception (customer scope), some do not yet
    customers_covered = {c for c in names if rng.random() < 0.85}
    for s in plan:
        if s.pst:
            s.pst_covered = s.customer in customers_covered
        if s.quickbooks:
            s.qb_covered = rng.random() < 0.6
    # named scenarios on distinct servers (not on the outage custbak, so each stands out)
    named = [s for s in plan if s.custbak != big_custbak and s.windows] or plan
    rng.shuffle(named)
    for s, scenario in zip(named, ["streak", "stale", "missing", "fetch", "snoozed", "odd"],
                           strict=False):
        s.scenario = scenario
        if scenario == "odd":
            s.odd_name = f"{s.root}/Finance/[bold]Budget[/] 2024.xlsx"
    return plan


def _people_and_servers(rng: random.Random, plan: list[DemoServer], first_night: dt.date
                        ) -> None:
    from acorntui.core.status import SCOPE_CUSTOMER, SCOPE_GLOBAL, SCOPE_SERVER
    from acorntui.db.models import Csr, Customer, Exception_, Server, Tsr, database_proxy
    from acorntui.services.roles import current_login

    since = dt.datetime.combine(first_night - dt.timedelta(days=45), dt.time(9, 30))
    with database_proxy.obj.atomic():
        tsrs = [Tsr.create(name=n, login=lg, level=lv, email=f"{lg}@example.com")
                for n, lg, lv in _TSRS]
        me = current_login()
        if me not in {t.login for t in tsrs}:
            Tsr.create(name=f"{me} (you)", login=me, level=3, email="")
        csrs = [Csr.create(name=n, login=lg, email=f"{lg}@example.com") for n, lg in _CSRS]
        customers: dict[str, Customer] = {}
        for s in plan:
            if s.customer not in customers:
                c = Customer.create(
                    name=s.customer, display_name=s.customer.replace("-", " ").title(),
                    email=f"it@{s.customer}.example", csr=rng.choice(csrs), created=since)
                customers[s.customer] = c
            srv = Server.create(
                customer=customers[s.customer], name=s.name, description=s.description,
                os=s.os, role=s.role, custbak=s.custbak, tsr=rng.choice(tsrs), created=since,
                shares="E:\\shares" if s.windows else "/srv",
                excludes="*.tmp\n~$*" if s.windows else "/srv/tmp",
            )
            s.id = srv.id
        methods = {"pst": "Hobocopy (VSS) nightly to E:\\vss", "qb": "QuickBooks scheduled backup"}
        added: set[str] = set()
        for s in plan:
            c = customers[s.customer]
            if s.pst and s.pst_covered and s.customer not in added:
                added.add(s.customer)
                Exception_.create(scope=SCOPE_CUSTOMER, customer=c, path_pattern="*/Outlook/*.pst",
                                  reason="Outlook keeps the PST open; copied through VSS",
                                  method=methods["pst"], created_by="mkowalski", created_at=since)
            if s.quickbooks and s.qb_covered:
                Exception_.create(scope=SCOPE_SERVER, server=s.id,
                                  path_pattern=s.quickbooks.rsplit("/", 1)[1],
                                  reason="Left open by the bookkeeper; QB backs itself up",
                                  method=methods["qb"], created_by="dpatel", created_at=since)
        Exception_.create(scope=SCOPE_GLOBAL, path_pattern="*/~tmp*.tmp",
                          reason="Temp files that vanish while the backup runs", method="",
                          created_by="mkowalski", created_at=since)
        Exception_.create(scope=SCOPE_GLOBAL, path_pattern="*/pagefile.sys",
                          reason="Windows swap file; never worth backing up", method="",
                          created_by="mkowalski", created_at=since)
        # a stale one: the server it was for moved to SQL dumps long ago
        first = plan[0]
        Exception_.create(scope=SCOPE_SERVER, server=first.id,
                          path_pattern="*/Archive/old-mail-2009.pst",
                          reason="Archive PST, copied by NTBackup", method="NTBackup",
                          created_by="treyes", created_at=since)
        Exception_.create(scope=SCOPE_GLOBAL, path_pattern="*/~$*.docx",
                          reason="Word lock files", method="", created_by="lbrandt",
                          created_at=since, expires_at=first_night + dt.timedelta(days=10))


# -- logs -------------------------------------------------------------------------------------

def _num(n: float, grouped: bool, decimals: int = 0) -> str:
    if grouped:
        return f"{n:,.{decimals}f}"
    return f"{n:.{decimals}f}"


def _stats_lines(s: DemoServer, total: int, sent: int, received: int) -> list[str]:
    grouped = not s.windows
    secs = max(30.0, sent / 1_500_000)
    rate = (sent + received) / secs
    speed = total / max(1, sent + received)
    return [
        "",
        f"sent {_num(sent, grouped)} bytes  received {_num(received, grouped)} bytes  "
        f"{_num(rate, grouped, 2)} bytes/sec",
        f"total size is {_num(total, grouped)}  speedup is {speed:.2f}",
    ]


def _error_tag(s: DemoServer, where: str) -> str:
    if s.windows:
        return f"at {where} [sender=3.0.9]"
    where = {"main.c(1039)": "main.c(1338)", "io.c(600)": "io.c(231)"}.get(where, where)
    return f"at {where} [sender=3.2.7]"


def _make_log(rng: random.Random, s: DemoServer, kind: str, locked: list[str],
              vanished: list[str], total: int, sent: int) -> str:
    role = "" if s.windows else "[sender] "
    lines: list[str] = []
    if s.windows:
        lines.extend(CYGWIN_PREAMBLE.rstrip("\n").split("\n"))
        lines.append("building file list ... done")
    else:
        lines.append("sending incremental file list")
    for i in range(rng.randint(2, 6)):
        lines.append(f"{'Users' if s.windows else 'data'}/docs/report-{rng.randint(1, 999)}-{i}"
                     f".{rng.choice(['docx', 'xlsx', 'pdf'])}")
    if kind == "drop":
        lines.append(f"{'Users' if s.windows else 'data'}/big/archive.zip")
        lines.append("rsync: connection unexpectedly closed (0 bytes received so far) [sender]")
        lines.append(f"rsync error: error in rsync protocol data stream (code 12) "
                     f"{_error_tag(s, 'io.c(600)')}")
        return "\n".join(lines) + "\n"
    if kind == "cut":
        # the frontend stopped answering: rsync was killed mid-transfer, no summary
        lines.append(f"{'Users' if s.windows else 'data'}/db/backup-{rng.randint(1, 9)}.bak")
        return "\n".join(lines) + "\n"
    if kind == "timeout":
        lines.append(f"rsync error: timeout in data send/receive (code 30) "
                     f"{_error_tag(s, 'io.c(137)')}")
        return "\n".join(lines) + "\n"
    for p in locked:
        if s.windows:
            lines.append(f'rsync: send_files failed to open "{p}": Permission denied (13)')
        else:
            lines.append(f'rsync: {role}send_files failed to open "{p}": Permission denied (13)')
    for p in vanished:
        lines.append(f'file has vanished: "{p}"')
    received = int(sent * rng.uniform(0.003, 0.01)) + 2000
    lines.extend(_stats_lines(s, total, sent, received))
    if locked:
        if s.windows:
            lines.append("rsync error: some files could not be transferred (code 23) "
                         + _error_tag(s, "main.c(1039)"))
        else:
            lines.append("rsync error: some files/attrs were not transferred (see previous "
                         "errors) (code 23) " + _error_tag(s, "main.c(1039)"))
    elif vanished:
        lines.append("rsync warning: some files vanished before they could be transferred "
                     "(code 24) " + _error_tag(s, "main.c(1039)"))
    return "\n".join(lines) + "\n"


def _write_log(path: Path, text: str, windows: bool, mtime: dt.datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.replace("\n", "\r\n") if windows else text
    path.write_bytes(data.encode("utf-8"))
    ts = mtime.timestamp()
    os.utime(path, (ts, ts))


def _run_nights(rng: random.Random, plan: list[DemoServer], nights: list[dt.date],
                spool: Path, progress: Callable[[str], None] | None) -> int:
    from acorntui.db.models import database_proxy
    from acorntui.services.ingest import Ingestor, record_fetch_failed

    last = nights[-1]
    outage_custbak = _CUSTBAKS[2]
    # a demo of today built before 06:00 would date last night's logs later than now (the Why
    # line then shows a write time still to come): never after a minute ago (a demo of
    # another day keeps its times)
    real_now = dt.datetime.now().replace(microsecond=0)
    today = last + dt.timedelta(days=1)
    not_after = (real_now - dt.timedelta(minutes=1) if today == real_now.date()
                 else dt.datetime.max)
    logs = 0
    newcomer = ("northgate-annex", "NEWSRV01")
    for night in nights:
        morning = dt.datetime.combine(night + dt.timedelta(days=1), dt.time(7, 0))
        ing = Ingestor(now=morning)
        days_left = (last - night).days  # 0 on the last night
        with database_proxy.obj.atomic():
            for s in plan:
                path = spool / s.customer / f"{s.name}.out"
                if s.scenario == "missing" and days_left == 0:
                    path.unlink(missing_ok=True)
                    continue
                if s.scenario == "stale" and days_left <= 1:
                    if path.exists():  # no upload: the old file is still on the report server
                        ing.ingest_file(path)
                    continue
                if s.scenario == "snoozed" and days_left <= 4:
                    path.unlink(missing_ok=True)  # office move: server switched off
                    continue
                if s.scenario == "fetch" and days_left == 0:
                    record_fetch_failed(s.customer, s.name, night,
                                        "reports1: timed out reading "
                                        f"/reports/{s.customer}/{s.name}.out")
                    continue
                kind, locked, vanished = _night_events(rng, s, night, days_left, outage_custbak)
                age = len(nights) - days_left
                total = int(s.base_size * (1 + s.growth) ** age * rng.uniform(0.995, 1.005))
                sent = max(4096, int(total * s.churn * rng.uniform(0.4, 1.8)))
                if rng.random() < 0.03:
                    sent = int(total * rng.uniform(0.2, 0.5))  # a big reorganisation night
                text = _make_log(rng, s, kind, locked, vanished, total, sent)
                written = min(morning.replace(hour=rng.randint(1, 5), minute=rng.randint(0, 59),
                                              second=rng.randint(0, 59)), not_after)
                _write_log(path, text, s.windows, written)
                ing.ingest_file(path)
                logs += 1
            if days_left <= 1:
                p = spool / newcomer[0] / f"{newcomer[1]}.out"
                ds = DemoServer(newcomer[0], newcomer[1], True, "", "", "", "", 0, 0, 0)
                text = _make_log(rng, ds, "clean", [], [], 48_000_000_000, 310_000_000)
                _write_log(p, text, True, min(morning.replace(hour=3, minute=12), not_after))
                ing.ingest_file(p)
                logs += 1
            ing.record_missing(night)
        if progress:
            progress(f"night {night}: {logs} logs so far")
    return logs


def _night_events(rng: random.Random, s: DemoServer, night: dt.date, days_left: int,
                  outage_custbak: str) -> tuple[str, list[str], list[str]]:
    if s.custbak == outage_custbak and days_left == 0:
        return ("cut" if rng.random() < 0.75 else "drop"), [], []
    locked: list[str] = []
    vanished: list[str] = []
    r = rng.random()
    if r < s.flaky:
        return "drop", [], []
    if r < s.flaky + 0.002:
        return "timeout", [], []
    if s.pst and rng.random() < 0.85:
        locked.append(s.pst)
    if s.quickbooks and rng.random() < 0.3:
        locked.append(s.quickbooks)
    if s.scenario == "streak" and days_left <= 2:
        locked.append(f"{s.root}/SQLData/Accounting.mdf")
        locked.append(f"{s.root}/SQLData/Accounting_log.ldf")
    if s.odd_name and days_left <= 5:
        locked.append(s.odd_name)
    if s.windows and rng.random() < 0.01:
        locked.append(f"{s.root}/pagefile.sys")
    if rng.random() < 0.08:
        for _ in range(rng.randint(1, 3)):
            vanished.append(f"{s.root}/{'Users/Temp' if s.windows else 'tmp'}/"
                            f"~tmp{rng.randint(1000, 9999)}.tmp")
    return "clean", locked, vanished


def _notes_and_snoozes(plan: list[DemoServer], nights: list[dt.date], today: dt.date) -> None:
    from acorntui.db.models import Result, Server, Update, database_proxy
    from acorntui.services import audit

    last = nights[-1]
    at = dt.datetime.combine(today, dt.time(8, 40))  # the demo's clock for notes and audit rows
    with database_proxy.obj.atomic():
        for s in plan:
            if s.scenario == "streak":
                r = Result.get_or_none((Result.server == s.id) & (Result.night == last))
                if r is not None:
                    note = "Accounting moved to SQL Server; setting up a nightly SQL dump"
                    Result.update(ack_note=note, ack_by="dpatel", ack_at=at).where(
                        Result.id == r.id).execute()
                    audit.record("result.ack", "dpatel", table="results", row_id=r.id,
                                 server=s.id, result=r.id, details=note)
                prev = Result.get_or_none((Result.server == s.id)
                                          & (Result.night == last - dt.timedelta(days=1)))
                audit.record("note", "sokafor", table="results", row_id=prev.id if prev else None,
                             server=s.id, result=prev.id if prev else None,
                             details="Customer says a new accounting package went in on Monday")
            if s.scenario == "snoozed":
                until = today + dt.timedelta(days=9)
                Server.update(snoozed_until=until,
                              snooze_reason="Office move: server powered off until the 2nd "
                              "site is wired").where(Server.id == s.id).execute()
                audit.record("server.snooze", "mkowalski", table="servers", row_id=s.id,
                             server=s.id, details="Office move: powered off")
        # audit rows get the demo's clock, not the build time (reproducible snapshots)
        Update.update(at=at).execute()
