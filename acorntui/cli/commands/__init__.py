"""Subcommands of `acorntui`. Each module here defines ``register(subparsers)``.

Modules are discovered automatically, so a new command is one new module.
Handlers are ``handler(args, ctx) -> int`` (the exit status).
"""
