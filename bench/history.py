"""History benchmark (issue 12: "History opens in under 1 s, with the failures paged").

A real log of 1,000,000 file-error lines (bench/hostile.py's flood) is ingested: the result
keeps the first 1,000 failures and the true count. A reference server's log has 10 file errors.
Each history is opened in a headless console (Pilot) and timed from the push of the screen to
its first page of file errors and its "Why" on screen; the figure, the reference measured in the
same run, and their ratio are printed (median of --runs opens).

    python bench/history.py [--lines 1000000] [--runs 5] [--dir /tmp/acorn-bench-history]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from hostile import NOW, write_flood  # noqa: E402


def build(folder: Path, lines: int) -> Path:
    """A fresh SQLite database with flood/big (``lines`` errors) and ref/small (10)."""
    from acorntui import db as dbpkg
    from acorntui.services.ingest import Ingestor

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "history.db"
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)
    spool = folder / "spool"
    write_flood(spool / "flood" / "big.out", lines)
    write_flood(spool / "ref" / "small.out", 10)
    database = dbpkg.connect(f"sqlite:///{path}")
    dbpkg.init_schema(database)
    t = time.perf_counter()
    report = Ingestor(now=NOW).ingest_paths([spool / "flood" / "big.out",
                                             spool / "ref" / "small.out"])
    print(f"ingested {lines:,} + 10 error lines in {time.perf_counter() - t:.1f} s: "
          f"{report.summary()}")
    database.close()
    return path


async def open_time(path: Path, customer: str, server: str, runs: int) -> list[float]:
    from acorntui import db as dbpkg
    from acorntui.app import AcornApp
    from acorntui.db.models import Customer, Server
    from acorntui.screens.history import ServerHistoryScreen
    from acorntui.screens.nightly import NightlyScreen

    dbpkg.connect(f"sqlite:///{path}")
    sid = (Server.select(Server.id).join(Customer)
           .where((Customer.name == customer) & (Server.name == server)).scalar())
    app = AcornApp(cursor_blink=False)
    times = []
    async with app.run_test(size=(120, 35)) as pilot:
        while not (isinstance(app.screen, NightlyScreen) and app.screen.loaded):
            await asyncio.sleep(0.005)
        await pilot.pause()
        for _ in range(runs):
            t = time.perf_counter()
            screen = ServerHistoryScreen(sid, f"{customer}/{server}")
            app.push_screen(screen)
            while not (app.screen is screen and screen.failures
                       and screen.query_one("#why").display):
                await asyncio.sleep(0.001)
            await pilot.pause()  # the screen painted with them
            times.append(time.perf_counter() - t)
            app.pop_screen()
            await pilot.pause()
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/acorn-bench-history"))
    args = ap.parse_args()
    path = build(args.dir, args.lines)
    big = asyncio.run(open_time(path, "flood", "big", args.runs))
    ref = asyncio.run(open_time(path, "ref", "small", args.runs))
    b, r = statistics.median(big), statistics.median(ref)
    print(f"history open, {args.lines:,} failures (median of {args.runs}) {b:8.3f} s")
    print(f"history open, 10 failures (reference)       {r:8.3f} s")
    print(f"ratio                                        {b / r:8.2f}")
    ok = b < 1.0
    print("target (history opens in under 1 s):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
