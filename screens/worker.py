"""DB calls off the UI thread, their results as typed messages.

A screen declares one message class per call: a subclass of ``DbDone[T]``, where ``T`` is
what the call returns, with the fields its handler needs (which row, what to say). Then

    self.db_call(Acked(row), triage_ack, user, row.result_id, note)

runs the call in a thread worker, puts what it returned in ``message.value`` (or what it
raised in ``message.error``) and posts the message to the screen, where an ordinary handler
takes it: ``def on_acked(self, message: Acked)`` or ``@on(Acked)``.

``DbScreen`` then does what every call shares, after the screen's own handler: a database
error (server gone, file locked) shows the banner and, for a change, says it was NOT saved;
the banner goes when the call that failed works again; any other error (a refused role, a bad
field) becomes a notification unless the message class says its handler reports errors itself
(``OWN_ERRORS``). One error never stops the app.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual import on
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker

from acorntui.core.textsafe import visible_controls
from acorntui.services.session import DB_ERRORS, close_thread_connection, error_text

T = TypeVar("T")


class DbDone(Message, Generic[T]):
    """A DB call finished: ``value`` is what it returned, or ``error`` what it raised.

    Subclass once per call (``class Loaded(DbDone[list[Row]])``), add the fields the handler
    needs in ``__init__``, and set ``CHANGE`` for a call that writes.
    """

    # a change ("The acknowledgement"): when the database fails, the user is told it was
    # NOT saved (ctrl+r reloads; it does not repeat the change)
    CHANGE: ClassVar[str] = ""
    # True: the handler says what went wrong itself; else a non-database error becomes a
    # notification (database errors always show the banner)
    OWN_ERRORS: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        kwargs.setdefault("bubble", False)  # for the screen that made the call, nobody else
        super().__init_subclass__(**kwargs)

    def __init__(self) -> None:
        super().__init__()
        self.value: T = None  # type: ignore[assignment]  # set by the worker
        self.error: BaseException | None = None

    @property
    def call(self) -> Hashable:
        """Which call this answers: the banner goes when every call that failed has worked
        again. One per message class, unless a class answers several calls (one per list)."""
        kind: Hashable = type(self).__qualname__, type(self).__module__
        return kind

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def database_failed(self) -> bool:
        """The database did not answer (as opposed to a refusal or a bad field)."""
        return isinstance(self.error, DB_ERRORS)


def db_error_text(exc: BaseException) -> str:
    """A driver error as one readable line, URLs masked, controls visible."""
    return visible_controls(error_text(exc))


def error_title(exc: BaseException) -> str:
    name = exc.__class__.__name__
    return {"PermissionDenied": "Not allowed", "ExceptionInputError": "Check the form",
            "ActionInputError": "Check the form"}.get(name, "Error")


def run_db_call(screen: Screen, message: DbDone[T], fn: Callable[..., T], *args: Any,
                group: str = "", exclusive: bool = True, description: str = "",
                **kwargs: Any) -> Worker[None]:
    """Run ``fn(*args, **kwargs)`` in a thread worker and post ``message`` to ``screen`` with
    its outcome. ``exclusive``: a newer call in the same ``group`` (default: the message
    class) supersedes an older one."""
    name = type(message).__name__

    def body() -> None:
        try:
            try:
                message.value = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - reported on the UI thread
                message.error = exc
            screen.post_message(message)
        finally:
            close_thread_connection()  # each worker thread opened its own

    return screen.run_worker(body, thread=True, exclusive=exclusive,
                             group=f"db-{group or name}", exit_on_error=False,
                             description=description or name, name=name)


class Banner(Static):
    """One line across the screen for a database error; hidden when all is well."""

    DEFAULT_CSS = """
    Banner { display: none; height: auto; background: $error; color: $text; padding: 0 1; }
    Banner.-shown { display: block; }
    """

    def show(self, message: str) -> None:
        self.update(Text(visible_controls(message), no_wrap=True, overflow="ellipsis"))
        self.add_class("-shown")

    def clear(self) -> None:
        self.remove_class("-shown")


class DbScreen(Screen):
    """A screen that makes DB calls with ``db_call`` and shows their failures."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._failed_calls: set[Hashable] = set()

    def db_call(self, message: DbDone[T], fn: Callable[..., T], *args: Any, group: str = "",
                exclusive: bool = True, description: str = "", **kwargs: Any) -> None:
        """``fn(*args, **kwargs)`` off the UI thread; ``message`` comes back with its outcome."""
        run_db_call(self, message, fn, *args, group=group, exclusive=exclusive,
                    description=description, **kwargs)

    @on(DbDone)
    def _db_call_done(self, message: DbDone[Any]) -> None:
        # runs after the screen's own handler for the message (Textual walks the screen's
        # classes first, then this base class)
        call = message.call
        banner = self._banner()
        if message.error is None:
            # the banner goes when what failed works again, not when another query works
            self._failed_calls.discard(call)
            if banner is not None and not self._failed_calls:
                banner.clear()
            return
        if message.database_failed:
            self._failed_calls.add(call)
            reason = db_error_text(message.error)
            text = f"Database unavailable: {reason}  (ctrl+r retries)"
            if banner is not None:
                banner.show(text)
            else:
                self.notify(text, severity="error", markup=False)
            if message.CHANGE:
                self.notify(f"{message.CHANGE} was NOT saved: {reason}. "
                            "Do it again when the database answers.", title="Not saved",
                            severity="error", timeout=15, markup=False)
        elif not message.OWN_ERRORS:
            self.notify(f"{message.error}", title=error_title(message.error),
                        severity="error", timeout=8, markup=False)

    def _banner(self) -> Banner | None:
        found = self.query(Banner)
        return found.first() if found else None
