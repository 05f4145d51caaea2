"""Benchmark acorntui.core.parser against ``grep -c rsync`` on big verbose rsync logs.

    python bench/parse.py [--lines N] [--repeat 3]

Writes a N-line (default 1,000,000) and a 100,000-line verbose log with a sprinkling of
errors into a temp dir, times ``grep -c rsync FILE`` and ``parse_file`` (best of --repeat)
side by side, prints MB/s and the ratio (target <= 2.0), and measures the peak memory of
a parse of each file in a fresh subprocess (VmHWM) to show it does not grow with the file.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from acorntui.core.parser import parse_file  # noqa: E402

WORDS = ["Documents", "Projects", "Sent Items", "Budget 2023", "Invoices", "photos", "Scans",
         "Customer Files", "Archive", "Q3 Reports", "Buchhaltung", "HR", "Templates"]


def write_log(path: Path, lines: int, seed: int = 7) -> int:
    """A cwRsync-like verbose log: file names, an error every ~20,000 lines. Returns errors."""
    rnd = random.Random(seed)
    errors = 0
    with open(path, "wb", buffering=1 << 20) as fh:
        fh.write(b"building file list ... done\n")
        batch: list[bytes] = []
        for i in range(lines):
            depth = rnd.randint(1, 4)
            name = "/".join(rnd.choice(WORDS) for _ in range(depth))
            p = f"/cygdrive/E/shares/{name}/file_{i:07d}.docx".encode()
            if i % 20_000 == 19_999:
                batch.append(b'rsync: send_files failed to open "' + p
                             + b'": Permission denied (13)\n')
                errors += 1
            else:
                batch.append(p + b"\n")
            if len(batch) >= 10_000:
                fh.write(b"".join(batch))
                batch.clear()
        fh.write(b"".join(batch))
        fh.write(b"\nsent 23,990,367 bytes  received 120,237 bytes  1,176,127.02 bytes/sec\n"
                 b"total size is 294,748,160  speedup is 12.22\n"
                 b"rsync error: some files/attrs were not transferred (see previous errors) "
                 b"(code 23) at main.c(1196) [sender=3.1.2]\n")
    return errors


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def peak_memory_mb(path: Path) -> float:
    """Peak RSS (VmHWM) of a fresh interpreter that parses ``path``."""
    code = (
        "import re, sys; sys.path.insert(0, sys.argv[2]); "
        "from acorntui.core.parser import parse_file; parse_file(sys.argv[1], max_age_hours=0); "
        "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path), str(ROOT)],
                         capture_output=True, text=True, check=True).stdout
    return int(out) / 1024


def baseline_memory_mb() -> float:
    code = (
        "import re, sys; sys.path.insert(0, sys.argv[1]); import acorntui.core.parser; "
        "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)],
                         capture_output=True, text=True, check=True).stdout
    return int(out) / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--small-lines", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="acorn-bench-") as tmp:
        big, small = Path(tmp) / "big.out", Path(tmp) / "small.out"
        errors = write_log(big, args.lines)
        write_log(small, args.small_lines)
        size_mb = big.stat().st_size / 1e6

        r = parse_file(big, max_age_hours=0)
        assert r.code == 23 and len(r.failures) == errors, (r.code, len(r.failures), errors)
        assert r.lines == args.lines + 5, r.lines

        def grep() -> None:
            # not stdout=DEVNULL: GNU grep then stops at the first match, like -q
            subprocess.run(["grep", "-c", "rsync", str(big)], capture_output=True, check=False)

        def parse() -> None:
            parse_file(big, max_age_hours=0)

        grep()  # warm the page cache
        rounds = []
        for _ in range(args.repeat):  # interleaved, so both see the same machine state
            rounds.append((best_of(grep, 1), best_of(parse, 1)))
        t_grep = min(g for g, _ in rounds)
        t_parse = min(p for _, p in rounds)
        ratio = t_parse / t_grep

        print(f"log: {args.lines:,} lines, {size_mb:.1f} MB, {errors} error lines")
        print(f"grep -c rsync : {t_grep * 1000:7.1f} ms  {size_mb / t_grep:7.0f} MB/s")
        print(f"parse_file    : {t_parse * 1000:7.1f} ms  {size_mb / t_parse:7.0f} MB/s")
        print(f"ratio parse/grep: {ratio:.2f} (target <= 2.0)")

        base = baseline_memory_mb()
        m_small, m_big = peak_memory_mb(small), peak_memory_mb(big)
        print(f"peak RSS: interpreter+parser import {base:.1f} MB; "
              f"parse {args.small_lines:,} lines ({small.stat().st_size / 1e6:.1f} MB) "
              f"{m_small:.1f} MB; parse {args.lines:,} lines ({size_mb:.1f} MB) {m_big:.1f} MB")
        print(f"growth 100k -> 1M lines: {m_big - m_small:+.1f} MB")
        return 0 if ratio <= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
