"""Real rsync logs for tests: run /usr/bin/rsync in temporary folders and keep its output.

Each ``make_*_log(tmp_path, ...)`` runs rsync the way the customer's backup.bat does
(``rsync -vtrR --delete --ignore-errors SRC DEST > stats.out 2>&1``: stdout and stderr
share one file description) and returns the path of the log, written as
``tmp_path/<customer>/<server>.out`` so it can be fed to the parser or to ingest as a spool.
The matching ``run_*`` functions return a :class:`RealLog` with what the run should show
(exit code, failing paths and their kinds); a RealLog is ``os.PathLike``.

When rsync (or, for the unreadable-file log, a way to run it as ``nobody``) is missing, the
helpers skip the calling test with the reason, or fail it when ``ACORN_REQUIRE_INTEGRATION=1``.

Import from a test module in tests/ as ``import rsync_logs`` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

RSYNC = "/usr/bin/rsync"
#: the customer script's options (backup.bat in the write-up), minus ssh and excludes
CUSTOMER_FLAGS = ("-vtrR", "--delete", "--ignore-errors")
#: rsync's escaping of names depends on the locale: pin it
RSYNC_ENV = {"LC_ALL": "C", "LANG": "C", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}


@dataclass
class RealLog:
    """A stats.out written by a real rsync run, with what it is expected to contain."""

    path: Path
    exit_code: int  # rsync's exit status (negative: killed by that signal)
    source: Path  # the source folder that was backed up
    failing: dict[str, str] = field(default_factory=dict)  # path as rsync prints it -> kind

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


def skip_or_fail(reason: str) -> None:
    """Skip the test, or fail it when ACORN_REQUIRE_INTEGRATION=1 (CI with all tools)."""
    if os.environ.get("ACORN_REQUIRE_INTEGRATION") == "1":
        pytest.fail(f"integration requirement not met: {reason}")
    pytest.skip(reason)


def require_rsync() -> str:
    """The rsync binary, or skip/fail the test."""
    if not (os.path.isfile(RSYNC) and os.access(RSYNC, os.X_OK)):
        found = shutil.which("rsync")
        if not found:
            skip_or_fail("rsync is not installed (Debian package rsync)")
        return found  # type: ignore[return-value]
    return RSYNC


def rsync_version() -> str:
    """The installed rsync's version, e.g. '3.2.7'."""
    out = subprocess.run([require_rsync(), "--version"], capture_output=True, text=True).stdout
    return out.split()[2] if out.startswith("rsync") else ""


def _log_path(tmp_path: Path, customer: str, server: str) -> Path:
    folder = Path(tmp_path) / customer
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{server}.out"


def run_rsync(
    args: Sequence[str],
    log: Path,
    *,
    prefix: Sequence[str] = (),
    timeout: float = 120,
) -> int:
    """Run rsync with ``args``; stdout and stderr both go to ``log`` (like ``> log 2>&1``)."""
    cmd = [*prefix, require_rsync(), *args]
    with open(log, "wb") as fh:
        proc = subprocess.run(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=RSYNC_ENV, timeout=timeout
        )
    return proc.returncode


def _tree(root: Path) -> Path:
    """A small customer-like share: <root>/shares/{Docs,Mail,QB}/..."""
    shares = root / "shares"
    (shares / "Docs").mkdir(parents=True)
    (shares / "Mail").mkdir()
    (shares / "QB").mkdir()
    (shares / "Docs" / "report.docx").write_bytes(b"report\n" * 100)
    (shares / "Docs" / "notes.txt").write_bytes(b"notes\n")
    (shares / "Mail" / "archive.pst").write_bytes(b"\0" * 4096)
    (shares / "QB" / "Company.QBW").write_bytes(b"qb" * 1000)
    return shares


# --------------------------------------------------------------------------- code 0


def run_clean(tmp_path: Path, *, customer: str = "acme", server: str = "fs1") -> RealLog:
    """A clean backup: exit 0, no file errors, last line ``total size is ...``."""
    src = Path(tmp_path) / f"src-{server}"
    shares = _tree(src)
    log = _log_path(tmp_path, customer, server)
    rc = run_rsync([*CUSTOMER_FLAGS, str(shares), str(Path(tmp_path) / f"dst-{server}")], log)
    return RealLog(log, rc, shares)


def make_clean_log(tmp_path: Path, **kw: str) -> Path:
    """Path of a real clean log (code 0).  See :func:`run_clean`."""
    return run_clean(tmp_path, **kw).path


def run_stats_human(tmp_path: Path, *, customer: str = "acme", server: str = "fs-stats") -> RealLog:
    """A clean backup with ``--stats -h`` (human numbers such as ``3.00M``); exit 0."""
    src = Path(tmp_path) / f"src-{server}"
    shares = _tree(src)
    (shares / "Docs" / "big.bin").write_bytes(os.urandom(3_000_000))
    log = _log_path(tmp_path, customer, server)
    dst = Path(tmp_path) / f"dst-{server}"
    rc = run_rsync([*CUSTOMER_FLAGS, "--stats", "-h", str(shares), str(dst)], log)
    return RealLog(log, rc, shares)


