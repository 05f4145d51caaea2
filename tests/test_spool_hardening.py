"""Ingest reads only regular files inside the spool (issue 12, finding 5 and 6, ingest side).

An attacker who can put names into the spool (a compromised report server, a hostile file
name) tries to make ingest record a file from outside it (``x.out -> /etc/shadow``), to hang
it on a FIFO swapped in after the type check, or to stop the whole night with one folder it
cannot read. Every such entry must be reported by name and skipped; nothing is recorded from
it; the rest of the batch, the missing pass and the mails still run; the exit code is 1.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import skip_or_fail
from smtp_server import start_smtp

from acorntui.core.parser import ParseError, parse_file

NOW = dt.datetime(2026, 11, 26, 7, 0, 0)
LOG_TIME = dt.datetime(2026, 11, 26, 2, 30, 0)  # night 2026-11-25
OK_LOG = ("sending incremental file list\n/data/a.txt\n\n"
          "sent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\n"
          "total size is 9,999  speedup is 7.75\n")
FAIL_LOG = ('rsync: [sender] send_files failed to open "/data/Mail/boss.pst": '
            "Permission denied (13)\n"
            "sent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\n"
            "total size is 9,999  speedup is 7.75\n"
            "rsync error: some files/attrs were not transferred (see previous errors) "
            "(code 23) at main.c(1338) [sender=3.2.7]\n")
# What the file outside the spool holds: were it read, its "failure" would carry the secret
# into the failures table, where any CSR can read it.
SECRET = "root-password-hash-$6$S3CR3T"
SECRET_LOG = (f'rsync: send_files failed to open "{SECRET}": Permission denied (13)\n'
              "rsync error: some files could not be transferred (code 23) at main.c(1039)\n")


def put(root: Path, customer: str, server: str, text: str, when: dt.datetime = LOG_TIME
        ) -> Path:
    p = root / customer / f"{server}.out"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    os.utime(p, (when.timestamp(), when.timestamp()))
    return p


def cli(*args: str, env: dict | None = None, prefix: list[str] | None = None,
        cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [*(prefix or []), sys.executable, "-m", "acorntui", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=env or os.environ.copy(), cwd=cwd)


def db_rows(db: Path, night: str = "2026-11-25") -> tuple[dict[str, tuple], list[str]]:
    """customer/server -> (status, reason, code) of the night's results, and every failure
    path."""
    import sqlite3

    c = sqlite3.connect(db)
    results = {f"{cn}/{sn}": (st, rs, code) for cn, sn, st, rs, code in c.execute(
        "SELECT c.name, s.name, r.status, r.reason, r.code FROM results r "
        "JOIN servers s ON s.id = r.server_id JOIN customers c ON c.id = s.customer_id "
        "WHERE r.night = ?", (night,))}
    paths = [p for (p,) in c.execute("SELECT path FROM failures")]
    c.close()
    return results, paths


def init_db(db: Path, env: dict | None = None, prefix: list[str] | None = None,
            cwd: Path | None = None) -> None:
    proc = cli("--db", f"sqlite:///{db}", "init-db", env=env, prefix=prefix, cwd=cwd)
    assert proc.returncode == 0, proc.stderr


# -- links, FIFOs, devices, folders named x.out -------------------------------------------------


@pytest.fixture
def hostile_spool(tmp_path):
    spool = tmp_path / "spool"
    put(spool, "acme", "fs01", OK_LOG)
    put(spool, "acme", "mail01", FAIL_LOG)
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "shadow"
    secret.write_text(SECRET_LOG)
    os.utime(secret, (LOG_TIME.timestamp(), LOG_TIME.timestamp()))
    evil = spool / "evil"
    evil.mkdir()
    (evil / "x.out").symlink_to(secret)  # x.out -> a file outside the spool
    (evil / "null.out").symlink_to("/dev/null")
    (evil / "dir.out").mkdir()  # a folder named like a log
    os.mkfifo(evil / "fifo.out")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(evil / "sock.out"))
    if os.geteuid() == 0:  # a real device node (only root may make one): /dev/null's numbers
        os.mknod(evil / "dev.out", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    (spool / "linked").symlink_to(outside, target_is_directory=True)  # a customer folder link
    (outside / "srv.out").symlink_to(secret)
    shutil.copy(secret, outside / "real.out")
    os.utime(outside / "real.out", (LOG_TIME.timestamp(), LOG_TIME.timestamp()))
    yield spool
    sock.close()


def test_ingest_refuses_links_fifos_sockets_and_folders_by_name(hostile_spool, tmp_path):
    db = tmp_path / "h.db"
    init_db(db)
    proc = cli("--db", f"sqlite:///{db}", "ingest", "--now", NOW.isoformat(), str(hostile_spool))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    evil = hostile_spool / "evil"
    err = proc.stderr
    assert f"{evil / 'x.out'}: not a regular file (a symbolic link)" in err
    assert f"{evil / 'null.out'}: not a regular file (a symbolic link)" in err
    assert f"{evil / 'dir.out'}: Is a directory" in err
    assert f"{evil / 'fifo.out'}: not a regular file (a FIFO)" in err
    assert f"{evil / 'sock.out'}: not a regular file (a socket)" in err
    if (evil / "dev.out").exists():
        assert f"{evil / 'dev.out'}: not a regular file (a character device)" in err
    assert f"customer folder {hostile_spool / 'linked'} is a symbolic link: not followed" in err
    refused = 7 if (evil / "dev.out").exists() else 6  # 5 (+ dev.out) in evil/, and linked/
    assert f"{refused} unreadable" in proc.stdout, proc.stdout
    results, paths = db_rows(db)
    assert SECRET not in " ".join(paths)  # nothing from outside the spool was recorded
    assert not any(k.startswith("linked/") for k in results)
    assert not [k for k in results if k.startswith("evil/")]
    assert results["acme/fs01"][0] == "ok" and results["acme/mail01"][0] == "failed"


def test_parse_refuses_a_symlinked_log(hostile_spool):
    with pytest.raises(ParseError, match=r"x\.out: not a regular file \(a symbolic link\)"):
        parse_file(hostile_spool / "evil" / "x.out", max_age_hours=0)


def test_a_customer_folder_swapped_for_a_link_after_listing_is_not_followed(tmp_path):
    """The listing saw a real folder; it became a symlink before the file was opened."""
    from acorntui.db import connect, init_schema
    from acorntui.db.models import Failure, Result
    from acorntui.services.ingest import Ingestor, list_spool

    spool = tmp_path / "spool"
    put(spool, "acme", "srv", OK_LOG)
    outside = tmp_path / "outside"
    put(outside.parent, "outside", "srv", SECRET_LOG)
    listing = list_spool(spool)
    assert [p.name for p in listing.files] == ["srv.out"]
    shutil.rmtree(spool / "acme")
    (spool / "acme").symlink_to(outside, target_is_directory=True)
    database = connect(f"sqlite:///{tmp_path / 's.db'}")
    init_schema(database)
    try:
        rep = Ingestor(now=NOW).ingest_paths(listing.files, in_spool=True, mark_missing=False)
        assert [o.action for o in rep.outcomes] == ["error"]
        assert "its folder is a symbolic link" in rep.outcomes[0].error
        assert Result.select().count() == 0 and Failure.select().count() == 0
    finally:
        database.close()


# A child that parses one path over and over while another process swaps a regular log and
# a FIFO in and out under that name: it must never block in open() on the FIFO.
_PARSE_LOOP = r"""
import sys, time
from acorntui.core.parser import ParseError, parse_file
path, seconds = sys.argv[1], float(sys.argv[2])
parsed = refused = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        parse_file(path, max_age_hours=0)
        parsed += 1
    except ParseError as exc:
        refused += 1
