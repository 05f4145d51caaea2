"""The Textual App: screen routing, global bindings, the command palette. Kept thin: each
screen in ``screens/`` owns its behaviour; domain modules know nothing of the screens."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from acorntui.config import Config
from acorntui.screens.management import ManagementCommands
from acorntui.screens.widgets import visible_controls
from acorntui.services.roles import User


class JumpProvider(Provider):
    """ctrl+p: jump to any server (its history) or customer (the grid filtered to it).

    The words of the query match in any order (``tamarack fs01`` finds tamarack/FS01): each
    word must match the name (fuzzily, as Textual's palette does), and the score is the
    product of the words' scores."""

    async def search(self, query: str) -> Hits:
        app = self.app
        if not isinstance(app, AcornApp):
            return
        matchers = [self.matcher(word) for word in query.split()] or [self.matcher(query)]
        found = 0
        for kind, label, payload, help_text in app.jump_targets():
            score = 1.0
            for matcher in matchers:
                score *= matcher.match(label)
                if score <= 0:
                    break
            if score > 0:
                found += 1
                yield Hit(score, _highlight(matchers, label),
                          partial(app.jump_to, kind, payload), text=label, help=help_text)
                if found > 400:
                    return

    async def discover(self) -> Hits:
        app = self.app
        if not isinstance(app, AcornApp):
            return
        for name, action, help_text in (
                ("Nightly grid", "home", "back to the grid"),
                ("Exceptions", "exceptions", "the exception editor"),
                ("Code reference", "codes", "every completion code")):
            yield DiscoveryHit(name, partial(app.jump_to, "screen", action), help=help_text)


def _highlight(matchers: list[Any], label: str) -> Content:
    """Like Matcher.highlight (every word's letters), without reading the (untrusted) name
    as markup."""
    shown = visible_controls(label)
    content = Content(shown)
    if shown != label:
        return content
    offsets: set[int] = set()
    for matcher in matchers:
        _score, found = matcher.fuzzy_search.match(matcher.query, label)
        offsets.update(found)
    for offset in sorted(offsets):
        if not label[offset].isspace():
            content = content.stylize("bold underline", offset, offset + 1)
    return content


class AcornApp(App):
    TITLE = "acorntui"
    CSS_PATH = ["app.tcss"]
    COMMANDS = App.COMMANDS | {JumpProvider, ManagementCommands}
    COMMAND_PALETTE_BINDING = "ctrl+p"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", show=False)]

    def __init__(self, *, cfg: Config | None = None, db_url: str = "",
                 cursor_blink: bool = True, poll_seconds: float | None = None,
                 startup_error: str = "", theme: str | None = None) -> None:
        super().__init__()
        # what the screens use of the App (acorntui.screens.widgets.ConsoleApp)
        self.cfg = cfg
        self.db_url = db_url
        self.user: User | None = None  # looked up by the grid's first load
        self.cursor_blink_enabled = cursor_blink
        self.poll_seconds = poll_seconds
        self.startup_error = startup_error
        self._servers: list[tuple[str, str, int, bool, bool]] = []
        self._customers: list[tuple[str, bool]] = []
        self._targets_loaded = False
        self._changes: set[str] | str = set()
        if theme:
            self.theme = theme

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast goes through here (Screen.notify calls it): messages often carry
        names from logs or errors quoting them, so they are never read as markup and their
        control/bidi characters are made visible."""
        super().notify(visible_controls(str(message)), title=visible_controls(str(title)),
                       severity=severity, timeout=timeout, markup=False)

    def on_mount(self) -> None:
        from acorntui.screens.nightly import NightlyScreen

        screen = NightlyScreen()
        if self.poll_seconds is not None:
            screen.POLL_SECONDS = self.poll_seconds
        self.push_screen(screen)
        if self.startup_error:
            self.notify(self.startup_error, title="Database", severity="error", timeout=15,
                        markup=False)

    # -- routing -------------------------------------------------------------------------------
    def remember_servers(self, rows: Iterable[Any]) -> None:
        """The grid's rows feed the palette until the full list (every server and customer,
        loaded by the grid's worker: no SQL on the UI thread) arrives."""
        if not self._targets_loaded:
            self._servers = [(r.customer, r.server, r.server_id, True, r.registered)
                             for r in rows]

    def remember_targets(self, targets: Iterable[Any]) -> None:
        """Every server and customer (queries.jump_targets), active or not."""
        self._servers = [(t.customer, t.server, t.server_id, t.active, t.registered)
                         for t in targets if t.server]
        self._customers = [(t.customer, t.active) for t in targets if not t.server]
        self._targets_loaded = True

    def jump_targets(self) -> Iterable[tuple[str, str, Any, str]]:
        """(kind, label, payload, help) for the palette."""
        customers: dict[str, bool] = {}
        for customer, server, sid, active, registered in self._servers:
            customers.setdefault(customer, True)
            label = f"{customer}/{server}"
            state = ("" if active else ", inactive") + ("" if registered
                                                         else ", not registered")
            yield "server", label, (sid, label), f"server history{state}"
        for customer, active in self._customers:
            customers[customer] = active
        for customer, active in customers.items():
            yield ("customer", customer, customer,
                   "grid filtered to this customer" if active
                   else "inactive customer (its servers are not on the grid)")

    def home(self):
        from acorntui.screens.nightly import NightlyScreen

        while len(self.screen_stack) > 1 and not isinstance(self.screen, NightlyScreen):
            self.pop_screen()
        return self.screen if isinstance(self.screen, NightlyScreen) else None

    def jump_to(self, kind: str, payload: Any) -> None:
        if kind == "server":
            from acorntui.screens.history import ServerHistoryScreen

            sid, label = payload
            grid = self.home()
            night = grid.night if grid is not None else None
            self.push_screen(ServerHistoryScreen(sid, label, night=night))
        elif kind == "customer":
            grid = self.home()
            if grid is not None:
                grid.set_filter(f"customer:={payload}")
                grid.grid.focus()
                if not grid.grid.row_count:
                    self.notify(f"{payload}: no active servers on this night's grid "
                                "(esc clears the filter; m manages customers).",
                                severity="warning", markup=False)
        elif kind == "screen":
            grid = self.home()
            if payload == "exceptions":
                from acorntui.screens.exceptions import ExceptionsScreen

                self.push_screen(ExceptionsScreen())
            elif payload == "codes":
                from acorntui.screens.codes import CodeReferenceScreen

                self.push_screen(CodeReferenceScreen())
            elif grid is not None:
                grid.grid.focus()

    # -- changes made on other screens, picked up by the grid when it is shown again -------------
    def note_change(self, customer_or_all: str) -> None:
        if customer_or_all == "all" or self._changes == "all":
            self._changes = "all"
        else:
            assert isinstance(self._changes, set)
            self._changes.add(customer_or_all)

    def take_changes(self) -> set[str] | str | None:
        changes, self._changes = self._changes, set()
        return changes or None
