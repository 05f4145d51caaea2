"""The code reference: rsync completion codes with jargon, translation and resolution."""

from __future__ import annotations

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
