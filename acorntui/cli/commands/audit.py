"""audit: the audit trail, who changed what and when."""

from __future__ import annotations

import datetime as dt
import json
import re

from acorntui.cli.commands._manage import FORMATS, print_json, safe
from acorntui.cli.common import UsageError


def register(sub) -> None:
    p = sub.add_parser("audit", help="the audit trail: who changed what, when")
    p.add_argument("--server", metavar="CUSTOMER/SERVER", help="only this server")
    p.add_argument("--login", help="only changes by this login")
    p.add_argument("--action", help="action or its prefix (exception, server.edit, note...)")
    p.add_argument("--since", metavar="DATE", help="ISO date/time, or 7d / 12h ago")
    p.add_argument("--limit", type=int, default=50, help="newest N rows (default 50)")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.set_defaults(func=cmd_audit)


_REL = re.compile(r"^(\d+)\s*([dh])$")


def parse_since(text: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """ISO date/datetime (UTC, as stored) or a relative ``7d`` / ``12h``."""
    if not text:
        return None
    t = text.strip()
    m = _REL.match(t)
    if m:
        from acorntui.db.models import utcnow

        n, unit = int(m.group(1)), m.group(2)
        delta = dt.timedelta(days=n) if unit == "d" else dt.timedelta(hours=n)
        return (now or utcnow()) - delta
    try:
        return dt.datetime.fromisoformat(t).replace(tzinfo=None)
    except ValueError:
        raise UsageError(f"since: {text!r} is not a date (YYYY-MM-DD[THH:MM]) or 7d/12h"
                         ) from None


def cmd_audit(args, ctx) -> int:
    from acorntui.services import manage

    ctx.connect()
    if args.limit < 1:
        raise UsageError("limit: must be at least 1")
    server_id = manage.get_server(args.server).id if args.server else None
    rows = manage.audit_rows(server_id=server_id, login=args.login, action=args.action,
                             since=parse_since(args.since), limit=args.limit)
    if args.format == "json":
        for r in rows:
            for k in ("before", "after"):
                r[k] = json.loads(r[k]) if r[k] else None
        print_json(rows)
        return 0
    if not rows:
        print("(no changes recorded)")
    for r in rows:
        where = f" {r['server']}" if r["server"] else ""
        print(f"{r['at']:%Y-%m-%d %H:%M:%S}  {safe(r['login']):<12} {safe(r['action']):<20}"
              f"{safe(where)}  {safe(r['details'])}")
        if r["before"]:
            print(f"    before: {safe(r['before'])}")
        if r["after"]:
            print(f"    after:  {safe(r['after'])}")
    return 0
