"""The SMTP password never leaks (issue #8, secrets for mail).

``acorntui report failures --email`` and ``acorntui nightly`` run as subprocesses against a
real SMTP server (aiosmtpd on loopback) that requires a login, with the password from
``password_env`` and from the config file, accepted and refused, and refused by a server that
echoes the credentials it got (in clear and as the base64 AUTH PLAIN sends) in its answer. The
password, its halves and its base64 forms must be absent from stdout/stderr, the outbox .eml
files, the database file (and WAL), every audit row and the arguments of the running process
and its children.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from smtp_server import SMTPServer, _Handler, free_port
from sshd import FAILED_LOG
from test_mail import estate  # noqa: F401
from test_reliability_ingest import LOG_TIME, NOW
from test_secrets import _tree

ROOT = Path(__file__).resolve().parent.parent
USER = "acorn"
SECRET_A = f"Ml{uuid.uuid4().hex[:10]}"
SECRET_B = f"{uuid.uuid4().hex[:10]}Z"
SECRET = f"{SECRET_A}@ \"'{SECRET_B}"  # quotes and a space, as a TOML file may hold them


def secret_forms(secret: str) -> list[bytes]:
    forms = [secret, secret.split("@")[0], secret.rsplit("'", 1)[1]]
    for raw in (secret, f"\0{USER}\0{secret}"):
        forms.append(base64.b64encode(raw.encode()).decode())
    return [f.encode() for f in forms]


PIECES = secret_forms(SECRET)
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def leaks(blob: bytes | str) -> list[bytes]:
    data = blob.encode("utf-8", "replace") if isinstance(blob, str) else blob
    return [s for s in PIECES if s in data]


class _Checker:
    """Accepts ``SECRET`` (``accept``), or refuses; ``echo``: the refusal repeats what the
    client sent, as a careless server might."""

    def __init__(self, accept: bool, echo: bool):
        self.accept, self.echo = accept, echo

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        if self.accept and auth_data.login == USER.encode() and \
                auth_data.password == SECRET.encode():
            return AuthResult(success=True, auth_data=auth_data)
        if self.echo:
            sent = base64.b64encode(b"\0" + auth_data.login + b"\0" + auth_data.password)
            return AuthResult(success=False, handled=False, message=(
                f"535 5.7.8 bad credentials {auth_data.login.decode()}:"
                f"{auth_data.password.decode()} ({sent.decode()})"))
        return AuthResult(success=False, handled=False)


def start(accept: bool, echo: bool = False) -> SMTPServer:
    handler = _Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port,
                            authenticator=_Checker(accept, echo), auth_required=True,
                            auth_require_tls=False)
    controller.start()
    return SMTPServer("127.0.0.1", port, controller, handler, USER, SECRET)


def write_config(tmp_path: Path, port: int, source: str) -> Path:
    spool = tmp_path / "spool"
    p = spool / "acme" / "exch.out"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(FAILED_LOG)
    os.utime(p, (LOG_TIME.timestamp(), LOG_TIME.timestamp()))
    toml_secret = SECRET.replace("\\", "\\\\").replace('"', '\\"')
    password = f'password = "{toml_secret}"' if source == "file" else \
        'password_env = "ACORN_SMTP_PASSWORD"'
    cfg = tmp_path / "acorn.toml"
    cfg.write_text(f"""
[database]
url = "sqlite:///{tmp_path / 'acorn.db'}"

[spool]
dir = "{spool}"

[mail]
host = "127.0.0.1"
port = {port}
security = "none"
user = "{USER}"
{password}
from = "backups@example.com"
to = ["tsr-team@example.com"]
timeout = 5
outbox_dir = "{tmp_path / 'outbox'}"
""")
    cfg.chmod(0o600)
    return cfg


def run_watched(args: list[str], env: dict) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run acorntui; while it runs, read the arguments of it and every child it starts."""
    proc = subprocess.Popen([sys.executable, "-m", "acorntui", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        for pid in _tree(proc.pid):
            try:
                seen.add(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                         .decode(errors="replace"))
            except OSError:
                pass
        time.sleep(0.005)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), sorted(seen)


def files_leaking(root: Path, skip: set[Path]) -> list[str]:
    return [str(p) for p in root.rglob("*")
            if p.is_file() and p not in skip and leaks(p.read_bytes())]


@pytest.mark.parametrize("source", ["env", "file"])
@pytest.mark.parametrize("server", ["accepts", "refuses", "echoes"])
def test_smtp_password_never_leaks(estate, sqlite_db, tmp_path, source, server):  # noqa: F811
    from acorntui.db.models import Tsr, Update
    from acorntui.services.roles import current_login

    # nightly ingests, which needs a TSR: the job runs as this login (docs/nightly-job.md)
    Tsr.get_or_create(login=current_login(), defaults={"name": "nightly job", "level": 1})
    srv = start(accept=server == "accepts", echo=server == "echoes")
    try:
        cfg = write_config(tmp_path, srv.port, source)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "ACORN_CONFIG": str(cfg)}
        env.pop("ACORN_DB", None)
        env.pop("ACORN_SMTP_PASSWORD", None)
        if source == "env":
            env["ACORN_SMTP_PASSWORD"] = SECRET
        runs = [run_watched(["report", "failures", "--email"], env),
                run_watched(["nightly", "--now", NOW], env)]
    finally:
        srv.stop()
    for proc, cmdlines in runs:
        text = proc.stdout + proc.stderr
        assert cmdlines, "the process was never seen running"
        assert leaks("\n".join(cmdlines)) == [], cmdlines
        assert leaks(text) == [], text
        assert "Traceback" not in proc.stderr, proc.stderr
        if server == "accepts":
            assert proc.returncode == 0, text
        else:
            assert proc.returncode == 1 and "535 5.7.8" in text, text
    if server == "accepts":
        assert len(srv.messages) == 3 and all(m.auth_user == USER for m in srv.messages)
        assert not list((tmp_path / "outbox").glob("*.eml"))
    else:
        assert not srv.messages
        if server == "echoes":  # the answer is shown, the credentials in it are not
            assert f"535 5.7.8 bad credentials {USER}:***" in runs[0][0].stderr
        kept = list((tmp_path / "outbox").glob("*.eml"))
        assert len(kept) == 3  # report failures: 1; nightly: daily + three-day
        for p in kept:
            assert leaks(p.read_bytes()) == [], p
    sqlite_db.execute_sql("PRAGMA wal_checkpoint(FULL)")
    rows = list(Update.select().dicts())
    assert rows and leaks(repr(rows)) == []
    assert files_leaking(tmp_path, skip={cfg}) == []
