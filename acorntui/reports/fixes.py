"""What to do about a bad night: one fix per (code, reason), written once per report.

The code table's resolution often says only "See Translation." and the -2 resolution covers
three different cases in one paragraph. A mail shows each distinct fix once, in its "What to
do" section, keyed by code and reason; server rows point to it by key.
"""

from __future__ import annotations

from dataclasses import dataclass

from acorntui.core.status import FETCH_FAILED, INCOMPLETE

NO_RESULT = "no_data"  # queries.NO_DATA (kept literal: this module needs no database)

# -2 is what the parser records when rsync wrote no completion code; the reason says why
_MINUS2 = {
    "missing": (
        "log missing",
        "No stats.out arrived for this night: the backup did not run, or its log was not "
        "uploaded to the report server.",
        "On the customer server, check that the Backup to Acorn scheduled task ran (and that "
        "\"Run only when on AC power\" is off), then that Upload Stats uploaded stats.out. "
        "Once the log is on the report server, run `acorntui nightly` (or fetch and ingest) "
        "again."),
    "stale": (
        "log stale",
        "The newest stats.out on the report server is older than the age rule: last night's "
        "backup wrote no new log, or it was not uploaded.",
        "Check that the Backup to Acorn and Upload Stats scheduled tasks ran last night; "
        "re-run Upload Stats, then fetch and ingest again."),
    "incomplete": (
        "log cut off",
        "The log stops before rsync's completion code: the backup was still running when the "
        "log was uploaded, was killed, or the frontend server stopped answering.",
        "If it is still running, watch it today; when it ends with 0, 23 or 24, re-run Upload "
        "Stats and ingest again. If it was killed, make sure \"Run only when on AC power\" is "
        "off for the Backup to Acorn task. If it recurs, the customer may have too much "
        "changing data: trim PSTs or back that data up another way."),
    "future": (
        "clock ahead",
        "The log is dated after the report server's clock: the customer server's clock (or "
        "time zone) is wrong, so the night it belongs to cannot be trusted.",
        "Correct the customer server's clock (time zone and NTP sync), then re-run Upload "
        "Stats and ingest again."),
}

_FETCH_FAILED = (
    "fetch failed",
    "Our own pull of the log from the report server failed; this says nothing about the "
    "customer's backup.",
    "Check `acorntui fetch` and the report server (SSH, disk, permissions), then run "
    "`acorntui nightly` or fetch and ingest again.")

_NO_RESULT = (
    "no result",
    "No result was recorded for this night.",
    "Check that the server's stats.out was uploaded to the report server and that "
    "`acorntui fetch` and `ingest` ran.")

# codes whose shipped resolution is only "See Translation.": the action, written out
_FIX_FOR_CODE = {
    1: "Fix the rsync command line in the customer's backup script (backup.bat), then re-run "
       "the Backup to Acorn scheduled task.",
    5: "Read the log for why rsync could not start talking to our backup server; if the "
       "backup server refused it, a TSR3 must check that server.",
    11: "Nothing to fix for a file that could not be deleted; files that fail for another "
        "reason are listed with the server.",
    20: "Restart the Backup to Acorn scheduled task; if it finishes, ingest again. If several "
        "servers on one custbak show it, a TSR3 must check that custbak or frontend.",
    21: "Re-run the Backup to Acorn scheduled task; if it recurs, look for what stalls rsync "
        "(antivirus, memory, disk).",
    22: "Update rsync on the customer server, then re-run the Backup to Acorn scheduled task.",
    25: "Remove --max-delete from the customer's backup script, then re-run the backup.",
    30: "Raise rsync's --timeout in the backup script and check the customer's Internet "
        "connection, then re-run the Backup to Acorn scheduled task.",
}

CUSTBAK_OUTAGE_FIX = ("Several servers on one custbak went bad on the same night: the custbak "
                      "(or its frontend) is the likely cause, not the customers. A TSR3 must "
                      "check it first; the servers' own fixes can wait for that.")


@dataclass(frozen=True)
class Fix:
    key: str  # e.g. "23", "-2 log missing", "fetch failed": what server rows point to
    title: str  # the code's short name
    meaning: str  # the translation: what happened
    todo: str  # what to do


def _strip_see(text: str) -> str:
    text = (text or "").strip()
    for lead in ("See Translation.", "See translation."):
        if text.startswith(lead):
            text = text[len(lead):].strip()
    return text


def fix_for(status: str, reason: str, code: int | None, jargon: str, translation: str,
            resolution: str) -> Fix:
    """The fix that fits a bad night: by reason for -2, fetch failures and no result, else by
    code."""
    if status == NO_RESULT:
        k, meaning, todo = _NO_RESULT
        return Fix(k, "No result", meaning, todo)
    if status == FETCH_FAILED:
        k, meaning, todo = _FETCH_FAILED
        return Fix(k, "Log not fetched", meaning, todo)
    if code == -2 or (status == INCOMPLETE and code is None):
        k, meaning, todo = _MINUS2.get(reason or "incomplete", _MINUS2["incomplete"])
        return Fix(f"-2 {k}", f"Backup did not complete ({k})", meaning, todo)
    if code is None:
        return Fix("no code", "No completion code", translation or "", resolution or "")
    todo = _FIX_FOR_CODE.get(code) or _strip_see(resolution) or "See the meaning above."
    return Fix(str(code), jargon or f"code {code}", (translation or "").strip(), todo)


def meaning_label(status: str, reason: str, jargon: str) -> str:
    """The short meaning of a row's code for tables: honest for fetch failures and -2."""
    if status == FETCH_FAILED:
        return "Log not fetched"
    if status == NO_RESULT:
        return "No result"
    if status == INCOMPLETE and reason in _MINUS2:
        return f"Backup did not complete ({_MINUS2[reason][0]})"
    return jargon
