"""`tandem check --deploy` is clean with the production settings of docs/configuration.md."""

from __future__ import annotations

import secrets
import subprocess

from tests.core.test_serve import ROOT, tandem_env

TANDEM = str(ROOT / ".venv" / "bin" / "tandem")


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TANDEM, "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def production(var_dir, **extra: str) -> dict[str, str]:
    """The checklist's settings (docs/configuration.md#production)."""
    return tandem_env(
        var_dir,
        TANDEM_ENV="production",
        TANDEM_SECRET_KEY=secrets.token_urlsafe(50),
        TANDEM_ALLOWED_HOSTS="tandem.example.org",
        **extra,
    )


def test_check_deploy_is_clean_in_production(tmp_path):
    result = check_deploy(production(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_check_deploy_names_each_problem_outside_production(tmp_path):
    result = check_deploy(tandem_env(tmp_path))

    assert result.returncode == 1
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stdout


def test_turning_off_hsts_preloading_is_reported(tmp_path):
    result = check_deploy(production(tmp_path, TANDEM_HSTS_PRELOAD="false"))

    assert result.returncode == 1
    assert "security.W021" in result.stdout
