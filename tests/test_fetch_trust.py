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
