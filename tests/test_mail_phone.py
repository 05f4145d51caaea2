"""The daily mail's HTML in headless Chromium: on a 390 px phone each server is a card and
nothing is wider than the screen; at 1280 px it is a table. Every listed server's name and
status are on screen. The screenshots are kept in the test's tmp_path."""

from __future__ import annotations

import pytest
from browser import layout, screenshot
from smtp_server import start_smtp
from test_mail import write_config
from test_mail_content import build_estate
from test_reports import N, server

from acorntui.config import load_config
from acorntui.core.status import FAILED
from acorntui.db.models import Failure, Result
from acorntui.reports.mail import send_daily_reports

# no spaces or hyphens: it can only break where the renderer allows it (after a slash)
LONG = ("/cygdrive/E/shares/AccountingDepartment/QuarterlyReconciliation/2026/"
        "ConsolidatedEliminations/IntercompanyWorkbookFINAL.xlsx")


@pytest.fixture
def smtp():
    srv = start_smtp()
    yield srv
    srv.stop()


@pytest.fixture
def daily_html(sqlite_db, smtp, tmp_path, monkeypatch):
    build_estate()
    s = server("longnames-and-partners-accounting", "FILESERVER-PRIMARY-01", custbak="cb7")
    r = Result.create(server=s, night=N, status=FAILED, code=23, error_count=1)
    Failure.create(result=r, line=1, excepted=False, path=LONG,
                   message=f'rsync: send_files failed to open "{LONG}": Permission denied (13)')
    write_config(tmp_path, monkeypatch, tmp_path / "outbox", port=smtp.port)
    assert send_daily_reports(load_config(), N) == []
    return smtp.messages[0].part("html")


@pytest.mark.parametrize("width", [390, 1280])
def test_daily_mail_fits_the_window_and_shows_every_server(daily_html, width, tmp_path):
    shot = screenshot(daily_html, width, tmp_path / f"daily-{width}.png")
    found = layout(daily_html, width, tmp_path)
    assert found["innerWidth"] == width
    assert found["scrollWidth"] <= found["innerWidth"], found["scrollWidth"]
    rows = found["rows"]
    assert len(rows) == 22  # every server the mail lists, the long-named one too
    assert any("FILESERVER-PRIMARY-01" in r["name"] for r in rows)
    hidden = [r for r in rows if not (r["name_seen"] and r["statuses_seen"])]
    assert not hidden, hidden
    # a card below 600 px, a table row above
    assert all(r["card"] is (width < 600) for r in rows)
    assert all(r["statuses"] and r["statuses"][0] for r in rows)
    assert shot.stat().st_size > 10_000
