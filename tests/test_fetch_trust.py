"""Trust: a pull never saves what a remote name points to outside the reports folder, even
when a listed file turns into a symlink between the listing and the transfer (issue "Trust",
point 7). Against the real loopback sshd, for the tar stream (each compression) and SFTP; and
the tar reader itself on streams made by the real ``tar`` (long names, pax, odd members).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sshd import CLEAN_LOG, FAILED_LOG, _home, make_cfg, sshd  # noqa: F401

from acorntui import fetch
from acorntui.fetch.model import RemoteFile, ServerPull
from acorntui.fetch.spool import Spool
from acorntui.fetch.transfer import read_tar

HOUR = 3600
SECRET = b"root:$6$outside-the-reports-folder$secret\n"


def everything_in(spool: Path) -> dict[str, bytes]:
    """Every file under the spool, temp and dot files included."""
    return {str(p.relative_to(spool)): p.read_bytes() for p in spool.rglob("*") if p.is_file()}


@pytest.mark.parametrize("method,compress", [("exec", "none"), ("exec", "zstd"),
                                             ("exec", "gzip"), ("sftp", "none")])
def test_a_file_that_becomes_a_symlink_after_the_listing_is_refused(
        tmp_path, sshd, method, compress):  # noqa: F811
    if compress == "zstd" and not shutil.which("zstd"):
        from conftest import skip_or_fail

        skip_or_fail("zstd is not installed")
    now = time.time()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shadow").write_bytes(SECRET)
    victim = sshd.add_file("acme/victim.out", "old\n" + CLEAN_LOG, mtime=now - 2 * HOUR)
    sshd.add_file("acme/fs1.out", CLEAN_LOG, mtime=now - 2 * HOUR)
    sshd.add_file("beta/db1.out", FAILED_LOG, mtime=now - 2 * HOUR)
    cfg = make_cfg(tmp_path, sshd,
                   extra=f'method = "{method}"\ncompress = "{compress}"')
    assert fetch.pull(cfg).ok
    spool = cfg.spool_dir
    assert (spool / "acme/victim.out").read_text() == "old\n" + CLEAN_LOG

    # a new version is listed; by the time it is read, the name is a symlink leading out
    sshd.add_file("acme/victim.out", "new\n" + CLEAN_LOG, mtime=now - 60)
    sshd.add_file("acme/fs1.out", "new\n" + CLEAN_LOG, mtime=now - 60)
    swapped = []

    def swap(pull, event):
        if event == "listed":
            victim.unlink()
            os.symlink(outside / "shadow", victim)
            swapped.append(pull.todo)

    report = fetch.pull(cfg, progress=swap)
    s = report.servers[0]
    assert swapped == [2]  # both changed files were listed as regular files
    assert s.method.startswith(method)
    assert not s.error, s.error
    got = everything_in(spool)
    assert not any(SECRET in data for data in got.values()), "outside content in the spool"
    assert got["acme/victim.out"] == ("old\n" + CLEAN_LOG).encode()  # the last good copy
    assert got["acme/fs1.out"] == ("new\n" + CLEAN_LOG).encode()  # the rest is pulled
    assert set(got) == {"acme/victim.out", "acme/fs1.out", "beta/db1.out"}  # no temp left
    assert s.fetched == ["acme/fs1.out"]
    problems = report.problems()
    lines = [ln for ln in problems if "acme/victim.out" in ln]
    assert lines and "symbolic link" in lines[0] and "refused" in lines[0], problems
    assert lines[0].startswith("loopback: acme/victim.out: refused")
    assert not report.ok
    assert (outside / "shadow").read_bytes() == SECRET and os.listdir(outside) == ["shadow"]


def test_links_inside_the_tree_are_still_fetched(tmp_path, sshd):  # noqa: F811
    """Not over-refusing: a symlink that was one when listed and stays inside the reports
    folder is followed, and a second name of the same file (a hard link) arrives whole."""
    sshd.add_file("acme/fs1.out", CLEAN_LOG)
    os.symlink(sshd.root / "acme" / "fs1.out", sshd.root / "acme" / "alias.out")
    os.link(sshd.root / "acme" / "fs1.out", sshd.root / "acme" / "hard.out")
    cfg = make_cfg(tmp_path, sshd, extra='method = "exec"')
    report = fetch.pull(cfg)
    assert report.ok, report.problems()
    assert everything_in(cfg.spool_dir) == {rel: CLEAN_LOG.encode() for rel in
                                            ("acme/fs1.out", "acme/alias.out", "acme/hard.out")}


# -- the tar reader on real tar streams ------------------------------------------------------

def _tar_stream(tmp_path: Path, fmt: str, names: list[str]) -> bytes:
    return subprocess.run(["tar", "-c", "-f", "-", f"--format={fmt}", "--no-recursion",
                           "-C", str(tmp_path / "tree"), *names],
                          check=True, capture_output=True).stdout


def _reader(data: bytes, seed: int):
    """read() handing out the stream in blocks of random sizes (headers cut anywhere)."""
    rnd = random.Random(seed)
    pos = 0

    def read() -> bytes:
        nonlocal pos
        n = rnd.choice([1, 7, 100, 511, 512, 513, 4096, 65536, 1 << 20])
        out = data[pos:pos + n]
        pos += len(out)
        return out
    return read


@pytest.mark.parametrize("fmt", ["gnu", "pax", "ustar"])
def test_tar_reader_takes_regular_files_and_refuses_links_and_devices(tmp_path, fmt):
    tree = tmp_path / "tree"
    long_cust = "c" * 120  # past ustar's 100-byte name: GNU long name, pax path, ustar prefix
    files = {
        "acme/fs1.out": CLEAN_LOG.encode(),
        "acme/empty.out": b"",
        "acme/big.out": os.urandom(3_000_001),
        f"{long_cust}/srv.out": FAILED_LOG.encode(),
    }
    for rel, data in files.items():
        p = tree / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.utime(p, (1_700_000_000, 1_700_000_000))
    (tmp_path / "outside").write_bytes(SECRET)
    os.symlink(tmp_path / "outside", tree / "acme" / "sym.out")
    os.link(tree / "acme" / "fs1.out", tree / "acme" / "hard.out")
    os.mkfifo(tree / "acme" / "fifo.out")
    os.mkdir(tree / "acme" / "dir.out")
    odd = ["acme/sym.out", "acme/hard.out", "acme/fifo.out", "acme/dir.out"]
    names = [*files, *odd, "acme/not-asked.out"]
    (tree / "acme" / "not-asked.out").write_bytes(SECRET)
    stream = _tar_stream(tmp_path, fmt, names)
    wanted = {rel: RemoteFile(rel, 0, 0) for rel in [*files, *odd]}
    for seed in range(3):
        spool = Spool(tmp_path / f"spool{seed}")
        pull = ServerPull("t", "h")
        read_tar(_reader(stream, seed), wanted, spool, pull, None)
        assert spool.commit_staged() == {}
        got = everything_in(spool.root)
        assert got == files
        assert all(int((spool.root / rel).stat().st_mtime) == 1_700_000_000 for rel in files)
        assert sorted(pull.fetched) == sorted(files)
        assert set(pull.failed) == set(odd)
        for rel, what in (("acme/sym.out", "a symbolic link"), ("acme/hard.out", "a hard link"),
                          ("acme/fifo.out", "a FIFO"), ("acme/dir.out", "a folder")):
            assert pull.failed[rel].startswith(f"refused: it is {what} "), pull.failed[rel]


def test_tar_reader_names_a_stream_cut_short(tmp_path):
    tree = tmp_path / "tree"
    (tree / "acme").mkdir(parents=True)
    (tree / "acme" / "a.out").write_bytes(os.urandom(200_000))
    stream = _tar_stream(tmp_path, "gnu", ["acme/a.out"])
    spool = Spool(tmp_path / "spool")
    pull = ServerPull("t", "h")
    with pytest.raises(EOFError):
        read_tar(_reader(stream[:100_000], 1), {"acme/a.out": RemoteFile("acme/a.out", 0, 0)},
                 spool, pull, None)
    assert spool.commit_staged() == {}
    assert everything_in(spool.root) == {} and pull.fetched == []


# -- a customer FOLDER swapped for a symlink (tar ran with paths under it; SFTP opened through
# it) -------------------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2


def exchange(a: Path, b: Path) -> None:
    """Swap two names atomically (renameat2 RENAME_EXCHANGE): at no moment is either missing,
    as an attacker on the report server would swap a folder for a symlink and back."""
    import ctypes
    import errno

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.renameat2(-100, os.fsencode(a), -100, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err) + f" (renameat2 {a} {b})")
    assert errno  # imported for the message above


def _outside_folder(tmp_path: Path, names: list[str]) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    for n in names:  # the same names as the customer's logs, holding what must never land
        (outside / n).write_bytes(SECRET + b"x" * 100)
    return outside


def _method_cfg(tmp_path, sshd, method, compress):  # noqa: F811
    if compress == "zstd" and not shutil.which("zstd"):
        from conftest import skip_or_fail

        skip_or_fail("zstd is not installed")
    return make_cfg(tmp_path, sshd, extra=f'method = "{method}"\ncompress = "{compress}"')


@pytest.mark.parametrize("method,compress", [("exec", "none"), ("exec", "zstd"),
                                             ("exec", "gzip"), ("sftp", "none")])
def test_a_customer_folder_swapped_for_a_symlink_is_refused_and_named(
        tmp_path, sshd, method, compress):  # noqa: F811
    now = time.time()
    outside = _outside_folder(tmp_path, ["fs1.out", "fs2.out"])
    sshd.add_file("acme/fs1.out", "old\n" + CLEAN_LOG, mtime=now - 2 * HOUR)
    sshd.add_file("acme/fs2.out", "old\n" + CLEAN_LOG, mtime=now - 2 * HOUR)
    sshd.add_file("beta/db1.out", FAILED_LOG, mtime=now - 2 * HOUR)
    cfg = _method_cfg(tmp_path, sshd, method, compress)
    assert fetch.pull(cfg).ok
    spool = cfg.spool_dir
    # new versions are listed; by the time they are read, acme/ is a symlink leading out
    sshd.add_file("acme/fs1.out", "new\n" + CLEAN_LOG, mtime=now - 60)
    sshd.add_file("acme/fs2.out", "new\n" + CLEAN_LOG, mtime=now - 60)
    sshd.add_file("beta/db1.out", "new\n" + FAILED_LOG, mtime=now - 60)
    aside = sshd.root.parent / "acme-aside"
    os.symlink(outside, aside)
    swapped = []

    def swap(pull, event):
        if event == "listed":
            exchange(sshd.root / "acme", aside)  # acme/ is the symlink now
            swapped.append(pull.todo)

    report = fetch.pull(cfg, progress=swap)
    s = report.servers[0]
    assert swapped == [3] and s.method.startswith(method)
    assert not s.error, s.error
    got = everything_in(spool)
    assert not any(SECRET in data for data in got.values()), "outside content in the spool"
    assert got["acme/fs1.out"] == got["acme/fs2.out"] == ("old\n" + CLEAN_LOG).encode()
    assert got["beta/db1.out"] == ("new\n" + FAILED_LOG).encode()  # the rest is pulled
    assert set(got) == {"acme/fs1.out", "acme/fs2.out", "beta/db1.out"}  # no temp left
    assert s.fetched == ["beta/db1.out"]
    problems = report.problems()
    for rel in ("acme/fs1.out", "acme/fs2.out"):
        [line] = [ln for ln in problems if f"{rel}:" in ln]
        assert line.startswith(f"loopback: {rel}: refused: its folder acme/ on the report "
                               "server is not the folder that was listed"), line
    assert not report.ok
    assert sorted(os.listdir(outside)) == ["fs1.out", "fs2.out"]


# exec (tar) only: over SFTP there is no openat and no inode, so a folder swapped to a symlink
# and back between the folder's lstats (around the listing and around each open) cannot be
# told apart when the listing itself was read through the symlink; CI saw it in 1 run of 30.
# A single swap is refused over SFTP (the test above); docs/reliability.md says what is left.
@pytest.mark.parametrize("method,compress", [("exec", "zstd"), ("exec", "gzip")])
def test_a_folder_swapped_over_and_over_never_lets_outside_content_in(
        tmp_path, sshd, method, compress):  # noqa: F811
    """30 pulls while another process swaps acme/ with a symlink to an outside folder (and
    back) as fast as it can: whatever each pull gets, nothing from outside ever lands, and the
    swaps were seen (refused or skipped) in some of the runs."""
    import threading

    names = [f"srv{i:02d}.out" for i in range(8)]
    outside = _outside_folder(tmp_path, names)
    for n in names:
        sshd.add_file(f"acme/{n}", CLEAN_LOG)
    cfg = _method_cfg(tmp_path, sshd, method, compress)
    aside = sshd.root.parent / "acme-aside"
    os.symlink(outside, aside)
    real = sshd.root / "acme"
    stop = threading.Event()
    swaps = [0]

    def swapper() -> None:
        while not stop.is_set():
            exchange(real, aside)
            swaps[0] += 1

    seen = 0
    for run in range(30):
        # acme/ back in place, with a new version of every log (so each pull transfers them)
        if real.is_symlink():
            exchange(real, aside)
        for n in names:
            sshd.add_file(f"acme/{n}", f"run {run}\n" + CLEAN_LOG, mtime=time.time() - run)
        stop.clear()
        t = threading.Thread(target=swapper, daemon=True)
        t.start()
        try:
            report = fetch.pull(cfg)
        finally:
            stop.set()
            t.join(10)
        got = everything_in(cfg.spool_dir)
        assert not any(SECRET in data for data in got.values()), f"outside content, run {run}"
        assert all(data.endswith(CLEAN_LOG.encode()) for data in got.values()), run
        text = " ".join(report.problems())
        seen += "refused" in text or "outside" in text or "not a folder now" in text
    assert swaps[0] > 30
    assert seen > 0, "the swaps never met a pull: the test proved nothing"


def test_sftp_refuses_an_opened_file_smaller_or_older_than_the_listed_log():
    """A log only grows: the file an SFTP handle has open must be at least as big and as new
    as the one listed; a smaller or older one (reached through a swapped folder) is refused."""
    import paramiko

    from acorntui.fetch.model import RemoteFile
    from acorntui.fetch.transfer import listed_file_problem

    listed = RemoteFile("acme/fs1.out", size=151, mtime=1_700_000_000, path="/r/acme/fs1.out")

    def attrs(size, mtime):
        a = paramiko.SFTPAttributes()
        a.st_size, a.st_mtime = size, mtime
        return a

    assert listed_file_problem(listed, attrs(151, 1_700_000_000)) == ""
    assert listed_file_problem(listed, attrs(400, 1_700_000_060)) == ""  # grew since
    for size, mtime in ((139, 1_700_000_000), (151, 1_699_999_999), (None, 1_700_000_000)):
        assert listed_file_problem(listed, attrs(size, mtime)).startswith(
            "refused: the file opened is smaller or older than the one listed")
