"""The audit trail: every change, who made it and when, with before and after.

Global (every change) or for one server; the filter matches login, action, server and
details. The highlighted row's before/after is shown in full below the list.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import Footer, Static

from acorntui.screens.keymap import bind
from acorntui.screens.widgets import (
    AcornInput,
    AcornScreen,
    Banner,
    FastGrid,
    GridColumn,
    safe_text,
)
from acorntui.screens.worker import DbDone
from acorntui.services import manage

AUDIT_COLUMNS = [
    GridColumn("at", "When (UTC)", 19), GridColumn("login", "Who", 10),
    GridColumn("action", "Action", 18), GridColumn("server", "Server", 18),
    GridColumn("details", "Details", 30, flex=True),
]


def _render(row: dict[str, Any]) -> list[Text]:
    at = row["at"]
    return [Text(at.strftime("%Y-%m-%d %H:%M:%S") if hasattr(at, "strftime") else str(at)),
            safe_text(row["login"]), safe_text(row["action"]), safe_text(row["server"]),
            safe_text(row["details"])]


def _pretty(raw: str) -> str:
    if not raw:
        return "—"
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(value, dict):
        return ", ".join(f"{k}={v!r}" for k, v in value.items())
    return str(value)


class AuditLoaded(DbDone[list[dict[str, Any]]]):
    """The audit rows for the filter text of request ``seq`` (a newer one wins)."""

    def __init__(self, seq: int) -> None:
        super().__init__()
        self.seq = seq


class AuditScreen(AcornScreen):
    """The global audit log, or one server's (``server_id``)."""

    CSS_PATH = "management.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        bind("back"),
        bind("filter"),
        bind("refresh"),
        bind("quit", "back", label="Back", show=False),
    ]
    HELP = "/ filter (login, action, server, details), escape back."
    LIMIT = 500

    def __init__(self, server_id: int | None = None, server_label: str = "",
                 text: str = "") -> None:
        super().__init__()
        self.server_id = server_id
        self.server_label = server_label
        self.initial_text = text
        self.rows: list[dict[str, Any]] = []
        self._seq = 0

    def compose(self) -> ComposeResult:
        yield Banner()
        title = (f"Audit log of {self.server_label or f'server #{self.server_id}'}"
                 if self.server_id is not None else "Audit log: every change")
        yield Static(safe_text(title), id="audit-title")
        yield AcornInput(self.initial_text, placeholder="filter: login, action, server, text (/)",
                         id="audit-filter")
        yield FastGrid(AUDIT_COLUMNS, _render, lambda r: r["id"], id="audit-grid")
        yield Static("", id="audit-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Audit log"
        self.load()
        self.query_one("#audit-grid", FastGrid).focus()

    def load(self) -> None:
        self._seq += 1
        text = self.query_one("#audit-filter", AcornInput).value
        self.db_call(AuditLoaded(self._seq), manage.audit_rows, server_id=self.server_id,
                     text=text, limit=self.LIMIT, group="audit",
                     description="load the audit trail")

    def on_audit_loaded(self, message: AuditLoaded) -> None:
        if message.failed or message.seq != self._seq:
            return
        rows = message.value
        self.rows = rows
        self.query_one("#audit-grid", FastGrid).set_rows(rows)
        if not rows:
            self.query_one("#audit-detail", Static).update("(no changes recorded)")

    @on(FastGrid.CursorMoved)
    def _show_detail(self, event: FastGrid.CursorMoved) -> None:
        row = event.row
        detail = self.query_one("#audit-detail", Static)
        if row is None:
            detail.update("")
            return
        text = Text()
        text.append("before: ", style="bold")
        text.append_text(safe_text(_pretty(row["before"])))
        text.append("\n")
        text.append("after:  ", style="bold")
        text.append_text(safe_text(_pretty(row["after"])))
        detail.update(text)

    @on(AcornInput.Changed, "#audit-filter")
    def _filter_changed(self) -> None:
        self.load()

    @on(AcornInput.Submitted, "#audit-filter")
    def _filter_done(self) -> None:
        self.query_one("#audit-grid", FastGrid).focus()

    def action_filter(self) -> None:
        self.query_one("#audit-filter", AcornInput).focus()

    def action_refresh(self) -> None:
        self.load()

    def action_back(self) -> None:
        if isinstance(self.focused, AcornInput):
            self.query_one("#audit-grid", FastGrid).focus()
            return
        self.app.pop_screen()
