"""Modal forms. They validate and return a value; they never write the database."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.validation import Function, ValidationResult, Validator
from textual.widgets import Button, Footer, Label, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from acorntui.screens.keymap import bind
from acorntui.screens.widgets import AcornInput, safe_text


def parse_when(text: str, today: dt.date | None = None) -> dt.date | None:
    """`2025-04-01`, `+7` / `+7d` (days from today), `+2w`; blank -> None."""
    text = (text or "").strip().lower()
    if not text:
        return None
    today = today or dt.date.today()
    m = re.fullmatch(r"\+?(\d+)\s*([dw]?)", text)
    if m and (text.startswith("+") or m.group(2)):
        n = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
        return today + dt.timedelta(days=n)
    return dt.date.fromisoformat(text)


class DateValidator(Validator):
    def __init__(self, required: bool = False, future: bool = False) -> None:
        super().__init__()
        self.required, self.future = required, future

    def validate(self, value: str) -> ValidationResult:
        if not value.strip():
            return self.failure("a date is needed") if self.required else self.success()
        try:
            d = parse_when(value)
        except ValueError:
            return self.failure("a date: YYYY-MM-DD, +7d or +2w")
        if self.future and d is not None and d < dt.date.today():
            return self.failure(f"{d} is in the past")
        return self.success()


def _not_blank(what: str) -> Function:
    return Function(lambda v: bool(v.strip()), f"{what} must not be empty")


class FormScreen(ModalScreen):
    """Shared look and keys: ctrl+s or the Save button saves, escape cancels. The form has a
    footer of its own, so it shows its keys, not those of the screen behind it. Tall forms
    keep their fields in a ``.form-fields`` scroll and the buttons below it, so Save stays on
    screen at 80x24."""

    BINDINGS = [bind("back", "cancel", label="Cancel"), bind("save")]
    DEFAULT_CLASSES = "form"

    @on(events.Mount)
    def _own_footer(self) -> None:
        self.mount(Footer(compact=True))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def buttons(self) -> Horizontal:
        return Horizontal(Button("Save (ctrl+s)", variant="primary", id="save"),
                          Button("Cancel (esc)", id="cancel"), classes="buttons")

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def error(self, text: str) -> None:
        self.query_one("#form-error", Static).update(safe_text(text))

    def invalid(self, *inputs: AcornInput) -> bool:
        """Validate the inputs; show the first problem. True when something is wrong."""
        for inp in inputs:
            result = inp.validate(inp.value)
            if result is not None and not result.is_valid:
                self.error(f"{inp.border_title}: {'; '.join(result.failure_descriptions)}")
                inp.focus()
                return True
        return False

    def action_save(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


def _input(title: str, value: str = "", *, id: str, placeholder: str = "",
           validators: list[Validator] | None = None) -> AcornInput:
    inp = AcornInput(value, placeholder=placeholder, id=id, validators=validators or [],
                     valid_empty=False)
    inp.border_title = title
    return inp


class ScopeSet(RadioSet):
    """Arrows start from the chosen scope (RadioSet starts from none; Textual is pinned)."""

    def on_mount(self) -> None:
        self.call_after_refresh(self._start_at_pressed)

    def _start_at_pressed(self) -> None:
        if self.pressed_index >= 0:
            self._selected = self.pressed_index


@dataclass
class ExceptionFormResult:
    scope: str
    path_pattern: str
    reason: str
    method: str
    message_pattern: str
    expires_at: dt.date | None
    applies_to: str = ""  # "customer/server" or "customer" (exception editor only)


class ExceptionForm(FormScreen):
    """Add or edit an exception: pattern, scope, reason, alternative method, expiry.

    What a server or customer scope applies to comes either from the row the form was opened
    on (``server_label``/``customer_label``: the history screen; shown, not typed) or, from the
    exception editor, from a picker over ``servers`` ("customer/server") and ``customers``:
    type to narrow the list, up/down to choose, enter to take it.
    """

    def __init__(self, *, title: str, path_pattern: str = "", scope: str = "server",
                 reason: str = "", method: str = "", message_pattern: str = "",
                 expires_at: dt.date | None = None, failing_path: str = "",
                 server_label: str = "", customer_label: str = "",
                 applies_to: str | None = None, servers: list[str] | None = None,
                 customers: list[str] | None = None) -> None:
        super().__init__()
        self.form_title = title
        self.values = dict(path_pattern=path_pattern, scope=scope, reason=reason, method=method,
                           message_pattern=message_pattern,
                           expires=expires_at.isoformat() if expires_at else "")
        self.failing_path = failing_path
        self.fixed = {"server": server_label, "customer": customer_label or
                      server_label.partition("/")[0], "global": "everyone"}
        self.applies_to = applies_to  # None: fixed by the caller (history screen)
        self.choices = {"server": list(servers or []), "customer": list(customers or []),
                        "global": []}
        self.shown_choices: list[str] = []

    @property
    def picking(self) -> bool:
        return self.applies_to is not None

    def compose(self) -> ComposeResult:
        # the fields scroll, the buttons stay: at 80x24 the fields do not all fit
        with Vertical(classes="dialog tall"):
            yield Label(self.form_title, classes="dialog-title")
            yield from self._fields()
            yield Static("", id="form-error", classes="form-error")
            yield self.buttons()

    def _fields(self) -> ComposeResult:
        with VerticalScroll(classes="form-fields"):
            if self.failing_path:
                yield Static(safe_text(f"failing file: {self.failing_path}"), classes="hint")
            yield _input("Path pattern (glob, case-insensitive)", self.values["path_pattern"],
                         id="pattern", validators=[_not_blank("the pattern")])
            with ScopeSet(id="scope"):
                for s in ("server", "customer", "global"):
                    yield RadioButton(f"{s}", value=self.values["scope"] == s, id=f"scope-{s}")
            if self.picking:
                yield _input("Applies to (type to narrow, up/down to choose)",
                             self.applies_to or "", id="applies",
                             placeholder="customer/server or customer")
                yield OptionList(id="applies-list")
            yield Static(id="applies-hint", classes="hint")
            yield _input("Reason", self.values["reason"], id="reason",
                         placeholder="why this file may fail",
                         validators=[_not_blank("the reason")])
            yield _input("Alternative method", self.values["method"], id="method",
                         placeholder="Hobocopy, NTBackup, SQL dump... or blank if it does not "
                         "matter")
            yield _input("Message pattern (optional)", self.values["message_pattern"],
                         id="message", placeholder="e.g. *Permission denied*")
            yield _input("Expires (optional)", self.values["expires"], id="expires",
                         placeholder="YYYY-MM-DD, +30d, blank = never",
                         validators=[DateValidator()])

    def on_mount(self) -> None:
        if self.picking:
            self.query_one("#applies-list", OptionList).can_focus = False
        self._scope_changed()
        self.query_one("#pattern", AcornInput).focus()

    @property
    def scope(self) -> str:
        pressed = self.query_one("#scope", RadioSet).pressed_button
        return (pressed.id or "scope-server").removeprefix("scope-") if pressed else "server"

    @on(RadioSet.Changed, "#scope")
    def _scope_changed(self) -> None:
        scope = self.scope
        hint = self.query_one("#applies-hint", Static)
        if not self.picking:
            target = self.fixed[scope] or "?"
            hint.update(safe_text(f"applies to: {target}" + (" (every customer's servers)"
                                                            if scope == "global" else "")))
            return
        applies = self.query_one("#applies", AcornInput)
        applies.display = scope != "global"
        self.query_one("#applies-list", OptionList).display = scope != "global"
        self._narrow()

    @on(AcornInput.Changed, "#applies")
    def _narrow(self) -> None:
        if not self.picking:
            return
        scope = self.scope
        text = self.query_one("#applies", AcornInput).value.strip().lower()
        if scope == "customer":
            text = text.partition("/")[0]  # "acme/EXCH01" typed for a server: its customer
        options = self.choices.get(scope, [])
        words = text.split()
        shown = [c for c in options if all(w in c.lower() for w in words)]
        exact = [c for c in shown if c.lower() == text]
        self.shown_choices = (exact + [c for c in shown if c not in exact])[:200]
        box = self.query_one("#applies-list", OptionList)
        box.clear_options()
        box.add_options([Option(safe_text(c)) for c in self.shown_choices])
        if self.shown_choices:
            box.highlighted = 0
        self._picked_hint()

    @on(OptionList.OptionHighlighted, "#applies-list")
    def _picked_hint(self) -> None:
        hint = self.query_one("#applies-hint", Static)
        picked = self._picked()
        if self.scope == "global":
            hint.update("applies to: everyone")
        elif picked:
            hint.update(safe_text(f"applies to: {picked}"))
        else:
            hint.update(f"no {self.scope} matches: type part of its name")

    def _picked(self) -> str | None:
        if not self.picking or self.scope == "global":
            return None
        box = self.query_one("#applies-list", OptionList)
        i = box.highlighted
        if i is not None and 0 <= i < len(self.shown_choices):
            return self.shown_choices[i]
        return None

    def on_key(self, event: events.Key) -> None:
        """up/down in the applies-to box move through the list below it."""
        if not self.picking or self.focused is not self.query_one("#applies", AcornInput):
            return
        box = self.query_one("#applies-list", OptionList)
        if event.key == "down":
            box.action_cursor_down()
            event.stop()
        elif event.key == "up":
            box.action_cursor_up()
            event.stop()

    def action_save(self) -> None:
        pattern = self.query_one("#pattern", AcornInput)
        reason = self.query_one("#reason", AcornInput)
        expires = self.query_one("#expires", AcornInput)
        if self.invalid(pattern, reason, expires):
            return
        scope = self.scope
        applies = ""
        if self.picking and scope != "global":
            picked = self._picked()
            if picked is None:
                self.error(f"Applies to: choose the {scope} from the list")
                self.query_one("#applies", AcornInput).focus()
                return
            applies = picked
        self.dismiss(ExceptionFormResult(
            scope=scope, path_pattern=pattern.value.strip(), reason=reason.value.strip(),
            method=self.query_one("#method", AcornInput).value.strip(),
            message_pattern=self.query_one("#message", AcornInput).value.strip(),
            expires_at=parse_when(expires.value), applies_to=applies))

    @on(AcornInput.Submitted)
    def _submitted(self, event: AcornInput.Submitted) -> None:
        if event.input.id == "applies":
            picked = self._picked()
            if picked is not None:
                with event.input.prevent(AcornInput.Changed):
                    event.input.value = picked
        self.focus_next()


class AckForm(FormScreen):
    """Acknowledge a result with a note: returns the note."""

    FORM_TITLE = "Acknowledge"
    FIELD_TITLE = "Note (what is being done)"

    def __init__(self, target: str, note: str = "") -> None:
        super().__init__()
        self.target, self.note = target, note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.FORM_TITLE, classes="dialog-title")
            yield Static(safe_text(self.target), classes="hint")
            yield _input(self.FIELD_TITLE, self.note, id="note",
                         validators=[_not_blank("the note")])
            yield Static("", id="form-error", classes="form-error")
            yield self.buttons()

    def on_mount(self) -> None:
        self.query_one("#note", AcornInput).focus()

    @on(AcornInput.Submitted)
    def _submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        note = self.query_one("#note", AcornInput)
        if self.invalid(note):
            return
        self.dismiss(note.value.strip())


class NoteForm(AckForm):
    """A note on a server (and the night looked at): returns the text. Shown in the
    server's history timeline."""

    FORM_TITLE = "Add a note"
    FIELD_TITLE = "Note (shown in the server's timeline)"


