"""`?`: the keys of the screen that opened it, and what its words and colours mean."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from acorntui.screens.widgets import STATUS_LOOK, status_text

_KEY_NAMES = {"left_square_bracket": "[", "right_square_bracket": "]", "slash": "/",
              "question_mark": "?", "escape": "esc", "enter": "enter", "delete": "del"}


def key_label(keys: str) -> str:
    return ",".join(_KEY_NAMES.get(k, k) for k in keys.split(","))


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
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CLASSES = "form"

    def __init__(self, title: str, text: str, owner: Screen) -> None:
        super().__init__()
        self.help_title, self.text, self.owner = title, text, owner

    def compose(self) -> ComposeResult:
        keys = Text()
        seen: set[str] = set()
        for b in getattr(self.owner, "BINDINGS", []):
            if not hasattr(b, "key") or b.key in seen:
                continue
            seen.add(b.key)
            keys.append(f"{key_label(b.key):>10}  ", style="bold")
            keys.append(f"{b.description}\n")
        keys.append(f"{'ctrl+p':>10}  ", style="bold")
        keys.append("command palette: jump to a server or customer by name\n")
        keys.append(f"{'esc':>10}  ", style="bold")
        keys.append("back / close\n")
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