print(parsed, refused)
"""
_SWAP_LOOP = r"""
import os, sys
path, reg, fifo = sys.argv[1:4]
while True:
    os.link(reg, path + ".tmp"); os.replace(path + ".tmp", path)
    os.mkfifo(path + ".f"); os.replace(path + ".f", path)
"""


def test_a_fifo_swapped_in_after_the_type_check_does_not_hang(tmp_path):
    target = put(tmp_path, "acme", "srv", OK_LOG)
    reg = tmp_path / "regular.copy"
    shutil.copy(target, reg)
    swapper = subprocess.Popen([sys.executable, "-c", _SWAP_LOOP, str(target), str(reg), ""],
                               stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.2)
        proc = subprocess.run([sys.executable, "-c", _PARSE_LOOP, str(target), "4"],
                              capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("parse_file blocked on a FIFO swapped in after its type check")
    finally:
        swapper.kill()
        swapper.wait()
    assert proc.returncode == 0, proc.stderr
    parsed, refused = map(int, proc.stdout.split())
    assert parsed > 0 and refused > 0, (parsed, refused)  # both sides of the race were met


# -- an unreadable customer folder ------------------------------------------------------------


_PROBE = "import os, sys; os.listdir(sys.argv[1])"


def _unprivileged(probe_dir: Path) -> tuple[list[str], str | None]:
    """A command prefix under which the kernel holds the command to folder permissions, and
    the user the files must belong to (None: as they are).

    root reads a chmod 000 folder anyway (CAP_DAC_OVERRIDE), so as root the command runs
    either as root without the two capabilities that bypass file permissions (setpriv drops
    them from the bounding set, so the kernel checks the mode bits as for anyone), or as
    ``nobody`` when that user can run this Python. Each candidate is proved on a chmod 000
    folder: the probe must start and then be refused.
    """
    if os.geteuid() != 0:
        return [], None
    candidates: list[tuple[list[str], str | None]] = []
    if shutil.which("setpriv"):
        candidates.append((["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"],
                           None))
    if shutil.which("runuser"):
        candidates.append((["runuser", "-u", "nobody", "--"], "nobody"))
    locked = probe_dir / "probe-000"
    locked.mkdir()
    os.chmod(probe_dir, 0o755)
    os.chmod(locked, 0o000)
    try:
        for prefix, user in candidates:
            p = subprocess.run([*prefix, sys.executable, "-c", _PROBE, str(locked)],
                               capture_output=True, text=True, timeout=60)
            if p.returncode == 1 and "PermissionError" in p.stderr:
                return prefix, user
    finally:
        os.chmod(locked, 0o755)
        locked.rmdir()
    skip_or_fail("no way to run a command that the kernel holds to folder permissions "
                 "(running as root, and neither setpriv nor runuser nobody works)")
    raise AssertionError("unreachable")


@pytest.fixture
def shared_dir():
    """A folder outside pytest's private tmp tree (0700, root's), owned by the user the
    command will run as."""
    d = Path(tempfile.mkdtemp(prefix="acorn-unreadable-"))
    os.chmod(d, 0o755)
    yield d
    for p in [d, *d.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            os.chmod(p, 0o755)
    shutil.rmtree(d, ignore_errors=True)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for p in [root, *root.rglob("*")]:
        os.chown(p, uid, gid, follow_symlinks=False)


@pytest.mark.parametrize("command", ["ingest", "nightly"])
def test_unreadable_customer_folder_is_named_and_the_night_goes_on(shared_dir, command):
    import pwd

    prefix, user = _unprivileged(shared_dir)
    spool = shared_dir / "spool"
    put(spool, "acme", "fs01", OK_LOG)
    put(spool, "acme", "mail01", FAIL_LOG)
    put(spool, "locked", "srv1", OK_LOG)
    put(spool, "zeta", "srv9", OK_LOG)
    db = shared_dir / "a.db"
    smtp = start_smtp()
    try:
        cfg = shared_dir / "acorn.toml"
        cfg.write_text(f"""
