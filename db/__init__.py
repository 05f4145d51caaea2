"""acorntui's model layer (peewee). Importable without Textual."""

from .connection import (
    DatabaseUnavailable,
    close,
    connect,
    create_sqlite_file,
    mask_url,
    parse_url,
)
from .models import database_proxy
from .schema import SCHEMA_VERSION, init_schema

__all__ = [
    "DatabaseUnavailable",
    "SCHEMA_VERSION",
    "close",
    "connect",
    "create_sqlite_file",
    "database_proxy",
    "init_schema",
    "mask_url",
    "parse_url",
]
