"""`acorntui script`: the customer-side backup.bat and its POSIX variant, run for real."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sshd import sshd  # noqa: F401  (the fixture)
from test_manage import run

from acorntui.core.parser import parse_file
from acorntui.db.models import Tsr
from acorntui.services import manage, script
from acorntui.services.roles import lookup
from acorntui.services.script import ScriptError

WIN = dict(customer="acme", name="exch1", os="Windows Server 2008", custbak="custbak3",
           shares=["E:\\shares", "/cygdrive/D/atc/exchbak"], excludes=["*.mp3", "~$*"],
           key_path="e:\\atc\\id_dsa.txt", mirror_path="logon@server.location.com:mirror/exch1",
           report_host="login@server.location.com")


@pytest.fixture
def sqlite_url(shared_sqlite_url):
    """The database file every OS user of these tests may write (they act as real users)."""
    return shared_sqlite_url


def test_windows_script_follows_the_write_up():
    text = script.render(script.plan(WIN))
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert "set home=e:\\atc" in lines
    assert lines.index("taskkill /f /im ssh.exe >nul 2>&1") < lines.index(
        "taskkill /f /im rsync.exe >nul 2>&1")
    rsync = next(line for line in lines if "rsync.exe" in line and "taskkill" not in line)
    assert rsync == (
        'echo y | c:\\progra~2\\cwRsync\\bin\\rsync.exe --delete --ignore-errors --chmod=u=rwx '
        '-vtrR -e "c:\\progra~2\\cwRsync\\bin\\ssh.exe -i e:\\atc\\id_dsa.txt" '
        '--exclude "*.mp3" --exclude "~$*" "/cygdrive/E/shares" "/cygdrive/D/atc/exchbak" '
        '"logon@server.location.com:mirror/exch1" > c:\\stats.out 2>&1')
    upload = next(line for line in lines if line.startswith("type c:\\stats.out | "))
    assert " -i e:\\atc\\id_dsa.txt login@server.location.com \"" in upload
    assert "cat > /reports/acme/exch1.out.part && mv -f /reports/acme/exch1.out.part " \
           "/reports/acme/exch1.out\" > c:\\upload.txt 2>&1" in upload


def test_defaults_bare_mirror_path_goes_to_custbak_and_ports():
    p = script.plan(dict(WIN, mirror_path="", report_host="acorn@reports.example.com:2222"))
    assert p.mirror.target == "custbak3" and p.mirror_path == "mirror/exch1"
    assert p.report.port == 2222
    text = script.render(p)
    assert '"custbak3:mirror/exch1"' in text and "ssh.exe -p 2222 -i" in text
    assert script.os_kind_for("Debian 12") == "posix"
    assert script.os_kind_for("Windows 2003") == "windows"


@pytest.mark.parametrize("change,field", [
    ({"shares": ['E:\\sha"res']}, "shares"),
    ({"shares": []}, "shares"),
    ({"shares": ["shares"]}, "shares"),
    ({"excludes": ['*."mp3']}, "excludes"),
    ({"key_path": ""}, "key_path"),
    ({"key_path": "e:\\my keys\\id"}, "key_path"),
    ({"key_path": "e:\\atc\\id\nrem evil"}, "key_path"),
    ({"report_host": ""}, "report_host"),
    ({"report_host": "a;b"}, "report_host"),
    ({"mirror_path": "host:mirror/a b"}, "mirror_path"),
    ({"mirror_path": "", "custbak": ""}, "mirror_path"),
])
def test_bad_windows_values_are_refused_naming_the_field(change, field):
    with pytest.raises(ScriptError) as ei:
        script.plan(dict(WIN, **change))
    assert ei.value.field == field
    assert str(ei.value).startswith(f"{field}:")


def test_posix_values_are_quoted_and_percent_is_escaped_for_batch():
    p = script.plan(dict(WIN, os="Ubuntu 22.04", shares=["/srv/it's here", "/srv/$(reboot)"],
                         excludes=["*.o; rm -rf /"], key_path="/root/.ssh/acorn"))
    text = script.render(p)
    assert text.startswith("#!/bin/sh\n") and "\nset -u\n" in text
    assert "'/srv/it'\"'\"'s here'" in text and "'/srv/$(reboot)'" in text
    assert "--exclude='*.o; rm -rf /'" in text
    with pytest.raises(ScriptError, match="^key_path"):
        script.plan(dict(WIN, os="linux", shares=["/srv"], key_path="/root/it's"))
    assert '"/cygdrive/E/100%%"' in script.render(script.plan(dict(WIN, shares=["E:\\100%"])))


def test_cli_prints_and_writes_the_script(sqlite_db, sqlite_url, tmp_path):
    Tsr.create(login="boss", name="Boss", level=3)
    boss = lookup("boss")
    manage.add_customer(boss, name="acme")
    manage.add_server(boss, customer="acme", name="exch1", os="Windows 2008",
                      shares=["E:\\shares"], key_path="e:\\atc\\id_dsa.txt",
                      mirror_path="logon@server.location.com:mirror/exch1",
                      report_host="login@server.location.com")
    p = run(sqlite_url, "carol", "script", "acme/exch1")  # reading: anyone
    assert p.returncode == 0, p.stderr
    assert "taskkill /f /im rsync.exe" in p.stdout and "/reports/acme/exch1.out" in p.stdout
    out = Path(sqlite_url.removeprefix("sqlite:///")).parent / "backup.bat"  # boss may write
    p = run(sqlite_url, "boss", "script", "acme/exch1", "--output", str(out))
    assert p.returncode == 0 and out.read_bytes().count(b"\r\n") >= 8
    manage.edit_server(boss, "acme/exch1", key_path="")
    p = run(sqlite_url, "boss", "script", "acme/exch1")
    assert p.returncode == 2 and "key_path:" in p.stderr and p.stdout == ""
    p = run(sqlite_url, "boss", "script", "acme/nope")
    assert p.returncode == 2 and "server:" in p.stderr


# -- the POSIX variant, run for real against a loopback sshd ------------------------------------

def _env(tmp_path: Path, sshd_server, extra_bin: Path | None = None) -> dict[str, str]:
    """PATH with an `ssh` that trusts the test sshd's host key (as the customer's known_hosts
    would) and nothing else."""
    kh = sshd_server.write_known_hosts(tmp_path / "known_hosts")
    wrap = tmp_path / "bin"
    wrap.mkdir(exist_ok=True)
    ssh = wrap / "ssh"
    ssh.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -o UserKnownHostsFile={kh} '
                   f'-o StrictHostKeyChecking=yes "$@"\n')
    ssh.chmod(0o755)
    path = f"{wrap}:/usr/bin:/bin:/usr/sbin:/sbin"
    if extra_bin is not None:
        path = f"{extra_bin}:{path}"
    return {"PATH": path, "LC_ALL": "C", "HOME": str(tmp_path)}


def _make_server(sqlite_url, tmp_path, sshd_server, shares):
    boss = lookup("boss")
    (tmp_path / "mirror").mkdir()  # the backup server's mirror folder (rsync makes lin1/)
    manage.add_customer(boss, name="acme")
    manage.add_server(boss, customer="acme", name="lin1", os="Debian 12", shares=shares,
                      excludes=["*.tmp"], key_path=str(sshd_server.client_key),
                      mirror_path=f"root@127.0.0.1:{sshd_server.port}:{tmp_path}/mirror/lin1")
    cfg = tmp_path / "acorn.toml"
    cfg.write_text(sshd_server.report_server_toml())
    out = tmp_path / "acorn-backup.sh"
    env = {"PATH": "/usr/bin:/bin", "USER": "boss", "LOGNAME": "boss", "ACORN_DB": sqlite_url,
           "ACORN_CONFIG": str(cfg), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    import sys

    p = subprocess.run([sys.executable, "-m", "acorntui", "script", "acme/lin1", "--os",
                        "posix", "--state-dir", str(tmp_path / "state"), "--output", str(out)],
                       env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return out


@pytest.fixture
def share(tmp_path):
    data = tmp_path / "data" / "share"
    (data / "docs").mkdir(parents=True)
    (data / "docs" / "report.docx").write_bytes(b"x" * 5000)
    (data / "it's a file.txt").write_text("hello")
    (data / "scratch.tmp").write_text("skip me")
    return data


def test_posix_script_backs_up_and_uploads_a_parseable_log(
        sqlite_db, sqlite_url, tmp_path, share, sshd):  # noqa: F811
    Tsr.create(login="boss", name="Boss", level=3)
    missing = tmp_path / "data" / "gone"
    out = _make_server(sqlite_url, tmp_path, sshd, [str(share), str(missing)])
    p = subprocess.run(["/bin/sh", str(out)], env=_env(tmp_path, sshd), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, (p.stdout, p.stderr, (tmp_path / "state/upload.txt").read_text())
    # rsync copied the share (excluding *.tmp) into the mirror, with -R's full path
    mirror = tmp_path / "mirror" / "lin1" / str(share).lstrip("/")
    assert (mirror / "docs" / "report.docx").stat().st_size == 5000
    assert (mirror / "it's a file.txt").read_text() == "hello"
    assert not (mirror / "scratch.tmp").exists()
    # the log was uploaded as /reports/<customer>/<server>.out and parses: the missing share
    # is a file error, so code 23
    uploaded = sshd.root / "acme" / "lin1.out"
    assert not (sshd.root / "acme" / "lin1.out.part").exists()
    assert uploaded.read_bytes() == (tmp_path / "state" / "stats.out").read_bytes()
    r = parse_file(uploaded)
    assert (r.customer, r.server, r.code) == ("acme", "lin1", 23)
    assert [f.path for f in r.failures] == [str(missing)]
    # with the missing share removed: a clean run, code 0, no file errors
    manage.edit_server(lookup("boss"), "acme/lin1", shares=[str(share)])
    out = _make_server_again(sqlite_url, tmp_path, sshd)
    p = subprocess.run(["/bin/sh", str(out)], env=_env(tmp_path, sshd), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0
    r = parse_file(uploaded)
    assert r.code == 0 and r.failures == [] and r.stats.total_size == 5005


def _make_server_again(sqlite_url, tmp_path, sshd_server):
    import sys

    cfg = tmp_path / "acorn.toml"
    out = tmp_path / "acorn-backup.sh"
    env = {"PATH": "/usr/bin:/bin", "USER": "boss", "LOGNAME": "boss", "ACORN_DB": sqlite_url,
           "ACORN_CONFIG": str(cfg), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    p = subprocess.run([sys.executable, "-m", "acorntui", "script", "acme/lin1", "--os",
                        "posix", "--state-dir", str(tmp_path / "state"), "--output", str(out)],
                       env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return out


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def test_posix_script_stops_its_own_stale_run(
        sqlite_db, sqlite_url, tmp_path, share, sshd):  # noqa: F811
    Tsr.create(login="boss", name="Boss", level=3)
    out = _make_server(sqlite_url, tmp_path, sshd, [str(share)])
    # a previous night's run hung inside rsync
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "rsync").write_text("#!/bin/sh\nsleep 60\n")
    (stub / "rsync").chmod(0o755)
    stale = subprocess.Popen(["/bin/sh", str(out)], env=_env(tmp_path, sshd, stub),
                             start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        pidfile = tmp_path / "state" / "backup.pid"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            kids = subprocess.run(["pgrep", "-x", "-P", str(stale.pid), "rsync"],
                                  capture_output=True, text=True).stdout.split()
            if pidfile.exists() and kids:
                break
            time.sleep(0.05)
        assert kids, "the stale run did not start"
        p = subprocess.run(["/bin/sh", str(out)], env=_env(tmp_path, sshd),
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0
        assert stale.wait(10) != 0  # stopped, not finished
        assert not any(_alive(int(k)) for k in kids)
        assert parse_file(sshd.root / "acme" / "lin1.out").code == 0
        assert not pidfile.exists()
    finally:
        try:
            os.killpg(stale.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
