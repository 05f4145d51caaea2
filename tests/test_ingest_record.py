"""What ``Ingestor.record`` writes, as a user reads it back: the result's figures, what a
re-read of the same or an older log reports, what a replacement touches, and its audit row.

Pinned after the mutation run of ``Ingestor.record`` (bench/mutation.py, docs/testing.md).
"""

from __future__ import annotations

import datetime as dt

from test_ingest import (
    CLEAN_309,
    FAIL_309,
    LOG_TIME,
    NIGHT,
    NOW,
    PST,
    QBW,
    UNRECOGNISED_23,
    write_log,
)

from acorntui.db.models import Failure, Result, Server, Update
from acorntui.services.ingest import Ingestor


def result_of(server: str) -> Result:
    return Result.get(Result.server == Server.get(Server.name == server))


def test_a_result_holds_the_logs_figures(sqlite_db, tmp_path):
    # what `acorntui show` and the reports read: the summary figures, the log's path, size
    # and rsync version (empty when the log names none)
    p = write_log(tmp_path, "acme", "mail01", FAIL_309)
    q = write_log(tmp_path, "acme", "fs01", CLEAN_309)
    ing = Ingestor(now=NOW)
    ing.ingest_file(p)
    ing.ingest_file(q)
    r = result_of("mail01")
    assert (r.code, r.status, r.night) == (23, "failed", NIGHT)
    assert (r.sent_bytes, r.received_bytes, r.total_size) == (1234, 56, 9999)
    assert (r.bytes_per_sec, r.speedup) == (2580.0, 7.75)
    assert (r.log_path, r.log_size) == (str(p), p.stat().st_size)
    assert r.rsync_version == "3.0.9"
    assert (r.error_count, r.excepted_count) == (2, 0)
    assert result_of("fs01").rsync_version == ""


def test_a_long_version_tag_is_cut_to_the_column(sqlite_db, tmp_path):
    version = "3.2.7-" + "x" * 60
    log = FAIL_309.replace("[sender=3.0.9]", f"[sender={version}]")
    Ingestor(now=NOW).ingest_file(write_log(tmp_path, "acme", "mail01", log))
    assert result_of("mail01").rsync_version == version[:40]


def test_the_error_count_counts_failures_past_the_cap(sqlite_db, tmp_path):
    # 1,005 failing files: 1,000 are listed, the count says 1,005
    lines = "".join(f'rsync: send_files failed to open "/d/f{i}.pst": Permission denied (13)\n'
                    for i in range(1005))
    log = lines + FAIL_309.replace("\r", "")
    Ingestor(now=NOW).ingest_file(write_log(tmp_path, "acme", "mail01", log))
    r = result_of("mail01")
    assert r.error_count == 1005 + 2
    assert Failure.select().where(Failure.result == r.id).count() == 1000


def test_the_same_or_an_older_log_reports_the_stored_result(sqlite_db, tmp_path):
    # ingest says what the night holds, not what the file it skipped would have given
    p = write_log(tmp_path / "a", "globex", "sql01", UNRECOGNISED_23,
                  when=LOG_TIME + dt.timedelta(hours=1))
    first = Ingestor(now=NOW).ingest_file(p)
    stored = (first.result_id, "failed", 23, "unrecognised errors")
    assert (first.action, first.result_id, first.status, first.code, first.reason) == \
        ("created", *stored)
    again = Ingestor(now=NOW).ingest_file(p)
    assert (again.action, again.result_id, again.status, again.code, again.reason) == \
        ("unchanged", *stored)
    older = Ingestor(now=NOW).ingest_file(write_log(tmp_path / "b", "globex", "sql01", CLEAN_309))
    assert (older.action, older.result_id, older.status, older.code, older.reason) == \
        ("older", *stored)
    assert result_of("sql01").status == "failed"


def test_a_different_log_with_the_same_time_replaces_the_result(sqlite_db, tmp_path):
    # only a strictly older log is refused: a rewritten log with the same time is newer news
    Ingestor(now=NOW).ingest_file(write_log(tmp_path / "a", "acme", "mail01", FAIL_309))
    out = Ingestor(now=NOW).ingest_file(write_log(tmp_path / "b", "acme", "mail01", CLEAN_309))
    assert (out.action, out.status) == ("replaced", "ok")
    assert result_of("mail01").status == "ok"


