"""The audit trail: every change is written to `updates` in the change's own transaction."""

from __future__ import annotations

import json
from typing import Any

from acorntui.db.models import Update


def _dump(value: Any) -> str:
    if value is None or value == "":
        return ""
    return json.dumps(value, default=str, sort_keys=True, ensure_ascii=False)


def record(
    action: str,
    login: str,
    *,
    table: str = "",
    row_id: int | None = None,
    server: Any = None,
    result: Any = None,
    details: str = "",
    before: Any = None,
    after: Any = None,
) -> Update:
    """Write one audit row. Call inside the same ``db.atomic()`` block as the change."""
    return Update.create(
        login=login,
        action=action,
        table_name=table,
        row_id=row_id,
        server=server,
        result=result,
        details=details,
        before=_dump(before),
        after=_dump(after),
    )
