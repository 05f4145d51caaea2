"""Configuration: the TOML config file, the environment, and where things live.

Precedence for the database URL: ``--db URL``, else ``ACORN_DB``, else ``[database] url`` in the
config file, else a SQLite file in the user data directory.
"""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

# make_private_dir: the one folder-making mechanism (the database's folder too), re-exported
# for acorntui.fetch, which may not import acorntui.db (import-linter contract)
from acorntui.db.connection import make_private_dir as make_private_dir
from acorntui.db.connection import mask_url

APP_NAME = "acorntui"


class ConfigError(Exception):
    """The config file is unreadable or holds a bad value; the message names file and key."""


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_path() -> Path:
    env = os.environ.get("ACORN_CONFIG")
    if env:
        return Path(env).expanduser()
    return config_dir() / "config.toml"


def default_db_url() -> str:
    return f"sqlite:///{data_dir() / 'acorntui.db'}"


@dataclass
class ReportServer:
    name: str
    host: str
    port: int | None = None
    user: str | None = None
    key_file: str | None = None
    remote_dir: str = "/reports"
    known_hosts: str | None = None
    password_env: str | None = None
    # extra keys are kept for modules that add their own
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class MailSettings:
    host: str = ""
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    user: str = ""
    password: str = ""  # from the file (discouraged) or password_env
    password_env: str = ""
    sender: str = ""  # the `from` key
    to: list[str] = field(default_factory=list)
    timeout: float = 30.0
    outbox_dir: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def resolved_password(self) -> str:
        if self.password_env and os.environ.get(self.password_env):
            return os.environ[self.password_env]
        return self.password


@dataclass
class NotifyTarget:
    """One ``[[notify]]`` block: an Apprise URL (or the variable holding it) and its filters."""

    index: int  # 1-based position in the file, for messages
    url: str = ""
    url_env: str = ""
    events: tuple[str, ...] = ()  # empty: all
    customers: tuple[str, ...] = ()  # empty: all

    def resolved_url(self) -> str:
        if self.url_env:
            return os.environ.get(self.url_env, "")
        return self.url

    def wants(self, event: str) -> bool:
        return not self.events or event in self.events


NOTIFY_EVENTS = ("failed", "custbak", "anomaly", "escalation")


@dataclass
class AnomalySettings:
    size_drop: float = 0.5
    min_nights: int = 7
    window: int = 14


