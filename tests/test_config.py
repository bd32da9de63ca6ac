"""Settings come from TANDEM_* variables; bad values stop start-up with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tandem import config
from tandem.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_usable(tmp_path):
    values = config.read({"TANDEM_VAR_DIR": str(tmp_path)})

    assert values["TANDEM_ENV"] == "development"
    assert values["TANDEM_DEBUG"] is False
    assert values["TANDEM_DATABASE_URL"] is None  # settings turn this into var/tandem.sqlite3


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TANDEM_DEBUG", "perhaps"),
        ("TANDEM_TIME_ZONE", "Mars/Olympus"),
        ("TANDEM_DATABASE_URL", "mysql://x"),
        ("TANDEM_ENV", "staging"),
        ("TANDEM_ALLOWED_HOSTS", " , "),
        ("TANDEM_LOG_LEVEL", "chatty"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting(name, value):
    with pytest.raises(ConfigError, match=name):
        config.read({name: value})


def test_production_requires_a_secret_key():
    with pytest.raises(ConfigError, match="TANDEM_SECRET_KEY is required"):
        config.read({"TANDEM_ENV": "production"})


def test_production_refuses_debug():
    with pytest.raises(ConfigError, match="TANDEM_DEBUG"):
        config.read(
            {"TANDEM_ENV": "production", "TANDEM_SECRET_KEY": "k" * 40, "TANDEM_DEBUG": "true"}
        )


def test_the_demo_secret_key_is_generated_once_and_kept(tmp_path):
    values = config.read({"TANDEM_VAR_DIR": str(tmp_path)})

    first = config.secret_key(values)

    assert config.secret_key(values) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_start_up_stops_with_one_line_on_a_bad_value(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tandem", "migrate"],
        env={"TANDEM_DEBUG": "perhaps", "TANDEM_VAR_DIR": str(tmp_path), "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )

    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "TANDEM_DEBUG" in result.stderr


def test_every_setting_is_documented():
    doc = (ROOT / "docs" / "configuration.md").read_text()

    missing = [s.name for s in config.SETTINGS if f"`{s.name}`" not in doc]

    assert missing == []


def test_every_command_is_documented():
    from tandem.cli import build_parser

    doc = (ROOT / "docs" / "commands.md").read_text()
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]

    missing = [name for name in commands if f"`tandem {name}" not in doc]

    assert missing == []


def test_passwords_are_hashed_with_argon2_outside_the_tests():
    # tests/conftest.py puts a fast hasher first for the tests; the settings module does not.
    import importlib

    module = importlib.import_module("tandem.settings")
    assert module.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert "MD5" not in " ".join(module.PASSWORD_HASHERS)
