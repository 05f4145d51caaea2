"""acorntui.fetch against a real OpenSSH sshd on a loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import skip_or_fail
from sshd import (
    CLEAN_LOG,
    FAILED_LOG,
    SshServer,
    _home,  # noqa: F401
    make_cfg,
    sshd,  # noqa: F401
    start_server,
    write_config,
)

from acorntui import fetch
from acorntui.config import load_config
from acorntui.fetch import spool as fetch_spool

ROOT = Path(__file__).resolve().parent.parent
HOUR = 3600


def fill_tree(server: SshServer, now: float) -> dict[str, bytes]:
    files = {
        "acme/fs1.out": CLEAN_LOG.encode(),
        "acme/ex1.out": FAILED_LOG.encode(),
        "beta/db1.out": (CLEAN_LOG * 200).encode(),
        "beta/empty.out": b"",
        "gamma/big.out": os.urandom(3_000_000) + CLEAN_LOG.encode(),
    }
    for i, (rel, data) in enumerate(files.items()):
        server.add_file(rel, data, mtime=now - HOUR - i)
    server.add_file("acme/readme.txt", "not a log")
    return files


def spool_files(spool: Path) -> dict[str, bytes]:
    return {str(p.relative_to(spool)): p.read_bytes() for p in spool.rglob("*") if p.is_file()}


@pytest.mark.parametrize("method", ["auto", "sftp"])
def test_full_pull_then_nothing_then_only_the_changed_file(tmp_path, sshd, method):  # noqa: F811
    now = time.time()
    files = fill_tree(sshd, now)
    cfg = make_cfg(tmp_path, sshd, extra=f'method = "{method}"')

    first = fetch.pull(cfg)
    s = first.servers[0]
    assert first.ok, first.problems()
    assert s.method.startswith("exec" if method == "auto" else "sftp")
    assert spool_files(cfg.spool_dir) == files
    for rel in files:
        remote = (sshd.root / rel).stat().st_mtime
        assert int((cfg.spool_dir / rel).stat().st_mtime) == int(remote)
    assert sorted(s.fetched) == sorted(files) and s.unchanged == 0

    second = fetch.pull(cfg)
    assert second.ok and second.servers[0].fetched == []
    assert second.servers[0].unchanged == len(files)

    sshd.add_file("acme/fs1.out", FAILED_LOG, mtime=now - 60)
    sshd.add_file("beta/db1.out", (CLEAN_LOG * 200).upper(), mtime=now - HOUR - 2)  # same size
    os.utime(sshd.root / "beta/db1.out", (now - 30, now - 30))
    third = fetch.pull(cfg)
    assert sorted(third.servers[0].fetched) == ["acme/fs1.out", "beta/db1.out"]
    assert (cfg.spool_dir / "acme/fs1.out").read_text() == FAILED_LOG
    assert (cfg.spool_dir / "beta/db1.out").read_text() == (CLEAN_LOG * 200).upper()
    assert int((cfg.spool_dir / "acme/fs1.out").stat().st_mtime) == int(now - 60)
    assert not list(cfg.spool_dir.rglob("*.part"))


def test_account_without_a_shell_falls_back_to_sftp(tmp_path):
    server = start_server(tmp_path / "sftponly", sftp_only=True)
    try:
        files = fill_tree(server, time.time())
        cfg = make_cfg(tmp_path, server)
        report = fetch.pull(cfg)
        assert report.ok, report.problems()
        assert report.servers[0].method == "sftp"
        assert spool_files(cfg.spool_dir) == files
    finally:
        server.stop()


@pytest.mark.parametrize("method", ["auto", "sftp"])
def test_unsafe_names_and_outside_symlinks_are_skipped(tmp_path, sshd, method):  # noqa: F811
    sshd.add_file("acme/fs1.out", CLEAN_LOG)
    sshd.add_file("acme/new\nline.out", CLEAN_LOG)
    sshd.add_file("acme/.hidden.out", CLEAN_LOG)
    secret = tmp_path / "secret.txt"
    secret.write_text("root password")
    os.symlink(secret, sshd.root / "acme" / "evil.out")
    os.symlink(tmp_path, sshd.root / "outside")  # a customer folder pointing out of the tree
    os.symlink(sshd.root / "acme" / "fs1.out", sshd.root / "acme" / "alias.out")
    cfg = make_cfg(tmp_path, sshd, extra=f'method = "{method}"')

    report = fetch.pull(cfg)
    s = report.servers[0]
    got = spool_files(cfg.spool_dir)
    assert got == {"acme/fs1.out": CLEAN_LOG.encode(), "acme/alias.out": CLEAN_LOG.encode()}
    skipped = "\n".join(s.skipped)
    assert "acme/new\\nline.out (contains control characters)" in skipped
    assert "acme/evil.out (symlink pointing outside" in skipped
    assert "outside" in skipped
    assert not (tmp_path / "spool" / "outside").exists()


def test_unknown_host_key_is_refused_then_trusted_on_request(tmp_path, sshd):  # noqa: F811
    sshd.add_file("acme/fs1.out", CLEAN_LOG)
    cfg = make_cfg(tmp_path, sshd, trusted=False)
    own = Path(cfg.report_servers[0].known_hosts)

    report = fetch.pull(cfg)
    err = report.servers[0].error
    assert "unknown" in err and "SHA256:" in err and "--trust-new-host" in err
    assert not (cfg.spool_dir / "acme/fs1.out").exists()
    assert not own.exists()

    said: list[str] = []
    report = fetch.pull(cfg, trust_new_host=True, notify=said.append)
    assert report.ok, report.problems()
    assert said and "SHA256:" in said[0]
    assert own.read_text().split()[1:] == sshd.host_key_line().split()[1:]
    assert fetch.pull(cfg).ok  # recorded: no trust needed any more


def test_changed_host_key_is_refused_even_when_trusting(tmp_path, sshd):  # noqa: F811
    sshd.add_file("acme/fs1.out", CLEAN_LOG)
    cfg = make_cfg(tmp_path, sshd)
    own = Path(cfg.report_servers[0].known_hosts)
    before = own.read_text()
    sshd.new_host_key()

    for trust in (False, True):
        report = fetch.pull(cfg, trust_new_host=trust)
        err = report.servers[0].error
        assert "HOST KEY CHANGED" in err and "ssh-keygen -R" in err
        assert not (cfg.spool_dir / "acme/fs1.out").exists()
    assert own.read_text() == before


def test_wrong_user_key_is_a_clear_authentication_error(tmp_path, sshd):  # noqa: F811
    sshd.add_file("acme/fs1.out", CLEAN_LOG)
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    cfg = make_cfg(tmp_path, sshd, key_file=other)
    report = fetch.pull(cfg)
    err = report.servers[0].error
    assert err.startswith("authentication refused by root@127.0.0.1:")
    assert str(other) in err and "authorized_keys" in err


def test_report_server_down(tmp_path, sshd):  # noqa: F811
    cfg = make_cfg(tmp_path, sshd)
    sshd.stop()
    report = fetch.pull(cfg)
    assert not report.ok
    assert report.servers[0].error.startswith("cannot connect to root@127.0.0.1:")
    assert "refused" in report.servers[0].error.lower()


def test_ssh_config_host_alias_is_honoured(tmp_path, sshd, _home):  # noqa: F811
    sshd.add_file("acme/fs1.out", CLEAN_LOG)
    (_home / ".ssh").mkdir()
    (_home / ".ssh" / "config").write_text(
        f"Host reports-alias\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User root\n"
        f"  IdentityFile {sshd.client_key}\n")
    kh = sshd.write_known_hosts(_home / ".ssh" / "known_hosts")  # the user's own known_hosts
    path = write_config(tmp_path / "c.toml", spool=tmp_path / "spool", servers=[
        f'[[report_servers]]\nname = "r"\nhost = "reports-alias"\nremote_dir = "{sshd.root}"\n'
        f'known_hosts = "{tmp_path / "own_kh"}"\n'])
    assert kh.is_file()
    report = fetch.pull(load_config(path))
    assert report.ok, report.problems()
    assert (tmp_path / "spool" / "acme" / "fs1.out").read_text() == CLEAN_LOG


@pytest.mark.parametrize("method", ["auto", "sftp"])
def test_connection_cut_mid_transfer_keeps_the_last_good_copy(tmp_path, sshd, method):  # noqa: F811
    now = time.time()
    old_big = os.urandom(1000) + b"old"
    sshd.add_file("acme/big.out", old_big, mtime=now - 2 * HOUR)
    for i in range(20):
        sshd.add_file(f"cust{i:02d}/srv.out", f"old {i}\n" + CLEAN_LOG, mtime=now - 2 * HOUR)
    cfg = make_cfg(tmp_path, sshd, extra=f'method = "{method}"\ncompress = "none"')
    assert fetch.pull(cfg).ok

    new_big = os.urandom(40_000_000)
    sshd.add_file("acme/big.out", new_big, mtime=now - 60)
    for i in range(20):
        sshd.add_file(f"cust{i:02d}/srv.out", f"new {i}\n" + CLEAN_LOG, mtime=now - 60)
    cut = []

    def cut_the_line(pull, event):
        if event in ("file", "bytes") and not cut:
            cut.append(sshd.kill_sessions())

    report = fetch.pull(cfg, progress=cut_the_line)
    s = report.servers[0]
    assert cut and cut[0] > 0
    assert "interrupted" in s.error or "connection" in s.error.lower(), s.error
    assert (cfg.spool_dir / "acme/big.out").read_bytes() == old_big
    for i in range(20):
        got = (cfg.spool_dir / f"cust{i:02d}/srv.out").read_text()
        assert got in (f"old {i}\n" + CLEAN_LOG, f"new {i}\n" + CLEAN_LOG)
    assert not list(cfg.spool_dir.rglob("*.part"))

    again = fetch.pull(cfg)
    assert again.ok, again.problems()
    assert (cfg.spool_dir / "acme/big.out").read_bytes() == new_big
    for i in range(20):
        assert (cfg.spool_dir / f"cust{i:02d}/srv.out").read_text() == f"new {i}\n" + CLEAN_LOG


def test_cli_fetch_prints_a_summary_and_exit_status(tmp_path, sshd, _home):  # noqa: F811
    sshd.add_file("acme/fs1.out", CLEAN_LOG)
    cfg = make_cfg(tmp_path, sshd)
    env = {**os.environ, "HOME": str(_home), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "acorntui", "--config", str(cfg.path), "fetch"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "loopback: 1 logs listed, 1 fetched" in run.stdout
    assert (cfg.spool_dir / "acme/fs1.out").is_file()

    sshd.stop()
    run = subprocess.run([sys.executable, "-m", "acorntui", "--config", str(cfg.path), "fetch"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 1
    assert "loopback: cannot connect to root@127.0.0.1" in run.stderr


def record_durability(monkeypatch) -> list[tuple]:
    """Every data sync, rename and folder fsync of the spool, in call order."""
    events: list[tuple] = []
    sync_data, sync_dirs, fsync_path = (fetch.Spool.sync_data, fetch.Spool.sync_dirs,
                                        fetch_spool._fsync_path)
    replace = os.replace

    def rec_sync_data(self, paths):
        bad = sync_data(self, paths)
        events.append(("data", {Path(p) for p in paths} - {Path(p) for p in bad}))
        return bad

    def rec_sync_dirs(self, dirs):
        dirs = set(dirs)
        sync_dirs(self, dirs)
        events.append(("dirs", dirs))

    def rec_fsync_path(path, directory=False):
        fsync_path(path, directory)
        events.append(("fsync", Path(path), directory))

    def rec_replace(src, dst):
        replace(src, dst)
        events.append(("rename", Path(src), Path(dst)))

    monkeypatch.setattr(fetch.Spool, "sync_data", rec_sync_data)
    monkeypatch.setattr(fetch.Spool, "sync_dirs", rec_sync_dirs)
    monkeypatch.setattr(fetch_spool, "_fsync_path", rec_fsync_path)
    monkeypatch.setattr(fetch_spool.os, "replace", rec_replace)
    monkeypatch.setattr(fetch_spool, "COMMIT_BATCH_FILES", 4)  # background batches mid-pull too
    return events


def check_order(events: list[tuple], spool: Path) -> set[Path]:
    """Each rename comes after a data sync of that temp file (and, without syncfs, after its
    own fsync); a folder fsync follows the last rename into that folder. The renamed paths."""
    synced: set[Path] = set()
    fsynced: set[Path] = set()
    renamed: dict[Path, int] = {}
    for i, ev in enumerate(events):
        if ev[0] == "data":
            synced |= ev[1]
        elif ev[0] == "fsync" and not ev[2]:
            fsynced.add(ev[1])
        elif ev[0] == "rename":
            assert ev[1] in synced, f"{ev[1]} renamed before its data was synced"
            if fetch_spool._SYNCFS is None:
                assert ev[1] in fsynced, f"{ev[1]} renamed before it was fsynced"
            renamed[ev[2]] = i
    dir_syncs = [(i, ev[1]) for i, ev in enumerate(events) if ev[0] == "dirs"]
    for final, at in renamed.items():
        assert any(i > at and final.parent in dirs for i, dirs in dir_syncs), \
            f"{final.parent} not fsynced after {final.name} was renamed into it"
    assert all(p.is_relative_to(spool) for p in renamed)
    return set(renamed)


@pytest.mark.parametrize("method", ["auto", "sftp"])
@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "fsync-pool"])
def test_pull_is_durable_data_synced_before_rename_folders_after(
        tmp_path, sshd, monkeypatch, method, syncfs):  # noqa: F811
    if syncfs and fetch_spool._SYNCFS is None:
        skip_or_fail("no syncfs on this platform (the fsync-pool variant still runs)")
    if not syncfs:
        monkeypatch.setattr(fetch_spool, "_SYNCFS", None)
    events = record_durability(monkeypatch)
    now = time.time()
    files = fill_tree(sshd, now)
    cfg = make_cfg(tmp_path, sshd, extra=f'method = "{method}"\ncompress = "none"')

    report = fetch.pull(cfg)
    assert report.ok, report.problems()
    assert spool_files(cfg.spool_dir) == files
    renamed = check_order(events, cfg.spool_dir)
    assert renamed == {cfg.spool_dir / rel for rel in files}
    assert not list(cfg.spool_dir.rglob("*.part"))

    # a transfer that breaks: the files received before are put in place the same way,
    # the broken one keeps its last good copy, no temp file is left
    old_big = files["gamma/big.out"]
    new_big = os.urandom(40_000_000)
    sshd.add_file("gamma/big.out", new_big, mtime=now - 60)
    for rel in ("acme/fs1.out", "acme/ex1.out"):
        sshd.add_file(rel, f"new {rel}\n" + CLEAN_LOG, mtime=now - 60)
    events.clear()
    cut = []

    def cut_the_line(pull, event):
        if event == "bytes" and not cut:
            cut.append(sshd.kill_sessions())

    broken = fetch.pull(cfg, progress=cut_the_line)
    s = broken.servers[0]
    assert cut and cut[0] > 0
    assert not s.ok and "gamma/big.out" not in s.fetched
    assert (cfg.spool_dir / "gamma/big.out").read_bytes() == old_big
    renamed = check_order(events, cfg.spool_dir)
    assert cfg.spool_dir / "gamma/big.out" not in renamed
    assert renamed == {cfg.spool_dir / rel for rel in s.fetched}
    assert not list(cfg.spool_dir.rglob("*.part"))


def test_a_file_that_cannot_be_committed_keeps_its_last_good_copy(
        tmp_path, sshd):  # noqa: F811
    """A staged file that cannot be made durable and put in place (here: really gone before
    its batch is committed, as a clean-up by someone else would do) is reported as not
    saved, its last good copy stays, and the other files of the pull go in. The real commit
    path: no replaced sync."""
    now = time.time()
    files = fill_tree(sshd, now)
    cfg = make_cfg(tmp_path, sshd)
    assert fetch.pull(cfg).ok
    for rel in ("acme/fs1.out", "acme/ex1.out"):
        sshd.add_file(rel, "new\n" + CLEAN_LOG, mtime=now - 60)
    removed: list[Path] = []

    def remove_staged_fs1(pull, event):
        if event == "file" and pull.fetched and pull.fetched[-1] == "acme/fs1.out":
            for tmp in (cfg.spool_dir / "acme").glob(".fs1.out.*.part"):
                tmp.unlink()
                removed.append(tmp)

    report = fetch.pull(cfg, progress=remove_staged_fs1)
    assert len(removed) == 1, removed
    s = report.servers[0]
    assert list(s.failed) == ["acme/fs1.out"]
    assert s.failed["acme/fs1.out"].startswith("not saved: ")
    assert "No such file or directory" in s.failed["acme/fs1.out"]
    assert s.fetched == ["acme/ex1.out"]
    assert (cfg.spool_dir / "acme/fs1.out").read_bytes() == files["acme/fs1.out"]
    assert (cfg.spool_dir / "acme/ex1.out").read_text() == "new\n" + CLEAN_LOG
    assert not list(cfg.spool_dir.rglob("*.part"))