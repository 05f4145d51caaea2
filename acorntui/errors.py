"""One exception -> exit-status map for every command.

- 0: done; 1: the work failed (database down or lost, a fetch or reparse that could not finish);
- 2: bad input (arguments, config file, database URL, a stats.out that cannot be read,
  a field a management command refused);
- 3: refused by a role check (a CSR asking for a TSR's action), from every command;
- 130: interrupted.

`acorntui.cli.main` catches what a command raises and answers with :func:`exit_status`, so a
command never picks its own number for the same kind of failure.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def exit_status(exc: BaseException) -> int | None:
    """The exit status for an exception a command raised, or None when it is a bug."""
    import peewee

    from acorntui.config import ConfigError
    from acorntui.core.parser import ParseError
    from acorntui.db.connection import BadDatabaseURL, DatabaseUnavailable
    from acorntui.jobs.demo import NotADemoDatabase
    from acorntui.services.exceptions import ExceptionInputError
    from acorntui.services.manage import ManageInputError
    from acorntui.services.roles import PermissionDenied
    from acorntui.services.script import ScriptError
    from acorntui.services.triage import ActionInputError

    if isinstance(exc, PermissionDenied):
        return EXIT_REFUSED
    if isinstance(exc, UsageError | BadDatabaseURL | ConfigError | ParseError | ManageInputError
                  | ExceptionInputError | ScriptError | ActionInputError
                  | NotADemoDatabase):
        return EXIT_USAGE
    if isinstance(exc, DatabaseUnavailable | peewee.DatabaseError | peewee.InterfaceError):
        return EXIT_FAILED
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return None
