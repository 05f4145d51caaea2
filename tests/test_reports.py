"""Report queries against hand-built histories, the renderers, and `acorntui report`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest

from acorntui.cli.main import main
from acorntui.core.status import FAILED, FETCH_FAILED, INCOMPLETE, OK, OK_WITH_EXCEPTIONS
from acorntui.db.models import Csr, Customer, Failure, Result, Server, Tsr
from acorntui.reports.build import build_report, render, render_html, render_text
from acorntui.services import queries

N = dt.date(2026, 11, 25)
CODES = {OK: 0, OK_WITH_EXCEPTIONS: 23, FAILED: 23, INCOMPLETE: -2, FETCH_FAILED: -2}
EVIL = 'E:/data/<script>alert("x")</script>\x1b[31m&amp;.pst'


def d(n: int) -> dt.date:
    """N minus n nights."""
    return N - dt.timedelta(days=n)


def server(customer: str, name: str, **kw) -> Server:
    c, _ = Customer.get_or_create(name=customer, defaults={"csr": kw.pop("csr", None)})
    return Server.create(customer=c, name=name, **kw)


def result(s: Server, night: dt.date, status: str, code: int | None = None, *,
           files: tuple[tuple[str, bool], ...] = (), reason: str = "", ack: str = "") -> Result:
    r = Result.create(server=s, night=night, status=status,
                      code=CODES[status] if code is None else code,
                      reason=reason or ("missing" if status == INCOMPLETE else ""),
                      error_count=len(files), excepted_count=sum(x for _, x in files),
                      ack_note=ack, ack_by="jdoe" if ack else "")
    for i, (path, excepted) in enumerate(files):
        Failure.create(result=r, path=path, message="send_files failed to open", line=i + 1,
                       excepted=excepted)
    return r


def history(s: Server, spec: dict[int, str]) -> None:
    """spec: nights-before-N -> status; nights not named have no result (missing)."""
    for n, status in spec.items():
        result(s, d(n), status)


@pytest.fixture
def world(request):
    """A small estate with known histories (works on whichever database is bound)."""
    w = {}
    # steady: good every night for 15 nights
    w["steady"] = s = server("acme", "dc1")
    history(s, {n: OK for n in range(15)})
    # streaky: an early 6-night bad run with two missing nights inside it, then a current
    # 5-night bad run that crosses a missing night
    w["streaky"] = s = server("acme", "exch", custbak="cb1")
    history(s, {14: OK, 13: FAILED, 10: FAILED, 9: INCOMPLETE, 8: FAILED, 7: OK,
                6: OK_WITH_EXCEPTIONS, 5: OK, 4: FAILED, 2: FAILED, 1: INCOMPLETE})
    result(s, N, FAILED, files=(("E:/mail/big.pst", False), ("E:/mail/known.pst", True),
                                (EVIL, False)), ack="looking at it")
    # leading: bad for its first 7 nights (one missing), good since; a later night ignored
    w["leading"] = s = server("globex", "files")
    history(s, {9: FAILED, 8: FAILED, 6: FAILED, 5: INCOMPLETE, 4: FAILED, 3: FAILED,
                2: OK, 1: OK, 0: OK, -1: FAILED})
    # never: never good, missing the night before last
    w["never"] = s = server("globex", "sql")
    history(s, {3: FAILED, 1: FAILED})
    result(s, N, INCOMPLETE, code=-2, reason="stale")
    # fetch: our pull failed last night
    w["fetch"] = s = server("initech", "web")
    history(s, {2: OK, 1: OK})
    result(s, N, FETCH_FAILED, reason="fetch failed: timed out")
    # nodata: good two nights ago, then nothing at all
    w["nodata"] = s = server("initech", "app")
    history(s, {3: FAILED, 2: OK})
    # snoozed: failing but snoozed past the night
    w["snoozed"] = s = server("initech", "old", snoozed_until=d(-3), snooze_reason="migrating")
    history(s, {2: FAILED, 1: FAILED, 0: FAILED})
    # inactive: failing but retired
    w["inactive"] = s = server("initech", "gone", active=False)
    history(s, {2: FAILED, 1: FAILED, 0: FAILED})
    # one good night inside the three: not in the three-day report
    w["blip"] = s = server("acme", "print")
    history(s, {2: FAILED, 1: OK_WITH_EXCEPTIONS, 0: FAILED})
    return w


def by_server(rows):
    return {f"{r.customer}/{r.server}": r for r in rows}


# ---- queries ---------------------------------------------------------------------------------


def test_nightly_rows_streaks_cross_missing_nights(any_db, world):
    rows = by_server(queries.nightly_rows(N))
    assert "initech/gone" not in rows  # inactive servers are not listed
    assert len(rows) == 8
    ex = rows["acme/exch"]
    assert (ex.status, ex.code, ex.jargon) == (FAILED, 23, "Partial transfer due to error")
    assert ex.last_good == d(5) and ex.bad_streak == 5  # N-3 had no result: still bad
    assert (ex.new_errors, ex.recurring_errors, ex.error_count) == (3, 0, 3)
    assert ex.ack_note == "looking at it"
    assert rows["globex/sql"].last_good is None
    assert rows["globex/sql"].bad_streak == 4  # first result N-3, missing N-2 counts
    assert rows["initech/app"].status == queries.NO_DATA
    assert (rows["initech/app"].last_good, rows["initech/app"].bad_streak) == (d(2), 2)
    assert rows["acme/dc1"].bad_streak == 0 and rows["acme/dc1"].last_good == N
    assert rows["initech/old"].snoozed and not rows["initech/old"].counts_as_failing


def test_history_stats_against_hand_counts(any_db, world):
    ids = {k: s.id for k, s in world.items()}
    stats = queries.history_stats(N)
    ex = stats[ids["streaky"]]
    assert (ex.first_night, ex.nights) == (d(14), 15)
    assert (ex.ok, ex.ok_with_exceptions, ex.failed, ex.incomplete, ex.missing) == (3, 1, 6, 2, 3)
    assert ex.success_rate == pytest.approx(4 / 15)
    assert (ex.longest_bad_streak, ex.current_bad_streak, ex.last_good) == (6, 5, d(5))
    lead = stats[ids["leading"]]  # the N+1 failure is after the report night: ignored
    assert (lead.failed, lead.incomplete, lead.missing, lead.ok) == (5, 1, 1, 3)
    assert (lead.longest_bad_streak, lead.current_bad_streak, lead.last_good) == (7, 0, N)
    nev = stats[ids["never"]]
    assert (nev.nights, nev.missing, nev.longest_bad_streak, nev.current_bad_streak) == (4, 1, 4, 4)
    assert nev.last_good is None and nev.success_rate == 0
    steady = stats[ids["steady"]]
    assert (steady.ok, steady.longest_bad_streak, steady.success_rate) == (15, 0, 1.0)
    # the one-server path gives the same answer as the whole-table path
    one = queries.history_stats(N, [ids["streaky"]])
    assert one == {ids["streaky"]: ex}
    # as of an earlier night, later results do not count
    earlier = queries.history_stats(d(7), [ids["streaky"]])[ids["streaky"]]
    assert (earlier.nights, earlier.current_bad_streak, earlier.longest_bad_streak) == (8, 0, 6)


def test_failures_report_lists_what_to_do_and_open_files(any_db, world):
    rep = build_report("failures", N)
    listed = by_server(e.row for e in rep.entries)
    assert set(listed) == {"acme/exch", "globex/sql", "initech/web", "initech/app",
                           "acme/print"}
    e = next(e for e in rep.entries if e.row.server == "exch")
    assert e.resolution.startswith("In the event of there being a file that is failing")
    assert [f.path for f in e.files] == ["E:/mail/big.pst", EVIL]  # the excepted one is not
    assert e.open_files == 2
    nodata = next(e for e in rep.entries if e.row.server == "app")
    assert "No result was recorded" in nodata.resolution
    fetch = next(e for e in rep.entries if e.row.server == "web")
    assert "says nothing about the customer's backup" in fetch.resolution
    assert rep.subject == "Backups 2026-11-25: 2 failed, 2 incomplete, 1 not fetched of 8 servers"


def test_three_day_report_counts_missing_nights_as_not_ok(any_db, world):
    rep = build_report("failures", N, days=3)
    got = {f"{e.row.customer}/{e.row.server}": e.nights for e in rep.entries}
    assert got == {
        # missing N-3 is outside the window; N-2 failed, N-1 incomplete, N failed
        "acme/exch": [FAILED, INCOMPLETE, FAILED],
        # N-2 has no result: it counts as not ok
        "globex/sql": [queries.NO_DATA, FAILED, INCOMPLETE],
    }
    assert rep.nights == [d(2), d(1), N]
    assert rep.subject == ("Backups 2026-11-23 to 2026-11-25: 2 of 8 servers not ok "
                           "3 nights running")
    four = build_report("failures", N, days=4)  # initech/app: failed, ok, -, -: not listed
    assert {e.row.server for e in four.entries} == {"exch", "sql"}
    two = build_report("failures", N, days=2)
    assert {e.row.server for e in two.entries} == {"exch", "sql", "app"}


def test_history_report_matrix_and_one_server(any_db, world):
    rep = build_report("history", N, days=4)
    e = {f"{x.customer}/{x.server}": x for x in rep.entries}
    assert e["acme/exch"].matrix == [queries.NO_DATA, FAILED, INCOMPLETE, FAILED]
    assert e["globex/files"].matrix == [FAILED, OK, OK, OK]
    assert "initech/gone" not in e
    # worst first: the longest current bad streak leads
    assert rep.entries[0].server == "exch" and rep.entries[0].stats.current_bad_streak == 5
    one = build_report("history", N, server="acme/exch", days=15)
    assert [x.server for x in one.entries] == ["exch"]
    assert one.entries[0].matrix[0] == OK and one.entries[0].matrix[2] == queries.NO_DATA


def test_customer_filter(sqlite_db, world):
    rep = build_report("nightly", N, customer="globex")
    assert {r.server for r in rep.entries} == {"files", "sql"}
    hist = build_report("history", N, customer="globex")
    assert {x.server for x in hist.entries} == {"files", "sql"}


# ---- renderers -------------------------------------------------------------------------------


def test_text_is_an_aligned_table_and_neutralises_controls(sqlite_db, world):
    text = render_text(build_report("nightly", N))
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("Customer"))
    header, rule = lines[head], lines[head + 1]
    starts = [m.start() for m in re.finditer(r"\S+", rule)]
    assert [m.start() for m in re.finditer(r"(?<!\S)\S", header)][:4] == starts[:4]
    row = next(line for line in lines if line.startswith("acme") and " exch " in line)
    assert row.index("FAILED") == header.index("Status")
    assert "\x1b" not in text
    fail = render_text(build_report("failures", N))
    assert "\\#033[31m" in fail  # the escape shown rsync-style, not sent to the terminal
    assert "\nWhat to do\n" in fail and "E:/mail/big.pst" in fail
    assert "E:/mail/known.pst" not in fail  # excepted


def test_csv_and_json_round_trip(sqlite_db, world):
    rep = build_report("failures", N, days=3)
    rows = list(csv.DictReader(io.StringIO(render(rep, "csv"))))
    assert {(r["customer"], r["server"]) for r in rows} == {("acme", "exch"), ("globex", "sql")}
    exch = next(r for r in rows if r["server"] == "exch")
    assert exch["status_2026-11-24"] == INCOMPLETE and exch["open_files"] == "2"
    data = json.loads(render(rep, "json"))
    assert data["report"] == "failures" and data["days"] == 3 and data["night"] == "2026-11-25"
    srv = next(s for s in data["servers"] if s["server"] == "exch")
    assert srv["files"][1]["path"] == EVIL  # JSON keeps the name exactly
    assert srv["nights"] == {"2026-11-23": FAILED, "2026-11-24": INCOMPLETE,
                             "2026-11-25": FAILED}
    hist = list(csv.DictReader(io.StringIO(render(build_report("history", N, days=3), "csv"))))
    exch = next(r for r in hist if r["server"] == "exch")
    assert (exch["longest_bad_streak"], exch["no_result"], exch["2026-11-24"]) == (
        "6", "3", INCOMPLETE)


def test_csv_neutralises_formulas(sqlite_db):
    s = server("acme", "=cmd|'/c calc'!A1")
    result(s, N, FAILED, files=(("@SUM(A1)", False),))
    rows = list(csv.DictReader(io.StringIO(render(build_report("failures", N), "csv"))))
    assert rows[0]["server"] == "'=cmd|'/c calc'!A1" and rows[0]["files"] == "'@SUM(A1)"


def test_html_escapes_every_value_and_shows_status_words(sqlite_db, world):
    page = render_html(build_report("failures", N))
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script>" not in page and '&lt;script&gt;alert("x")' in page
    assert "&amp;amp;.pst" in page  # a literal "&amp;" in a name stays literal
    assert "\x1b" not in page
    assert "<link" not in page and "src=" not in page and "break-all" not in page
    # the CSS is inlined; only the phone layout's @media block stays in <style>
    assert [s.strip()[:6] for s in re.findall(r"<style>(.*?)</style>", page, re.S)] == ["@media"]
    assert re.search(r'<span class="st st-failed" style="[^"]*background: #b3261e;[^"]*">'
                     r"FAILED</span>", page)
    assert "INCOMPLETE (log stale)" in page and "FETCH FAILED" in page and "NO RESULT" in page
    hist = render_html(build_report("history", N, days=3))
    assert 'title="2026-11-24: INCOMPLETE"' in hist


# ---- command line ----------------------------------------------------------------------------


def test_cli_report_formats_default_night_and_output(sqlite_db, sqlite_url, world, tmp_path,
                                                     capsys):
    assert main(["--db", sqlite_url, "report", "nightly", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # the latest night with results is N+1 (one server reported after the others)
    assert data["night"] == (N + dt.timedelta(days=1)).isoformat()
    assert main(["--db", sqlite_url, "report", "failures", "--night", "2026-11-25",
                 "--days", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3-night failure report, 2026-11-23 to 2026-11-25")
    assert "exch" in out and "dc1" not in out
    dest = tmp_path / "r.html"
    assert main(["--db", sqlite_url, "report", "history", "--night", "2026-11-25",
                 "--server", "acme/exch", "--format", "html", "--output", str(dest)]) == 0
    assert capsys.readouterr().out == ""
    assert "exch" in dest.read_text() and "dc1" not in dest.read_text()
    assert main(["--db", sqlite_url, "report", "nightly", "--night", "25/11/2026"]) == 2
    assert "not a date" in capsys.readouterr().err
    assert main(["--db", sqlite_url, "report", "history", "--server", "acme/nope"]) == 1
    assert "no server acme/nope" in capsys.readouterr().err


def test_cli_report_on_an_empty_database(sqlite_url, capsys):
    assert main(["--db", sqlite_url, "report", "nightly"]) == 1
    assert "no results in the database yet" in capsys.readouterr().err


def test_routing_rows_have_rep_links(sqlite_db):
    # guards the assumption routing relies on: the rows carry the customer id
    csr = Csr.create(name="Cy", login="cy", email="cy@example.com")
    tsr = Tsr.create(name="Ty", login="ty", email="ty@example.com")
    s = server("acme", "a1", csr=csr, tsr=tsr)
    result(s, N, FAILED)
    (row,) = queries.nightly_rows(N)
    assert row.customer_id == s.customer_id and row.tsr == "ty"
