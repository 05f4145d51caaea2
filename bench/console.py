"""Console benchmark: 10,000 servers x 90 nights, headless (run_test).

Measures (targets from issue #5):
- start to the grid's first complete paint (< 1.5 s): App() created, the night loaded by the
  worker (nightly_rows over 10,000 servers), the grid's visible lines rendered;
- a filter keystroke to the updated grid (< 100 ms).

The grid is screens.widgets.FastGrid, a Line-API ScrollView that renders only the visible
lines (the standard DataTable took 2.1-2.6 s to first paint 10,000 rows here, see DESIGN.md).

    python bench/console.py [--servers 10000] [--nights 90] [--db PATH] [--rebuild]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(path: Path, servers: int, nights: int, seed: int = 5) -> None:
    """Bulk-insert customers, servers, results and failures (no parsing: size is the point)."""
    from acorntui import db as dbpkg
    from acorntui.db.models import Customer, Failure, Result, Server, Tsr, database_proxy

    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)
    database = dbpkg.connect(f"sqlite:///{path}")
    dbpkg.init_schema(database)
    rng = random.Random(seed)
    today = dt.date.today()
    with database_proxy.obj.atomic():
        tsrs = [Tsr.create(name=f"TSR {i}", login=f"tsr{i}", level=1 + i % 3) for i in range(12)]
        n_cust = max(1, servers // 5)
        Customer.insert_many([dict(name=f"customer-{i:05d}", display_name=f"Customer {i}")
                              for i in range(n_cust)]).execute()
        cids = [c for (c,) in Customer.select(Customer.id).tuples()]
        rows = [dict(customer=cids[i % n_cust], name=f"SRV{i:05d}",
                     custbak=f"custbak{i % 40:02d}", tsr=tsrs[i % len(tsrs)].id)
                for i in range(servers)]
        for i in range(0, len(rows), 5000):
            Server.insert_many(rows[i:i + 5000]).execute()
    sids = [s for (s,) in Server.select(Server.id).tuples()]
    flaky = {s: rng.random() < 0.08 for s in sids}
    for n in range(nights, 0, -1):
        night = today - dt.timedelta(days=n)
        batch = []
        for sid in sids:
            r = rng.random()
            bad = r < (0.15 if flaky[sid] else 0.01)
            code = rng.choice([23, 23, 12, -2]) if bad else rng.choice([0, 0, 0, 24, 23])
            status = ("failed" if code in (12, 23) else "incomplete") if bad else (
                "ok_with_exceptions" if code == 23 else "ok")
            size = 10_000_000_000 + sid * 1000
            batch.append(dict(server=sid, night=night, code=code, status=status,
                              reason="missing" if code == -2 else "",
                              total_size=size, sent_bytes=size // 50, speedup=50.0,
                              error_count=1 if code == 23 else 0,
                              excepted_count=0 if bad or code != 23 else 1))
        with database_proxy.obj.atomic():
            for i in range(0, len(batch), 2000):
                Result.insert_many(batch[i:i + 2000]).execute()
            fails = [dict(result=rid, path="/cygdrive/E/Mail/outlook.pst",
                          message="send_files failed to open: Permission denied (13)",
                          excepted=ex > 0)
                     for rid, ex in Result.select(Result.id, Result.excepted_count).where(
                         (Result.night == night) & (Result.error_count > 0)).tuples()]
            for i in range(0, len(fails), 2000):
                Failure.insert_many(fails[i:i + 2000]).execute()
    database.close()


async def measure(path: Path, size: tuple[int, int]) -> dict[str, float]:
    from acorntui import db as dbpkg
    from acorntui.app import AcornApp
    from acorntui.screens.nightly import NightlyScreen

    dbpkg.connect(f"sqlite:///{path}")
    t0 = time.perf_counter()
    app = AcornApp(cursor_blink=False)
    out: dict[str, float] = {}
    async with app.run_test(size=size) as pilot:
        while True:
            await asyncio.sleep(0.005)
            screen = app.screen
            if isinstance(screen, NightlyScreen) and screen.loaded:
                break
        await pilot.pause()
        grid = screen.grid
        while grid.painted == 0:
            await asyncio.sleep(0.002)
        out["first_paint_s"] = time.perf_counter() - t0
        out["load_worker_s"] = screen.last_load_seconds
        out["rows"] = grid.row_count
        await pilot.press("slash")
        await pilot.pause()
        timings = []
        # The key event is posted as the terminal driver would and the clock stops when the
        # grid has rendered its visible lines again. (pilot.press itself waits for the app to
        # go idle, about 170 ms here even for a key that does nothing, so it is not used.)
        from textual import events

        for key, char in [("S", "S"), ("R", "R"), ("V", "V"), ("0", "0"), ("0", "0"),
                          ("1", "1"), ("backspace", None), ("backspace", None), ("x", "x")]:
            painted, shown = grid.painted, grid.row_count
            t = time.perf_counter()
            app.post_message(events.Key(key, char))
            while grid.painted == painted:
                await asyncio.sleep(0.0005)
            timings.append(time.perf_counter() - t)
            out.setdefault("filter_rows_seen", 0)
            out["filter_rows_seen"] += shown != grid.row_count
        out["filter_keystroke_ms_max"] = max(timings) * 1000
        out["filter_keystroke_ms_median"] = sorted(timings)[len(timings) // 2] * 1000
        out["rows_after_filter"] = grid.row_count
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", type=int, default=10_000)
    ap.add_argument("--nights", type=int, default=90)
    ap.add_argument("--db", type=Path, default=Path("/tmp/acorn-bench-console.db"))
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--size", default="160x50")
    args = ap.parse_args()
    if args.rebuild or not args.db.exists():
        t = time.perf_counter()
        build(args.db, args.servers, args.nights)
        print(f"built {args.db} ({args.servers} servers x {args.nights} nights) in "
              f"{time.perf_counter() - t:.1f} s")
    w, h = map(int, args.size.split("x"))
    res = asyncio.run(measure(args.db, (w, h)))
    for k, v in res.items():
        print(f"{k:28} {v:10.3f}" if isinstance(v, float) else f"{k:28} {v:10}")
    ok = res["first_paint_s"] < 1.5 and res["filter_keystroke_ms_max"] < 100
    print("targets (first paint < 1.5 s, filter < 100 ms):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
