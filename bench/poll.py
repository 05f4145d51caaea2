"""Polling benchmark: what a teammate's change costs the console at 10,000 servers.

Uses the database ``bench/console.py`` builds (run it first; default path below). Measures:
- the poll's signature query (every POLL_SECONDS, on a worker thread);
- the reload a changed signature starts (worker thread: the night's rows, the audit rows since
  the last poll, the diff against the rows on screen, the summary counts);
- applying it on the UI thread (only the changed rows are replaced, in place), which must stay
  well under 100 ms so keys keep answering; and that the cursor and scroll did not move.

    python bench/poll.py [--db /tmp/acorn-bench-console.db]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def measure(url: str) -> dict[str, float]:
    from acorntui import db as dbpkg
    from acorntui.app import AcornApp
    from acorntui.db.models import Result, Update
    from acorntui.screens.nightly import refresh_night
    from acorntui.services import queries

    dbpkg.connect(url)
    app = AcornApp(cursor_blink=False, poll_seconds=3600)
    out: dict[str, float] = {}
    async with app.run_test(size=(160, 50)) as pilot:
        while not getattr(app.screen, "loaded", False):
            await pilot.pause(0.1)
        screen = app.screen
        night = screen.night
        await pilot.press("pagedown", "down")
        await pilot.pause()
        t = time.perf_counter()
        queries.night_signature(night)
        out["signature_query_ms"] = (time.perf_counter() - t) * 1000
        r = Result.select().where(Result.night == night).first()
        old = (r.ack_note, r.ack_by)
        try:
            Result.update(ack_note="bench", ack_by="bench").where(Result.id == r.id).execute()
            Update.create(login="bench", action="result.ack", table_name="results",
                          row_id=r.id, server=r.server_id, result=r.id)
            t = time.perf_counter()
            fresh = refresh_night(night, screen.update_seen,
                                  (list(screen.all_rows), dict(screen.remarks)))
            out["worker_reload_s"] = time.perf_counter() - t
            cursor, scroll = screen.grid.cursor_row, screen.grid.scroll_y
            t = time.perf_counter()
            changed = screen.apply_refresh(fresh)
            out["ui_thread_apply_ms"] = (time.perf_counter() - t) * 1000
            out["rows"] = len(screen.all_rows)
            out["changed_rows"] = len(changed)
            out["cursor_and_scroll_kept"] = float(
                (cursor, scroll) == (screen.grid.cursor_row, screen.grid.scroll_y))
        finally:
            Result.update(ack_note=old[0], ack_by=old[1]).where(Result.id == r.id).execute()
            Update.delete().where(Update.login == "bench").execute()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="/tmp/acorn-bench-console.db")
    args = ap.parse_args()
    if not Path(args.db).exists():
        print(f"{args.db} does not exist: run python bench/console.py first", file=sys.stderr)
        return 2
    out = asyncio.run(measure(f"sqlite:///{args.db}"))
    for k, v in out.items():
        print(f"{k:28} {v:10.3f}" if isinstance(v, float) else f"{k:28} {v:10}")
    ok = out["ui_thread_apply_ms"] < 100 and out["cursor_and_scroll_kept"] == 1.0
    print("target (UI-thread apply < 100 ms, cursor and scroll kept):",
          "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