def test_replacing_one_result_leaves_the_other_servers_alone(sqlite_db, tmp_path):
    spool = tmp_path / "spool"
    write_log(spool, "acme", "mail01", FAIL_309)
    write_log(spool, "acme", "fs01", FAIL_309)
    Ingestor(now=NOW).ingest_paths([spool])
    fs01 = result_of("fs01")
    write_log(spool, "acme", "mail01", CLEAN_309, when=LOG_TIME + dt.timedelta(hours=3))
    out = Ingestor(now=NOW).ingest_file(spool / "acme" / "mail01.out")
    assert out.action == "replaced"
    after = result_of("fs01")
    assert (after.code, after.status, after.error_count) == (23, "failed", 2)
    assert after.log_sha256 == fs01.log_sha256
    assert sorted(f.path for f in Failure.select().where(Failure.result == fs01.id)) == \
        sorted([PST, QBW])
    assert result_of("mail01").status == "ok"


def test_a_replacement_is_audited_with_its_server_and_result(sqlite_db, tmp_path):
    p = write_log(tmp_path, "acme", "mail01", FAIL_309)
    Ingestor(now=NOW).ingest_file(p)
    rid = result_of("mail01").id
    write_log(tmp_path, "acme", "mail01", CLEAN_309, when=LOG_TIME + dt.timedelta(hours=3))
    Ingestor(now=NOW).ingest_file(p)
    upd = Update.get(Update.action == "result.replace")
    assert (upd.table_name, upd.row_id, upd.result_id) == ("results", rid, rid)
    assert upd.server_id == Server.get(Server.name == "mail01").id
    assert upd.details == f"acme/mail01 night {NIGHT}: result replaced by a newer log"


def test_failure_rows_keep_line_kind_and_a_bounded_message(sqlite_db, tmp_path):
    # what `acorntui show` lists per failing file, and the unrecognised line of a 23 stored
    # as a failure without a path; a message is cut at 4,000 characters
    long_name = "/d/" + "n" * 5000
    log = (f'rsync: send_files failed to open "{long_name}": Permission denied (13)\n'
           + "rsync: something new went wrong " + "w" * 5000 + "\n"
           + FAIL_309.replace("\r", ""))
    Ingestor(now=NOW).ingest_file(write_log(tmp_path, "acme", "mail01", log))
    rows = {f.path: f for f in Failure.select().where(Failure.result == result_of("mail01").id)}
    assert (rows[PST].line, rows[PST].kind, rows[PST].excepted) == (5, "open_failed", False)
    assert rows[PST].message == (f'rsync: send_files failed to open "{PST}": '
                                 "Permission denied (13)")
    assert (rows[long_name].line, rows[long_name].kind) == (1, "open_failed")
    assert len(rows[long_name].message) == 4000
    note = rows[""]
    assert (note.kind, note.excepted, note.exception_id) == ("unrecognised", False, None)
    assert note.message.startswith("rsync: something new went wrong www")
    assert len(note.message) == 4000


def test_one_batch_naming_a_server_twice_records_it_once(sqlite_db, tmp_path):
    # the same log given twice, then a newer copy, in one `ingest` command
    p = write_log(tmp_path / "a", "acme", "mail01", FAIL_309)
    q = write_log(tmp_path / "b", "acme", "mail01", CLEAN_309,
                  when=LOG_TIME + dt.timedelta(hours=1))
    rep = Ingestor(now=NOW).ingest_paths([p, p, q])
    assert [o.action for o in rep.outcomes] == ["created", "unchanged", "replaced"]
    assert len({o.result_id for o in rep.outcomes}) == 1
    assert Result.select().count() == 1 and result_of("mail01").status == "ok"


def test_a_replacement_is_seen_by_the_consoles_poll(sqlite_db, tmp_path):
    # the console's night screen reloads when night_signature changes: a replaced result
    # (same count of results, no acknowledgement) shows through its new parse time, which
    # has whole seconds: the newer log comes in a later second, as it does in real life
    import time

    from acorntui.db.models import utcnow
    from acorntui.services.queries import night_signature

    p = write_log(tmp_path, "acme", "mail01", FAIL_309)
    Ingestor(now=NOW).ingest_file(p)
    before = night_signature(NIGHT)
    while utcnow() <= before[2]:  # wait for the clock's next second
        time.sleep(0.02)
    write_log(tmp_path, "acme", "mail01", CLEAN_309, when=LOG_TIME + dt.timedelta(hours=3))
    assert Ingestor(now=NOW).ingest_file(p).action == "replaced"
    after = night_signature(NIGHT)
    assert after[:2] == before[:2] and after[2] > before[2]


def test_a_result_keeps_rsyncs_error_lines_and_the_logs_last_lines(sqlite_db, tmp_path):
    # what history's "Why" and the log viewer show for an older night: rsync's error lines
    # with their line numbers, and the log's last lines as they were
    from acorntui.services.why import night_why

    p = write_log(tmp_path, "acme", "mail01", FAIL_309)
    Ingestor(now=NOW).ingest_file(p)
    w = night_why(result_of("mail01").id)
    assert [(x.line, x.kind, x.text) for x in w.why_lines] == [
        (3, "error", f'rsync: send_files failed to open "{PST}": Permission denied (13)'),
        (4, "error", f'rsync: send_files failed to open "{QBW}": Device or resource busy (16)'),
        (8, "error", "rsync error: some files could not be transferred (code 23) at "
                     "main.c(1039) [sender=3.0.9]"),
    ]
    assert w.why_count == 3
    assert w.tail == FAIL_309.replace("\r", "").rstrip("\n").split("\n")  # the short log whole


