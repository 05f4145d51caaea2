"""Properties of acorntui.core.parser over arbitrary input (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acorntui.core.parser import KINDS, ParseResult, parse_bytes, parse_number

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

CLEAN_BODY = (
    b"building file list ... done\n"
    b"/cygdrive/D/atc/exchbak/publicfolders.bkf\n"
    b"\n"
    b"sent 23990367 bytes  received 120237 bytes  1176127.02 bytes/sec\n"
)
TOTAL = b"total size is 294748160  speedup is 12.22\n"

FRAGMENTS = [
    b"rsync: ", b"[sender] ", b'send_files failed to open "', b'link_stat "', b'" failed: ',
    b'": Permission denied (13)', b"file has vanished: ", b"rsync error: ", b"rsync warning: ",
    b"(code 23)", b"(code 0)", b"(code 999999999999)", b" at main.c(1039) ", b"[sender=3.0.9]",
    b"total size is ", b"speedup is ", b"sent ", b" bytes  received ", b" bytes/sec",
    b"1,68", b"22.88M", b"\r\n", b"\n", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xf6", b'"',
    b"\\#033", b"ERROR: ", b" failed verification -- update discarded.",
    b"cannot delete non-empty directory: ", b"Number of files: ", b"delete_file: unlink(",
]
log_like = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=20)),
                    max_size=40).map(b"".join)


def check(result: ParseResult) -> None:
    assert isinstance(result, ParseResult)
    assert isinstance(result.code, int)
    assert result.code == -2 or 0 <= result.code <= 255
    assert result.reason in (None, "incomplete", "stale")
    assert (result.reason is None) == (result.code != -2)
    if result.codes_seen:
        assert result.code == result.codes_seen[-1]
    for f in result.failures:
        assert f.kind in KINDS and isinstance(f.path, str) and f.path
        assert f.line >= 1 and "\n" not in f.message and "\r" not in f.message
    assert len(result.unrecognised_errors) <= 100
    result.to_dict()


@SETTINGS
@given(st.binary(max_size=4096))
def test_any_bytes_give_a_result(data):
    check(parse_bytes(data))


@SETTINGS
@given(log_like)
def test_log_like_bytes_give_a_result(data):
    check(parse_bytes(data))


@SETTINGS
@given(log_like, st.sampled_from([b"", b"\n", b"\r\n", b"\n\n  \n", b"\x00" * 7]))
def test_no_code_line_and_no_final_total_is_never_0(prefix, ending):
    """Removing the final 'total size is' line of a clean log never leaves code 0."""
    data = prefix + b"\n" + CLEAN_BODY + ending
    r = parse_bytes(data)
    check(r)
    if not r.codes_seen:
        assert (r.code, r.reason) == (-2, "incomplete")
    assert r.code != 0


@SETTINGS
@given(st.sampled_from([b"", b"\n", b"\r\n", b"\x00" * 3, b"\n\x00\x00"]), st.booleans())
def test_clean_log_with_total_last_is_0(ending, crlf):
    data = CLEAN_BODY + TOTAL.rstrip(b"\n") + ending
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    r = parse_bytes(data)
    assert r.code == 0 and r.stats.total_size == 294748160


@SETTINGS
@given(st.binary(max_size=2000))
def test_utf16_transcoding_of_any_bytes_gives_a_result(data):
    check(parse_bytes(b"\xff\xfe" + data))


@SETTINGS
@given(st.text(max_size=30), st.booleans())
def test_parse_number_never_raises(text, decimal):
    value = parse_number(text, decimal=decimal)
    assert value is None or isinstance(value, float if decimal else int)


@SETTINGS
@given(st.integers(min_value=0, max_value=10**15))
def test_parse_number_round_trips_grouped_integers(n):
    assert parse_number(str(n)) == n
    assert parse_number(f"{n:,}") == n
    assert parse_number(f"{n:,}".replace(",", ".")) == n
