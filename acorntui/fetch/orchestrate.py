"""Pulling report servers: connect, list, compare with the spool, transfer what changed,
commit it durably, and say what happened (:class:`~acorntui.fetch.model.ServerPull` per report
server, one :class:`~acorntui.fetch.model.PullReport` per run).

Calls flow one way: this module -> :mod:`.transfer` / :mod:`.listing` -> :mod:`.ssh` /
:mod:`.spool` -> :mod:`.model` / :mod:`.names`.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import paramiko

from acorntui.config import Config, ReportServer
from acorntui.fetch.listing import ExecUnavailable, Lister, list_exec
from acorntui.fetch.model import FetchError, Progress, PullReport, RemoteFile, ServerPull
from acorntui.fetch.names import check_rel, printable
from acorntui.fetch.spool import Spool
from acorntui.fetch.ssh import connect
from acorntui.fetch.transfer import pick_compression, pull_sftp, pull_tar, stream_error

__all__ = ["fetch_one", "pull", "pull_report_server"]


# the steps of one report server in order, kept whole: every exit commits what was received
# and closes the connection
def pull_report_server(rs: ReportServer, spool: Spool, *,  # noqa: C901
                       trust_new_host: bool = False,
                       client_factory: Callable[[], paramiko.SSHClient] | None = None,
                       progress: Progress | None = None,
                       only: set[str] | None = None,
                       notify: Callable[[str], None] | None = None) -> ServerPull:
    """List, compare and fetch one report server. Never raises for SSH trouble: the
    ServerPull carries ``error`` (whole server) and ``failed`` (single files)."""
    pull = ServerPull(rs.name, rs.host)
    started = time.monotonic()
    method = str(rs.extra.get("method", "auto"))  # auto | exec | sftp
    compress = str(rs.extra.get("compress", "auto"))  # auto | zstd | gzip | none
    client = None
    lister = None
    try:
        client = connect(rs, trust_new_host=trust_new_host, client_factory=client_factory,
                         notify=notify)
        lister = Lister(client, rs.remote_dir, pull)
        files: list[RemoteFile] | None = None
        tools: set[str] = set()
        if method in ("auto", "exec"):
            try:
                entries, tools = list_exec(client, rs.remote_dir)
                files = lister.from_exec(entries)
                pull.method = "exec"
            except ExecUnavailable as exc:
                if method == "exec":
                    raise FetchError(f"cannot run commands on {rs.host}: {exc}") from None
        if files is None:
            files = lister.via_sftp()
            pull.method = "sftp"
        if only is not None:
            files = [f for f in files if f.rel in only]
        pull.remote = {f.rel for f in files}
        pull.listed = len(files)
        todo = [f for f in files if not spool.unchanged(f)]
        pull.unchanged = len(files) - len(todo)
        if progress:
            progress(pull, "listed")
        if not todo:
            return pull
        if pull.method == "exec":
            simple: list[RemoteFile] = []
            followed: list[RemoteFile] = []  # reached through a symlink: read by real path
            for f in todo:
                direct = f.path == posixpath.join(lister.remote_dir, f.rel)
                (simple if direct else followed).append(f)
            kind = pick_compression(compress, tools)
            pull.method = f"exec+{kind}" if kind != "none" else "exec"
            if simple:
                pull_tar(client, rs.remote_dir, simple, spool, pull, kind, progress)
            if followed and not pull.error:
                pull_sftp(lister.sftp(), followed, spool, pull, progress)
        else:
            pull_sftp(lister.sftp(), todo, spool, pull, progress)
    except FetchError as exc:
        pull.error = str(exc)
    except (OSError, EOFError, paramiko.SSHException) as exc:
        reason = stream_error([], exc)
        pull.error = f"transfer interrupted after {len(pull.fetched)} files: {reason}"
    finally:
        if lister is not None:
            lister.close()
        if client is not None:
            client.close()
        _commit(spool, pull)
        pull.seconds = time.monotonic() - started
    return pull


def _commit(spool: Spool, pull: ServerPull) -> None:
    """Put the files this pull received in place, durably; a file that cannot be keeps its
    last good copy and is named in ``pull.failed``."""
    try:
        failed = spool.commit_staged()
    except OSError as exc:  # a folder fsync: the files are in place, durability unsure
        pull.error = pull.error or f"the spool folder could not be synced to disk: " \
                                   f"{exc.strerror or exc}"
        return
    if failed:
        pull.failed.update(failed)
        pull.fetched = [rel for rel in pull.fetched if rel not in failed]


def pull(cfg: Config, *, trust_new_host: bool = False,
         client_factory: Callable[[], paramiko.SSHClient] | None = None,
         progress: Progress | None = None, only: Iterable[str] | None = None,
         servers: Iterable[str] | None = None,
         notify: Callable[[str], None] | None = None) -> PullReport:
    """Pull every configured report server into ``cfg.spool_dir``.

    ``only``: restrict to these ``customer/server.out`` names; ``servers``: to these report
    server names.
    """
    spool = Spool(cfg.spool_dir)
    spool.clean_partials()
    report = PullReport(spool.root)
    wanted = set(only) if only is not None else None
    names = set(servers) if servers is not None else None
    for rs in cfg.report_servers:
        if names is not None and rs.name not in names:
            continue
        report.servers.append(pull_report_server(
            rs, spool, trust_new_host=trust_new_host, client_factory=client_factory,
            progress=progress, only=wanted, notify=notify))
    return report


def fetch_one(cfg: Config, customer: str, server: str, *,
              client_factory: Callable[[], paramiko.SSHClient] | None = None,
              ) -> tuple[Path | None, PullReport]:
    """Fetch one server's log (from whichever report server has it) into the spool."""
    rel = f"{customer}/{server}.out"
    why = check_rel(rel)
    if why:
        raise FetchError(f"{printable(customer)}/{printable(server)}: {why}")
    report = pull(cfg, client_factory=client_factory, only={rel})
    path = Path(cfg.spool_dir) / rel
    for s in report.servers:
        if rel in s.remote and rel not in s.failed and path.is_file():
            return path, report
    return None, report
