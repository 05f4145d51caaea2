"""Cost of hostile logs: 1,000,000 file-error lines, and one 300 MB line.

    python bench/hostile.py [--lines 1000000] [--line-mb 300] [--keep DIR]

Generates, in a temporary folder (or DIR):

* ``flood/cust/srv.out``: a code-23 log with ``--lines`` ``send_files failed to open`` lines;
* ``long/cust/srv.out``: one ``--line-mb`` MB line ending in rsync's summary line (must give
  -2: a line that long is not one rsync wrote);
* ``colons/cust/srv.out``: one ``--line-mb`` MB line full of colons.

Then runs ``acorntui parse`` and ``acorntui ingest`` on them, each in its own subprocess, and
prints wall seconds and peak RSS (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` of that
subprocess alone, measured through a small wrapper), plus references measured in the same
run: ``wc -l`` on the file and a plain Python process reading it in 1 MiB blocks.

Linux carries ``ru_maxrss`` over ``exec`` from the forked copy of the parent, so every figure
includes the small wrapper's own RSS (about 12 MB: the references show that floor).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOW = dt.datetime(2026, 11, 26, 7, 0, 0)
LOG_TIME = dt.datetime(2026, 11, 26, 2, 30, 0)
CODE23 = ("rsync error: some files/attrs were not transferred (see previous errors) (code 23) "
          "at main.c(1338) [sender=3.2.7]\n")
SUMMARY = "sent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec\ntotal size is 9,999  " \
          "speedup is 7.75\n"

# Runs a command and prints the child's wall time and peak RSS (KiB) as JSON on stderr's last
# line: ru_maxrss of RUSAGE_CHILDREN covers only the children this wrapper waited for.
WRAPPER = r"""
import json, resource, subprocess, sys, time
t = time.monotonic()
try:
    p = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=float(sys.argv[1]))
except subprocess.TimeoutExpired as exc:
    p = subprocess.CompletedProcess(exc.cmd, "timeout", exc.stdout or b"", exc.stderr or b"")
dt_ = time.monotonic() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.buffer.write(p.stdout[-4000:])
sys.stderr.buffer.write(p.stderr[-4000:])
sys.stderr.write("\n" + json.dumps({"rc": p.returncode, "s": dt_, "maxrss_kib": ru.ru_maxrss})
                 + "\n")
"""
READER = r"""
import sys
with open(sys.argv[1], "rb", buffering=0) as fh:
    while fh.read(1 << 20):
        pass
"""


def write_flood(path: Path, lines: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("sending incremental file list\n")
        chunk = []
        for i in range(lines):
            chunk.append(f'rsync: [sender] send_files failed to open "/srv/data/d{i % 997}/'
                         f'file{i}.dat": Permission denied (13)\n')
            if len(chunk) == 10000:
                fh.write("".join(chunk))
                chunk = []
        fh.write("".join(chunk))
        fh.write("\n" + SUMMARY + CODE23)
    os.utime(path, (LOG_TIME.timestamp(), LOG_TIME.timestamp()))


def write_long_line(path: Path, mb: int, filler: bytes, end: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = (filler * ((1 << 20) // len(filler) + 1))[: 1 << 20]
    with open(path, "wb") as fh:
        for _ in range(mb):
            fh.write(block)
        fh.write(end)
    os.utime(path, (LOG_TIME.timestamp(), LOG_TIME.timestamp()))


def measure(cmd: list[str], env: dict[str, str], timeout: float = 600) -> dict:
    p = subprocess.run([sys.executable, "-c", WRAPPER, str(timeout), *cmd], capture_output=True,
                       env=env, text=True)
    fig = json.loads(p.stderr.strip().splitlines()[-1])
    fig["stdout"] = p.stdout.strip().splitlines()[:3]
    fig["stderr"] = [x for x in p.stderr.strip().splitlines()[:-1] if x][:3]
    return fig


def show(label: str, fig: dict) -> None:
    print(f"{label:<36} {fig['s']:7.2f} s  {fig['maxrss_kib'] / 1024:7.1f} MB peak RSS"
          f"  rc {fig['rc']}")
    for line in fig["stdout"] + fig["stderr"]:
        print(f"{'':<38}| {line[:110]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--line-mb", type=int, default=300)
    ap.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    ap.add_argument("--reuse", action="store_true", help="with --keep: use the logs already there")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per command (600)")
    args = ap.parse_args()

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="acorn-hostile-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ACORN_CONFIG": str(work / "none.toml"), "XDG_DATA_HOME": str(work)}
    env.pop("ACORN_DB", None)
    acorn = [sys.executable, "-m", "acorntui"]
    try:
        t = time.monotonic()
        flood = work / "flood" / "cust" / "srv.out"
        long_ = work / "long" / "cust" / "srv.out"
        colons = work / "colons" / "cust" / "srv.out"
        if not (args.reuse and flood.exists() and long_.exists() and colons.exists()):
            write_flood(flood, args.lines)
            write_long_line(long_, args.line_mb, b"x" * 64, b" " + SUMMARY.replace("\n", " ")
                            .encode() + b"\n")
            write_long_line(colons, args.line_mb, b"rsync: a:b:", b"\n" + SUMMARY.encode())
        print(f"generated in {time.monotonic() - t:.1f} s: {flood.stat().st_size / 1e6:.0f} MB "
              f"({args.lines:,} error lines), 2 x {long_.stat().st_size / 1e6:.0f} MB one-line "
              f"logs in {work}")
        now = NOW.isoformat()
        for label, path in (("flood", flood), ("300 MB line", long_),
                            ("300 MB line of colons", colons)):
            print(f"\n== {label}: {path}")
            show("reference: wc -l", measure(["wc", "-l", str(path)], env))
            show("reference: python read 1 MiB blocks",
                 measure([sys.executable, "-c", READER, str(path)], env))
            show("acorntui parse", measure([*acorn, "--db", f"sqlite:///{work / 'p.db'}",
                                            "parse", "--now", now, str(path)], env,
                                           args.timeout))
            db = work / f"{label.replace(' ', '_')}.db"
            db.unlink(missing_ok=True)
            subprocess.run([*acorn, "--db", f"sqlite:///{db}", "init-db"], env=env,
                           capture_output=True, check=True)
            show("acorntui ingest", measure([*acorn, "--db", f"sqlite:///{db}", "ingest",
                                             "--now", now, "--no-missing", str(path)], env,
                                            args.timeout))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
