"""Which remote names may become spool paths, and how a remote name is shown.

Used by the listing (to skip unsafe names before anything is written) and by the spool (which
refuses an unsafe name as a last line of defence), so it sits below both.
"""

from __future__ import annotations

import re

from acorntui.core.refs import split_rel
from acorntui.core.textsafe import visible_controls

__all__ = ["check_rel", "printable", "unsafe_name"]

_CONTROL = re.compile("[\x00-\x1f\x7f]")
_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (os.fsdecode kept them)


def unsafe_name(name: str) -> str | None:
    """Why a customer or server name from a remote listing may not become a local path."""
    if not name:
        return "empty name"
    if name in (".", ".."):
        return "a dot name"
    if name.startswith("."):
        return "starts with a dot"
    if "/" in name or "\\" in name:
        return "contains a slash"
    if _CONTROL.search(name):
        return "contains control characters"
    if _UNDECODED.search(name):
        return "is not valid UTF-8"
    if len(name.encode()) > 200:
        return "too long"
    return None


def check_rel(rel: str) -> str | None:
    """Why ``customer/server.out`` may not become a spool path (None: it may)."""
    cs = split_rel(rel)
    if cs is None:
        return "not <customer>/<server>.out"
    for part in cs:
        why = unsafe_name(part)
        if why:
            return why
    return None


_SHOWN_WHITESPACE = {9: "\\t", 10: "\\n", 13: "\\r"}


def printable(name: str) -> str:
    """A name as it may be shown in a terminal: control, bidi and other invisible characters
    made visible (:func:`acorntui.core.textsafe.visible_controls`), a newline as ``\\n``."""
    return visible_controls(name.translate(_SHOWN_WHITESPACE))
