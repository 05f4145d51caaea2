"""Benchmark: pull N rsync logs from a loopback sshd, side by side with `rsync -a` over ssh.

    python bench/fetch.py [--files 10000] [--method auto|sftp] [--keep DIR]

Targets: first pull within 1.5x of rsync's time; a no-change pull of 10,000 files < 5 s.
Needs root (the loopback sshd logs in as root), sshd, ssh and rsync.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sshd import CLEAN_LOG, FAILED_LOG, SshServer, find_sshd, write_config  # noqa: E402

from acorntui import fetch  # noqa: E402
from acorntui.config import load_config  # noqa: E402

DIRS = ["Users", "Shared", "Accounts", "Projects", "Mail", "Scans", "SQLBackup", "Profiles"]
WORDS = ["report", "budget", "invoice", "final", "draft", "2024", "2025", "Q3", "copy", "notes"]
EXTS = [".docx", ".xlsx", ".pdf", ".pst", ".jpg", ".txt", ".bak", ".msg"]


def fake_log(rnd: random.Random, size: int, failed: bool) -> bytes:
    """A verbose rsync log (one transferred path a line) of about ``size`` bytes."""
    lines = ["building file list ... done\n"]
    n = len(lines[0])
    while n < size:
        parts = [rnd.choice(DIRS)] + [rnd.choice(WORDS) for _ in range(rnd.randint(1, 4))]
        line = "/".join(parts) + f"/{rnd.choice(WORDS)}_{rnd.randint(0, 99999)}" \
            f"{rnd.choice(EXTS)}\n"
        lines.append(line)
        n += len(line)
    lines.append(FAILED_LOG if failed else CLEAN_LOG)
    return "".join(lines).replace("\n", "\r\n").encode()


def build_tree(root: Path, files: int, seed: int = 7) -> int:
    rnd = random.Random(seed)
    total = 0
    now = time.time()
    for i in range(files):
        big = i % 2000 == 1999  # a few of several MB
        size = rnd.randint(3_000_000, 8_000_000) if big else int(rnd.triangular(1000, 50000, 8000))
        data = fake_log(rnd, size, failed=rnd.random() < 0.1)
        p = root / f"cust{i % 700:03d}" / f"srv{i:05d}.out"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(data)
        t = now - rnd.randint(600, 20000)
        os.utime(p, (t, t))
        total += len(data)
    return total


def run_rsync(server: SshServer, dest: Path) -> float:
    ssh = (f"ssh -p {server.port} -i {server.client_key} -o IdentitiesOnly=yes "
           f"-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")
    t = time.perf_counter()
    subprocess.run(["rsync", "-a", "-e", ssh, f"root@127.0.0.1:{server.root}/", f"{dest}/"],
                   check=True)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--method", default="auto", choices=["auto", "exec", "sftp"])
    ap.add_argument("--compress", default="auto", choices=["auto", "zstd", "gzip", "none"])
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temp dir)")
    args = ap.parse_args()
    binary = find_sshd()
    if binary is None or os.geteuid() != 0 or not shutil.which("rsync"):
        print("needs root, sshd (openssh-server) and rsync", file=sys.stderr)
        return 2
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="acorn-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    os.environ["HOME"] = str(base)  # no real ~/.ssh
    server = SshServer(base / "sshd", binary=binary).start()
    try:
        t = time.perf_counter()
        total = build_tree(server.root, args.files)
        print(f"tree: {args.files} logs, {total / 1e6:.1f} MB "
              f"(built in {time.perf_counter() - t:.1f} s)")
        kh = server.write_known_hosts(base / "known_hosts")
        spool = base / "spool"
        shutil.rmtree(spool, ignore_errors=True)
        cfg = load_config(write_config(base / "config.toml", spool=spool, servers=[
            server.report_server_toml(known_hosts=kh, extra=f'method = "{args.method}"\n'
                                      f'compress = "{args.compress}"')]))
        rs_dest = base / "rsync-copy"
        shutil.rmtree(rs_dest, ignore_errors=True)
        rs_dest.mkdir()

        subprocess.run(["sync"], check=False)
        rsync_first = run_rsync(server, rs_dest)
        t = time.perf_counter()
        first = fetch.pull(cfg)
        ours_first = time.perf_counter() - t
        s = first.servers[0]
        if not first.ok:
            print("pull failed:", first.problems()[:5], file=sys.stderr)
            return 1
        assert len(s.fetched) == args.files, (len(s.fetched), args.files)
        rsync_again = run_rsync(server, rs_dest)
        t = time.perf_counter()
        again = fetch.pull(cfg)
        ours_again = time.perf_counter() - t
        assert again.ok and not again.servers[0].fetched

        print(f"first pull   rsync -a {rsync_first:6.2f} s   acorntui {ours_first:6.2f} s "
              f"[{s.method}]   ratio {ours_first / rsync_first:4.2f} (target <= 1.5)")
        print(f"no change    rsync -a {rsync_again:6.2f} s   acorntui {ours_again:6.2f} s   "
              f"ratio {ours_again / rsync_again:4.2f} (target < 5 s for 10,000)")
        ok = ours_first <= 1.5 * rsync_first and ours_again < 5 * args.files / 10000
        print("targets met" if ok else "TARGETS MISSED")
        return 0 if ok else 1
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
