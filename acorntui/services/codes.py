"""The code reference: rsync completion codes with jargon, translation and resolution."""

from __future__ import annotations

import re
from dataclasses import dataclass

from acorntui.db.models import ErrorCode


@dataclass(frozen=True)
class CodeInfo:
    code: int
    jargon: str
    translation: str
    resolution: str
    rsync_name: str
    from_original: bool

    def search_text(self) -> str:
        return " ".join(
            (str(self.code), self.jargon, self.translation, self.resolution, self.rsync_name)
        ).lower()


def _info(row: ErrorCode) -> CodeInfo:
    return CodeInfo(row.code, row.jargon, row.translation, row.resolution, row.rsync_name,
                    bool(row.from_original))


def all_codes() -> list[CodeInfo]:
    return [_info(r) for r in ErrorCode.select().order_by(ErrorCode.code)]


def get_code(code: int) -> CodeInfo | None:
    row = ErrorCode.get_or_none(ErrorCode.code == code)
    return _info(row) if row else None


def shipped_codes() -> list[CodeInfo]:
    """The code table acorntui ships (``init-db`` loads it into the database): the reference
    without a database, for `acorntui codes` on a machine that has none yet."""
    from acorntui.db.schema import load_code_rows

    return sorted((CodeInfo(**row) for row in load_code_rows()), key=lambda c: c.code)


def search_codes(text: str, codes: list[CodeInfo] | None = None) -> list[CodeInfo]:
    """Codes whose number, jargon, translation, resolution or rsync name hold every word."""
    words = text.lower().split()
    pool = codes if codes is not None else all_codes()
    return [c for c in pool if all(w in c.search_text() for w in words)]


# The code table was written for the old report system: where it names a step the console
# does with one key, say the key (the CLI reference keeps the table's own words).
_CONSOLE_STEPS = (
    (re.compile(r"(?:you will then |then )?clear the database and re-run the parsers",
                re.IGNORECASE), "press r to re-parse the log"),
    (re.compile(r"add the file as an exception within the backupreport system",
                re.IGNORECASE), "press x on the failing file (in history) to add an exception"),
    (re.compile(r"add it as an exception", re.IGNORECASE),
     "press x on it (in history) to add an exception"),
)


def in_console(text: str) -> str:
    """A resolution with the console's own actions: "press r to re-parse" instead of "clear
    the database and re-run the parsers", "x adds an exception" for a failing file."""
    for rx, words in _CONSOLE_STEPS:
        def say(m: re.Match[str], words: str = words) -> str:
            before = m.string[:m.start()].rstrip()
            return words[0].upper() + words[1:] if not before or before[-1] in ".:)" else words

        text = rx.sub(say, text)
    return text


# what the console does for a file error (codes whose fix names a failing file)
FILE_ERROR_CODES = frozenset({23})
