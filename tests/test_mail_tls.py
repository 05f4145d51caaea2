"""Mail over TLS (``security = "tls"``) and STARTTLS against aiosmtpd with a throwaway
self-signed certificate, trusted through ``[mail] ca_file``; a wrong or missing CA is a clear
certificate error and the report stays in the outbox."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from conftest import skip_or_fail
from smtp_server import SMTPServer, _Authenticator, _Handler, free_port
from test_mail import SECRET, estate, outbox, write_config  # noqa: F401
from test_reports import N

from acorntui.cli.main import main
from acorntui.config import load_config
from acorntui.reports.mail import send_daily_reports

# aiosmtpd warns about auth_require_tls=False, which the implicit-TLS server needs (see below)
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

try:  # paramiko needs cryptography, so it is normally there; without it, skip or fail
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
except ImportError:
    x509 = None


def self_signed(folder: Path, name: str, *, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` (an IP SAN); returns (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"acorn test {name}")])
    now = dt.datetime.now(dt.UTC)
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def start_tls_smtp(cert: Path, key: Path, *, mode: str) -> SMTPServer:
    """aiosmtpd with implicit TLS (``mode="tls"``) or STARTTLS required (``"starttls"``);
    login required, and only over TLS (aiosmtpd's default)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    handler = _Handler()
    port = free_port()
    auth = {"authenticator": _Authenticator("acorn", SECRET), "auth_required": True}
    if mode == "tls":
        # aiosmtpd does not count implicit TLS as TLS for its auth_require_tls check; the
        # whole connection is TLS here, so let AUTH through
        controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=ctx,
                                auth_require_tls=False, **auth)
    else:
        controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=ctx,
                                require_starttls=True, **auth)
    controller.start()
    return SMTPServer("127.0.0.1", port, controller, handler, "acorn", SECRET)


@pytest.fixture
def certs(tmp_path):
    if x509 is None:
        skip_or_fail("cryptography is not installed: no test certificates")
    folder = tmp_path / "certs"
    folder.mkdir()
    return {"server": self_signed(folder, "server"), "other": self_signed(folder, "other"),
            "wrong_host": self_signed(folder, "wronghost", host="mail.example.org")}


def configure(tmp_path, monkeypatch, outbox, port: int, mode: str,  # noqa: F811
              ca_file: Path | None) -> None:
    monkeypatch.setenv("ACORN_SMTP_PW", SECRET)
    extra = f'ca_file = "{ca_file}"' if ca_file else ""
    write_config(tmp_path, monkeypatch, outbox, port=port, user="acorn",
                 password_env="ACORN_SMTP_PW", extra=extra)
    path = Path(load_config().path)
    path.write_text(path.read_text().replace('security = "none"', f'security = "{mode}"'))


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_mail_arrives_over_tls_with_ca_file(estate, outbox, tmp_path, monkeypatch,  # noqa: F811
                                            certs, capsys, mode):
    cert, key = certs["server"]
    srv = start_tls_smtp(cert, key, mode=mode)
    try:
        configure(tmp_path, monkeypatch, outbox, srv.port, mode, cert)
        assert load_config().mail.security == mode
        assert main(["--db", f"sqlite:///{tmp_path / 'acorn.db'}", "report", "failures",
                     "--email"]) == 0, capsys.readouterr().err
        (m,) = srv.messages
        assert m.auth_user == "acorn"
        assert m.subject.startswith("Backups 2026-11-25:")
        assert not list(outbox.glob("*.eml"))
        assert send_daily_reports(load_config(), N) == []
        assert len(srv.messages) == 3
    finally:
        srv.stop()


@pytest.mark.parametrize("mode", ["starttls", "tls"])
@pytest.mark.parametrize("trust", ["wrong_ca", "no_ca_file", "wrong_host"])
def test_untrusted_certificate_is_a_clear_error_and_the_report_is_kept(
        estate, outbox, tmp_path, monkeypatch, certs, capsys, mode, trust):  # noqa: F811
    cert, key = certs["wrong_host" if trust == "wrong_host" else "server"]
    ca = {"wrong_ca": certs["other"][0], "no_ca_file": None, "wrong_host": cert}[trust]
    srv = start_tls_smtp(cert, key, mode=mode)
    try:
        configure(tmp_path, monkeypatch, outbox, srv.port, mode, ca)
        rc = main(["--db", f"sqlite:///{tmp_path / 'acorn.db'}", "report", "failures",
                   "--email"])
        out = capsys.readouterr()
        assert rc == 1 and not srv.messages
        assert f"SMTP server 127.0.0.1:{srv.port}: certificate not trusted: " in out.err
        if trust == "wrong_host":
            assert "IP address mismatch" in out.err or "mismatch" in out.err.lower()
        else:
            assert "self-signed certificate" in out.err or "self signed" in out.err
        if ca:
            assert f"checked against ca_file {ca}" in out.err
        else:
            assert "set ca_file in [mail]" in out.err
        assert "Traceback" not in out.err and SECRET not in out.err + out.out
        (kept,) = outbox.glob("*.eml")
        assert f"kept in {kept}" in out.err
        assert "Backups 2026-11-25" in kept.read_text() and SECRET not in kept.read_text()
    finally:
        srv.stop()


def test_unreadable_ca_file_is_named(estate, outbox, tmp_path, monkeypatch, certs):  # noqa: F811
    cert, key = certs["server"]
    srv = start_tls_smtp(cert, key, mode="starttls")
    try:
        missing = tmp_path / "nope.pem"
        configure(tmp_path, monkeypatch, outbox, srv.port, "starttls", missing)
        problems = send_daily_reports(load_config(), N)
        assert len(problems) == 2 and not srv.messages
        assert all(f"[mail] ca_file {missing}: cannot load it" in p for p in problems)
        assert len(list(outbox.glob("*.eml"))) == 2
    finally:
        srv.stop()
