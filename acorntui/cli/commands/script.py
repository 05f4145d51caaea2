"""`acorntui script CUSTOMER/SERVER`: the server's customer-side backup script."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from acorntui.cli.common import UsageError


def register(sub) -> None:
    p = sub.add_parser("script", help="write a server's backup.bat (or POSIX sh script) from "
                                      "its settings")
    p.add_argument("server", metavar="CUSTOMER/SERVER")
    p.add_argument("--os", choices=["windows", "posix"], dest="os_kind",
                   help="default: from the server's OS field (Windows unless it names a Unix)")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("--remote-dir", help="report folder on the report server (default: the "
                                        "configured report server's remote_dir, or /reports)")
    p.add_argument("--cwrsync-dir", help=r"cwRsync on the customer's server (Windows; "
                                         r"default c:\progra~2\cwRsync\bin)")
    p.add_argument("--state-dir", help="where the POSIX script keeps stats.out "
                                       "(default /var/tmp/acorntui)")
    p.set_defaults(func=cmd_script)


def _report_defaults(cfg, report_host: str) -> tuple[str, str | None]:
    """(default report host, remote dir) from the configured report servers."""
    servers = list(getattr(cfg, "report_servers", []) or [])
    host = report_host.split("@")[-1].split(":")[0] if report_host else ""
    for rs in servers:
        if host and rs.host == host:
            return "", rs.remote_dir
    if not report_host and len(servers) == 1:
        rs = servers[0]
        text = (f"{rs.user}@" if rs.user else "") + rs.host + (f":{rs.port}" if rs.port else "")
        return text, rs.remote_dir
    return "", None


def cmd_script(args, ctx) -> int:
    from acorntui.services import manage, script
    from acorntui.services.manage import ManageInputError
    from acorntui.services.script import ScriptError

    ctx.connect()
    try:
        srv = manage.server_dict(manage.get_server(args.server))
        default_report, remote_dir = _report_defaults(ctx.cfg, srv["report_host"])
        p = script.plan(srv, os_kind=args.os_kind, remote_dir=args.remote_dir or remote_dir,
                        default_report=default_report)
        kw = {}
        if args.cwrsync_dir and p.os_kind == script.WINDOWS:
            kw["cwrsync_dir"] = args.cwrsync_dir
        if args.state_dir and p.os_kind == script.POSIX:
            kw["state_dir"] = args.state_dir
        text = script.render(p, **kw)
    except (ManageInputError, ScriptError) as exc:
        raise UsageError(str(exc)) from None
    if args.output:
        out = Path(args.output)
        out.write_bytes(text.encode("utf-8"))
        if p.os_kind == script.POSIX:
            os.chmod(out, 0o755)
        print(f"wrote {out} ({'backup.bat' if p.os_kind == script.WINDOWS else 'sh'} for "
              f"{p.label})", file=sys.stderr)
        return 0
    sys.stdout.write(text)  # CRLF kept for backup.bat: stdout does no newline translation here
    sys.stdout.flush()
    return 0
