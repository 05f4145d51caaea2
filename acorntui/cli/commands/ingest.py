"""ingest: parse and record logs (files or a spool folder)."""

from __future__ import annotations

import sys

from acorntui.cli.common import eprint, json_text, parse_date, parse_now, say


def register(sub) -> None:
    p = sub.add_parser("ingest", help="parse and record logs (files or a spool folder)")
    p.add_argument("paths", nargs="*", metavar="SPOOL_OR_FILES",
                   help="files, or spool folders laid out as <customer>/<server>.out "
                   "(default: the configured spool)")
    p.add_argument("--now", metavar="ISO", help="treat this as the current time")
    p.add_argument("--night", metavar="DATE", help="record every file under this night")
    p.add_argument("--max-age-hours", type=float, metavar="H")
    p.add_argument("--no-missing", action="store_true",
                   help="do not mark servers without a file as missing")
    p.add_argument("--json", action="store_true", help="print the outcome of each file as JSON")
    p.set_defaults(func=cmd_ingest)


def cmd_ingest(args, ctx) -> int:
    from pathlib import Path

    from acorntui.services.ingest import Ingestor

    now = parse_now(args.now)
    if now is not None and now.tzinfo is not None:
        now = now.astimezone().replace(tzinfo=None)
    night = parse_date(args.night)
    paths = args.paths or [str(ctx.cfg.spool_dir)]
    ctx.connect()
    ing = Ingestor(  # refuses a login without the 'ingest' role (exit 3)
        now=now,
        max_age_hours=args.max_age_hours if args.max_age_hours is not None
        else ctx.cfg.max_age_hours,
        cutoff_hours=ctx.cfg.night_cutoff_hours,
        future_tolerance_hours=ctx.cfg.future_tolerance_hours,
        anomaly=ctx.cfg.anomaly,
    )
    missing_paths = [p for p in paths if not Path(p).exists()]
    for p in missing_paths:
        eprint(f"acorntui: {p}: no such file or folder")
    paths = [p for p in paths if Path(p).exists()]
    report = ing.ingest_paths(paths, mark_missing=False if args.no_missing else None,
                              night=night)
    if args.json:
        print(json_text([{**o.__dict__, "night": str(o.night) if o.night else None}
                         for o in report.outcomes], indent=2))
    for o in report.errors:
        eprint(f"acorntui: {o.error}")
    if not args.json:
        say(f"night {report.night}: {report.summary()}")
        bad = [o for o in report.outcomes if o.action in ("created", "replaced")
               and o.status not in ("ok", "ok_with_exceptions")]
        from acorntui.core.status import REASON_WORDS

        for o in bad[:50]:  # a reason in words: "clock ahead", not the stored "future"
            why = REASON_WORDS.get(o.reason, o.reason) if o.reason else ""
            say(f"  {o.customer}/{o.server}  {o.night}  {o.status}"
                f"{' (' + why + ')' if why else ''}  code {o.code}")
        if len(bad) > 50:
            say(f"  ... and {len(bad) - 50} more")
    sys.stdout.flush()
    return 1 if (report.errors or missing_paths) else 0
