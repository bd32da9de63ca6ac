"""Every setting Tandem reads from the environment, with its description, default and parser.

This is the one place settings are declared. ``tandem.settings`` turns them into Django
settings; ``docs/configuration.md`` documents them, and a test checks that every entry here is
documented there. A bad value raises :class:`ConfigError` with a one-line message, and start-up
stops.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """A setting has a value Tandem cannot use. The message is one line and names the setting."""


@dataclass(frozen=True)
class Setting:
    name: str
    description: str
    default: str | None
    parse: Callable[[str], Any]


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


def _env_name(value: str) -> str:
    if value not in ("development", "production", "test"):
        raise ValueError("expected development, production or test")
    return value


def _hosts(value: str) -> list[str]:
    hosts = [h.strip() for h in value.split(",") if h.strip()]
    if not hosts:
        raise ValueError("expected a comma-separated list of host names")
    return hosts


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def _database_url(value: str) -> str:
    if not value.startswith(("sqlite:", "postgres://", "postgresql://", "pgsql://")):
        raise ValueError("expected sqlite:///PATH or postgresql://USER@HOST:PORT/NAME")
    return value


def _path(value: str) -> Path:
    return Path(value).expanduser().resolve()


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError("expected a whole number") from None
        if number < minimum:
            raise ValueError(f"expected a whole number of at least {minimum}")
        return number

    return parse


def _time_of_day(value: str) -> str:
    try:
        moment = dt.time.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("expected a time of day as HH:MM, e.g. 02:00") from None
    return moment.strftime("%H:%M")


SETTINGS: list[Setting] = [
    Setting(
        "TANDEM_ENV",
        "Where Tandem runs: development, production or test. In production a secret key and "
        "allowed hosts must be given, and debug is refused.",
        "development",
        _env_name,
    ),
    Setting(
        "TANDEM_VAR_DIR",
        "Directory for local state: the SQLite database, the generated demo secret key, "
        "synthetic output. Created when missing.",
        "./var",
        _path,
    ),
    Setting(
        "TANDEM_DATABASE_URL",
        "The operational database. Default: a SQLite file under TANDEM_VAR_DIR. PostgreSQL: "
        "postgresql://USER[:PASSWORD]@HOST:PORT/NAME.",
        None,
        _database_url,
    ),
    Setting(
        "TANDEM_SECRET_KEY",
        "Django secret key (sessions, CSRF, signing). Required when TANDEM_ENV=production; "
        "otherwise generated once and kept in TANDEM_VAR_DIR/secret_key.",
        None,
        str,
    ),
    Setting("TANDEM_DEBUG", "Show Django debug pages. Never in production.", "false", _bool),
    Setting(
        "TANDEM_ALLOWED_HOSTS",
        "Comma-separated host names the server answers to.",
        "127.0.0.1,localhost,testserver",
        _hosts,
    ),
    Setting(
        "TANDEM_TIME_ZONE",
        "IANA time zone for dates shown to users and for 'today' in clinical rules.",
        "America/New_York",
        _time_zone,
    ),
    Setting(
        "TANDEM_LOG_LEVEL",
        "Log level for Tandem's own loggers (DEBUG, INFO, WARNING, ERROR). Logs never carry "
        "patient data.",
        "INFO",
        lambda v: v.upper() if v.upper() in ("DEBUG", "INFO", "WARNING", "ERROR") else _raise(v),
    ),
    Setting(
        "TANDEM_LOGIN_FAILURE_LIMIT",
        "Failed sign-ins for one username from one IP address after which signing in is "
        "paused for that pair (a success clears the count).",
        "5",
        _whole(1),
    ),
    Setting(
        "TANDEM_LOGIN_COOLOFF_MINUTES",
        "How long signing in stays paused after TANDEM_LOGIN_FAILURE_LIMIT failures, in "
        "minutes. Attempts while paused are refused and do not extend the pause.",
        "15",
        _whole(1),
    ),
    Setting(
        "TANDEM_BEHIND_TLS_PROXY",
        "Tandem runs behind one proxy that terminates TLS, sets X-Forwarded-Proto and appends "
        "the client's address to X-Forwarded-For: requests with X-Forwarded-Proto: https count "
        "as HTTPS, and the last X-Forwarded-For address is the client's. Set it only when the "
        "proxy overwrites X-Forwarded-Proto and clients cannot reach Tandem directly.",
        "false",
        _bool,
    ),
    Setting(
        "TANDEM_SSL_REDIRECT",
        "Redirect plain-HTTP requests to HTTPS. Default: on when TANDEM_ENV=production, off "
        "otherwise.",
        None,
        _bool,
    ),
    Setting(
        "TANDEM_HSTS_SECONDS",
        "In production, how long browsers must use HTTPS only for this host "
        "(Strict-Transport-Security max-age); 0 sends no HSTS header. Sent only over HTTPS.",
        "31536000",
        _whole(0),
    ),
    Setting(
        "TANDEM_HSTS_INCLUDE_SUBDOMAINS",
        "In production, the HSTS header covers every subdomain of this host too "
        "(includeSubDomains). Turn off only if a subdomain must still be reached over HTTP.",
        "true",
        _bool,
    ),
    Setting(
        "TANDEM_HSTS_PRELOAD",
        "In production, the HSTS header carries 'preload' (lets the domain be submitted to the "
        "browsers' HSTS preload list; sending it alone changes nothing).",
        "true",
        _bool,
    ),
    Setting(
        "TANDEM_SESSION_IDLE_MINUTES",
        "Minutes without a request after which a signed-in session ends (the next request goes "
        "to the sign-in page, and the sign-out is audited with reason idle). Checked on the "
        "server.",
        "15",
        _whole(1),
    ),
    Setting(
        "TANDEM_SESSION_MAX_HOURS",
        "Hours after signing in when a session ends however active it is (the session cookie's "
        "age).",
        "12",
        _whole(1),
    ),
    Setting(
        "TANDEM_REQUIRE_TOTP_ROLES",
        "Comma-separated roles that must use a second factor (an authenticator app code) to sign "
        "in, e.g. privacy-officer,leader. Such a user who has none sets it up at the next sign-in "
        "before reaching any page. Empty: the second factor is optional for every staff user.",
        "",
        lambda v: [r.strip() for r in v.split(",") if r.strip()],
    ),
    Setting(
        "TANDEM_OIDC_ISSUER",
        "OpenID Connect sign-in: the provider's issuer URL (its discovery document is read from "
        "ISSUER/.well-known/openid-configuration). Sign-in through the provider is offered when "
        "this, TANDEM_OIDC_CLIENT_ID and TANDEM_OIDC_CLIENT_SECRET are all set.",
        "",
        lambda v: v.strip().rstrip("/"),
    ),
    Setting(
        "TANDEM_OIDC_CLIENT_ID",
        "OpenID Connect sign-in: Tandem's client id at the provider.",
        "",
        str.strip,
    ),
    Setting(
        "TANDEM_OIDC_CLIENT_SECRET",
        "OpenID Connect sign-in: Tandem's client secret at the provider.",
        "",
        str.strip,
    ),
    Setting(
        "TANDEM_OIDC_PROVIDER_NAME",
        "OpenID Connect sign-in: the provider's name on the sign-in button ('Sign in with ...').",
        "your organization's account",
        str.strip,
    ),
    Setting(
        "TANDEM_OIDC_SIGN_ALGO",
        "OpenID Connect sign-in: the algorithm the provider signs ID tokens with: RS256 (keys "
        "from the provider's JWKS) or HS256 (the client secret).",
        "RS256",
        lambda v: v.strip().upper() if v.strip().upper() in ("RS256", "HS256") else _raise(v),
    ),
    Setting(
        "TANDEM_REFRESH_AT",
        "Time of day (HH:MM, in TANDEM_TIME_ZONE) the daily refresh runs: measures stored, "
        "cohorts, risk and worklists rebuilt. Needs a running worker (`tandem serve` starts "
        "one; or `tandem jobs worker`).",
        "02:00",
        _time_of_day,
    ),
    Setting(
        "TANDEM_JOBS_WORKERS",
        "Worker processes that run background jobs. One refresh runs at a time whatever the "
        "number; more workers only run other jobs beside it. 0: `tandem serve` starts no worker "
        "(run `tandem jobs worker` on its own, e.g. once beside several web servers).",
        "1",
        _whole(0),
    ),
    Setting(
        "TANDEM_JOBS_TIMEOUT_MINUTES",
        "A job attempt still running after this many minutes is stopped and counts as failed. "
        "A failed attempt is tried again this long plus 5 minutes after it started.",
        "60",
        _whole(1),
    ),
    Setting(
        "TANDEM_JOBS_MAX_ATTEMPTS",
        "Attempts a queued job gets (the first and its retries) before it is marked failed.",
        "3",
        _whole(1),
    ),
    Setting(
        "TANDEM_BREAK_GLASS_MINUTES",
        "How long a break-the-glass emergency access grant lasts, in minutes: the reader sees "
        "that one patient under the emergency policy until then. Reviewed or not, the grant "
        "stays in the history.",
        "60",
        _whole(1),
    ),
    Setting(
        "TANDEM_AUDIT_ANCHOR_FILE",
        "Append-only file the daily audit anchor job writes the chain head to (one line a day: "
        "time, head hash, event count). Keep it outside the database, ideally on other storage. "
        "Default: TANDEM_VAR_DIR/audit-anchors.txt.",
        None,
        _path,
    ),
    Setting(
        "TANDEM_AUDIT_ANCHOR_KEY",
        "Key of the HMAC-SHA256 signature on the daily audit anchor digest sent to privacy "
        "officers. Default: derived from TANDEM_SECRET_KEY (HMAC of the label "
        "'tandem-audit-anchor'); set it to verify digests without the secret key.",
        None,
        str,
    ),
    Setting(
        "TANDEM_AUDIT_ANCHOR_AT",
        "Time of day (HH:MM, in TANDEM_TIME_ZONE) the daily audit anchor job verifies the chain, "
        "appends its head to TANDEM_AUDIT_ANCHOR_FILE and sends the signed digest. Needs a "
        "running worker.",
        "01:30",
        _time_of_day,
    ),
]


def _raise(value: str) -> Any:
    raise ValueError(f"unexpected value {value!r}")


def read(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Parse every setting from ``environ`` (default ``os.environ``); raise ConfigError."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(setting.name, setting.default)
        if raw is None:
            values[setting.name] = None
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{setting.name}={raw!r}: {exc}") from None
    _check_production(values)
    return values


def _check_production(values: dict[str, Any]) -> None:
    if values["TANDEM_ENV"] != "production":
        return
    if not values["TANDEM_SECRET_KEY"]:
        raise ConfigError("TANDEM_SECRET_KEY is required when TANDEM_ENV=production")
    if len(values["TANDEM_SECRET_KEY"]) < 32:
        raise ConfigError("TANDEM_SECRET_KEY must be at least 32 characters in production")
    if values["TANDEM_DEBUG"]:
        raise ConfigError("TANDEM_DEBUG must be false when TANDEM_ENV=production")
    if values["TANDEM_OIDC_ISSUER"] and not values["TANDEM_OIDC_ISSUER"].startswith("https://"):
        raise ConfigError("TANDEM_OIDC_ISSUER must be an https:// URL in production")


def secret_key(values: dict[str, Any]) -> str:
    """The configured key, or (outside production) one generated once and stored on disk."""
    if values["TANDEM_SECRET_KEY"]:
        return str(values["TANDEM_SECRET_KEY"])
    var_dir: Path = values["TANDEM_VAR_DIR"]
    key_file = var_dir / "secret_key"
    try:
        if key_file.exists():
            return key_file.read_text().strip()
        var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key
    except OSError as exc:
        raise ConfigError(f"TANDEM_VAR_DIR={var_dir}: cannot keep the secret key: {exc}") from None
