"""`?`: the keys of the screen that opened it, and what its words and colours mean."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from acorntui.screens import keymap
from acorntui.screens.keymap import bind, key_label
from acorntui.screens.widgets import STATUS_LOOK, status_text

__all__ = ["HelpScreen", "footer_fit", "help_keys", "key_label"]


def help_keys(owner: object) -> Table:
    """The keys of ``owner`` (a screen) in the key table's words (screens/keymap.py), then
    the keys that work everywhere: two columns, the words wrap beside their key."""
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column(justify="right", no_wrap=True, style="bold")
    table.add_column(ratio=1)
    seen: set[str] = set()
    for b in getattr(owner, "BINDINGS", []):
        if not isinstance(b, Binding) or b.key in seen:
            continue
        seen.add(b.key)
        what = keymap.meaning(b.id).meaning if b.id else b.description
        table.add_row(key_label(b.key), what)
    for id in ("palette", "app_quit"):
        k = keymap.meaning(id)
        if k.keys not in seen:
            table.add_row(key_label(k.keys), k.meaning)
    return table


def footer_fit(bindings: dict[str, ActiveBinding], width: int,
               min_width: Mapping[str, int]) -> dict[str, ActiveBinding]:
    """The screen's bindings with those the footer has no room for at ``width`` marked
    ``show=False`` (display only: the keys still work, and `?` lists them all).
    ``min_width`` maps an action to the narrowest terminal whose footer shows it."""
    out = {}
    for key, active in bindings.items():
        need = min_width.get(active.binding.action, 0)
        if active.binding.show and width < need:
            active = active._replace(binding=dataclasses.replace(active.binding, show=False))
        out[key] = active
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS = [bind("back", "dismiss", label="Close"), bind("quit", "dismiss", label="Close"),
                bind("help", "dismiss", label="Close")]
    DEFAULT_CLASSES = "form"

    def __init__(self, title: str, text: str, owner: Screen) -> None:
        super().__init__()
        self.help_title, self.text, self.owner = title, text, owner

    def compose(self) -> ComposeResult:
        keys = help_keys(self.owner)
        legend = Text("Statuses: ")
        for status in ("ok", "ok_with_exceptions", "failed", "incomplete", "fetch_failed",
                       "no_data"):
            legend.append_text(status_text(self.app, status))
            legend.append(f" ({STATUS_LOOK[status][1]})  ")
        with Vertical(classes="dialog help"):
            yield Label(f"Help: {self.help_title}", classes="dialog-title")
            with VerticalScroll():
                yield Static(keys)
                yield Static(Text(self.text))
                yield Static(legend)
            yield Static(Text("esc or ? closes", style="dim"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
