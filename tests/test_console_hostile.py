"""Hostile text in the console is shown literally and never reaches the terminal raw.

A database is built through the real ingest from logs whose failing paths (and customer and
server names: the spool folders) carry Rich/Textual markup, ANSI and OSC sequences (OSC 52
clipboard writes, title changes, BEL and ST terminators), C1 controls, bidi and zero-width
characters and a 10,000-character name, both as rsync escapes them (``\\#ooo``) and as raw
bytes the way cwRsync may write them; an ack note, a TSR note, an exception, a code's jargon
and a customer's display name and notes carry them too. Each screen is opened with Pilot and
what Textual would write to the terminal is taken from the screen's compositor (the same
``render_update(...).render_segments(console)`` call ``App._display`` makes): no segment of
text may hold a control, bidi or zero-width character, the only escape sequences allowed in the
output are Textual's own (SGR colours, cursor moves), and the escaped forms must be visible.

``test_console_in_tmux`` runs the real ``acorntui`` in a tmux pane (a real terminal
emulator) on the same database: the pane title is unchanged, no OSC 52 reached tmux's
clipboard buffers, and the captured screen shows the escaped text.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import act_as, acting_as
from test_console import asynctest, make_app, wait_for

ROOT = Path(__file__).resolve().parent.parent
LOGIN = "tester"
NOW = dt.datetime(2026, 11, 26, 7, 0, 0)
LOG_TIME = dt.datetime(2026, 11, 26, 2, 30, 0)

OSC52 = "\x1b]52;c;ZXZpbA==\x07"
TITLE_BEL = "\x1b]0;pwned\x07"
TITLE_ST = "\x1b]2;pwned-st\x1b\\"
MARKUP = "[bold]B[/] [link=x]L[/link] [@click=app.quit]Q[/]"
BIDI = "\u202eexe.txt\u2066iso\u2069\u2067r\u2068f"
ZERO_WIDTH = "z\u200bw\u200dj\ufeffb"
LONG = "L" * 9_990 + "-long-end"

# what a failing path holds, raw (cwRsync: bytes as they are) -> what the console must show
RAW_NAMES = {
    "markup": (MARKUP, MARKUP),
    "ansi": ("\x1b[31mred\x1b[0m\x1b[2J", "\\x1b[31mred\\x1b[0m\\x1b[2J"),
    "osc52": (OSC52, "\\x1b]52;c;ZXZpbA==\\x07"),
    "title": (TITLE_BEL + TITLE_ST, "\\x1b]0;pwned\\x07\\x1b]2;pwned-st\\x1b\\"),
    "c1": ("c1\u009b31m\u0085", "c1\\x9b31m\\x85"),
    "bidi": (BIDI, "\\u202eexe.txt\\u2066iso\\u2069\\u2067r\\u2068f"),
    "zero": (ZERO_WIDTH, "z\\u200bw\\u200dj\\ufeffb"),
}
# rsync's own escaping of the same control characters: shown as the text it is
ESCAPED_NAMES = {
    "esc_osc52": "\\#033]52;c;ZXZpbA==\\#007",
    "esc_title": "\\#033]0;pwned\\#007",
}
# customer and server names come from the spool folder and file names
CUSTOMER = "[red]cust\x1b]0;pwned\x07\u202e"
CUSTOMER_SHOWN = "[red]cust\\x1b]0;pwned\\x07\\u202e"
SERVER = "srv[@click=app.quit]\x1b[2J\u200b"
SERVER_SHOWN = "srv[@click=app.quit]\\x1b[2J\\u200b"
NOTE = f"ack {MARKUP} {OSC52} {TITLE_ST} \u202edone"
NOTE_SHOWN = "\\x1b]52;c;ZXZpbA==\\x07"

# anything that makes a terminal do something, or hides/reorders text
BAD_CHARS = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\ufeff\ud800-\udfff]")
# Textual's own sequences: SGR, cursor position, synchronized-update/cursor modes, OSC 8 links
TEXTUAL_SEQ = re.compile(
    r"\x1b\[[0-9;:]*m|\x1b\[\d+;\d+H|\x1b\[\?\d+[hl]|\x1b\]8;[^\x07\x1b]*\x1b\\")


def rsync_log(paths: list[bytes]) -> bytes:
    lines = [b"building file list ... done"]
    for p in paths:
        lines.append(b'rsync: [sender] send_files failed to open "/cygdrive/E/' + p +
                     b'": Permission denied (13)')
    lines += [b"", b"sent 1,234 bytes  received 56 bytes  2,580.00 bytes/sec",
              b"total size is 9,999  speedup is 7.75",
              b"rsync error: some files/attrs were not transferred (see previous errors) "
              b"(code 23) at main.c(1338) [sender=3.2.7]", b""]
    return b"\r\n".join(lines)


def build_hostile_db(folder: Path) -> Path:
    """The database, built through the real ingest and domain functions; returns its path."""
    from acorntui import db as dbpkg
    from acorntui.db.models import Customer, ErrorCode, Result, Server, Tsr
    from acorntui.services import exceptions as exception_rules
    from acorntui.services import triage as actions
    from acorntui.services.ingest import Ingestor
    from acorntui.services.roles import current_user

    spool = folder / "spool"
    raw = [v[0].encode("utf-8") for v in RAW_NAMES.values()]
    raw.append(b"caf\xe9 \x9b1m cp1252")  # legacy code page bytes, not UTF-8
    raw.append(LONG.encode())
    escaped = [v.encode() for v in ESCAPED_NAMES.values()]
    logs = {
        ("acme", "fs1"): rsync_log(raw + escaped),
        (CUSTOMER, SERVER): rsync_log([MARKUP.encode(), OSC52.encode()]),
        ("acme", "ok1"): b"sent 1 bytes  received 2 bytes  3.00 bytes/sec\n"
                         b"total size is 9  speedup is 1.00\n",
    }
    for (cust, srv), data in logs.items():
        p = spool / cust / f"{srv}.out"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.utime(p, (LOG_TIME.timestamp(), LOG_TIME.timestamp()))
    path = folder / "hostile.db"
    database = dbpkg.connect(f"sqlite:///{path}")
    try:
        dbpkg.init_schema(database)
        Tsr.create(name="Tess [b]T[/b]\x1b]0;pwned\x07", login=LOGIN, level=3)
        batch = Ingestor(now=NOW).ingest_paths([spool])  # as LOGIN (acting_as), a TSR3
        assert len(batch.outcomes) == 3, batch
        user = current_user()
        hostile_srv = Server.get(Server.name == SERVER)
        fs1 = Server.select().join(Customer).where(Customer.name == "acme",
                                                  Server.name == "fs1").get()
        for srv in (hostile_srv, fs1):
            res = Result.select().where(Result.server == srv).get()
            actions.acknowledge(user, res.id, NOTE)
            actions.add_note(user, srv.id, f"note {OSC52}{TITLE_BEL}{BIDI}", result_id=res.id)
        exception_rules.add_exception(user, exception_rules.ExceptionInput(
            scope="global", path_pattern=f"/cygdrive/E/*{MARKUP}*", reason=f"why {OSC52}{BIDI}",
            method=f"NTBackup {TITLE_ST}"))
        cust = Customer.get(Customer.name == CUSTOMER)
        cust.display_name = f"Disp {MARKUP}{TITLE_BEL}"
        cust.notes = f"notes {OSC52}{ZERO_WIDTH}"
        cust.save()
        ErrorCode.update(jargon=ErrorCode.jargon.concat(f" {OSC52}{MARKUP}")).where(
            ErrorCode.code == 23).execute()
    finally:
        database.close()
    return path


@pytest.fixture(scope="module")
def hostile_template(tmp_path_factory) -> Path:
    with acting_as(LOGIN):
        return build_hostile_db(tmp_path_factory.mktemp("hostile"))


@pytest.fixture
def hostile_db(hostile_template, tmp_path, monkeypatch):
    from acorntui import db as dbpkg

    act_as(monkeypatch, LOGIN)
    path = tmp_path / "hostile.db"
    shutil.copy(hostile_template, path)
    database = dbpkg.connect(f"sqlite:///{path}")
    yield database
    database.close()


def terminal_output(app) -> tuple[str, list[str]]:
    """What the app would write for a full repaint now, and the text of each line."""
    update = app.screen._compositor.render_update(full=True,
                                                  screen_stack=app._background_screens)
    lines = ["".join(seg.text for seg in strip) for strip in update.strips]
    return update.render_segments(app.console), lines


def check_screen(app, must_show: list[str]) -> str:
    out, lines = terminal_output(app)
    where = type(app.screen).__name__
    for n, line in enumerate(lines):
        bad = BAD_CHARS.findall(line)
        assert not bad, f"{where} line {n} holds {bad!r}: {line!r}"
    rest = TEXTUAL_SEQ.sub("", out)
    bad = sorted(set(BAD_CHARS.findall(rest.replace("\n", ""))))
    assert not bad, f"{where}: raw control characters reach the terminal: {bad!r}"
    for marker in ("\x1b]52", "\x1b]0;", "\x1b]2;", "\x1b[2J", "\x07", "\x9b"):
        assert marker not in out, f"{where}: {marker!r} written to the terminal"
    text = "\n".join(lines)
    for s in must_show:
        assert s in text, f"{where} does not show {s!r}:\n{text}"
    return text


async def shown(pilot, app, *needles: str, timeout: float = 10) -> str:
    """Wait until every needle is on screen (workers done), then check the whole screen."""
    for _ in range(int(timeout / 0.05)):
        text = "\n".join(terminal_output(app)[1])
        if all(n in text for n in needles):
            break
        await pilot.pause(0.05)
    return check_screen(app, list(needles))


@asynctest
async def test_every_screen_shows_hostile_text_literally(hostile_db):
    from acorntui.db.models import Server
    from acorntui.screens.audit import AuditScreen
    from acorntui.screens.codes import CodeReferenceScreen
    from acorntui.screens.exceptions import ExceptionsScreen
    from acorntui.screens.history import ServerHistoryScreen
    from acorntui.screens.management import ManagementScreen
    from acorntui.screens.nightly import NightlyScreen

    hostile_srv = Server.get(Server.name == SERVER)
    fs1 = Server.get(Server.name == "fs1")
    app = make_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NightlyScreen) and app.screen.loaded)
        grid = app.screen
        check_screen(app, [CUSTOMER_SHOWN, SERVER_SHOWN])
        assert app.is_running  # [@click=app.quit] did nothing

        # history of the hostile server: topbar, failures table, timeline
        grid.grid.move_to_key(hostile_srv.id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.failures)
        await pilot.pause(0.2)
        check_screen(app, [f"{CUSTOMER_SHOWN}/{SERVER_SHOWN}", NOTE_SHOWN, MARKUP])
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen))
        await pilot.pause(0.3)
        check_screen(app, ["\\x1b]52;c;ZXZpbA==\\x07"])
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: app.screen is grid)

        # history of acme/fs1: every hostile failing path, raw and rsync-escaped
        grid.grid.move_to_key(fs1.id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ServerHistoryScreen)
                       and app.screen.failures)
        await pilot.pause(0.2)
        check_screen(app, ["/cygdrive/E/\\x1b[31mred", "\\u202eexe.txt",
                                  "\\#033]52;c;ZXZpbA==\\#007", "/cygdrive/E/LLLL"])
        failures = app.screen.query_one("#failures")
        for row in range(failures.row_count):
            failures.move_cursor(row=row)
            await pilot.pause()
            check_screen(app, [])
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is grid)

        for key, kind, needle in (("e", ExceptionsScreen, MARKUP),
                                 ("c", CodeReferenceScreen, "\\x1b]52;c;ZXZpbA==\\x07"),
                                 ("m", ManagementScreen, "[red]cust\\x1b]0")):
            await pilot.press(key)
            await wait_for(pilot, lambda kind=kind: isinstance(app.screen, kind))
            await shown(pilot, app, needle)
            if kind is CodeReferenceScreen:  # the code whose jargon we poisoned
                await pilot.press("slash")
                await pilot.press(*"ZXZpbA")
                await pilot.pause(0.3)
                check_screen(app, [])
            await pilot.press("escape")
            if kind is CodeReferenceScreen:
                await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is grid)
        assert app.is_running


@asynctest
async def test_management_edit_form_shows_hostile_values_literally(hostile_db):
    from acorntui.screens.management import ManagementScreen
    from acorntui.screens.nightly import NightlyScreen

    app = make_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NightlyScreen) and app.screen.loaded)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ManagementScreen))
        await shown(pilot, app, "[red]cust\\x1b]0")
        await pilot.press("home", "enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RecordForm")
        await shown(pilot, app, "Disp [bold]B[/]")


def test_console_in_tmux(hostile_template, tmp_path):
    if shutil.which("tmux") is None:
        from conftest import skip_or_fail

        skip_or_fail("tmux is not installed")
    db = tmp_path / "hostile.db"
    shutil.copy(hostile_template, db)
    sock = f"acorn-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", sock, "-f", "/dev/null"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOGNAME": LOGIN, "TERM": "xterm-256color"}
    cmd = f"{sys.executable} -m acorntui --db sqlite:///{db}"
    subprocess.run([*tmux, "new-session", "-d", "-s", "x", "-x", "200", "-y", "50",
                    "-e", f"PYTHONPATH={ROOT}", "-e", f"LOGNAME={LOGIN}", cmd],
                   check=True, env=env, cwd=ROOT)
    try:
        subprocess.run([*tmux, "set-option", "-g", "set-clipboard", "on"], check=True)
        subprocess.run([*tmux, "set-option", "-g", "allow-rename", "on"], check=True)
        subprocess.run([*tmux, "select-pane", "-t", "x", "-T", "acorn-title"], check=True)

        def capture() -> str:
            return subprocess.run([*tmux, "capture-pane", "-p", "-e", "-t", "x"],
                                  capture_output=True, text=True).stdout

        def wait_text(needle: str, timeout: float = 20) -> str:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                screen = capture()
                if needle in screen:
                    return screen
                time.sleep(0.2)
            raise AssertionError(f"{needle!r} not on screen:\n{capture()}")

        def plain() -> str:
            return subprocess.run([*tmux, "capture-pane", "-p", "-t", "x"],
                                  capture_output=True, text=True).stdout

        def wait_plain(*needles: str, timeout: float = 20) -> str:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                text = plain()
                if all(n in text for n in needles):
                    return text
                time.sleep(0.2)
            raise AssertionError(f"{needles!r} not on screen:\n{plain()}")

        screen = wait_text("\\x1b]0;pwned\\x07")
        assert "[red]cust" in screen
        wait_plain("3 servers")
        # as a person types: `/`, the filter box opens, then the words (keys sent in one burst
        # right after `/` reach the grid's own bindings instead: reported, see docs/testing.md)
        subprocess.run([*tmux, "send-keys", "-t", "x", "/"], check=True)
        wait_plain("filter: words")
        subprocess.run([*tmux, "send-keys", "-t", "x", *"srv", "Enter"], check=True)
        wait_plain("filter: srv", "showing 1 of 3")
        subprocess.run([*tmux, "send-keys", "-t", "x", "Enter"], check=True)
        # the history of the hostile server, not of acme/fs1 (which carries the same note):
        # its name, escaped, heads the screen
        history = wait_plain("o OK  * OK*")
        top = history.splitlines()[0].strip()
        assert top.startswith(f"{CUSTOMER_SHOWN}/{SERVER_SHOWN}"), top
        screen = wait_text("\\x1b]52;c;ZXZpbA==\\x07")
        title = subprocess.run([*tmux, "display-message", "-p", "-t", "x", "#{pane_title}"],
                               capture_output=True, text=True).stdout.strip()
        buffers = subprocess.run([*tmux, "list-buffers"], capture_output=True,
                                 text=True).stdout
        assert title == "acorn-title", title
        assert buffers.strip() == "", buffers  # an OSC 52 write would have made a buffer
        for seq in ("\x1b]", "\x07", "\x9b", "\u202e", "\u200b"):
            assert seq not in screen
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def test_record_form_keeps_the_original_value_when_saved_unchanged():
    """The form shows controls made visible but must not store the escaped text back."""
    from acorntui.screens.management import RecordForm

    raw = "Evil\x1b]0;pwned\x07 \u202eCorp"
    form = RecordForm("customers", {"id": 1, "name": "evil", "display_name": raw})
    shown = form._display("display_name", raw)
    assert "\x1b" not in shown and "\u202e" not in shown and "\\u202e" in shown
    assert form._stored("display_name", shown) == raw  # unchanged: original kept
    assert form._stored("display_name", "Evil Corp") == "Evil Corp"  # edited: the new text


@asynctest
async def test_notifications_never_interpret_markup_or_controls(tmp_path):
    """Toasts quote file names and errors: markup is not read, controls are made visible."""
    from acorntui.app import AcornApp

    app = AcornApp(db_url=f"sqlite:///{tmp_path / 'none.db'}", cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        app.notify("covered by [bold]x[/] \x1b]52;c;ZXZpbA==\x07 \u202eevil", markup=True)
        await pilot.pause()
        toast = list(app._notifications)[-1]
        assert toast.markup is False
        assert "\x1b" not in toast.message and "\u202e" not in toast.message
        assert "[bold]x[/]" in toast.message and "\\u202e" in toast.message
