"""Pull every ``<customer>/<server>.out`` from the report servers over SSH into the spool.

The parts, each in its own module (calls flow downward only):

- :mod:`.orchestrate`: :func:`pull`, :func:`fetch_one`, :func:`pull_report_server`;
- :mod:`.transfer`: one tar stream over an exec channel (zstd/gzip compressed), pipelined
  SFTP where the account may not run commands; only regular files are ever written;
- :mod:`.listing`: ``find -printf`` over exec, or SFTP ``listdir_attr``; names validated,
  symlinks followed only inside ``remote_dir``;
- :mod:`.ssh`: host keys (known_hosts, ``--trust-new-host``), ``~/.ssh/config``, connect,
  auth, exec and SFTP channels;
- :mod:`.spool`: durable writes (temp file, data made durable before the rename, folders
  fsynced after);
- :mod:`.model` and :mod:`.names`: the results (:class:`ServerPull`, :class:`PullReport`), the
  errors, and the name checks every part shares.

This package re-exports what callers use.
"""

from acorntui.fetch.listing import ExecUnavailable, list_exec
from acorntui.fetch.model import (
    AuthError,
    FetchError,
    HostKeyError,
    Progress,
    PullReport,
    RemoteFile,
    ServerPull,
)
from acorntui.fetch.names import check_rel, printable, unsafe_name
from acorntui.fetch.orchestrate import fetch_one, pull, pull_report_server
from acorntui.fetch.spool import Spool
from acorntui.fetch.ssh import connect, fingerprint, own_known_hosts
from acorntui.fetch.transfer import pull_sftp, pull_tar

__all__ = [
    "AuthError", "ExecUnavailable", "FetchError", "HostKeyError", "Progress", "PullReport",
    "RemoteFile", "ServerPull", "Spool", "check_rel", "connect", "fetch_one", "fingerprint",
    "list_exec", "own_known_hosts", "printable", "pull", "pull_report_server", "pull_sftp",
    "pull_tar", "unsafe_name",
]
