"""Crash safety, concurrency and database faults of `acorntui ingest` (issue #8, parts 1-3).

Every test drives the real command line in subprocesses (`python -m acorntui ... ingest`)
against a real SQLite file or the real MariaDB, and compares the database with the one a
clean single run produces ("the reference"): same results, same failures, same audit rows,
no duplicates, and never a result without its failures.

The counts are small here (the suite must stay fast); `scripts/reliability.py` runs the same
tests with the long counts through these environment variables:

  ACORN_REL_KILLS_SQLITE   SIGKILL rounds on SQLite (default 5)
  ACORN_REL_KILLS_MARIADB  SIGKILL rounds on MariaDB (default 3)
  ACORN_REL_LOGS           logs in the spool (default 300)
  ACORN_REL_CONCURRENT     rounds of two concurrent ingests per backend (default 1)
  ACORN_REL_DBKILLS        KILL CONNECTION rounds on MariaDB (default 1)
  ACORN_REL_REAL_TIMEOUT=1 use SQLite's real 15 s busy timeout for the "locked too long" test
  ACORN_REL_REPORT         file that receives one JSON line of figures per test
  ACORN_CRASH_SEED         the seed of the random kill points (ACORN_REL_SEED works too);
                           a failing test names its seed, so the same kills can be re-run
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

KILLS_SQLITE = int(os.environ.get("ACORN_REL_KILLS_SQLITE", "5"))
KILLS_MARIADB = int(os.environ.get("ACORN_REL_KILLS_MARIADB", "3"))
N_LOGS = int(os.environ.get("ACORN_REL_LOGS", "300"))
CONCURRENT_ROUNDS = int(os.environ.get("ACORN_REL_CONCURRENT", "1"))
DBKILL_ROUNDS = int(os.environ.get("ACORN_REL_DBKILLS", "1"))
REAL_TIMEOUT = os.environ.get("ACORN_REL_REAL_TIMEOUT") == "1"
SEED = int(os.environ.get("ACORN_CRASH_SEED") or os.environ.get("ACORN_REL_SEED")
           or random.randrange(1 << 30))


@contextlib.contextmanager
def seed_named_on_failure():
    """A failure of a test with random kill points says which seed drew them."""
    try:
        yield
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n[random kill points from seed {SEED}: re-run with "
                             f"ACORN_CRASH_SEED={SEED}]") from exc

NOW = "2026-11-26T07:00:00"
LOG_TIME = dt.datetime(2026, 11, 26, 2, 30, 0)  # night 2026-11-25
NIGHT = dt.date(2026, 11, 25)


def report_figures(test: str, **figures) -> None:
    """One JSON line for scripts/reliability.py (and -s output)."""
    line = json.dumps({"test": test, "seed": SEED, **figures}, default=str)
    print(f"\nFIGURES {line}")
    path = os.environ.get("ACORN_REL_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


# -- the spool ---------------------------------------------------------------------------------

CLEAN = (
    "cygwin warning:\r\n  MS-DOS style path detected: c:\\progra~1\\cwRsync\\bin\\plink.exe\r\n"
    "building file list ... done\r\n/cygdrive/D/\r\n{listing}"
    "\r\nsent 23,990,367 bytes  received 120,237 bytes  1,176,127.02 bytes/sec\r\n"
    "total size is {total}  speedup is 12.22\r\n"
)
FAILING = (
    "building file list ... done\r\n/cygdrive/E/shares/\r\n{errors}"
    "\r\nsent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\r\n"
    "total size is {total}  speedup is 7.75\r\n"
    "rsync error: some files could not be transferred (code 23) at main.c(1039) "
    "[sender=3.0.9]\r\n"
)
INCOMPLETE = "building file list ... done\n/cygdrive/E/shares/a.doc\n/cygdrive/E/shares/b"
CODE12 = (
    "rsync: connection unexpectedly closed (0 bytes received so far) [sender]\n"
    "rsync error: error in rsync protocol data stream (code 12) at io.c(600) [sender=3.2.7]\n"
)


def _log_text(i: int) -> str:
    kind = i % 20
    if kind < 11:
        listing = "".join(f"/cygdrive/D/data/{i}/file{j}.doc\r\n" for j in range(i % 7))
        return CLEAN.format(listing=listing, total=1000 * i + 7)
    if kind < 17:
        errs = "".join(
            f'rsync: send_files failed to open "/cygdrive/E/shares/{i}/Mail {j}.pst": '
            f"Permission denied (13)\r\n" if j % 3 else
            f'rsync: read errors mapping "/cygdrive/E/shares/{i}/QB/Company {j}.QBW": '
            f"Device or resource busy (16)\r\n"
            for j in range(1 + i % 25))
        return FAILING.format(errors=errs, total=5000 + i)
    if kind < 19:
        return INCOMPLETE
    return CODE12


def make_spool(root: Path, n: int = N_LOGS) -> Path:
    for i in range(n):
        p = root / f"cust{i % 12:02d}" / f"srv{i:04d}.out"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(_log_text(i).encode("utf-8"))
        os.utime(p, (LOG_TIME.timestamp(), LOG_TIME.timestamp()))
    return root


# -- databases -------------------------------------------------------------------------------


def bind(url: str):
    """Bind the models' proxy to ``url`` in this (test) process and create the schema."""
    from acorntui import db as dbpkg

    old = dbpkg.database_proxy.obj
    if old is not None and not old.is_closed():
        old.close()
    database = dbpkg.connect(url)
    dbpkg.init_schema(database)
    return database


