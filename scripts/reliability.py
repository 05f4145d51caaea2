#!/usr/bin/env python3
"""Long reliability run of acorntui (issue #8): the same tests as the fast pytest subset,
with the long counts, and a summary of the figures they report.

    python scripts/reliability.py                 # the long run quoted in docs/reliability.md
    python scripts/reliability.py --kills-sqlite 5 --kills-mariadb 3 --fuzz 2000  # = pytest

Runs tests/test_reliability_ingest.py, tests/test_fuzz_parser.py and tests/test_secrets.py
under pytest with ACORN_REL_* variables set, collects the FIGURES lines every test writes
into a JSON-lines file, prints them as a table and writes them to --out. Exit status is
pytest's. MariaDB parts need the server on 127.0.0.1:3306 (ACORN_TEST_MYSQL_* to change);
--require-mariadb turns their skips into failures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ["tests/test_reliability_ingest.py", "tests/test_fuzz_parser.py", "tests/test_secrets.py"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills-sqlite", type=int, default=50, help="SIGKILL rounds on SQLite")
    p.add_argument("--kills-mariadb", type=int, default=20, help="SIGKILL rounds on MariaDB")
    p.add_argument("--logs", type=int, default=300, help="logs in the spool")
    p.add_argument("--concurrent", type=int, default=10,
                   help="rounds of two concurrent ingests (per backend and per variant)")
    p.add_argument("--dbkills", type=int, default=10,
                   help="rounds of KILL CONNECTION of a running ingest on MariaDB")
    p.add_argument("--fuzz", type=int, default=100_000,
                   help="mutated fuzz examples (plus a quarter as many generated ones)")
    p.add_argument("--big-mb", type=int, default=1024, help="size of the big verbose log")
    p.add_argument("--lines", type=int, default=10_000_000, help="lines of the many-lines log")
    p.add_argument("--endless-mb", type=int, default=200, help="size of the one-line log")
    p.add_argument("--garbage-mb", type=int, default=256, help="size of the random-bytes log")
    p.add_argument("--real-timeout", action=argparse.BooleanOptionalAction, default=True,
                   help="lock the SQLite file past the shipped 15 s busy timeout (default on)")
    p.add_argument("--seed", type=int, help="seed of the random kill points")
    p.add_argument("--require-mariadb", action="store_true",
                   help="fail instead of skipping when MariaDB is not reachable")
    p.add_argument("-k", dest="keyword", help="only the tests matching this pytest -k")
    p.add_argument("--out", type=Path, default=None,
                   help="write the figures (JSON lines) here as well")
    args = p.parse_args(argv)

    fd, report = tempfile.mkstemp(prefix="acorn-reliability-", suffix=".jsonl")
    os.close(fd)
    env = dict(os.environ)
    env.update({
        "ACORN_REL_KILLS_SQLITE": str(args.kills_sqlite),
        "ACORN_REL_KILLS_MARIADB": str(args.kills_mariadb),
        "ACORN_REL_LOGS": str(args.logs),
        "ACORN_REL_CONCURRENT": str(args.concurrent),
        "ACORN_REL_DBKILLS": str(args.dbkills),
        "ACORN_REL_FUZZ": str(args.fuzz),
        "ACORN_REL_BIG_MB": str(args.big_mb),
        "ACORN_REL_LINES": str(args.lines),
        "ACORN_REL_ENDLESS_MB": str(args.endless_mb),
        "ACORN_REL_GARBAGE_MB": str(args.garbage_mb),
        "ACORN_REL_REAL_TIMEOUT": "1" if args.real_timeout else "0",
        "ACORN_REL_REPORT": report,
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    })
    if args.seed is not None:
        env["ACORN_REL_SEED"] = str(args.seed)
    if args.require_mariadb:
        env["ACORN_REQUIRE_INTEGRATION"] = "1"
    cmd = [sys.executable, "-m", "pytest", *TESTS, "-q", "-p", "no:cacheprovider",
           "-o", "timeout=0", "--durations=15"]
    if args.keyword:
        cmd += ["-k", args.keyword]
    print("running:", " ".join(cmd), flush=True)
    t0 = time.monotonic()
    rc = subprocess.call(cmd, cwd=ROOT, env=env)
    took = time.monotonic() - t0

    rows = [json.loads(line) for line in Path(report).read_text().splitlines() if line.strip()]
    Path(report).unlink()
    print(f"\n== figures ({took:.0f} s, pytest exit {rc}) ==")
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    for row in rows:
        print(f"{row['test']}:")
        for k, v in row.items():
            if k != "test":
                print(f"    {k}: {v}")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
