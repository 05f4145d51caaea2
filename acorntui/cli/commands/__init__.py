"""Subcommands of `acorntui`: one module per command (or per pair, csr/tsr in ``reps``), named
after the command it holds. Each defines ``register(subparsers)``.

Modules are discovered automatically, so a new command is one new module; modules whose name
starts with ``_`` hold shared helpers. Handlers are ``handler(args, ctx) -> int`` (the exit
status). ``HELP_ORDER`` keeps `acorntui --help` listing the commands by task, not by name.
"""

HELP_ORDER = (
    "console", "demo", "serve", "init_db", "codes", "config", "fetch", "nightly", "notify",
    "reparse",
    "parse", "ingest", "customer", "server", "reps", "service", "exception", "audit", "whoami",
    "grants",
    "report",
    "script",
)
