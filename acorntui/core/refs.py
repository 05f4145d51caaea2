"""Server references: `<customer>/<server>.out` parsed and built in one place."""

from __future__ import annotations

from pathlib import Path


def customer_server_from_path(path: Path) -> tuple[str, str]:
    """`<...>/<customer>/<server>.out` -> (customer, server)."""
    server = path.stem if path.suffix == ".out" else path.name
    customer = path.parent.name or "unknown"
    return customer, server


def split_rel(rel: str) -> tuple[str, str] | None:
    """``customer/server.out`` -> (customer, server), or None when not of that shape."""
    parts = rel.split("/")
    if len(parts) != 2 or not parts[1].endswith(".out"):
        return None
    return parts[0], parts[1][:-4]


def rel_of(customer: str, server: str) -> str:
    """(customer, server) -> ``customer/server.out``, the inverse of :func:`split_rel`."""
    return f"{customer}/{server}.out"
