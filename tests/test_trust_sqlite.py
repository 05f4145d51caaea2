"""Issue 12, point 3: SQLite stays the single-host default and says what it is.

`init-db` creates the file 0640 and its folder 0750 whatever the umask; a database file that
other users can write draws a warning naming the file; the README's security model says that
whoever can write the file can change anything and points teams at MariaDB.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def acorn(*args: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("ACORN_DB", None)
    return subprocess.run([sys.executable, "-m", "acorntui", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: os.umask(umask))


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_init_db_creates_file_0640_and_folder_0750_whatever_the_umask(tmp_path):
    db = tmp_path / "new" / "folder" / "acorn.db"
    p = acorn("--db", f"sqlite:///{db}", "init-db", umask=0)
    assert p.returncode == 0, p.stderr
    assert mode(db) == 0o640
    assert mode(db.parent) == 0o750 and mode(db.parent.parent) == 0o750
    # sqlite gives its -wal and -shm files the database file's mode
    for side in db.parent.glob("acorn.db-*"):
        assert not mode(side) & 0o007, (side, oct(mode(side)))
    assert "warning" not in p.stderr
    # an existing folder keeps its mode; the new file is still 0640
    other = tmp_path / "acorn2.db"
    tmp_path.chmod(0o755)
    assert acorn("--db", f"sqlite:///{other}", "init-db", umask=0).returncode == 0
    assert mode(other) == 0o640 and mode(tmp_path) == 0o755


def test_a_file_others_can_write_draws_a_warning_naming_it(tmp_path):
    db = tmp_path / "acorn.db"
    url = f"sqlite:///{db}"
    assert acorn("--db", url, "init-db").returncode == 0
    p = acorn("--db", url, "whoami")
    assert p.returncode == 0 and "warning" not in p.stderr, p.stderr
    db.chmod(0o666)
    p = acorn("--db", url, "whoami")
    assert p.returncode == 0, p.stderr
    assert f"warning: database file {db} can be changed by other users" in p.stderr
    assert "0666" in p.stderr and f"chmod 640 {db}" in p.stderr
    # group-writable for the owner's own group: no warning
    own = pwd.getpwuid(os.geteuid()).pw_gid
    os.chown(db, -1, own)
    db.chmod(0o660)
    p = acorn("--db", url, "whoami")
    assert "warning" not in p.stderr, p.stderr
    # group-writable for another group: a warning that names the group
    others = [g for g in ([x.gr_gid for x in grp.getgrall()] if os.geteuid() == 0
                          else os.getgroups()) if g != own]
    if others:
        os.chown(db, -1, others[0])
        p = acorn("--db", url, "whoami")
        assert f"warning: database file {db}" in p.stderr
        assert f"group {grp.getgrgid(others[0]).gr_name} (not its owner's group)" in p.stderr


def test_readme_states_the_security_model():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Security model" in text
    section = text.split("## Security model", 1)[1].split("\n## ", 1)[0]
    for words in ("whoever can write the file can change anything", "guard rails",
                  "MariaDB", "per-person", "acorntui grants"):
        assert words.lower() in section.lower(), words
