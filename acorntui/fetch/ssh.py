"""Connecting to a report server: host keys, ``~/.ssh/config``, authentication, and the
channels a pull runs over (exec sessions, one SFTP session).

Host keys are checked against the system, the user's and acorntui's own known_hosts; unknown
or changed keys are refused (``--trust-new-host`` records an unknown one, never a changed one).
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paramiko

from acorntui.config import ReportServer, config_dir, make_private_dir
from acorntui.fetch.model import AuthError, FetchError, HostKeyError

__all__ = ["CONNECT_TIMEOUT", "TRANSFER_TIMEOUT", "connect", "exec_channel", "fingerprint",
           "open_sftp", "own_known_hosts", "read_all"]

CONNECT_TIMEOUT = 15.0  # TCP connect and SSH banner
AUTH_TIMEOUT = 20.0
TRANSFER_TIMEOUT = 60.0  # no byte for this long on an open channel = the pull failed
WINDOW_SIZE = 64 * 1024 * 1024
MAX_PACKET = 32768
SYSTEM_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
# AES-GCM first: paramiko decrypts and authenticates a packet in one call instead of a cipher
# pass plus an HMAC object per packet (about a third less of the receiving thread's CPU for the
# same stream). Both ends keep their full lists, so a server without it still negotiates.
FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


def _transport(sock, **kw) -> paramiko.Transport:
    t = paramiko.Transport(sock, **kw)
    opts = t.get_security_options()
    have = tuple(opts.ciphers)
    opts.ciphers = tuple(c for c in FAST_CIPHERS if c in have) + \
        tuple(c for c in have if c not in FAST_CIPHERS)
    return t


def own_known_hosts(rs: ReportServer) -> Path:
    return Path(rs.known_hosts).expanduser() if rs.known_hosts else config_dir() / "known_hosts"


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return f"{key.get_name()} SHA256:{base64.b64encode(digest).decode().rstrip('=')}"


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Refuse unknown keys (or record them when trusting); never accept a changed key."""

    def __init__(self, own_file: Path, trust_new: bool, notify: Callable[[str], None]):
        self.own_file = own_file
        self.trust_new = trust_new
        self.notify = notify

    def missing_host_key(self, client, hostname, key):
        known = client.get_host_keys().lookup(hostname) or \
            client._system_host_keys.lookup(hostname)
        if known:
            # the host is known, but under another key type: treat as a changed key
            old = ", ".join(fingerprint(k) for k in known.values())
            raise HostKeyError(_changed_message(hostname, fingerprint(key), old, self.own_file))
        fp = fingerprint(key)
        if not self.trust_new:
            raise HostKeyError(
                f"host key for {hostname} is unknown ({fp}). Compare it with the report "
                f"server's own key (on it: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then run "
                f"`acorntui fetch --trust-new-host` to record it in {self.own_file}"
            )
        make_private_dir(self.own_file.parent)
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        fd = os.open(self.own_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(line)
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.notify(f"recorded new host key for {hostname}: {fp} in {self.own_file}")


def _changed_message(hostname: str, got: str, expected: str, own_file: Path) -> str:
    return (
        f"HOST KEY CHANGED for {hostname}: it offered {got}, known_hosts has {expected}. "
        f"Refusing to connect: this is what an impostor would look like. If the server was "
        f"reinstalled and its admin confirms the new key, remove the old entry "
        f"(ssh-keygen -R '{hostname}' -f {own_file}, or from ~/.ssh/known_hosts) and run "
        f"`acorntui fetch --trust-new-host`"
    )


@dataclass
class _Target:
    hostname: str
    port: int
    user: str
    key_files: list[str]
    known_hosts: list[str]
    label: str


def _resolve_target(rs: ReportServer) -> _Target:
    """Our config first, then ``~/.ssh/config`` (Host entries: HostName, Port, User...)."""
    found: dict = {}
    ssh_config = Path(rs.extra.get("ssh_config", "~/.ssh/config")).expanduser()
    if ssh_config.is_file():
        try:
            found = paramiko.SSHConfig.from_path(str(ssh_config)).lookup(rs.host)
        except Exception as exc:  # noqa: BLE001 - a broken ssh config is named, not fatal
            raise FetchError(f"cannot read {ssh_config}: {exc}") from None
    port = rs.port or int(found.get("port", 22))
    user = rs.user or found.get("user") or getpass.getuser()
    keys = [rs.key_file] if rs.key_file else list(found.get("identityfile", []))
    keys = [os.path.expanduser(k) for k in keys]
    for k in keys:
        if rs.key_file and not os.path.isfile(k):
            raise AuthError(f"key_file {k} does not exist")
    known = [os.path.expanduser(k) for k in str(found.get("userknownhostsfile", "")).split()]
    hostname = found.get("hostname", rs.host)
    return _Target(hostname, port, user, [k for k in keys if os.path.isfile(k)], known,
                   f"{user}@{hostname}:{port}")


def connect(rs: ReportServer, *, trust_new_host: bool = False,
            client_factory: Callable[[], paramiko.SSHClient] | None = None,
            notify: Callable[[str], None] | None = None) -> paramiko.SSHClient:
    """An authenticated SSHClient for a report server, or FetchError saying why not."""
    t = _resolve_target(rs)
    own = own_known_hosts(rs)
    client = (client_factory or paramiko.SSHClient)()
    try:
        for f in [*SYSTEM_KNOWN_HOSTS, os.path.expanduser("~/.ssh/known_hosts"), *t.known_hosts]:
            if os.path.isfile(f):
                with contextlib.suppress(OSError, paramiko.SSHException):
                    client.load_system_host_keys(f)
        if own.is_file():
            try:
                client.load_host_keys(str(own))
            except (OSError, paramiko.SSHException) as exc:
                raise HostKeyError(f"cannot read known_hosts file {own}: {exc}") from None
        client.set_missing_host_key_policy(_HostKeyPolicy(own, trust_new_host, notify or print))
        client.connect(
            t.hostname, t.port, username=t.user,
            key_filename=t.key_files or None,  # type: ignore[arg-type]  # paramiko takes a list
            allow_agent=not t.key_files, look_for_keys=False, timeout=CONNECT_TIMEOUT,
            banner_timeout=CONNECT_TIMEOUT, auth_timeout=AUTH_TIMEOUT,
            channel_timeout=CONNECT_TIMEOUT, transport_factory=_transport,
        )
        tr = client.get_transport()
        if tr is not None:
            tr.set_keepalive(15)
        return client
    except FetchError:
        client.close()
        raise
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyError(_changed_message(
            exc.hostname, fingerprint(exc.key), fingerprint(exc.expected_key), own)) from None
    except paramiko.AuthenticationException as exc:
        client.close()
        how = f"key {', '.join(t.key_files)}" if t.key_files else "ssh-agent keys"
        raise AuthError(f"authentication refused by {t.label} with {how} ({exc}); check "
                        f"the user and that the public key is in its authorized_keys") from None
    except TimeoutError as exc:
        client.close()
        raise FetchError(f"cannot connect to {t.label}: timed out ({exc or 'no answer'})") \
            from None
    except paramiko.ssh_exception.NoValidConnectionsError as exc:
        client.close()
        why = "; ".join(sorted({(getattr(e, "strerror", None) or str(e))
                                for e in exc.errors.values()}))
        raise FetchError(f"cannot connect to {t.label}: {why or exc}") from None
    except (OSError, paramiko.SSHException, EOFError) as exc:
        client.close()
        msg = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise FetchError(f"cannot connect to {t.label}: {msg or exc.__class__.__name__}") \
            from None


def exec_channel(client: paramiko.SSHClient, command: str) -> paramiko.Channel:
    """A session channel running ``command``, with a big window and the transfer timeout."""
    tr = client.get_transport()
    if tr is None or not tr.is_active():
        raise FetchError("connection lost")
    ch = tr.open_session(window_size=WINDOW_SIZE, max_packet_size=MAX_PACKET,
                         timeout=CONNECT_TIMEOUT)
    ch.settimeout(TRANSFER_TIMEOUT)
    ch.exec_command(command)
    return ch


def read_all(ch: paramiko.Channel) -> bytes:
    """Everything the channel sends on stdout until EOF."""
    buf = bytearray()
    while True:
        data = ch.recv(1 << 20)
        if not data:
            return bytes(buf)
        buf += data


def open_sftp(client: paramiko.SSHClient) -> paramiko.SFTPClient:
    """An SFTP session on the client's transport, with a big window and the transfer timeout."""
    tr = client.get_transport()
    if tr is None:
        raise FetchError("connection lost")
    sftp = paramiko.SFTPClient.from_transport(tr, window_size=WINDOW_SIZE,
                                              max_packet_size=MAX_PACKET)
    if sftp is None:
        raise FetchError("the SFTP subsystem is not available")
    sftp.get_channel().settimeout(TRANSFER_TIMEOUT)  # type: ignore[union-attr]
    return sftp
