"""Untrusted text (file names from logs, notes, names) made safe to print. No Textual.

Used by the console (screens.widgets.safe_text), the CLI and the reports, so every way out to a
terminal neutralises the same characters.
"""

from __future__ import annotations

import re

# C0/C1 controls and DEL (ESC, BEL, CSI 0x9b...), plus the invisible characters that change
# how the rest of a line reads: bidi embeddings/overrides/isolates (U+202A-202E, U+2066-2069,
# a "Trojan Source" name), zero-width and joiner characters, line/paragraph separators, BOMs,
# interlinear annotations, Unicode tag characters, and lone surrogates (undecodable bytes kept
# by surrogateescape, which a UTF-8 terminal writer could not encode).
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5"
    "\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164"
    "\ufeff\uffa0\ufff0-\ufffb\ud800-\udfff\U000e0000-\U000e0fff]"
)


def _escape_char(m: re.Match[str]) -> str:
    n = ord(m.group())
    if n < 0x100:
        return f"\\x{n:02x}"
    if n < 0x10000:
        return f"\\u{n:04x}"
    return f"\\U{n:08x}"


def visible_controls(value: str) -> str:
    """Control and invisible formatting characters as visible escapes (ESC -> \\x1b,
    RIGHT-TO-LEFT OVERRIDE -> \\u202e), tabs/newlines as spaces."""
    value = value.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return _CONTROL.sub(_escape_char, value)


def _json_escape(m: re.Match[str]) -> str:
    n = ord(m.group())
    if n < 0x10000:
        return f"\\u{n:04x}"
    n -= 0x10000  # outside the BMP: a UTF-16 surrogate pair, as JSON spells it
    return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"


def json_text(value: object, **kwargs: object) -> str:
    """``json.dumps`` that keeps readable text readable (``ensure_ascii=False``) but writes
    every character :func:`visible_controls` would escape -- C0 and C1 controls, DEL, bidi
    overrides and isolates, zero-width and other invisible characters, lone surrogates -- as
    a ``\\u`` escape, so JSON piped to a terminal cannot drive it and a name reads the same in
    any viewer. ``json.loads`` gives back the exact text."""
    import json

    kwargs.setdefault("ensure_ascii", False)
    text = json.dumps(value, **kwargs)  # type: ignore[arg-type]
    # outside strings json.dumps writes ASCII only, and the indent's newlines are not matched
    return _CONTROL.sub(_json_escape, text)


def cut_middle(path: str, width: int) -> str:
    """``path`` cut to ``width`` characters in the middle, keeping the file name: the part a
    reader needs (``/cygdrive/E/shares/…/budget.xlsx``). A file name too long for that keeps
    a third of the width from the start of the path and the rest from the end of the name
    (its extension)."""
    if width <= 0:
        return ""
    if len(path) <= width:
        return path
    if width == 1:
        return "…"
    cut = max(path.rfind("/"), path.rfind("\\"))
    name = path[cut:] if cut >= 0 else path
    if len(name) + 2 > width:  # no room for the whole name: its end, and the path's start
        head = (width - 1) // 3
        return path[:head] + "…" + path[len(path) - (width - 1 - head):]
    head = width - 1 - len(name)
    return path[:head] + "…" + name
