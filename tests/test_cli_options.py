"""Global options (--db, --config) are accepted before or after the subcommand, nested
subcommands included; given in both places, the one after the command wins."""

from __future__ import annotations

import json
import sqlite3

import pytest

from acorntui.cli.main import main


def _tables(path) -> set[str]:
    with sqlite3.connect(path) as con:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}


@pytest.mark.parametrize("where", ["before", "after"])
def test_init_db_takes_db_on_either_side(tmp_path, capsys, where):
    path = tmp_path / "x.db"
    url = f"sqlite:///{path}"
    argv = ["--db", url, "init-db"] if where == "before" else ["init-db", "--db", url]
    assert main(argv) == 0
    assert f"tables in {url}" in capsys.readouterr().out
    assert {"servers", "results", "errors"} <= _tables(path)


@pytest.mark.parametrize("argv", [
    ["--db", "{url}", "customer", "list", "--format", "json"],
    ["customer", "--db", "{url}", "list", "--format", "json"],
    ["customer", "list", "--format", "json", "--db", "{url}"],
    ["tsr", "list", "--db", "{url}", "--format", "json"],
    ["exception", "list", "--db", "{url}", "--format", "json"],
    ["audit", "--format", "json", "--db", "{url}"],
])
def test_nested_commands_take_db_anywhere(tmp_path, capsys, argv):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["init-db", "--db", url]) == 0
    assert main(["customer", "add", "acme", "--db", url]) == 0
    assert main(["tsr", "add", "tess", "--level", "2", "--db", url]) == 0
    capsys.readouterr()
    assert main([a.replace("{url}", url) for a in argv]) == 0
    rows = json.loads(capsys.readouterr().out)
    if argv[0] == "customer" or argv[2] == "customer":
        assert [r["name"] for r in rows] == ["acme"]
    if argv[0] == "tsr":
        assert "tess" in [r["login"] for r in rows]
    if argv[0] == "audit":
        assert {"customer.add", "tsr.add"} <= {r["action"] for r in rows}


def test_db_after_the_command_wins(tmp_path, capsys):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    for p, name in ((a, "alpha"), (b, "beta")):
        assert main(["init-db", "--db", f"sqlite:///{p}"]) == 0
        assert main(["customer", "add", name, "--db", f"sqlite:///{p}"]) == 0
    capsys.readouterr()
    assert main(["--db", f"sqlite:///{a}", "customer", "list", "--db", f"sqlite:///{b}"]) == 0
    out = capsys.readouterr().out
    assert "beta" in out and "alpha" not in out
    # and one given only before the command is kept, not reset by the subparser
    assert main(["--db", f"sqlite:///{a}", "customer", "list"]) == 0
    out = capsys.readouterr().out
    assert "alpha" in out and "beta" not in out


@pytest.mark.parametrize("argv", [["--config", "{cfg}", "config", "show"],
                                  ["config", "show", "--config", "{cfg}"],
                                  ["config", "--config", "{cfg}", "show"]])
def test_config_on_either_side(tmp_path, capsys, argv):
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text('[parse]\nmax_age_hours = 36\n')
    assert main([a.replace("{cfg}", str(cfg)) for a in argv]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config_file"] == str(cfg) and shown["parse"]["max_age_hours"] == 36


def test_codes_and_config_show_take_db_after(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["config", "show", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out)["database"] == {"url": url, "source": "--db"}
    assert main(["codes", "24", "--db", url]) == 0
    assert "Code 24:" in capsys.readouterr().out


def test_subcommand_help_lists_the_global_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["customer", "list", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "global options:" in out and "--db URL" in out and "--config FILE" in out
