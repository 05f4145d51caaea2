"""parse: one stats.out, parsed and printed (the database's exceptions applied)."""

from __future__ import annotations

import datetime as dt

from acorntui.cli.common import eprint, json_text, parse_now, say


def register(sub) -> None:
    p = sub.add_parser("parse", help="parse one stats.out and print the result")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--now", metavar="ISO", help="evaluate the age rule as of this time")
    p.add_argument("--max-age-hours", type=float, metavar="H",
                   help="age rule in hours (default from config, 24); 0 turns it off")
    p.set_defaults(func=cmd_parse)


def cmd_parse(args, ctx) -> int:
    from acorntui.core.parser import ParseError, parse_file

    now = parse_now(args.now)
    if now is not None and now.tzinfo is None:
        now = now.astimezone()
    max_age = args.max_age_hours if args.max_age_hours is not None else ctx.cfg.max_age_hours
    try:
        pr = parse_file(args.file, now=now, max_age_hours=max_age,
                        future_tolerance_hours=ctx.cfg.future_tolerance_hours)
    except ParseError as exc:
        eprint(f"acorntui: {exc}")
        return 2
    rules, cid, sid = [], None, None
    try:
        ctx.connect()
        from acorntui.db.models import Customer
        from acorntui.services.ingest import load_rules
        from acorntui.services.queries import find_server

        rules = load_rules()
        srv = find_server(pr.customer or "", pr.server or "")
        if srv is not None:
            cid, sid = srv.customer_id, srv.id
        else:
            c = Customer.get_or_none(Customer.name == (pr.customer or ""))
            cid = c.id if c else None
    except Exception as exc:  # noqa: BLE001 - parse still works without the database
        eprint(f"acorntui: warning: exceptions not applied ({exc})")
    from acorntui.services.ingest import evaluate

    on = (now or dt.datetime.now().astimezone()).date()
    ev = evaluate(pr, rules, cid, sid, on)
    flags, status, reason = ev.flags, ev.status, ev.reason
    if args.json:
        st = pr.stats
        obj = {
            "customer": pr.customer,
            "server": pr.server,
            "code": pr.code,
            "status": status,
            "reason": reason,
            "failures": [
                {"path": f.path, "message": f.message, "line": f.line, "excepted": r is not None,
                 "kind": f.kind, "exception_id": r.id if r else None}
                for f, r in zip(pr.failures, flags, strict=True)
            ],
            "stats": {
                "sent_bytes": st.sent_bytes, "received_bytes": st.received_bytes,
                "bytes_per_sec": st.bytes_per_sec, "total_size": st.total_size,
                "speedup": st.speedup,
            },
            "rsync_version": pr.rsync_version,
            "unrecognised_errors": pr.unrecognised_errors,
            "failure_count": len(pr.failures) + pr.failures_not_kept,
            "failures_not_listed": pr.failures_not_kept,
        }
        print(json_text(obj, indent=2))
        return 0
    from acorntui.services.queries import status_label

    say(f"{pr.customer}/{pr.server}: {status_label(status, reason)}  code {pr.code}"
        + (f"  ({reason})" if reason and status != "incomplete" else ""))
    if pr.rsync_version:
        say(f"rsync {pr.rsync_version}")
    st = pr.stats
    if st.total_size is not None or st.sent_bytes is not None:
        say(f"sent {st.sent_bytes} bytes, received {st.received_bytes} bytes, "
            f"total size {st.total_size}, speedup {st.speedup}")
    for f, r in zip(pr.failures, flags, strict=True):
        mark = f"excepted (#{r.id})" if r else "FAILING"
        say(f"  line {f.line:>6}  {mark:<14} {f.kind:<20} {f.path}")
    if pr.failures_not_kept:
        say(f"  ... and {pr.failures_not_kept} more file errors (not listed, never excepted)")
    for u in pr.unrecognised_errors[:20]:
        say(f"  note: {u}")
    return 0
