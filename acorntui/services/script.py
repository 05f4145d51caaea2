"""The customer-side scheduled task: backup.bat (cwRsync on Windows) or a POSIX sh script.

Built from the server's settings kept in the database (shares, excludes, key path, mirror
path, report host), after the write-up's backup.bat: kill stale ssh/rsync, run rsync with
``--delete --ignore-errors -vtrR`` into stats.out, then upload stats.out to the report server
as ``/reports/<customer>/<server>.out`` with ``cat > ...`` over ssh.

Every value that goes into a script is validated first; a bad one raises :class:`ScriptError`
naming the field. Windows values cannot be quoted safely when they hold ``"`` (cmd has no
escape inside quotes) and paths must avoid spaces where the write-up's form nests quotes;
POSIX values are quoted with :func:`shlex.quote`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from acorntui import __version__

WINDOWS = "windows"
POSIX = "posix"
OS_KINDS = (WINDOWS, POSIX)

#: where cwRsync lives on the customer's server (8.3 name: no spaces, as in the write-up)
CWRSYNC_DIR = r"c:\progra~2\cwRsync\bin"
WINDOWS_STATS = r"c:\stats.out"
WINDOWS_UPLOAD_LOG = r"c:\upload.txt"
POSIX_STATE_DIR = "/var/tmp/acorntui"
DEFAULT_REMOTE_DIR = "/reports"

_POSIX_HINTS = ("linux", "posix", "unix", "debian", "ubuntu", "centos", "rhel", "red hat",
                "fedora", "suse", "alma", "rocky", "bsd", "mac", "darwin", "solaris")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST = r"(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]+\])"
_USER = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}"
REPORT_RE = re.compile(rf"^(?:(?P<user>{_USER})@)?(?P<host>{_HOST})(?::(?P<port>\d{{1,5}}))?$")
MIRROR_RE = re.compile(
    rf"^(?:(?:(?P<user>{_USER})@)?(?P<host>{_HOST})(?::(?P<port>\d{{1,5}}))?:)?(?P<path>.+)$")
_DRIVE = re.compile(r"^(?P<drive>[A-Za-z]):[\\/](?P<rest>.*)$")


class ScriptError(ValueError):
    """A value that cannot go into the script; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Endpoint:
    user: str
    host: str
    port: int | None

    @property
    def target(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host


@dataclass(frozen=True)
class ScriptPlan:
    """Everything a script needs, validated."""

    customer: str
    server: str
    os_kind: str
    shares: list[str]
    excludes: list[str]
    key_path: str
    mirror: Endpoint
    mirror_path: str
    report: Endpoint
    remote_dir: str

    @property
    def label(self) -> str:
        return f"{self.customer}/{self.server}"

    @property
    def remote_file(self) -> str:
        return f"{self.remote_dir.rstrip('/') or ''}/{self.customer}/{self.server}.out"


def os_kind_for(os_text: str) -> str:
    """The server's OS field -> windows or posix (the write-up's servers are Windows)."""
    t = (os_text or "").lower()
    return POSIX if any(h in t for h in _POSIX_HINTS) else WINDOWS


def _no_control(field: str, value: str) -> str:
    if _CONTROL.search(value):
        raise ScriptError(field, f"{value!r} contains a line break or control character")
    return value


def _port(field: str, text: str | None) -> int | None:
    if not text:
        return None
    n = int(text)
    if not 1 <= n <= 65535:
        raise ScriptError(field, f"port {n} is out of range")
    return n


# a straight run of field checks, each raising a ScriptError that names its field
def plan(server: dict[str, Any], *, os_kind: str | None = None,  # noqa: C901
         remote_dir: str | None = None, default_report: str = "") -> ScriptPlan:
    """Validate a server's settings (``manage.server_dict`` shape) into a ScriptPlan."""
    kind = os_kind or os_kind_for(server.get("os", ""))
    if kind not in OS_KINDS:
        raise ScriptError("os", f"{kind!r}: use windows or posix")
    win = kind == WINDOWS
    label = f"{server['customer']}/{server['name']}"

    def check(field: str, value: str) -> str:
        value = _no_control(field, str(value))
        if win:
            if '"' in value:
                raise ScriptError(field, f"{value!r} contains '\"', which backup.bat cannot "
                                         "quote")
        return value

    shares = [check("shares", s.strip()) for s in server.get("shares") or [] if s.strip()]
    if not shares:
        raise ScriptError("shares", f"{label} has no shares to back up; set them with "
                                    f"`acorntui server edit {label} --share PATH`")
    shares = [_windows_share(s) if win else _posix_share(s) for s in shares]
    excludes = [check("excludes", e.strip()) for e in server.get("excludes") or [] if e.strip()]

    key = check("key_path", (server.get("key_path") or "").strip())
    if not key:
        raise ScriptError("key_path", f"{label} has no ssh key path; set it with "
                                      f"`acorntui server edit {label} --key-path PATH`")
    if win and re.search(r"\s", key):
        raise ScriptError("key_path", f"{key!r} contains a space; use its 8.3 short name "
                                      r"(e.g. c:\progra~2\...) as the write-up does")
    if not win and re.search(r"['\"\\\s]", key):
        raise ScriptError("key_path", f"{key!r}: quotes, backslashes and spaces are not "
                                      "allowed (rsync re-splits its -e command)")

    mirror_text = check("mirror_path", (server.get("mirror_path") or "").strip())
    if not mirror_text:
        mirror_text = f"mirror/{server['name']}"  # the write-up's layout
    m = MIRROR_RE.match(mirror_text)
    if m is None:
        raise ScriptError("mirror_path", f"{mirror_text!r} is not [user@]host[:port]:path")
    mhost = m.group("host") or ""
    if not mhost:
        custbak = (server.get("custbak") or "").strip()
        if not custbak:
            raise ScriptError("mirror_path", f"{mirror_text!r} names no host and {label} has "
                                             "no custbak: give [user@]host:path")
        mhost = check("custbak", custbak)
        if not re.fullmatch(_HOST, mhost):
            raise ScriptError("custbak", f"{mhost!r} is not a host name")
    mirror = Endpoint(m.group("user") or "", mhost, _port("mirror_path", m.group("port")))
    mpath = m.group("path")
    if re.search(r"[\s'\"%]", mpath):
        raise ScriptError("mirror_path", f"{mpath!r}: no spaces, quotes or '%' in the path")

    report_text = check("report_host", (server.get("report_host") or default_report).strip())
    if not report_text:
        raise ScriptError("report_host", f"{label} has no report host; set it with "
                                         f"`acorntui server edit {label} --report-host "
                                         "user@host`")
    r = REPORT_RE.match(report_text)
    if r is None:
        raise ScriptError("report_host", f"{report_text!r} is not [user@]host[:port]")
    report = Endpoint(r.group("user") or "", r.group("host"), _port("report_host",
                                                                     r.group("port")))
    rdir = _no_control("remote_dir", remote_dir or DEFAULT_REMOTE_DIR)
    if not rdir.startswith("/") or "'" in rdir or '"' in rdir or "%" in rdir:
        raise ScriptError("remote_dir", f"{rdir!r}: an absolute path without quotes or '%'")
    return ScriptPlan(str(server["customer"]), str(server["name"]), kind, shares, excludes,
                      key, mirror, mpath, report, rdir)


def _windows_share(s: str) -> str:
    """``E:\\shares`` -> ``/cygdrive/E/shares`` (what cwRsync understands)."""
    d = _DRIVE.match(s)
    if d:
        rest = d.group("rest").replace("\\", "/").strip("/")
        return f"/cygdrive/{d.group('drive').upper()}/{rest}".rstrip("/")
    if s.lower().startswith("/cygdrive/"):
        return s
    raise ScriptError("shares", f"{s!r}: give a drive path (E:\\shares) or /cygdrive/E/shares")


def _posix_share(s: str) -> str:
    if not s.startswith("/"):
        raise ScriptError("shares", f"{s!r} is not an absolute path")
    return s


def _bat(value: str) -> str:
    """A value for inside a double-quoted backup.bat argument: only % needs escaping."""
    return value.replace("%", "%%")


def _remote_command(p: ScriptPlan) -> str:
    """Runs on the report server: write to a .part file, then rename, so a fetch never sees
    half a log."""
    d = f"{p.remote_dir.rstrip('/')}/{p.customer}"
    part = p.remote_file + ".part"
    q = shlex.quote
    return f"mkdir -p {q(d)} && cat > {q(part)} && mv -f {q(part)} {q(p.remote_file)}"


def windows_script(p: ScriptPlan, *, cwrsync_dir: str = CWRSYNC_DIR) -> str:
    if re.search(r"[\s\"%]", cwrsync_dir):
        raise ScriptError("cwrsync_dir", f"{cwrsync_dir!r}: use the 8.3 short name, no spaces")
    home = p.key_path.rsplit("\\", 1)[0] if "\\" in p.key_path else p.key_path
    ssh = f"{cwrsync_dir}\\ssh.exe"
    rsync = f"{cwrsync_dir}\\rsync.exe"
    mport = f" -p {p.mirror.port}" if p.mirror.port else ""
    rport = f" -p {p.report.port}" if p.report.port else ""
    key = _bat(p.key_path)
    excludes = "".join(f' --exclude "{_bat(e)}"' for e in p.excludes)
    sources = " ".join(f'"{_bat(s)}"' for s in p.shares)
    dest = f"{p.mirror.target}:{p.mirror_path}"
    lines = [
        "@echo off",
        f"rem backup.bat for {p.label}, generated by acorntui {__version__}.",
        f"rem Regenerate it with: acorntui script {p.label} --os windows",
        "rem Runs daily after hours as a scheduled task: rsync to the backup server, then",
        f"rem upload the rsync log (stats.out) to the report server as {p.remote_file}.",
        f"set home={_bat(home)}",
        "taskkill /f /im ssh.exe >nul 2>&1",
        "taskkill /f /im rsync.exe >nul 2>&1",
        f'echo y | {rsync} --delete --ignore-errors --chmod=u=rwx -vtrR -e "{ssh}{mport} -i '
        f'{key}"{excludes} {sources} "{_bat(dest)}" > {WINDOWS_STATS} 2>&1',
        f"type {WINDOWS_STATS} | {ssh}{rport} -i {key} {p.report.target} "
        f'"{_bat(_remote_command(p))}" > {WINDOWS_UPLOAD_LOG} 2>&1',
    ]
    return "\r\n".join(lines) + "\r\n"


def posix_script(p: ScriptPlan, *, state_dir: str = POSIX_STATE_DIR) -> str:
    q = shlex.quote
    _no_control("state_dir", state_dir)
    mport = f" -p {p.mirror.port}" if p.mirror.port else ""
    rport = f" -p {p.report.port}" if p.report.port else ""
    # rsync splits its -e command itself; the key path holds no quotes or spaces (checked)
    rsh = f"ssh -o BatchMode=yes{mport} -i {p.key_path}"
    excludes = "".join(f" --exclude={q(e)}" for e in p.excludes)
    sources = " ".join(q(s) for s in p.shares)
    dest = q(f"{p.mirror.target}:{p.mirror_path}")
    return f"""#!/bin/sh
# backup.sh for {p.label}, generated by acorntui {__version__}.
# Regenerate it with: acorntui script {p.label} --os posix
# Run it daily after hours from cron, e.g.  30 22 * * *  /bin/sh /usr/local/sbin/acorn-backup.sh
# It backs up with rsync, then uploads the rsync log (stats.out) to the report server
# as {p.remote_file}.
set -u
umask 077
state={q(state_dir)}
stats="$state/stats.out"
upload_log="$state/upload.txt"
pidfile="$state/backup.pid"
key={q(p.key_path)}
me=$(basename "$0")
mkdir -p "$state" || exit 1

# Stop a stale run of this script and the rsync/ssh it started (backup.bat's taskkill lines,
# limited to this script's own processes so nothing else on the server is touched).
if [ -s "$pidfile" ]; then
    old=$(cat "$pidfile")
    case "$old" in ''|*[!0-9]*) old= ;; esac
    if [ -n "$old" ] && [ "$old" != "$$" ] && kill -0 "$old" 2>/dev/null; then
        case "$(ps -o args= -p "$old" 2>/dev/null)" in
        *"$me"*)
            kill -STOP "$old" 2>/dev/null
            grandkids=$(for k in $(pgrep -x -P "$old" rsync); do pgrep -x -P "$k" ssh; done)
            pkill -x -P "$old" rsync
            pkill -x -P "$old" ssh
            [ -z "$grandkids" ] || kill $grandkids 2>/dev/null
            kill "$old" 2>/dev/null
            kill -CONT "$old" 2>/dev/null
            ;;
        esac
    fi
fi
echo $$ > "$pidfile"

rsync --delete --ignore-errors -vtrR -e {q(rsh)}{excludes} \\
    {sources} \\
    {dest} > "$stats" 2>&1 </dev/null

ssh -o BatchMode=yes{rport} -i "$key" {q(p.report.target)} \\
    {q(_remote_command(p))} < "$stats" > "$upload_log" 2>&1
status=$?
rm -f "$pidfile"
exit $status
"""


def render(p: ScriptPlan, **kw: Any) -> str:
    return windows_script(p, **kw) if p.os_kind == WINDOWS else posix_script(p, **kw)


def script_for(label: str, *, os_kind: str | None = None, remote_dir: str | None = None,
               default_report: str = "", **kw: Any) -> tuple[ScriptPlan, str]:
    """Look the server up and build its script. Raises ManageInputError or ScriptError."""
    from acorntui.services.manage import get_server, server_dict

    p = plan(server_dict(get_server(label)), os_kind=os_kind, remote_dir=remote_dir,
             default_report=default_report)
    return p, render(p, **kw)
