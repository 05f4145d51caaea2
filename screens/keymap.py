"""The console's keys: one table, one meaning per key on every screen.

Every screen builds its ``BINDINGS`` with :func:`bind` from this table, the help screen (`?`)
lists a screen's keys with the table's words, and ``docs/keys.md`` is written from it
(``python -m acorntui.screens.keymap > docs/keys.md``; a test checks the file matches). A key
appears in one row only, so `a` is "acknowledge" wherever it works and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

__all__ = ["KEYS", "KeyMeaning", "bind", "by_key", "key_label", "markdown", "meaning"]


@dataclass(frozen=True)
class KeyMeaning:
    id: str  # the meaning, the Binding's id (and its action unless the screen names another)
    keys: str  # Textual key names, comma-separated; the first is the one shown
    label: str  # the footer's word
    meaning: str  # what it does, for the help screen and docs/keys.md
    where: str  # the screens it works on


ROW = "grid, history"  # the screens that show a server's night
LISTS = "exceptions, management"

KEYS: tuple[KeyMeaning, ...] = (
    # -- everywhere --
    KeyMeaning("help", "question_mark", "Help", "this help: the screen's keys and words",
               "every screen"),
    KeyMeaning("back", "escape", "Back", "back to the screen before; in a form: cancel "
               "without saving; on the grid: clear the filter, then the marks", "every screen"),
    KeyMeaning("quit", "q", "Quit", "back to the screen before (on the grid: quit)",
               "every screen but forms"),
    KeyMeaning("refresh", "ctrl+r,f5", "Refresh", "load again from the database",
               "grid, history, " + LISTS + ", audit log"),
    KeyMeaning("palette", "ctrl+p", "Jump", "command palette: jump to a server or customer "
               "by name", "every screen"),
    KeyMeaning("app_quit", "ctrl+q", "Quit", "quit the console", "every screen"),
    KeyMeaning("filter", "slash", "Filter", "filter or search the list", "grid, " + LISTS
               + ", audit log, codes, log"),
    # -- open, add, edit, remove --
    KeyMeaning("open", "enter", "Open", "open the selected row: a server's history from the "
               "grid, the edit form in lists", "grid, " + LISTS),
    KeyMeaning("add", "plus,insert", "Add", "add a new one (+ or insert)", LISTS),
    KeyMeaning("remove", "delete,D", "Delete", "delete the selected one (asks first)",
               "exceptions"),
    KeyMeaning("toggle_active", "d", "(De)activate", "disable or enable (exceptions), "
               "deactivate or reactivate (customers, servers, reps)", LISTS),
    # -- what is done to a server's night --
    KeyMeaning("ack", "a", "Ack", "acknowledge the night's result with a note (the marked "
               "rows when rows are marked)", ROW),
    KeyMeaning("note", "n", "Note", "add a note to the server (the marked rows when rows are "
               "marked)", ROW),
    KeyMeaning("snooze", "z", "Snooze", "snooze or un-snooze the server (the marked rows when "
               "rows are marked)", ROW),
    KeyMeaning("customer_snooze", "Z", "Cust. snooze", "a maintenance window for the selected "
               "row's customer: every server of it snoozed until a date", "grid"),
    KeyMeaning("reparse", "r", "Re-parse", "fetch and parse the server's log for the night "
               "again", ROW),
    KeyMeaning("exception", "x", "Except", "add an exception for a failing file of the night "
               "(history: the chosen file)", ROW),
    KeyMeaning("log", "l", "Log", "the night's rsync log", ROW),
    # -- marking rows (bulk) --
    KeyMeaning("mark", "space", "Mark", "mark or unmark the row; a, n and z then act on every "
               "marked row at once", "grid"),
    KeyMeaning("mark_all", "asterisk", "Mark all", "mark every row the filter shows (again: "
               "unmark them)", "grid"),
    KeyMeaning("mark_outage", "M", "Mark outage", "mark the servers of the custbak outage the "
               "warning names", "grid"),
    # -- moving about --
    KeyMeaning("prev_night", "left_square_bracket", "Prev night", "the night before "
               "(history: an older night)", ROW),
    KeyMeaning("next_night", "right_square_bracket", "Next night", "the night after "
               "(history: a newer night)", ROW),
    KeyMeaning("next_failure", "N", "Next failure", "jump to the next unhandled failure",
               "grid"),
    KeyMeaning("match_next", "greater_than_sign,f3", "Next match", "the next line that holds "
               "the search text (after /)", "log"),
    KeyMeaning("match_prev", "less_than_sign,shift+f3", "Prev match", "the line before that "
               "holds the search text", "log"),
    KeyMeaning("sort", "s", "Sort", "choose the column to sort by", "grid"),
    KeyMeaning("sort_reverse", "S", "Reverse", "reverse the sort", "grid"),
    KeyMeaning("codes", "c", "Code", "the code reference (at the selected row's code)", ROW),
    KeyMeaning("exceptions", "e", "Exceptions", "the exception editor", "grid"),
    KeyMeaning("management", "m", "Manage", "customers, servers, CSRs and TSRs", "grid"),
    KeyMeaning("timeline", "t", "Timeline", "the server's notes, acknowledgements and "
               "changes", "history"),
    KeyMeaning("audit", "L", "Audit log", "every recorded change (of this server, or of the "
               "list shown)", "history, management"),
    KeyMeaning("tab_1", "1", "Customers", "the customers tab", "management"),
    KeyMeaning("tab_2", "2", "Servers", "the servers tab", "management"),
    KeyMeaning("tab_3", "3", "CSRs", "the CSRs tab", "management"),
    KeyMeaning("tab_4", "4", "TSRs", "the TSRs tab", "management"),
    # -- forms and dialogs --
    KeyMeaning("save", "ctrl+s", "Save", "save the form (enter saves a one-line form)",
               "every form"),
    KeyMeaning("yes", "y", "Yes", "yes, do it", "confirm dialogs"),
)

_BY_ID = {k.id: k for k in KEYS}
_BY_KEY = {key: k for k in KEYS for key in k.keys.split(",")}

_KEY_NAMES = {"left_square_bracket": "[", "right_square_bracket": "]", "slash": "/",
              "question_mark": "?", "escape": "esc", "delete": "del", "plus": "+",
              "asterisk": "*", "space": "space", "greater_than_sign": ">",
              "less_than_sign": "<"}


def key_label(keys: str) -> str:
    """``plus,insert`` -> ``+,insert``: how a key is written for people."""
    return ",".join(_KEY_NAMES.get(k, k) for k in keys.split(","))


def meaning(id: str) -> KeyMeaning:
    return _BY_ID[id]


def by_key(key: str) -> KeyMeaning | None:
    return _BY_KEY.get(key)


def bind(id: str, action: str | None = None, *, label: str | None = None, show: bool = True,
         group: Binding.Group | None = None, priority: bool = False) -> Binding:
    """The Binding for the table's row ``id``: its keys, its word; ``action`` when the
    screen's action is named otherwise (``bind("prev_night", "night(-1)")``)."""
    k = _BY_ID[id]
    first = k.keys.split(",")[0]
    return Binding(k.keys, action or id, label or k.label, show=show, id=id, group=group,
                   priority=priority, key_display=_KEY_NAMES.get(first))


def markdown() -> str:
    """docs/keys.md."""
    lines = ["# Keys", "",
             "One key, one meaning on every screen of the console. This page is written from",
             "the table in `screens/keymap.py` (`python -m acorntui.screens.keymap >",
             "docs/keys.md`); the help screen (`?`) shows the same words for the screen it is",
             "opened on, and a test checks that this page and the table agree.", "",
             "| key | does | where |", "|---|---|---|"]
    for k in KEYS:
        keys = " ".join(f"`{x}`" for x in key_label(k.keys).split(","))
        lines.append(f"| {keys} | {k.meaning} | {k.where} |")
    lines += ["", "Arrows, page up/down, home/end (and `j` `k` `g` `G`) move in lists; tab "
              "moves between", "parts of a screen and between the fields of a form.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
