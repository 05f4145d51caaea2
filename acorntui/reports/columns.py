"""One table definition per report, shared by the text, CSV, JSON and HTML renderers.

A report's table is a tuple of :class:`Column`. Each column says once what it is called in
the data (its JSON/CSV key), what its heading is in the text and HTML tables, how its raw value
is taken from a report entry, and how that value is shown to a person. Renderers only walk the
columns: a column added here shows up in every format that takes it, under the same name.

- ``key``: the JSON key and CSV column ("" for a column only people see);
- ``title``: the heading in the text and HTML tables ("" for a column only scripts read);
- ``value``: the raw value (what JSON gives; CSV too, unless ``csv_value`` says otherwise);
- ``text``: what the text and HTML tables show (default: the value made safe);
- ``json``/``csv``: whether the column is in that format.

Kept free of the database and of other report modules (``build`` and ``monthly`` import it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    key: str
    title: str = ""
    value: Callable[[Any], Any] | None = None
    text: Callable[[Any], str] | None = None
    align: str = "<"  # "<" or ">" in the text table; ">" is a number cell in HTML
    cap: int = 0  # the text table truncates longer values (0: never)
    json: bool = True
    csv: bool = True
    csv_value: Callable[[Any], Any] | None = None
    kind: str = ""  # HTML: "name" (server/customer), "status", "date"
    status: Callable[[Any], str] | None = None  # HTML: the status whose colour the cell takes

    def raw(self, entry: Any) -> Any:
        return self.value(entry) if self.value is not None else None

    def shown(self, entry: Any, safe: Callable[[Any], str]) -> str:
        if self.text is not None:
            return self.text(entry)
        return safe(self.raw(entry))

    def for_csv(self, entry: Any) -> Any:
        return self.csv_value(entry) if self.csv_value is not None else self.raw(entry)

    def on(self, get: Callable[[Any], Any]) -> Column:
        """The same column read from ``get(entry)`` (e.g. a failure entry's nightly row)."""

        def lift(fn: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
            return None if fn is None else (lambda e: fn(get(e)))

        return Column(self.key, self.title, lift(self.value), lift(self.text), self.align,
                      self.cap, self.json, self.csv, lift(self.csv_value), self.kind,
                      lift(self.status))


def data_col(key: str, attr: str | None = None, **kw: Any) -> Column:
    """A column whose value is an attribute of the entry (``attr``, default ``key``)."""
    name = attr or key
    return Column(key, value=lambda e: getattr(e, name), **kw)


def json_records(cols: Sequence[Column], entries: Sequence[Any]) -> list[dict[str, Any]]:
    keep = [c for c in cols if c.json and c.key]
    return [{c.key: c.raw(e) for c in keep} for e in entries]


def csv_head(cols: Sequence[Column]) -> list[str]:
    return [c.key for c in cols if c.csv and c.key]


def csv_records(cols: Sequence[Column], entries: Sequence[Any]) -> list[dict[str, Any]]:
    keep = [c for c in cols if c.csv and c.key]
    return [{c.key: c.for_csv(e) for c in keep} for e in entries]


def table_cols(cols: Sequence[Column]) -> list[Column]:
    """The columns people see (text and HTML), in definition order."""
    return [c for c in cols if c.title]