def make_stats_human_log(tmp_path: Path, **kw: str) -> Path:
    """Path of a real ``--stats -h`` log (code 0).  See :func:`run_stats_human`."""
    return run_stats_human(tmp_path, **kw).path


# --------------------------------------------------------------------------- code 23


def _nobody_prefix() -> list[str]:
    """A command prefix that runs the rest as user nobody, or skip/fail."""
    if os.geteuid() != 0:
        skip_or_fail("running rsync as nobody needs root")
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        skip_or_fail("there is no user 'nobody'")
        raise
    candidates = []
    if shutil.which("setpriv"):
        candidates.append(
            ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", "--"]
        )
    if shutil.which("runuser"):
        candidates.append(["runuser", "-u", "nobody", "--"])
    for prefix in candidates:
        probe = subprocess.run([*prefix, "id", "-u"], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == str(pw.pw_uid):
            return prefix
    skip_or_fail("neither setpriv nor runuser can switch to user nobody")
    raise AssertionError("unreachable")


#: names in the unreadable tree: raw name bytes -> how rsync (LC_ALL=C) prints them
UNREADABLE_NAMES = {
    b"outlook.pst": "outlook.pst",
    b"Bilanz_K\xf6ln.xls": "Bilanz_K\\#366ln.xls",  # cp1252 o-umlaut: not printable in C
    b'say "hi".doc': 'say "hi".doc',  # quotes are not escaped
    b"esc\x1bname.txt": "esc\\#033name.txt",  # control characters become \#ooo
}


def run_unreadable(tmp_path: Path, *, customer: str = "acme", server: str = "fs-locked") -> RealLog:
    """rsync run as ``nobody`` over a tree with unreadable files and an unreadable folder.

    Exit 23 with ``send_files failed to open`` (kind ``open_failed``) for every name in
    :data:`UNREADABLE_NAMES` (under ``shares/Mail``) and ``opendir ... failed``
    (``opendir_failed``) for ``shares/Locked``.  The tree lives in a world-readable folder
    under the system temp dir (pytest's tmp_path is private to root) and is removed after.
    """
    prefix = _nobody_prefix()
    base = Path(tempfile.mkdtemp(prefix="acorn-rsync-"))
    try:
        os.chmod(base, 0o755)
        shares = _tree(base / "src")
        mail = shares / "Mail"
        failing: dict[str, str] = {}
        for raw, shown in UNREADABLE_NAMES.items():
            p = os.path.join(os.fsencode(mail), raw)
            with open(p, "wb") as fh:
                fh.write(b"locked\n")
            os.chmod(p, 0)
            failing[f"{mail}/{shown}"] = "open_failed"
        locked = shares / "Locked"
        locked.mkdir()
        (locked / "inside.txt").write_text("x")
        for d in (base / "src", shares, shares / "Docs", shares / "QB", mail):
            os.chmod(d, 0o755)
        for f in ("Docs/report.docx", "Docs/notes.txt", "Mail/archive.pst", "QB/Company.QBW"):
            os.chmod(shares / f, 0o644)
        os.chmod(locked, 0)
        failing[str(locked)] = "opendir_failed"
        dst = base / "dst"
        dst.mkdir()
        os.chmod(dst, 0o777)
        log = _log_path(tmp_path, customer, server)
        # nobody cannot write into root's tmp_path: write to base, then copy
        inner = base / "stats.out"
        inner.touch()
        os.chmod(inner, 0o666)
        rc = run_rsync([*CUSTOMER_FLAGS, str(shares), str(dst)], inner, prefix=prefix)
        shutil.copyfile(inner, log)
        return RealLog(log, rc, shares, failing)
    finally:
        # root ignores the modes, so this also removes the unreadable parts
        shutil.rmtree(base, ignore_errors=True)


def make_unreadable_log(tmp_path: Path, **kw: str) -> Path:
    """Path of a real code-23 log with unreadable files.  See :func:`run_unreadable`."""
    return run_unreadable(tmp_path, **kw).path


def run_missing_source(
    tmp_path: Path, *, customer: str = "acme", server: str = "fs-missing"
) -> RealLog:
    """A backup naming a source that does not exist: exit 23, ``link_stat ... failed``."""
    src = Path(tmp_path) / f"src-{server}"
    shares = _tree(src)
    missing = src / "E" / "gone"
    log = _log_path(tmp_path, customer, server)
    rc = run_rsync(
        [*CUSTOMER_FLAGS, str(shares), str(missing), str(Path(tmp_path) / f"dst-{server}")], log
    )
    return RealLog(log, rc, shares, {str(missing): "link_stat_failed"})


def make_missing_source_log(tmp_path: Path, **kw: str) -> Path:
    """Path of a real code-23 log (missing source).  See :func:`run_missing_source`."""
    return run_missing_source(tmp_path, **kw).path


# --------------------------------------------------------------------------- code 24


def _wait_for_temp_file(dst: Path, stem: str, proc: subprocess.Popen, limit: float) -> bool:
    """Wait until rsync writes ``.<stem>.XXXXXX`` in dst: the file list is then complete."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if any(n.startswith(f".{stem}") for n in os.listdir(dst)):
                return True
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    return False


def run_vanished(tmp_path: Path, *, customer: str = "acme", server: str = "fs-vanish") -> RealLog:
    """A file deleted after the file list was built: exit 24, ``file has vanished: "..."``.

    Deterministic: rsync copies ``a_big.bin`` first under ``--bwlimit``; once its temporary
    file appears in the destination the file list is complete, and ``z_last.txt`` (sent
    after it, names are sorted) is deleted.  Retried a few times should a run be too quick.
    """
    log = _log_path(tmp_path, customer, server)
    rc = -1
    for attempt in range(4):
        src = Path(tmp_path) / f"src-{server}-{attempt}"
        shares = _tree(src)
        big = shares / "Docs" / "a_big.bin"
        big.write_bytes(os.urandom(1_500_000 * (attempt + 1)))
        victim = shares / "Docs" / "z_last.txt"
        victim.write_text("soon gone\n")
        dst = Path(tmp_path) / f"dst-{server}-{attempt}"
        # -R recreates the full source path under dst
        dst_docs = Path(str(dst) + str(shares / "Docs"))
        cmd = [require_rsync(), *CUSTOMER_FLAGS, "--bwlimit=1000", str(shares), str(dst)]
        with open(log, "wb") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=RSYNC_ENV)
            try:
                if _wait_for_temp_file(dst_docs, "a_big.bin", proc, 30):
                    victim.unlink()
                rc = proc.wait(timeout=120)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if rc == 24:
            return RealLog(log, rc, shares, {str(victim): "vanished"})
    return RealLog(log, rc, shares, {str(victim): "vanished"})


def make_vanished_log(tmp_path: Path, **kw: str) -> Path:
    """Path of a real code-24 log (a file vanished).  See :func:`run_vanished`."""
    return run_vanished(tmp_path, **kw).path


# --------------------------------------------------------------------------- code 1


def run_bad_option(tmp_path: Path, *, customer: str = "acme", server: str = "fs-badopt") -> RealLog:
    """rsync with an unknown option: exit 1, ``rsync error: syntax or usage error (code 1)``."""
    src = Path(tmp_path) / f"src-{server}"
    shares = _tree(src)
    log = _log_path(tmp_path, customer, server)
    rc = run_rsync(
        [*CUSTOMER_FLAGS, "--no-such-option", str(shares), str(Path(tmp_path) / "dst")], log
    )
    return RealLog(log, rc, shares)


def make_bad_option_log(tmp_path: Path, **kw: str) -> Path:
    """Path of a real code-1 log.  See :func:`run_bad_option`."""
    return run_bad_option(tmp_path, **kw).path


# --------------------------------------------------------------------------- killed


def _run_killed(tmp_path: Path, customer: str, server: str, sig: int) -> RealLog:
    src = Path(tmp_path) / f"src-{server}"
    shares = _tree(src)
    (shares / "Docs" / "a_big.bin").write_bytes(os.urandom(4_000_000))
    dst = Path(tmp_path) / f"dst-{server}"
    dst_docs = Path(str(dst) + str(shares / "Docs"))
    log = _log_path(tmp_path, customer, server)
    cmd = [require_rsync(), *CUSTOMER_FLAGS, "--bwlimit=200", str(shares), str(dst)]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=RSYNC_ENV, start_new_session=True
        )
        try:
            _wait_for_temp_file(dst_docs, "a_big.bin", proc, 30)
            time.sleep(0.2)
            if sig == signal.SIGKILL:
                # stop every rsync process first, so none of them gets to print anything
                os.killpg(proc.pid, signal.SIGSTOP)
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                os.killpg(proc.pid, sig)
            rc = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    # let the other processes of the group finish writing
    time.sleep(0.2)
    return RealLog(log, rc, shares)


def run_sigkill(tmp_path: Path, *, customer: str = "acme", server: str = "fs-killed") -> RealLog:
    """rsync killed with SIGKILL mid-transfer (Task Scheduler ``taskkill /f``): the log just
    stops after a file name, no summary and no code line; the parser must say -2."""
    return _run_killed(tmp_path, customer, server, signal.SIGKILL)


def make_sigkill_log(tmp_path: Path, **kw: str) -> Path:
    """Path of a real log cut short by SIGKILL (no final line).  See :func:`run_sigkill`."""
    return run_sigkill(tmp_path, **kw).path


def run_sigterm(tmp_path: Path, *, customer: str = "acme", server: str = "fs-term") -> RealLog:
    """rsync sent SIGTERM mid-transfer: it prints
    ``rsync error: received SIGINT, SIGTERM, or SIGHUP (code 20)`` and exits 20."""
    return _run_killed(tmp_path, customer, server, signal.SIGTERM)


def make_sigterm_log(tmp_path: Path, **kw: str) -> Path:
    """Path of a real code-20 log (SIGTERM).  See :func:`run_sigterm`."""
    return run_sigterm(tmp_path, **kw).path
