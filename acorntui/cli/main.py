"""The `acorntui` command line. Subcommands live in :mod:`acorntui.cli.commands`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Sequence

import peewee

from acorntui import __version__
from acorntui.cli.common import db_error_text, eprint
from acorntui.config import Config, ConfigError, load_config, resolve_db_url
from acorntui.db.connection import DatabaseUnavailable
from acorntui.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_REFUSED, exit_status


class Ctx:
    """What a command handler gets besides its args: config, DB URL, a lazy connection."""

    def __init__(self, args: argparse.Namespace, cfg: Config):
        self.args = args
        self.cfg = cfg
        self.db_url, self.db_source = resolve_db_url(getattr(args, "db", None), cfg)
        self._db = None

    def connect(self, *, create: bool = True):
        """Open the configured database; create/upgrade the schema when needed.

        On a first run (no --db, ACORN_DB or config URL, and no file yet) the default SQLite
        file is created with its folder, like `acorntui init-db` would: the schema, the code
        table, and the user running it as the first TSR3. One line on stderr says where."""
        if self._db is not None:
            return self._db
        from acorntui import db as dbpkg
        from acorntui.db.schema import needs_init

        first_run = create and self.db_source == "default" and dbpkg.create_sqlite_file(
            dbpkg.parse_url(self.db_url).path)
        self._db = dbpkg.connect(self.db_url, create_mysql_db=False)
        if create and needs_init(self._db):
            self._upgrade(dbpkg)
        from acorntui.services.anomaly import use_settings

        use_settings(self.cfg.anomaly)  # re-evaluations judge anomalies with the config's rule
        if first_run:
            from acorntui.services import roles

            first = roles.claim_first_user()
            eprint(f"acorntui: created the database {dbpkg.parse_url(self.db_url).path}"
                   + (f"; {first} is its first user, a TSR3" if first else ""))
        return self._db

    def _upgrade(self, dbpkg) -> None:
        """Create or upgrade the schema. An older schema that this account may not change
        (team mode: only the administrator may ALTER or create triggers) is one clear line
        naming both versions and what to run, not a role refusal."""
        from acorntui.db.schema import SCHEMA_VERSION, current_version

        before = current_version(self._db)
        try:
            dbpkg.init_schema(self._db)
        except Exception as exc:  # noqa: BLE001 - said in one line below, or re-raised
            if before is None:
                raise
            from acorntui.db.connection import mask_url
            from acorntui.services.roles import PermissionDenied

            why = ("this account may not change the schema" if isinstance(exc, PermissionDenied)
                   else db_error_text(exc))
            raise DatabaseUnavailable(
                f"the database {mask_url(self.db_url)} has schema version {before} and this "
                f"acorntui needs {SCHEMA_VERSION}; upgrading it failed ({why}): "
                "run `acorntui init-db` once as the database's administrator") from None

    def close(self) -> None:
        if self._db is not None and not self._db.is_closed():
            self._db.close()


def _global_options(parser, default) -> None:
    parser.add_argument("--db", metavar="URL", default=default,
                        help="database URL (sqlite:///path.db or mysql://user:pass@host:port/"
                        "dbname); overrides ACORN_DB and the config file")
    parser.add_argument("--config", metavar="FILE", default=default,
                        help="config file (default: ACORN_CONFIG or the platform config "
                        "directory; see `acorntui config path`)")


# The global options again, for every subcommand's parser. SUPPRESS: a subparser sets them only
# when they are given after the command, so a value given before it is not reset to None.
_GLOBALS = argparse.ArgumentParser(add_help=False)
_global_options(_GLOBALS.add_argument_group("global options"), argparse.SUPPRESS)


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser (nested ones too: argparse makes them of the same class), which
    also takes --db and --config: `acorntui init-db --db URL` and `acorntui --db URL init-db`
    mean the same; given in both places, the one after the command wins."""

    def __init__(self, *args, **kwargs):
        kwargs["parents"] = [*kwargs.get("parents", ()), _GLOBALS]
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="acorntui",
        description="Terminal console for nightly rsync backups: parse stats.out logs, "
        "triage failures, manage exceptions, mail failure reports.",
    )
    p.add_argument("--version", action="version", version=f"acorntui {__version__}")
    _global_options(p, None)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    import acorntui.cli.commands as pkg

    def order(name: str) -> tuple[int, str]:
        known = pkg.HELP_ORDER
        return (known.index(name) if name in known else len(known), name)

    names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    for name in sorted(names, key=order):
        module = importlib.import_module(f"acorntui.cli.commands.{name}")
        register = getattr(module, "register", None)
        if register:
            register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        eprint(f"acorntui: {exc}")
        return 2
    for w in cfg.warnings:
        eprint(w)
    handler = getattr(args, "func", None)
    if handler is None:
        # bare `acorntui` opens the console
        args.command = "console"
        from acorntui.cli.commands.console import run_console

        handler = run_console
    ctx = Ctx(args, cfg)
    try:
        return int(handler(args, ctx) or 0)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        eprint("acorntui: interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        status = exit_status(exc)
        if status is None:
            raise
        if isinstance(exc, peewee.DatabaseError | peewee.InterfaceError) \
                and not isinstance(exc, DatabaseUnavailable):
            # the database failed mid-command (connection lost, locked past busy_timeout,
            # deadlock): one line and exit 1, not a traceback; the work done so far is
            # committed file by file, so the next run completes the night
            from acorntui.db.connection import mask_url

            eprint(f"acorntui: database error on {mask_url(ctx.db_url)}: {db_error_text(exc)}")
            return EXIT_FAILED
        # a role refusal reads the same from every command: `refused:`, the role needed, exit 3
        eprint(f"acorntui: refused: {exc}" if status == EXIT_REFUSED else f"acorntui: {exc}")
        return status
    finally:
        ctx.close()
