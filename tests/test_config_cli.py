"""Config precedence, `config path|show`, `codes`, layering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from acorntui.cli.main import main
from acorntui.config import load_config, resolve_db_url

ROOT = Path(__file__).resolve().parent.parent


def test_db_url_precedence(tmp_path, monkeypatch):
    cfgfile = tmp_path / "c.toml"
    cfgfile.write_text('[database]\nurl = "sqlite:///from-file.db"\n')
    cfg = load_config(cfgfile)
    assert resolve_db_url(None, cfg) == ("sqlite:///from-file.db", f"config file {cfgfile}")
    monkeypatch.setenv("ACORN_DB", "sqlite:///from-env.db")
    assert resolve_db_url(None, cfg)[0] == "sqlite:///from-env.db"
    assert resolve_db_url("sqlite:///from-flag.db", cfg)[0] == "sqlite:///from-flag.db"
    monkeypatch.delenv("ACORN_DB")
    empty = load_config(tmp_path / "none.toml")
    url, source = resolve_db_url(None, empty)
    assert source == "default" and url.startswith("sqlite:///") and url.endswith("acorntui.db")
    assert str(tmp_path / "xdg-data") in url  # the user data dir


def test_config_path_and_show_masks_passwords(tmp_path, monkeypatch, capsys):
    cfgfile = tmp_path / "config.toml"
    cfgfile.write_text(
        '[database]\nurl = "mysql://acorn:topsecret@db:3306/backup_serverlist"\n'
        '[mail]\nhost = "smtp.x"\npassword = "mailsecret"\nfrom = "b@x"\nto = ["t@x"]\n')
    os.chmod(cfgfile, 0o644)
    monkeypatch.setenv("ACORN_CONFIG", str(cfgfile))
    assert main(["config", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(cfgfile)
    assert main(["config", "show"]) == 0
    cap = capsys.readouterr()
    assert "topsecret" not in cap.out and "mailsecret" not in cap.out
    shown = json.loads(cap.out)
    assert shown["database"]["url"] == "mysql://acorn:***@db:3306/backup_serverlist"
    assert shown["mail"]["password"] == "***"
    assert "readable by group or others" in cap.err and "chmod 600" in cap.err
    os.chmod(cfgfile, 0o600)
    main(["config", "show"])
    assert "readable by group" not in capsys.readouterr().err


def test_bad_config_names_file_and_key(tmp_path, monkeypatch, capsys):
    cfgfile = tmp_path / "config.toml"
    cfgfile.write_text('[parse]\nmax_age_hours = "soon"\n')
    monkeypatch.setenv("ACORN_CONFIG", str(cfgfile))
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert str(cfgfile) in err and "max_age_hours" in err


def test_codes_cli(sqlite_url, capsys):
    assert main(["--db", sqlite_url, "codes", "24"]) == 0
    out = capsys.readouterr().out
    assert "Partial transfer due to vanished source files" in out
    assert "This is a good conclusion. There is nothing to fix." in out
    assert main(["--db", sqlite_url, "codes"]) == 0
    listing = capsys.readouterr().out
    for code in ("-2", "23", "124", "255"):
        assert f"\n{code:>5}" in "\n" + listing
    assert main(["--db", sqlite_url, "codes", "99"]) == 2
    assert "unknown code 99" in capsys.readouterr().out


def test_cli_loads_textual_only_for_the_console():
    # not a layer rule (cli sits on top and may import the console): a startup cost. The
    # layer rules themselves are import-linter contracts (tests/test_layers.py).
    code = ("import sys, acorntui.cli.main, acorntui.cli.commands.report; "
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", "the CLI pulls in Textual at start-up"


def test_config_show_lists_notify_targets_masked(tmp_path, monkeypatch, capsys):
    """Every [[notify]] target is listed with its filters; passwords and tokens never show,
    whether the URL is in the file or in the variable url_env names."""
    cfgfile = tmp_path / "config.toml"
    cfgfile.write_text(
        '[[notify]]\nurl = "json://hookuser:s3cr%2Fet@127.0.0.1:9000/hook"\n'
        'events = ["failed", "anomaly"]\ncustomers = ["acme"]\n'
        '[[notify]]\nurl = "json://u:p#ss?w@127.0.0.1:9000/hook"\n'
        '[[notify]]\nurl_env = "ACORN_TEST_NOTIFY_URL"\n'
        '[[notify]]\nurl = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#backups"\n')
    os.chmod(cfgfile, 0o600)
    monkeypatch.setenv("ACORN_CONFIG", str(cfgfile))
    monkeypatch.setenv("ACORN_TEST_NOTIFY_URL", "mmosts://bot:envsecret42@chat.example.com/x")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    for secret in ("s3cr", "p#ss", "envsecret42", "TIiajkdnlazkcOXrIdevi7FQ", "A1BRTD4JD"):
        assert secret not in out, secret
    t1, bad, t2, t3 = json.loads(out)["notify"]
    assert bad["url"] == "json://***"  # a URL Apprise cannot read: only its scheme
    assert t1["target"] == 1 and t1["url"].startswith("json://hookuser:")
    assert "127.0.0.1:9000" in t1["url"]
    assert t1["events"] == ["failed", "anomaly"] and t1["customers"] == ["acme"]
    assert t2["url_env"] == "ACORN_TEST_NOTIFY_URL" and t2["url"].startswith("mmosts://")
    assert "chat.example.com" in t2["url"]
    assert t2["events"] == ["failed", "custbak", "anomaly", "escalation"]
    assert t2["customers"] == "all"
    assert t3["url"].startswith("slack://")