def test_a_real_log_replaces_a_failed_fetchs_error(sqlite_db, tmp_path):
    # the report server answered the second time: the night shows the log, not the old error
    from acorntui.services.ingest import record_fetch_failed
    from acorntui.services.why import night_why

    ing = Ingestor(now=NOW)
    res = record_fetch_failed("acme", "mail01", NIGHT, "reports1: timed out", ingestor=ing)
    assert night_why(res.id).fetch_error == "reports1: timed out"
    Ingestor(now=NOW).ingest_file(write_log(tmp_path, "acme", "mail01", FAIL_309))
    w = night_why(res.id)
    assert (w.status, w.fetch_error) == ("failed", "")


def test_a_failed_fetch_keeps_its_whole_error_created_or_over_a_missing_night(sqlite_db):
    # the reason column is cut at 255; the console's Why shows the whole error
    from acorntui.services.ingest import MAX_FETCH_ERROR, record_fetch_failed
    from acorntui.services.why import night_why

    long = "reports1: " + "permission denied on /reports/acme/x " * 200
    ing = Ingestor(now=NOW)
    made = record_fetch_failed("acme", "mail01", NIGHT, long, ingestor=ing)
    assert night_why(made.id).fetch_error == long[:MAX_FETCH_ERROR]
    assert len(made.reason) == 255
    # a night the missing pass marked first, then the pull failed
    Server.create(customer=Server.get(Server.name == "mail01").customer, name="fs02")
    ing2 = Ingestor(now=NOW)
    ing2.record_missing(NIGHT)
    fs02 = result_of("fs02")
    assert (fs02.code, fs02.fetch_error) == (-2, None)
    over = record_fetch_failed("acme", "fs02", NIGHT, "reports1: connection refused",
                               ingestor=ing2)
    assert over.id == fs02.id
    w = night_why(over.id)
    assert (w.status, w.code, w.fetch_error) == ("fetch_failed", -2,
                                                 "reports1: connection refused")


def test_a_failed_fetch_is_recorded_as_the_person_given(sqlite_db):
    # the nightly job passes its ingestor; a caller may pass a person instead: that person's
    # role decides, not the login the process runs under (not a person in this database)
    from acorntui.db.models import Csr, Tsr
    from acorntui.services.ingest import record_fetch_failed
    from acorntui.services.roles import PermissionDenied, User, current_login

    Tsr.create(name="Tess", login="tess", level=1)
    Csr.create(name="Cal", login="cal")
    assert current_login() not in ("tess", "cal")
    made = record_fetch_failed("acme", "mail01", NIGHT, "timed out",
                               user=User("tess", "tsr", "Tess", 1))
    assert made is not None and made.status == "fetch_failed"
    try:
        record_fetch_failed("acme", "fs01", NIGHT, "timed out", user=User("cal", "csr", "Cal", 0))
    except PermissionDenied:
        pass
    else:
        raise AssertionError("a CSR recorded a failed fetch")
    assert not Server.select().where(Server.name == "fs01").exists()


def test_the_reason_says_how_many_failures_past_the_cap_are_not_listed(sqlite_db, tmp_path):
    # a log with more failing files than are kept: the reason says the rest are never excepted
    lines = "".join(f'rsync: send_files failed to open "/d/f{i}.pst": Permission denied (13)\n'
                    for i in range(1003))
    log = lines + FAIL_309.replace("\r", "")
    out = Ingestor(now=NOW).ingest_file(write_log(tmp_path, "acme", "mail01", log))
    assert out.status == "failed"
    assert out.reason.endswith("; 5 past the first 1000 not listed, never excepted")
    assert result_of("mail01").reason == out.reason


def test_a_file_named_by_a_person_may_sit_behind_a_folder_link(sqlite_db, tmp_path):
    # only a spool listing refuses linked customer folders (a swapped folder); a TSR who runs
    # `acorntui ingest` on a file they name may reach it through a link
    real = write_log(tmp_path / "real", "acme", "mail01", FAIL_309).parent
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "acme").symlink_to(real, target_is_directory=True)
    report = Ingestor(now=NOW).ingest_paths([tmp_path / "links" / "acme" / "mail01.out"])
    assert [(o.action, o.status, o.error) for o in report.outcomes] == [
        ("created", "failed", "")]
