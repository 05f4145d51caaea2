"""What a pull works on and what it found: the errors, the listed files, the per report server
outcome (:class:`ServerPull`) and the whole run (:class:`PullReport`).

Every other part of :mod:`acorntui.fetch` records into a ServerPull, so it sits at the bottom.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from acorntui.core.textsafe import visible_controls
from acorntui.fetch.names import printable

__all__ = ["AuthError", "FetchError", "HostKeyError", "Progress", "PullReport", "RemoteFile",
           "ServerPull"]


class FetchError(Exception):
    """A report server could not be pulled; the message says why and what to do."""


class HostKeyError(FetchError):
    pass


class AuthError(FetchError):
    pass


@dataclass
class RemoteFile:
    rel: str  # customer/server.out
    size: int
    mtime: int
    path: str = ""  # absolute remote path to read (the real path for a followed symlink)


@dataclass
class ServerPull:
    """What happened on one report server."""

    name: str
    host: str
    method: str = ""  # exec+zstd | exec+gzip | exec | sftp
    error: str = ""  # the whole report server failed (connect, host key, auth, listing)
    listed: int = 0
    fetched: list[str] = field(default_factory=list)
    unchanged: int = 0
    bytes: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # rel -> reason
    skipped: list[str] = field(default_factory=list)  # unsafe names, shown printable
    changed: list[str] = field(default_factory=list)  # fetched while still being written
    remote: set[str] = field(default_factory=set)  # every valid rel listed
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error and not self.failed

    @property
    def todo(self) -> int:
        """Files listed that the spool did not already have."""
        return self.listed - self.unchanged

    def summary(self) -> str:
        if self.error:
            return f"{self.name}: FAILED: {visible_controls(self.error)}"
        parts = [f"{self.name}: {self.listed} logs listed", f"{len(self.fetched)} fetched "
                 f"({_mb(self.bytes)})", f"{self.unchanged} unchanged"]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.skipped:
            parts.append(f"{len(self.skipped)} unsafe names skipped")
        return ", ".join(parts) + f" [{self.method}, {self.seconds:.1f} s]"


@dataclass
class PullReport:
    spool: Path
    servers: list[ServerPull] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.servers)

    @property
    def down(self) -> list[ServerPull]:
        return [s for s in self.servers if s.error]

    @property
    def failed_files(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for s in self.servers:
            out.update(s.failed)
        return out

    @property
    def fetched(self) -> int:
        return sum(len(s.fetched) for s in self.servers)

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.servers)

    def problems(self) -> list[str]:
        """One line per problem, safe for a terminal: remote names and the server's own error
        texts (SFTP status, tar's stderr) have their control characters made visible."""
        lines = []
        for s in self.servers:
            if s.error:
                lines.append(f"{s.name}: {visible_controls(s.error)}")
            for rel, why in sorted(s.failed.items()):
                lines.append(f"{s.name}: {printable(rel)}: {visible_controls(why)}")
            for name in s.skipped:
                lines.append(f"{s.name}: skipped unsafe name {visible_controls(name)}")
            for rel in s.changed:
                lines.append(f"{s.name}: {printable(rel)}: changed while it was read (still "
                             f"being written?); the copy may be cut short, the next pull "
                             f"gets the rest")
        return lines


Progress = Callable[[ServerPull, str], None]  # (pull, event) event: listed | file | bytes


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"