@dataclass
class SnoozeResult:
    until: dt.date | None  # None lifts the snooze
    reason: str


class SnoozeForm(FormScreen):
    """Snooze a server until a date with a reason; blank date lifts a snooze."""

    def __init__(self, target: str, until: dt.date | None = None, reason: str = "", *,
                 title: str = "Snooze server") -> None:
        super().__init__()
        self.target, self.until, self.reason = target, until, reason
        self.form_title = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.form_title, classes="dialog-title")
            yield Static(safe_text(self.target), classes="hint")
            yield _input("Until (inclusive)", self.until.isoformat() if self.until else "+7d",
                         id="until", placeholder="YYYY-MM-DD, +7d, +2w; blank lifts the snooze",
                         validators=[DateValidator(future=True)])
            yield _input("Reason", self.reason, id="reason",
                         placeholder="e.g. office move, server off until the 2nd")
            yield Static("", id="form-error", classes="form-error")
            yield self.buttons()

    def on_mount(self) -> None:
        self.query_one("#until", AcornInput).focus()

    @on(AcornInput.Submitted)
    def _submitted(self, event: AcornInput.Submitted) -> None:
        if event.input.id == "until":
            self.query_one("#reason", AcornInput).focus()
        else:
            self.action_save()

    def action_save(self) -> None:
        until = self.query_one("#until", AcornInput)
        reason = self.query_one("#reason", AcornInput)
        if self.invalid(until):
            return
        when = parse_when(until.value)
        if when is not None and not reason.value.strip():
            self.error("Reason: a snooze needs a reason")
            reason.focus()
            return
        self.dismiss(SnoozeResult(when, reason.value.strip()))


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no. `y` confirms; escape cancels (`n` is "note" everywhere: screens/keymap.py)."""

    BINDINGS = [bind("yes", "answer(True)"), bind("back", "answer(False)", label="No")]
    DEFAULT_CLASSES = "form"

    @on(events.Mount)
    def _own_footer(self) -> None:
        self.mount(Footer(compact=True))

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Confirm", classes="dialog-title")
            yield Static(safe_text(self.question))
            yield Horizontal(Button("Yes (y)", variant="error", id="yes"),
                             Button("No (esc)", id="no"), classes="buttons")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
