"""Database passwords never leak (issue #8, part 7).

Every run's stdout and stderr, the database contents (SQLite file bytes, every MariaDB
table), every file the runs leave in tmp (except the config file that holds the password by
design) and the process arguments of a running ingest are searched for the password and for
each piece of it: a password with `@` in it was once masked only up to its first `@`.

Passing the password on the command line (`--db mysql://u:pw@...`) puts it in the process
arguments by the user's own hand; acorntui cannot hide that (docs/reliability.md says to use
ACORN_DB or the config file), so the process-argument check runs with the config file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from test_reliability_ingest import NOW, make_spool

ROOT = Path(__file__).resolve().parent.parent
# an '@' inside, as people type it unencoded; both halves must stay hidden
SECRET_A = f"Sx{uuid.uuid4().hex[:10]}"
SECRET_B = f"{uuid.uuid4().hex[:10]}Pw"
SECRET = f"{SECRET_A}@{SECRET_B}"
PIECES = [SECRET.encode(), SECRET_A.encode(), SECRET_B.encode()]
MAIL_SECRET = f"Ml{uuid.uuid4().hex[:12]}"


def leaks(blob: bytes | str, secrets=PIECES) -> list[bytes]:
    data = blob.encode("utf-8", "replace") if isinstance(blob, str) else blob
    return [s for s in secrets if s in data]


def env_with(config: Path | None = None, **extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env.pop("ACORN_DB", None)
    if config is not None:
        env["ACORN_CONFIG"] = str(config)
    env.update(extra)
    return env


def acorn(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "acorntui", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def check_output(proc: subprocess.CompletedProcess, outputs: list) -> None:
    outputs.append(proc.stdout + proc.stderr)
    assert leaks(proc.stdout + proc.stderr) == [], proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


def files_leaking(root: Path, skip: set[Path]) -> list[str]:
    bad = []
    for p in root.rglob("*"):
        if p.is_file() and not p.is_fifo() and p not in skip:
            if leaks(p.read_bytes(), PIECES + [MAIL_SECRET.encode()]):
                bad.append(str(p))
    return bad


def write_config(path: Path, url: str, spool: Path) -> Path:
    path.write_text(
        f'[database]\nurl = "{url}"\n\n[spool]\ndir = "{spool}"\n\n'
        f'[mail]\nhost = "127.0.0.1"\nuser = "acorn"\npassword = "{MAIL_SECRET}"\n',
        encoding="utf-8")
    path.chmod(0o600)
    return path


def test_unreachable_database_errors_hide_the_password(tmp_path):
    spool = make_spool(tmp_path / "spool", 3)
    outputs: list = []
    bad_url = f"mysql://acorn:{SECRET}@127.0.0.1:1/backup_serverlist"
    # on the command line
    p = acorn("--db", bad_url, "ingest", "--now", NOW, str(spool), env=env_with())
    check_output(p, outputs)
    assert p.returncode == 1 and "mysql://acorn:***@127.0.0.1:1/" in p.stderr
    # through ACORN_DB
    p = acorn("ingest", str(spool), env=env_with(ACORN_DB=bad_url))
    check_output(p, outputs)
    assert p.returncode == 1
    # through the config file (ACORN_CONFIG), and what `config show` prints
    cfg = write_config(tmp_path / "acorn.toml", bad_url, spool)
    for args in (("ingest",), ("config", "show"), ("parse", str(next(spool.rglob("*.out")))),
                 ("report", "nightly"), ("init-db",)):
        p = acorn(*args, env=env_with(cfg))
        check_output(p, outputs)
    assert files_leaking(tmp_path, skip={cfg}) == []
    assert any("***" in o for o in outputs)


@pytest.fixture
def secret_user(mariadb_server_url):
    """A MariaDB account whose password holds an '@', with rights on the test database."""
    import pymysql

    from acorntui.db.connection import parse_url

    u = parse_url(mariadb_server_url)
    user = f"acorn_sec_{uuid.uuid4().hex[:8]}"
    root = pymysql.connect(host=u.host, port=u.port, user=u.user, password=u.password,
                           autocommit=True)
    with root.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (SECRET,))
        cur.execute(f"GRANT ALL ON `{u.name}`.* TO '{user}'@'%'")
    url = f"mysql://{user}:{SECRET}@{u.host}:{u.port}/{u.name}"
    yield url, u.name, root
    with root.cursor() as cur:
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
    root.close()


@pytest.mark.mariadb
def test_mariadb_with_password_never_leaks(tmp_path, secret_user):
    url, dbname, root = secret_user
    spool = make_spool(tmp_path / "spool", 60)
    cfg = write_config(tmp_path / "acorn.toml", url, spool)
    env = env_with(cfg)
    outputs: list = []

    check_output(acorn("init-db", env=env), outputs)
    check_output(acorn("config", "show", env=env), outputs)
    # the session database may already hold people from other tests: make sure this login is
    # a TSR, as the nightly job's account must be (ingest needs the role)
    from acorntui.services.roles import current_login

    with root.cursor() as cur:
        cur.execute(f"INSERT INTO `{dbname}`.tsrs (name, login, email, level, active) "
                    "VALUES (%s, %s, '', 1, 1) ON DUPLICATE KEY UPDATE active = 1",
                    ("nightly job", current_login()))

    # a run that completes; its process arguments are read while it runs
    proc = subprocess.Popen([sys.executable, "-m", "acorntui", "ingest", "--now", NOW],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    cmdlines = []
    while proc.poll() is None:
        for pid in _tree(proc.pid):
            try:
                cmdlines.append(Path(f"/proc/{pid}/cmdline").read_bytes())
            except OSError:
                pass
        time.sleep(0.02)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    check_output(subprocess.CompletedProcess([], 0, out, err), outputs)
    assert cmdlines and all(leaks(c) == [] for c in cmdlines)

    # a wrong database name and a connection killed mid-run: errors name the URL masked
    bad = url.rsplit("/", 1)[0] + "/no_such_db_here"
    p = acorn("--db", bad, "ingest", str(spool), env=env_with())
    check_output(p, outputs)
    assert p.returncode == 1 and "***" in p.stderr
    with root.cursor() as cur:
        cur.execute(f"DELETE FROM `{dbname}`.results")
    proc = subprocess.Popen([sys.executable, "-m", "acorntui", "ingest", "--now", NOW],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    user = url.split("://", 1)[1].split(":", 1)[0]
    while proc.poll() is None:
        with root.cursor() as cur:
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s",
                        (user,))
            for (cid,) in cur.fetchall():
                try:
                    cur.execute(f"KILL CONNECTION {int(cid)}")
                except Exception:  # noqa: BLE001
                    pass
        time.sleep(0.01)
    out, err = proc.communicate()
    check_output(subprocess.CompletedProcess([], proc.returncode, out, err), outputs)

    # everything the database holds (the audit trail included)
    with root.cursor() as cur:
        cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                    (dbname,))
        for (table,) in cur.fetchall():
            cur.execute(f"SELECT * FROM `{dbname}`.`{table}`")
            assert leaks(repr(cur.fetchall())) == [], table
    assert files_leaking(tmp_path, skip={cfg}) == []


def test_sqlite_run_writes_no_secret(tmp_path):
    """The mail password of the config file stays out of the DB file and every output."""
    spool = make_spool(tmp_path / "spool", 20)
    dbfile = tmp_path / "acorn.db"
    cfg = write_config(tmp_path / "acorn.toml", f"sqlite:///{dbfile}", spool)
    env = env_with(cfg)
    outputs: list = []
    for args in (("init-db",), ("config", "show"), ("ingest", "--now", NOW),
                 ("report", "nightly", "--format", "json"), ("ingest", "--now", NOW)):
        p = acorn(*args, env=env)
        check_output(p, outputs)
        assert MAIL_SECRET not in p.stdout + p.stderr
    assert any('"password": "***"' in o for o in outputs)
    assert files_leaking(tmp_path, skip={cfg}) == []


def _tree(pid: int) -> list[int]:
    """pid and its descendants (from /proc)."""
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out