[spool]
dir = "{spool}"
[mail]
host = "127.0.0.1"
port = {smtp.port}
security = "none"
from = "backups@example.com"
to = ["tsr-team@example.com"]
outbox_dir = "{shared_dir / 'outbox'}"
""")
        cfg.chmod(0o600)
        env = {**os.environ, "ACORN_CONFIG": str(cfg), "XDG_DATA_HOME": str(shared_dir / "xd"),
               "XDG_CONFIG_HOME": str(shared_dir / "xc"), "HOME": str(shared_dir)}
        if user:
            pw = pwd.getpwnam(user)
            _chown_tree(shared_dir, pw.pw_uid, pw.pw_gid)
        if prefix:
            # runuser/setpriv keep the environment; the child needs ours (PYTHONPATH too)
            prefix = [*prefix, "env", *[f"{k}={v}" for k, v in env.items()]]
        init_db(db, env=env, prefix=prefix, cwd=shared_dir)
        # an earlier night made acme/old01 known; it sends nothing now: the missing pass's work
        old = put(spool, "acme", "old01", OK_LOG, LOG_TIME - dt.timedelta(days=2))
        first = cli("--db", f"sqlite:///{db}", "ingest", "--now",
                    (NOW - dt.timedelta(days=2)).isoformat(), str(old), env=env, prefix=prefix,
                    cwd=shared_dir)
        assert first.returncode == 0, first.stderr
        old.unlink()
        os.chmod(spool / "locked", 0o000)
        args = ["--db", f"sqlite:///{db}", command, "--now", NOW.isoformat()]
        proc = cli(*args, env=env, prefix=prefix, cwd=shared_dir)
    finally:
        smtp.stop()
        os.chmod(spool / "locked", 0o755)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    out = proc.stdout + proc.stderr
    assert f"cannot read customer folder {spool / 'locked'}: Permission denied" in out
    results, _ = db_rows(db)
    # the rest of the batch was recorded, before and after the locked folder
    assert results["acme/fs01"][0] == "ok" and results["acme/mail01"][0] == "failed"
    assert results["zeta/srv9"][0] == "ok"
    assert "locked/srv1" not in results  # nothing recorded from the folder it could not read
    assert results["acme/old01"] == ("incomplete", "missing", -2)  # the missing pass ran
    if command == "nightly":
        assert "mail: sent" in proc.stdout, proc.stdout
        assert len(smtp.messages) >= 1
        assert any("acme" in m.part("plain") for m in smtp.messages)


def test_the_nightly_listings_refusals_are_reported_with_the_batch(hostile_spool, sqlite_db):
    # the nightly job lists the spool itself and hands ingest the files and the refusals:
    # each refused name is in the batch's errors (the job's problems), next to the results
    from acorntui.services.ingest import Ingestor, list_spool

    listing = list_spool(hostile_spool)
    rep = Ingestor(now=NOW).ingest_paths(listing.files, mark_missing=False, in_spool=True,
                                         skipped=listing.skipped)
    errors = {o.path: o.error for o in rep.errors}
    evil = hostile_spool / "evil"
    assert errors[str(evil / "x.out")].endswith("not a regular file (a symbolic link)")
    assert errors[str(evil / "fifo.out")].endswith("not a regular file (a FIFO)")
    assert {o.server: o.status for o in rep.outcomes if not o.error} == \
        {"fs01": "ok", "mail01": "failed"}