@dataclass
class Config:
    path: Path
    exists: bool
    database_url: str | None = None
    spool_dir: Path = field(default_factory=lambda: data_dir() / "spool")
    max_age_hours: float = 24.0
    night_cutoff_hours: float = 12.0
    future_tolerance_hours: float = 2.0  # a log dated later than now + this: -2 (future)
    report_servers: list[ReportServer] = field(default_factory=list)
    mail: MailSettings = field(default_factory=MailSettings)
    notify: list[NotifyTarget] = field(default_factory=list)
    anomaly: AnomalySettings = field(default_factory=AnomalySettings)
    escalate_after_nights: int = 3
    raw: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _num(value: Any, where: str, kind: type = float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    return kind(value)


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def load_config(path: str | os.PathLike | None = None) -> Config:
    p = Path(path).expanduser() if path else config_path()
    cfg = Config(path=p, exists=p.is_file())
    if not cfg.exists:
        return cfg
    try:
        raw_bytes = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw_bytes.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {p}: {exc}") from None
    cfg.raw = data
    where = str(p)

    dbt = data.get("database", {})
    if "url" in dbt:
        cfg.database_url = _str(dbt["url"], f"{where}: [database] url")
    spool = data.get("spool", {})
    if "dir" in spool:
        cfg.spool_dir = Path(_str(spool["dir"], f"{where}: [spool] dir")).expanduser()
    _load_parse(cfg, data.get("parse", {}), where)
    servers = data.get("report_servers", [])
    if not isinstance(servers, list):
        raise ConfigError(f"{where}: report_servers must be [[report_servers]] tables")
    known = {"name", "host", "port", "user", "key_file", "remote_dir", "known_hosts",
             "password_env"}
    for i, s in enumerate(servers):
        w = f"{where}: [[report_servers]] #{i + 1}"
        if not isinstance(s, dict) or "host" not in s:
            raise ConfigError(f"{w}: needs a host")
        cfg.report_servers.append(
            ReportServer(
                name=_str(s.get("name", s["host"]), f"{w} name"),
                host=_str(s["host"], f"{w} host"),
                port=_num(s["port"], f"{w} port", int) if "port" in s else None,
                user=_str(s["user"], f"{w} user") if "user" in s else None,
                key_file=_str(s["key_file"], f"{w} key_file") if s.get("key_file") else None,
                remote_dir=_str(s.get("remote_dir", "/reports"), f"{w} remote_dir"),
                known_hosts=_str(s["known_hosts"], f"{w} known_hosts")
                if s.get("known_hosts") else None,
                password_env=s.get("password_env"),
                extra={k: v for k, v in s.items() if k not in known},
            )
        )
    m = data.get("mail", {})
    if m:
        w = f"{where}: [mail]"
        security = m.get("security", "starttls")
        if security not in ("starttls", "tls", "none"):
            raise ConfigError(f"{w} security: must be starttls, tls or none, got {security!r}")
        to = m.get("to", [])
        if isinstance(to, str):
            to = [to]
        known_m = {"host", "port", "security", "user", "password", "password_env", "from", "to",
                   "timeout", "outbox_dir"}
        cfg.mail = MailSettings(
            host=_str(m.get("host", ""), f"{w} host"),
            port=_num(m.get("port", 587 if security == "starttls" else 465 if security == "tls"
                            else 25), f"{w} port", int),
            security=security,
            user=_str(m.get("user", ""), f"{w} user"),
            password=_str(m.get("password", ""), f"{w} password"),
            password_env=_str(m.get("password_env", ""), f"{w} password_env"),
            sender=_str(m.get("from", ""), f"{w} from"),
            to=[_str(x, f"{w} to") for x in to],
            timeout=_num(m.get("timeout", 30), f"{w} timeout"),
            outbox_dir=_str(m.get("outbox_dir", ""), f"{w} outbox_dir"),
            extra={k: v for k, v in m.items() if k not in known_m},
        )
    _load_alerts(cfg, data, where)
    if _holds_password(data) and _readable_by_others(p):
        cfg.warnings.append(
            f"warning: {p} holds a password and is readable by group or others; "
            f"run: chmod 600 {p}"
        )
    return cfg


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


def _load_alerts(cfg: Config, data: dict, where: str) -> None:
    """``[[notify]]``, ``[anomaly]`` and ``[alerts]``."""
    _load_notify(cfg, data, where)
    _load_anomaly(cfg, data, where)
    al = data.get("alerts", {})
    if not isinstance(al, dict):
        raise ConfigError(f"{where}: alerts must be an [alerts] table")
    if "escalate_after_nights" in al:
        n = _num(al["escalate_after_nights"], f"{where}: [alerts] escalate_after_nights", int)
        if n < 1:
            raise ConfigError(f"{where}: [alerts] escalate_after_nights: must be at least 1, "
                              f"got {n}")
        cfg.escalate_after_nights = n


def _load_notify(cfg: Config, data: dict, where: str) -> None:
    targets = data.get("notify", [])
    if not isinstance(targets, list):
        raise ConfigError(f"{where}: notify must be [[notify]] tables")
    known = {"url", "url_env", "events", "customers"}
    for i, t in enumerate(targets):
        w = f"{where}: [[notify]] #{i + 1}"
        if not isinstance(t, dict):
            raise ConfigError(f"{w}: must be a table")
        unknown = sorted(set(t) - known)
        if unknown:
            raise ConfigError(f"{w} {unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
        url = _str(t.get("url", ""), f"{w} url").strip()
        url_env = _str(t.get("url_env", ""), f"{w} url_env").strip()
        if bool(url) == bool(url_env):
            raise ConfigError(f"{w} url: give either url or url_env (the variable holding it)")
        if url and "://" not in url:
            raise ConfigError(f"{w} url: not an Apprise URL (scheme://...), got {url[:20]!r}")
        events = _str_list(t.get("events", []), f"{w} events")
        bad = [e for e in events if e not in NOTIFY_EVENTS]
        if bad:
            raise ConfigError(f"{w} events: unknown event {bad[0]!r} "
                              f"(known: {', '.join(NOTIFY_EVENTS)})")
        customers = _str_list(t.get("customers", []), f"{w} customers")
        cfg.notify.append(NotifyTarget(index=i + 1, url=url, url_env=url_env, events=events,
                                       customers=customers))


def _load_anomaly(cfg: Config, data: dict, where: str) -> None:
    a = data.get("anomaly", {})
    if not isinstance(a, dict):
        raise ConfigError(f"{where}: anomaly must be an [anomaly] table")
    w = f"{where}: [anomaly]"
    st = cfg.anomaly
    if "size_drop" in a:
        st.size_drop = _num(a["size_drop"], f"{w} size_drop")
        if not 0 < st.size_drop < 1:
            raise ConfigError(f"{w} size_drop: must be between 0 and 1, got {st.size_drop}")
    for key in ("min_nights", "window"):
        if key in a:
            value = _num(a[key], f"{w} {key}", int)
            if value < 1:
                raise ConfigError(f"{w} {key}: must be at least 1, got {value}")
            setattr(st, key, value)
    if st.min_nights > st.window:
        raise ConfigError(f"{w} min_nights: {st.min_nights} is more than window {st.window}")


def _load_parse(cfg: Config, parse: dict[str, Any], where: str) -> None:
    """The [parse] table: the age, night-cutoff and future rules."""
    if "max_age_hours" in parse:
        cfg.max_age_hours = _num(parse["max_age_hours"], f"{where}: [parse] max_age_hours")
    if "night_cutoff_hours" in parse:
        cfg.night_cutoff_hours = _num(
            parse["night_cutoff_hours"], f"{where}: [parse] night_cutoff_hours"
        )
    if "future_tolerance_hours" in parse:
        cfg.future_tolerance_hours = _num(
            parse["future_tolerance_hours"], f"{where}: [parse] future_tolerance_hours")
        if cfg.future_tolerance_hours < 0:
            raise ConfigError(f"{where}: [parse] future_tolerance_hours: must be 0 or more, "
                              f"got {cfg.future_tolerance_hours:g}")


def _holds_password(data: dict) -> bool:
    url = data.get("database", {}).get("url", "")
    if isinstance(url, str) and mask_url(url) != url:
        return True
    if data.get("mail", {}).get("password"):
        return True
    notify = data.get("notify", [])
    if isinstance(notify, list) and any(isinstance(t, dict) and t.get("url") for t in notify):
        return True  # Apprise URLs carry tokens (Slack, Teams...): url_env keeps them out
    return any(isinstance(s, dict) and s.get("password") for s in data.get("report_servers", []))


def _readable_by_others(p: Path) -> bool:
    if sys.platform.startswith("win"):
        return False
    try:
        mode = p.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))