def prepare(url: str, absent: int = 1) -> None:
    """Empty every data table and lay down the starting state every round begins from:
    registered servers (``absent`` of them have no log -> missing), one exception, and this
    login as a TSR (ingest needs the role; the nightly job's account is a TSR row)."""
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
    from acorntui.services.roles import current_login

    bind(url)
    dbx = database_proxy.obj
    with dbx.atomic():
        for m in (Failure, Update, Result, Exception_, Server, Customer, Tsr, Csr):
            m.delete().execute()
    Tsr.create(login=current_login(), name="ingest job", level=1)
    c = Customer.create(name="cust00", display_name="Customer 0")
    Server.create(customer=c, name="srv0000", registered=True)
    for i in range(absent):  # no log: -2 missing
        Server.create(customer=c, name="absent" if i == 0 else f"absent{i}", registered=True)
    Exception_.create(scope="global", path_pattern="*/Mail 1.pst", reason="PST backed up by "
                      "the mail export", created_by="test")


def snapshot() -> dict:
    """Everything ingest writes, without ids and timestamps (compares as multisets)."""
    from acorntui.db.models import Customer, Failure, Result, Server, Update

    cols = (Customer.name, Server.name, Result.night, Result.code, Result.status,
            Result.reason, Result.log_sha256, Result.log_size, Result.error_count,
            Result.excepted_count, Result.total_size, Result.sent_bytes, Result.received_bytes,
            Result.rsync_version)
    results = sorted(
        (r[0], r[1], str(r[2]), *r[3:])
        for r in Result.select(*cols).join(Server).join(Customer).tuples())
    failures = sorted(
        (sn, str(night), path, message, line, kind, bool(exc), exid is not None)
        for sn, night, path, message, line, kind, exc, exid in
        Failure.select(Server.name, Result.night, Failure.path, Failure.message, Failure.line,
                       Failure.kind, Failure.excepted, Failure.exception)
        .join(Result).join(Server).tuples())
    updates = sorted(Update.select(Update.action, Update.table_name, Update.details).tuples())
    servers = sorted((cn, sn, bool(reg)) for cn, sn, reg in
                     Server.select(Customer.name, Server.name, Server.registered)
                     .join(Customer).tuples())
    customers = sorted(c for (c,) in Customer.select(Customer.name).tuples())
    return {"results": results, "failures": failures, "updates": updates, "servers": servers,
            "customers": customers}


