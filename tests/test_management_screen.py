"""The management and audit screens on a minimal App (Pilot)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from test_console import palette_settled
from textual.app import App
from textual.widgets import Switch, TextArea

from acorntui.db.models import Csr, Customer, Result, Server, Tsr, Update
from acorntui.screens.audit import AuditScreen
from acorntui.screens.management import ManagementCommands, ManagementScreen, RecordForm
from acorntui.screens.widgets import AcornInput, FastGrid
from acorntui.services import manage, script
from acorntui.services.roles import lookup


class Host(App):
    COMMANDS = App.COMMANDS | {ManagementCommands}

    def __init__(self, screen):
        super().__init__()
        self.first = screen
        self.cursor_blink_enabled = False

    def on_mount(self) -> None:
        self.push_screen(self.first)


async def settle(app, pilot):
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


@pytest.fixture
def people(sqlite_db):
    Tsr.create(login="boss", name="Boss", level=3)
    Csr.create(login="carol", name="Carol")
    return lookup("boss"), lookup("carol")


def grid_text(screen, kind):
    return "\n".join(screen.query_one(f"#grid-{kind}", FastGrid).visible_text())


async def _test_tsr3_adds_customer_and_server_then_script_builds(people):
    boss, _ = people
    app = Host(ManagementScreen(user=boss))
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert "boss: TSR3" in str(screen.query_one("#whoami").content)
        await pilot.press("plus")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, RecordForm)
        await pilot.press(*"acme")
        form.query_one("#f-email", AcornInput).value = "it@acme.example"
        form.query_one("#f-csr", AcornInput).value = "carol"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen
        c = Customer.get(Customer.name == "acme")
        assert c.email == "it@acme.example" and c.csr.login == "carol"
        assert "acme" in grid_text(screen, "customers")
        # servers tab: the form starts with the selected customer
        await pilot.press("2")
        await pilot.press("plus")
        await pilot.pause()
        form = app.screen
        assert form.query_one("#f-customer", AcornInput).value == "acme"
        values = {"name": "fs1", "os": "Windows 2008", "tsr": "boss",
                  "key_path": "e:\\atc\\id_dsa.txt", "mirror_path": "custbak3:mirror/fs1",
                  "report_host": "acorn@reports.example.com"}
        for k, v in values.items():
            form.query_one(f"#f-{k}", AcornInput).value = v
        form.query_one("#f-shares", TextArea).text = "E:\\shares\nD:\\atc\\exchbak\n"
        form.query_one("#f-excludes", TextArea).text = "*.mp3"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        s = Server.get(Server.name == "fs1")
        assert s.tsr.login == "boss" and s.registered
        text = grid_text(screen, "servers")
        assert "fs1" in text and "boss" in text and "carol" in text
    assert [u.action for u in Update.select().order_by(Update.id)] == [
        "customer.add", "server.add"]
    _, bat = script.script_for("acme/fs1")
    assert '"/cygdrive/E/shares" "/cygdrive/D/atc/exchbak" "custbak3:mirror/fs1"' in bat


async def _test_form_refuses_bad_name_and_reports_domain_errors(people):
    boss, _ = people
    manage.add_customer(boss, name="acme")
    app = Host(ManagementScreen(user=boss))
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("plus")
        await pilot.pause()
        form = app.screen
        form.query_one("#f-name", AcornInput).value = "CON"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form  # not dismissed
        assert "reserved device name" in str(form.query_one("#form-error").content)
        # a clash only the database knows: the form comes back with the error
        form.query_one("#f-name", AcornInput).value = "ACME"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        again = app.screen
        assert isinstance(again, RecordForm)
        assert "exists" in str(again.query_one("#form-error").content)
        assert again.query_one("#f-name", AcornInput).value == "ACME"
    assert Customer.select().count() == 1


async def _test_csr_browses_but_is_refused_changes(people):
    boss, carol = people
    manage.add_customer(boss, name="acme")
    app = Host(ManagementScreen(user=carol))
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert "acme" in grid_text(screen, "customers")
        assert "need a TSR3" in str(screen.query_one("#whoami").content)
        n = Update.select().count()
        for key in ("plus", "enter", "d"):
            await pilot.press(key)
            await settle(app, pilot)
            assert app.screen is screen  # no form opened
        notes = [m.message for m in app._notifications]
        assert any("carol (CSR) may not manage" in m and "needs a TSR3" in m for m in notes)
        assert Update.select().count() == n


async def _test_deactivate_edit_and_audit_of_a_server(people):
    boss, _ = people
    manage.add_customer(boss, name="acme")
    s = manage.add_server(boss, customer="acme", name="fs1")
    Result.create(server=s, night=dt.date.today(), code=0, status="ok")
    app = Host(ManagementScreen(user=boss, tab="servers"))
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        assert Server.get_by_id(s.id).active is False
        await pilot.press("enter")  # edit
        await pilot.pause()
        form = app.screen
        assert isinstance(form, RecordForm)
        assert form.query_one("#f-active", Switch).value is False
        form.query_one("#f-description", AcornInput).value = "Exchange \x1b[31m box"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        # the domain refuses control characters; the form comes back naming the field
        form = app.screen
        assert isinstance(form, RecordForm)
        assert "description: contains control characters" in str(
            form.query_one("#form-error").content)
        form.query_one("#f-description", AcornInput).value = "Exchange box"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert Server.get_by_id(s.id).description == "Exchange box"
        await pilot.press("L")
        await settle(app, pilot)
        audit = app.screen
        assert isinstance(audit, AuditScreen) and audit.server_id == s.id
        assert [r["action"] for r in audit.rows] == ["server.edit", "server.deactivate",
                                                    "server.add"]
        assert "acme/fs1" in str(audit.query_one("#audit-title").content)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ManagementScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ManagementScreen)


async def _test_audit_screen_filters_and_shows_before_after(people):
    boss, _ = people
    manage.add_customer(boss, name="acme")
    manage.add_customer(boss, name="globex")
    manage.edit_customer(boss, "globex", email="it@globex.example")
    app = Host(AuditScreen())
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert [r["action"] for r in screen.rows] == ["customer.edit", "customer.add",
                                                     "customer.add"]
        detail = str(screen.query_one("#audit-detail").content)
        assert "before:" in detail and "email=''" in detail
        assert "it@globex.example" in detail
        await pilot.press("slash")
        await pilot.press(*"acme")
        await settle(app, pilot)
        assert [r["details"] for r in screen.rows] == ["customer acme"]
        text = "\n".join(screen.query_one("#audit-grid", FastGrid).visible_text())
        assert "boss" in text and "customer.add" in text


async def _test_command_palette_opens_management(people):
    boss, _ = people
    app = Host(AuditScreen())
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        app.action_command_palette()
        await pilot.pause()
        await pilot.press(*"Management: TSRs")
        await palette_settled(pilot, "Management: TSRs")
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ManagementScreen)
        assert screen.kind == "tsrs"
        assert "boss" in grid_text(screen, "tsrs")


def test_tsr3_adds_customer_and_server_then_script_builds(people):
    asyncio.run(_test_tsr3_adds_customer_and_server_then_script_builds(people))


def test_form_refuses_bad_name_and_reports_domain_errors(people):
    asyncio.run(_test_form_refuses_bad_name_and_reports_domain_errors(people))


def test_csr_browses_but_is_refused_changes(people):
    asyncio.run(_test_csr_browses_but_is_refused_changes(people))


def test_deactivate_edit_and_audit_of_a_server(people):
    asyncio.run(_test_deactivate_edit_and_audit_of_a_server(people))


def test_audit_screen_filters_and_shows_before_after(people):
    asyncio.run(_test_audit_screen_filters_and_shows_before_after(people))


def test_command_palette_opens_management(people):
    asyncio.run(_test_command_palette_opens_management(people))
