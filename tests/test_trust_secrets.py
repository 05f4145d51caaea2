"""Issue 12, finding 8: a database password never reaches the terminal, whatever it holds.

Passwords with an unencoded `/`, `#`, `?`, `@`, `:`, `%` or space, percent-encoded ones, and
URLs that do not parse at all go through `config show`, a connection error to a closed port,
`whoami` and `init-db`. Each password is two random halves around the odd character; neither
half may appear in stdout or stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def halves() -> tuple[str, str]:
    return f"Qa{uuid.uuid4().hex[:9]}", f"{uuid.uuid4().hex[:9]}Zk"


def _cases() -> list[tuple[str, str, list[str]]]:
    """(id, URL, secret pieces) for a closed port (127.0.0.1:1)."""
    out = []
    for name, sep in (("slash", "/"), ("hash", "#"), ("question", "?"), ("at", "@"),
                      ("colon", ":"), ("percent", "%"), ("space", " "), ("encoded", "%2F"),
                      ("all", "/#?@: %")):
        a, b = halves()
        out.append((name, f"mysql://acorn:{a}{sep}{b}@127.0.0.1:1/backup_serverlist", [a, b]))
    a, b = halves()
    # no '@': the password sits where the port should be
    out.append(("no-at", f"mysql://acorn:{a}/{b}/backup_serverlist", [a, b]))
    a, _ = halves()
    out.append(("bad-port", f"mysql://acorn:{a}@127.0.0.1:notaport/db", [a]))
    out.append(("no-scheme", f"acorn:{a}@127.0.0.1/db", [a]))
    out.append(("one-slash", f"mysql:/acorn:{a}@127.0.0.1/db", [a]))
    out.append(("bracket", f"mysql://acorn:{a}@[::1/db", [a]))
    out.append(("control", f"mysql://acorn:{a}@127.0.0.1\x1b[2J:1/db", [a]))
    return out


CASES = _cases()


def run(args: list[str], env: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    full = dict(os.environ, **env)
    full["PYTHONPATH"] = str(ROOT)
    full["ACORN_CONFIG"] = env.get("ACORN_CONFIG", str(tmp_path / "none.toml"))
    return subprocess.run([sys.executable, "-m", "acorntui", *args], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=60)


def assert_hidden(p: subprocess.CompletedProcess, secrets: list[str]) -> None:
    both = p.stdout + p.stderr
    assert [s for s in secrets if s in both] == [], both
    assert "Traceback" not in p.stderr, p.stderr


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_password_never_printed(case, tmp_path):
    _name, url, secrets = case
    cfg = tmp_path / "acorn.toml"
    escaped = url.replace("\\", "\\\\").replace('"', '\\"').replace("\x1b", "\\u001b")
    cfg.write_text(f'[database]\nurl = "{escaped}"\n', encoding="utf-8")
    cfg.chmod(0o600)
    # config show from the config file and from ACORN_DB: the URL is shown masked
    p = run(["config", "show"], {"ACORN_CONFIG": str(cfg)}, tmp_path)
    assert p.returncode == 0, p.stderr
    assert_hidden(p, secrets)
    assert '"url": ' in p.stdout and ("***" in p.stdout or "not shown" in p.stdout), p.stdout
    p = run(["config", "show"], {"ACORN_DB": url}, tmp_path)
    assert_hidden(p, secrets)
    # the connection error (closed port or unreadable URL) on the commands that connect
    for args in (["whoami"], ["init-db"]):
        p = run(args, {"ACORN_DB": url}, tmp_path)
        assert p.returncode in (1, 2), (args, p.stdout, p.stderr)
        assert_hidden(p, secrets)
        assert "acorntui:" in p.stderr, p.stderr
    p = run(["--db", url, "whoami"], {}, tmp_path)
    assert p.returncode in (1, 2)
    assert_hidden(p, secrets)


def test_mask_url_keeps_user_host_and_database():
    from acorntui.db.connection import mask_url

    a, b = halves()
    assert mask_url(f"mysql://acorn:{a}/{b}@db.example.com:3307/backup_serverlist?x=1") == \
        "mysql://acorn:***@db.example.com:3307/backup_serverlist?x=1"
    assert mask_url("mysql://acorn@db/x") == "mysql://acorn@db/x"
    assert mask_url("sqlite:////srv/a@b:c/acorn.db") == "sqlite:////srv/a@b:c/acorn.db"
    assert mask_url(f"mysql://acorn:{a}@db.example.com:port/x") == \
        "<malformed mysql URL for host db.example.com, not shown>"


def test_password_with_odd_characters_still_connects(mariadb_server_url, tmp_path):
    """The same reading of the URL that masks it also connects with it: `/`, `#`, `?`, `@`,
    `:` and a space in an unencoded password reach MariaDB intact."""
    import pymysql

    from acorntui.db.connection import parse_url

    u = parse_url(mariadb_server_url)
    a, b = halves()
    password = f"{a}/#?@: {b}"
    user = f"acorn_pw_{uuid.uuid4().hex[:8]}"
    root = pymysql.connect(host=u.host, port=u.port, user=u.user, autocommit=True)
    try:
        with root.cursor() as cur:
            cur.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
            cur.execute(f"GRANT ALL ON `{u.name}`.* TO '{user}'@'%'")
        url = f"mysql://{user}:{password}@{u.host}:{u.port}/{u.name}"
        p = run(["init-db"], {"ACORN_DB": url}, tmp_path)
        assert p.returncode == 0, p.stderr
        assert_hidden(p, [a, b])
        assert f"mysql://{user}:***@" in p.stdout
    finally:
        with root.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        root.close()