def resolve_db_url(cli_url: str | None, cfg: Config) -> tuple[str, str]:
    """Return (url, where it came from)."""
    if cli_url:
        return cli_url, "--db"
    env = os.environ.get("ACORN_DB")
    if env:
        return env, "ACORN_DB"
    if cfg.database_url:
        return cfg.database_url, f"config file {cfg.path}"
    return default_db_url(), "default"


def effective_settings(cli_url: str | None, cfg: Config,
                       mask_notify: Callable[[str], str] | None = None) -> dict[str, Any]:
    """What `config show` prints: every effective setting, passwords masked.

    ``mask_notify`` masks a ``[[notify]]`` URL (the CLI passes Apprise's privacy mode, which
    also hides tokens in a URL's path, as `notify test` names targets); :func:`mask_url`
    (passwords) otherwise."""
    url, source = resolve_db_url(cli_url, cfg)
    mail = cfg.mail
    masker = mask_notify or mask_url

    def target(t: NotifyTarget) -> dict[str, Any]:
        resolved = t.resolved_url()
        return {"target": t.index, "url": masker(resolved) if resolved else "",
                "url_env": t.url_env, "events": list(t.events or NOTIFY_EVENTS),
                "customers": list(t.customers) or "all"}

    return {
        "config_file": str(cfg.path),
        "config_file_exists": cfg.exists,
        "database": {"url": mask_url(url), "source": source},
        "spool": {"dir": str(cfg.spool_dir)},
        "parse": {
            "max_age_hours": cfg.max_age_hours,
            "night_cutoff_hours": cfg.night_cutoff_hours,
            "future_tolerance_hours": cfg.future_tolerance_hours,
        },
        "report_servers": [
            {
                "name": s.name, "host": s.host, "port": s.port, "user": s.user,
                "key_file": s.key_file or "(ssh-agent)", "remote_dir": s.remote_dir,
                "known_hosts": s.known_hosts,
            }
            for s in cfg.report_servers
        ],
        "mail": {
            "host": mail.host, "port": mail.port, "security": mail.security, "user": mail.user,
            "password": "***" if mail.resolved_password() else "",
            "password_env": mail.password_env, "from": mail.sender, "to": mail.to,
        },
        "notify": [target(t) for t in cfg.notify],
    }