def consistency_problems() -> list[str]:
    """What a crash may never leave behind, checked right after a kill."""
    from acorntui.db.models import Result, Server, database_proxy

    dbx = database_proxy.obj
    bad = []
    rows = dbx.execute_sql(
        "SELECT r.id, r.error_count, COUNT(f.id) FROM results r "
        "LEFT JOIN failures f ON f.result_id = r.id GROUP BY r.id, r.error_count "
        "HAVING COUNT(f.id) <> r.error_count").fetchall()
    bad += [f"result {rid}: error_count {ec} but {n} failures stored" for rid, ec, n in rows]
    dup = dbx.execute_sql("SELECT server_id, night, COUNT(*) FROM results "
                          "GROUP BY server_id, night HAVING COUNT(*) > 1").fetchall()
    bad += [f"duplicate results {d}" for d in dup]
    # a server created from a log exists only together with that log's result
    orphans = (Server.select().where((Server.registered == False)  # noqa: E712
                                     & ~Server.id.in_(Result.select(Result.server))))
    bad += [f"server {s.name} was created without its result" for s in orphans]
    auto = dbx.execute_sql("SELECT COUNT(*) FROM updates WHERE action = 'server.auto_add'"
                           ).fetchone()[0]
    unreg = Server.select().where(Server.registered == False).count()  # noqa: E712
    if auto != unreg:
        bad.append(f"{auto} server.auto_add audit rows for {unreg} auto-added servers")
    return bad


class Counter:
    """Counts committed results from a separate raw connection (polled during a run)."""

    def __init__(self, url: str):
        self.url = url
        if url.startswith("sqlite:"):
            self.conn = sqlite3.connect(url[len("sqlite:///"):], timeout=0.2,
                                        isolation_level=None)
            self.sql = "SELECT COUNT(*) FROM results"
        else:
            self.conn = _mysql_conn(url)
            self.sql = "SELECT COUNT(*) FROM results"

    def count(self) -> int | None:
        try:
            cur = self.conn.cursor()
            cur.execute(self.sql)
            return cur.fetchone()[0]
        except Exception:  # noqa: BLE001 - locked for a moment: try again
            return None

    def close(self) -> None:
        self.conn.close()


def _mysql_conn(url: str):
    import pymysql

    from acorntui.db.connection import parse_url

    u = parse_url(url)
    return pymysql.connect(host=u.host, port=u.port, user=u.user, password=u.password,
                           database=u.name, autocommit=True, connect_timeout=5)


# -- running the command line ------------------------------------------------------------------


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("ACORN_DB", None)
    return env


def ingest_cmd(url: str, spool: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "acorntui", "--db", url, "ingest", "--now", NOW,
            *extra, str(spool)]


