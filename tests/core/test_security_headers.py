"""Security headers on every page: CSP, Permissions-Policy, no-store for signed-in pages.

The production-only settings (HSTS, HTTPS redirect, the TLS proxy header) are read from a fresh
interpreter, since settings are computed once from TANDEM_* variables at start-up; the served
behaviour is tested against the real server in ``test_serve.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from django.urls import reverse

from tests import builders as b
from tests.core.test_serve import PRODUCTION, ROOT, tandem_env

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+=|javascript:|\shx-on", re.IGNORECASE)


def directives(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()
    }


def pages(team) -> list[tuple[object, str, dict[str, str]]]:
    """(user, url, headers) for each kind of page a signed-in user can get."""
    summary = reverse("patient-summary", args=[team.pat.pk])
    search = reverse("patient-search")
    htmx = {"HX-Request": "true"}
    return [
        (team.bob, reverse("home"), {}),
        (team.bob, reverse("home") + "?page=1", htmx),
        (team.bob, reverse("home") + "?page=abc", {}),  # the 400 page
        (team.leo, reverse("home"), {}),
        (team.pat_user, reverse("home"), {}),
        (team.bob, search + "?name=jones", {}),
        (team.bob, search + "?name=jones", htmx),
        (team.bob, summary, {}),
        (team.olive, summary, {}),  # the 404 page
    ]


def test_every_page_has_a_content_security_policy_without_inline_code(client, db):
    response = client.get(reverse("login"))

    policy = directives(response)
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]


def test_no_page_carries_inline_scripts_styles_or_handlers(client, team):
    alice = team.practitioner(team.alice)
    b.note(patient=team.pat, program=team.pc_program, author=alice, text="Line one\nLine two")
    checked = [client.get(reverse("login"))]
    for user, url, headers in pages(team):
        client.force_login(user)
        checked.append(client.get(url, headers=headers))

    for response in checked:
        html = response.text
        assert "Content-Security-Policy" in response.headers
        assert not INLINE_SCRIPT.search(html), response.request["PATH_INFO"]
        assert not INLINE_STYLE.search(html), response.request["PATH_INFO"]
        assert not INLINE_HANDLER.search(html), response.request["PATH_INFO"]
    assert "Line two" in checked[-2].text  # the note was on the summary page


def test_htmx_keeps_its_indicator_styles_in_the_stylesheet(client, db):
    """htmx would inject a <style> element, which the policy refuses; the CSS file has them."""
    html = client.get(reverse("login")).text
    config = re.search(r'name="htmx-config" content=\'([^\']*)\'', html)
    assert config is not None
    assert json.loads(config.group(1))["includeIndicatorStyles"] is False


def test_every_page_denies_powerful_browser_features(client, db):
    policy = client.get(reverse("login")).headers["Permissions-Policy"]

    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in policy


def test_every_signed_in_page_is_never_stored(client, team):
    for user, url, headers in pages(team):
        client.force_login(user)
        response = client.get(url, headers=headers)
        cache_control = response.headers.get("Cache-Control", "")
        assert "no-store" in cache_control, (url, response.status_code)
        assert "private" in cache_control, (url, response.status_code)


def test_static_files_stay_cacheable_for_signed_in_users(client, team):
    client.force_login(team.bob)
    response = client.get("/static/tandem/tandem.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


def production_settings(**env: str) -> dict[str, object]:
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({n: getattr(s, n) for n in ('SECURE_HSTS_SECONDS', "
        "'SECURE_SSL_REDIRECT', 'SECURE_PROXY_SSL_HEADER', 'SESSION_COOKIE_SECURE')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "tandem.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(result.stdout))


def test_production_sends_hsts_and_redirects_to_https(tmp_path):
    values = production_settings(**tandem_env(tmp_path, **PRODUCTION))

    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] is None  # only when told there is a TLS proxy
    assert values["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"TANDEM_BEHIND_TLS_PROXY": "true"}, ["HTTP_X_FORWARDED_PROTO", "https"]),
        ({"TANDEM_HSTS_SECONDS": "0", "TANDEM_SSL_REDIRECT": "false"}, None),
    ],
)
def test_production_https_settings_follow_the_configuration(tmp_path, extra, expected):
    values = production_settings(**tandem_env(tmp_path, **PRODUCTION, **extra))

    assert values["SECURE_PROXY_SSL_HEADER"] == expected
    if "TANDEM_HSTS_SECONDS" in extra:
        assert (values["SECURE_HSTS_SECONDS"], values["SECURE_SSL_REDIRECT"]) == (0, False)


def test_development_does_not_redirect_or_send_hsts(tmp_path):
    values = production_settings(**tandem_env(tmp_path))

    assert (values["SECURE_HSTS_SECONDS"], values["SECURE_SSL_REDIRECT"]) == (0, False)