def start(cmd: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env=kw.pop("env", None) or _env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def run(cmd: list[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=kw.pop("env", None) or _env(),
                          capture_output=True, text=True, timeout=timeout, **kw)


def assert_clean_run(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"ingest failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr


def assert_one_line_error(rc: int, stderr: str, mid_run: bool = True) -> str:
    """A database fault: non-zero exit, exactly one clear line, no traceback."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert rc not in (0, None), stderr
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("acorntui: "), stderr
    # clear: names the database and says what happened (not a bare "(0)")
    assert not mid_run or "database error on " in lines[0], lines[0]
    detail = lines[0].split(": ", 2)[-1]
    assert len(detail) > 12 and not detail.rstrip().endswith("(0)"), lines[0]
    return lines[0]


_REFERENCES: dict[tuple[str, str], tuple[dict, float]] = {}


def reference(url: str, spool: Path) -> tuple[dict, float]:
    """The database after one clean run, and how long that run took (once per backend)."""
    key = (url.split(":", 1)[0], str(spool))
    if key not in _REFERENCES:
        _REFERENCES[key] = _reference(url, spool)
    return _REFERENCES[key]


def _reference(url: str, spool: Path) -> tuple[dict, float]:
    prepare(url)
    t0 = time.monotonic()
    assert_clean_run(run(ingest_cmd(url, spool)))
    took = time.monotonic() - t0
    ref = snapshot()
    assert consistency_problems() == []
    # sanity: the spool really exercises failures, exceptions, missing and auto-added servers
    statuses = {r[4] for r in ref["results"]}
    assert {"ok", "failed", "incomplete"} <= statuses
    assert any(f[6] for f in ref["failures"]) and any(r[5] == "missing" for r in ref["results"])
    assert len(ref["results"]) == N_LOGS + 1
    # a second run changes nothing
    assert_clean_run(run(ingest_cmd(url, spool)))
    assert snapshot() == ref
    return ref, took


@pytest.fixture(scope="module")
def spool(tmp_path_factory):
    return make_spool(tmp_path_factory.mktemp("rel") / "spool")


@pytest.fixture
def mysql_url(mariadb_server_url):
    return mariadb_server_url


# -- 1. crash safety -----------------------------------------------------------------------


def _kill_somewhere(url: str, spool: Path, rng: random.Random, total: int,
                    startup: float) -> dict:
    """Start ingest, SIGKILL it at a random point, return where it landed."""
    counter = Counter(url)
    try:
        proc = start(ingest_cmd(url, spool))
        t0 = time.monotonic()
        if rng.random() < 0.2:
            # during start-up, schema check, lookups or the first transactions
            time.sleep(rng.uniform(0, startup * 1.2))
            target = None
        else:
            target = rng.randrange(0, total)
            while proc.poll() is None and time.monotonic() - t0 < 60:
                n = counter.count()
                if n is not None and n >= target:
                    break
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.02))
        finished_first = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        landed = None
        for _ in range(50):
            landed = counter.count()
            if landed is not None:
                break
            time.sleep(0.05)
    finally:
        counter.close()
    return {"target": target, "landed": landed, "finished_first": finished_first}


def crash_rounds(url: str, spool: Path, rounds: int, backend: str) -> None:
    with seed_named_on_failure():
        _crash_rounds(url, spool, rounds, backend)


def _crash_rounds(url: str, spool: Path, rounds: int, backend: str) -> None:
    rng = random.Random(SEED)
    ref, took = reference(url, spool)
    total = len(ref["results"])
    landings = []
    t_start = time.monotonic()
    for _ in range(rounds):
        prepare(url)
        for _kill in range(rng.choice((1, 1, 2, 3))):  # sometimes several crashes in a row
            where = _kill_somewhere(url, spool, rng, total, startup=took)
            landings.append(where)
            problems = consistency_problems()
            assert problems == [], f"after a kill at {where}: {problems[:5]}"
        assert_clean_run(run(ingest_cmd(url, spool)))
        assert snapshot() == ref, f"database differs from a clean run after kills {landings}"
        assert consistency_problems() == []
    mid = sum(1 for w in landings if w["landed"] and 0 < w["landed"] < total
              and not w["finished_first"])
    report_figures(f"crash_{backend}", rounds=rounds, kills=len(landings),
                   kills_mid_recording=mid,
                   kills_before_first_result=sum(1 for w in landings if w["landed"] == 0),
                   kills_after_completion=sum(1 for w in landings if w["finished_first"]),
                   logs=N_LOGS, results=total, failures=len(ref["failures"]),
                   clean_run_s=round(took, 2), seconds=round(time.monotonic() - t_start, 1))
    # the random kill points must actually have hit the recording phase now and then
    if len(landings) >= 3:
        assert mid >= 1, landings


def test_sigkill_during_ingest_sqlite(tmp_path, spool):
    crash_rounds(f"sqlite:///{tmp_path / 'crash.db'}", spool, KILLS_SQLITE, "sqlite")


@pytest.mark.mariadb
def test_sigkill_during_ingest_mariadb(mysql_url, spool):
    crash_rounds(mysql_url, spool, KILLS_MARIADB, "mariadb")


# -- 2. concurrency -------------------------------------------------------------------------


def concurrent_rounds(url: str, spool: Path, rounds: int, backend: str) -> None:
    ref, _took = reference(url, spool)
    outcomes = []
    for _ in range(rounds):
        prepare(url)
        _race(url, spool, ref, outcomes)
    report_figures(f"concurrent_{backend}", rounds=rounds, logs=N_LOGS,
                   overlapping_rounds=_overlapping(outcomes), summaries=outcomes[:4])


def _overlapping(outcomes: list[str]) -> int:
    """Rounds in which both processes recorded some of the logs (true interleaving)."""
    import re

    created = [int(m.group(1)) if (m := re.search(r"(\d+) created", o)) else 0
               for o in outcomes]
    return sum(1 for a, b in zip(created[::2], created[1::2], strict=True) if a and b)


# Both processes import everything, say so (a "ready" file each), wait for the same go signal,
# and write down when their ingest started and ended (a "times" file each): no start-up
# stagger, and the test can check that the two ingests really ran at the same time.
BARRIER_MAIN = """
import os, sys, time
import acorntui.cli.commands.ingest, acorntui.services.ingest, acorntui.core.parser
import acorntui.db.schema
from acorntui.cli.main import main
ready, go, times = sys.argv[1:4]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
t0 = time.time()
rc = main(sys.argv[4:])
with open(times, "w") as fh:
    fh.write(f"{t0} {time.time()}")
sys.exit(rc)
"""


def _race(url: str, spool: Path, ref: dict, outcomes: list) -> None:
    tag = time.monotonic_ns()
    go = spool.parent / f"go-{tag}"
    ready = [spool.parent / f"ready-{tag}-{i}" for i in range(2)]
    times = [spool.parent / f"times-{tag}-{i}" for i in range(2)]
    procs = [start([sys.executable, "-c", BARRIER_MAIN, str(ready[i]), str(go), str(times[i]),
                    *ingest_cmd(url, spool)[3:]]) for i in range(2)]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready):  # the barrier: both imported and waiting
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            for p in procs:
                p.kill()
            errs = [p.communicate()[1][-2000:] for p in procs]
            raise AssertionError(f"an ingest never reached the start barrier: {errs}")
        time.sleep(0.005)
    go.touch()
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0 and "Traceback" not in err, \
            f"concurrent ingest failed ({p.returncode}):\n{err[-3000:]}"
        outcomes.append(out.strip().splitlines()[0])
    # the two ingests overlapped in time: each started before the other had finished
    (s0, e0), (s1, e1) = (map(float, t.read_text().split()) for t in times)
    assert max(s0, s1) < min(e0, e1), \
        f"the ingests ran one after the other: {s0:.3f}-{e0:.3f} and {s1:.3f}-{e1:.3f}"
    assert consistency_problems() == []
    assert snapshot() == ref


def missing_race_rounds(url: str, tmp_path: Path, rounds: int, backend: str) -> None:
    """Both processes reach the end of the batch together and mark the same 400 silent
    servers missing at the same moment."""
    small = make_spool(tmp_path / "small", 3)
    prepare(url, absent=400)
    assert_clean_run(run(ingest_cmd(url, small)))
    ref = snapshot()
    assert sum(1 for r in ref["results"] if r[5] == "missing") == 400
    outcomes: list = []
    for _ in range(rounds):
        prepare(url, absent=400)
        _race(url, small, ref, outcomes)
    report_figures(f"concurrent_missing_{backend}", rounds=rounds, summaries=outcomes[:4])


def test_two_concurrent_ingests_mark_missing_sqlite(tmp_path):
    missing_race_rounds(f"sqlite:///{tmp_path / 'miss.db'}", tmp_path, CONCURRENT_ROUNDS,
                        "sqlite")


@pytest.mark.mariadb
def test_two_concurrent_ingests_mark_missing_mariadb(tmp_path, mysql_url):
    missing_race_rounds(mysql_url, tmp_path, CONCURRENT_ROUNDS, "mariadb")


def test_two_concurrent_ingests_sqlite(tmp_path, spool):
    concurrent_rounds(f"sqlite:///{tmp_path / 'conc.db'}", spool, CONCURRENT_ROUNDS, "sqlite")


@pytest.mark.mariadb
def test_two_concurrent_ingests_mariadb(mysql_url, spool):
    concurrent_rounds(mysql_url, spool, CONCURRENT_ROUNDS, "mariadb")


# -- 3. database faults ------------------------------------------------------------------------


@pytest.mark.mariadb
def test_connection_killed_mid_run_mariadb(mysql_url, spool):
    """The server drops ingest's connection mid-run (KILL CONNECTION, as a restart or a
    failover would): one clear line, exit 1, nothing half-written; the next run completes."""
    from acorntui.db.connection import parse_url

    ref, _took = reference(mysql_url, spool)
    name = parse_url(mysql_url).name
    messages = []
    rng = random.Random(SEED)
    with seed_named_on_failure():
        _kill_connection_rounds(mysql_url, spool, ref, name, rng, messages)
    report_figures("mariadb_connection_killed", rounds=DBKILL_ROUNDS, messages=messages[:3])


def _kill_connection_rounds(mysql_url, spool, ref, name, rng, messages) -> None:
    for _ in range(DBKILL_ROUNDS):
        prepare(mysql_url)
        counter = Counter(mysql_url)
        proc = start(ingest_cmd(mysql_url, spool))
        target = rng.randrange(1, len(ref["results"]) // 2)
        killed = 0
        t0 = time.monotonic()
        while proc.poll() is None and time.monotonic() - t0 < 60:
            n = counter.count()
            if n is not None and n >= target:
                cur = counter.conn.cursor()
                cur.execute("SELECT ID FROM information_schema.PROCESSLIST "
                            "WHERE DB = %s AND ID <> CONNECTION_ID()", (name,))
                for (cid,) in cur.fetchall():
                    try:
                        cur.execute(f"KILL CONNECTION {int(cid)}")
                        killed += 1
                    except Exception:  # noqa: BLE001 - it may have gone already
                        pass
                break
            time.sleep(0.003)
        counter.close()
        out, err = proc.communicate(timeout=60)
        assert killed, "ingest finished before its connection could be killed"
        messages.append(assert_one_line_error(proc.returncode, err))
        bind(mysql_url)
        assert consistency_problems() == []
        assert_clean_run(run(ingest_cmd(mysql_url, spool)))
        assert snapshot() == ref


class ThrowawayMariaDB:
    """A private mariadbd on its own port and datadir, to stop and restart at will (the
    shared server on 3306 is never touched)."""

    def __init__(self, base: Path):
        from conftest import need_binary

        self.mariadbd = need_binary("mariadbd")
        install = need_binary("mariadb-install-db")
        self.base = base
        self.datadir = base / "data"
        base.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([install, "--no-defaults", f"--datadir={self.datadir}",
                               "--auth-root-authentication-method=normal", "--user=root",
                               "--skip-test-db"], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            from conftest import skip_or_fail

            skip_or_fail(f"mariadb-install-db failed: {proc.stdout[-500:]}{proc.stderr[-500:]}")
        import socket

        with socket.socket() as sk:
            sk.bind(("127.0.0.1", 0))
            self.port = sk.getsockname()[1]
        self.proc: subprocess.Popen | None = None
        self.url = f"mysql://root@127.0.0.1:{self.port}/acorn_throwaway"

    def start(self) -> None:
        import pymysql

        log = open(self.base / "server.log", "ab")
        self.proc = subprocess.Popen(
            [self.mariadbd, "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.base / 'sock'}",
             f"--pid-file={self.base / 'pid'}", "--user=root", "--skip-grant-tables",
             "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M"],
            stdout=log, stderr=log)
        log.close()
        t0 = time.monotonic()
        while True:
            try:
                c = pymysql.connect(host="127.0.0.1", port=self.port, user="root",
                                    connect_timeout=1)
                break
            except pymysql.MySQLError:
                if self.proc.poll() is not None or time.monotonic() - t0 > 60:
                    from conftest import skip_or_fail

                    skip_or_fail("the throwaway mariadbd did not start: "
                                 + (self.base / "server.log").read_text()[-800:])
                time.sleep(0.1)
        with c.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS acorn_throwaway "
                        "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        c.close()

    def stop(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)
        self.proc = None


@pytest.fixture
def throwaway_mariadb(tmp_path):
    server = ThrowawayMariaDB(tmp_path / "mdb")
    server.start()
    yield server
    from acorntui.db.models import database_proxy

    if database_proxy.obj is not None:
        database_proxy.obj.close()
    server.stop(signal.SIGKILL)


def test_mariadb_server_stopped_mid_run(throwaway_mariadb, spool):
    """The database server goes away mid-run (crash = SIGKILL, or an orderly shutdown =
    SIGTERM): ingest says so in one line and exits 1; after a restart (InnoDB recovery)
    nothing is half-written and the next run completes the night."""
    srv = throwaway_mariadb
    url = srv.url
    ref, _took = reference(url, spool)
    rng = random.Random(SEED)
    messages, landed = [], []
    with seed_named_on_failure():
        _stop_server_rounds(srv, url, spool, ref, rng, messages, landed)
    report_figures("mariadb_server_stopped", rounds=DBKILL_ROUNDS, results_at_stop=landed,
                   messages=sorted(set(messages))[:4])


def _stop_server_rounds(srv, url, spool, ref, rng, messages, landed) -> None:
    for i in range(DBKILL_ROUNDS):
        sig = signal.SIGKILL if i % 2 == 0 else signal.SIGTERM
        prepare(url)
        from acorntui.db.models import database_proxy

        database_proxy.obj.close()
        counter = Counter(url)
        proc = start(ingest_cmd(url, spool))
        target = rng.randrange(1, len(ref["results"]) // 2)
        t0 = time.monotonic()
        while proc.poll() is None and time.monotonic() - t0 < 60:
            n = counter.count()
            if n is not None and n >= target:
                break
            time.sleep(0.003)
        assert proc.poll() is None, "ingest finished before the server could be stopped"
        srv.stop(sig)
        counter.close()
        out, err = proc.communicate(timeout=120)
        messages.append(assert_one_line_error(proc.returncode, err))
        srv.start()
        bind(url)
        assert consistency_problems() == []
        landed.append(snapshot_count())
        assert_clean_run(run(ingest_cmd(url, spool)))
        assert snapshot() == ref


def snapshot_count() -> int:
    from acorntui.db.models import Result

    return Result.select().count()


@pytest.mark.mariadb
def test_mariadb_unreachable_is_one_line(spool):
    proc = run([sys.executable, "-m", "acorntui", "--db",
                "mysql://acorn@127.0.0.1:1/backup_serverlist", "ingest", str(spool)])
    line = assert_one_line_error(proc.returncode, proc.stderr, mid_run=False)
    assert "cannot connect to mysql://acorn@127.0.0.1:1/" in line


LOCK_HOLDER = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
c.execute("UPDATE errors SET jargon = jargon WHERE code = 0")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
c.execute("COMMIT")
"""

# ingest with a shorter SQLite busy timeout (the shipped 15 s would make the suite slow);
# the code path is the same: SQLite waits, then gives up with "database is locked"
SHORT_TIMEOUT_MAIN = """
import sys
import acorntui.db.connection as c
_make = c.make_database
def make(u):
    d = _make(u)
    d._pragmas = [(k, 1500 if k == "busy_timeout" else v) for k, v in d._pragmas]
    d._timeout = 1.5
    return d
c.make_database = make
from acorntui.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _hold_lock(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(path), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_sqlite_locked_by_another_writer(tmp_path, spool):
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    ref, took = reference(url, spool)

    # held for a few seconds: ingest waits (busy_timeout) and completes
    prepare(url)
    from acorntui.db.models import database_proxy
    database_proxy.obj.close()
    hold = 2.0
    holder = _hold_lock(path, hold)
    t0 = time.monotonic()
    proc = run(ingest_cmd(url, spool))
    waited = time.monotonic() - t0
    holder.wait(timeout=30)
    assert_clean_run(proc)
    bind(url)
    assert snapshot() == ref
    assert waited >= hold - 0.5, "ingest did not have to wait: the lock was not held"

    # held longer than the busy timeout: one clear line, non-zero exit; next run completes
    prepare(url)
    database_proxy.obj.close()
    if REAL_TIMEOUT:
        hold, cmd = 20.0, ingest_cmd(url, spool)
    else:
        hold = 3.5
        cmd = [sys.executable, "-c", SHORT_TIMEOUT_MAIN, *ingest_cmd(url, spool)[3:]]
    holder = _hold_lock(path, hold)
    t0 = time.monotonic()
    proc = run(cmd)
    gave_up = time.monotonic() - t0
    line = assert_one_line_error(proc.returncode, proc.stderr)
    assert "locked" in line
    holder.wait(timeout=60)
    bind(url)
    assert consistency_problems() == []
    assert_clean_run(run(ingest_cmd(url, spool)))
    assert snapshot() == ref
    report_figures("sqlite_locked", waited_s=round(waited, 2), gave_up_after_s=round(gave_up, 2),
                   message=line, real_timeout=REAL_TIMEOUT)


# -- the batch goes on past files that are not logs ----------------------------------------


def test_hostile_files_in_spool_do_not_stop_the_batch(tmp_path):
    from acorntui.db.models import Result

    root = make_spool(tmp_path / "spool", 20)
    bad = root / "zz_hostile"
    bad.mkdir()
    (bad / "dir.out").mkdir()  # a directory named like a log
    (bad / "garbage.out").write_bytes(random.Random(1).randbytes(300_000))
    with open(bad / "endless.out", "wb") as fh:  # one endless line, no newline
        chunk = b"rsync: total size is 5 speedup is 1 " * 30_000
        for _ in range(20 * 1024 * 1024 // len(chunk)):
            fh.write(chunk)
    os.mkfifo(bad / "fifo.out")
    for f in bad.iterdir():
        if not f.is_fifo():
            os.utime(f, (LOG_TIME.timestamp(), LOG_TIME.timestamp()))
    url = f"sqlite:///{tmp_path / 'h.db'}"
    prepare(url)
    proc = run(ingest_cmd(url, root), timeout=120)
    assert proc.returncode == 1, proc.stderr  # some files were unreadable: say so
    assert "Traceback" not in proc.stderr
    err = proc.stderr
    assert f"{bad / 'dir.out'}: Is a directory" in err
    assert f"{bad / 'fifo.out'}: not a regular file" in err
    bind(url)
    by = {r.server.name: r for r in Result.select()}
    assert len([n for n in by if n.startswith("srv")]) == 20  # the batch went on
    for name in ("garbage", "endless"):
        assert by[name].status != "ok", (name, by[name].status, by[name].code)


def test_sqlite_transaction_that_reads_then_writes_survives_a_concurrent_commit(tmp_path):
    """The race behind concurrent `record_missing`, made deterministic: a transaction reads,
    another process commits, the transaction then writes. With a deferred BEGIN, SQLite (WAL)
    refuses the write at once ("database is locked", busy_timeout does not help); ingest's
    transactions begin IMMEDIATE, so the other writer waits for them instead."""
    import threading

    from acorntui.db.models import Customer, database_proxy

    url = f"sqlite:///{tmp_path / 'rw.db'}"
    prepare(url)
    dbx = database_proxy.obj
    other_done: list = []

    def other_writer():
        c = sqlite3.connect(str(tmp_path / "rw.db"), timeout=10, isolation_level=None)
        c.execute("INSERT INTO customers (name, display_name, email, active, notes, created) "
                  "VALUES ('other', 'other', '', 1, '', '2026-11-26 07:00:00')")
        c.close()
        other_done.append(time.monotonic())

    with dbx.atomic():
        assert Customer.select().count() == 1  # the read
        t = threading.Thread(target=other_writer)
        t.start()
        t.join(timeout=0.5)  # it commits now (deferred BEGIN) or waits for us (IMMEDIATE)
        Customer.create(name="mine", display_name="mine")  # the write
        finished_inside = bool(other_done)
    t.join(timeout=15)
    assert other_done, "the other writer never got its turn"
    assert not finished_inside, "the other writer committed in the middle of our transaction"
    assert sorted(c.name for c in Customer.select()) == ["cust00", "mine", "other"]
