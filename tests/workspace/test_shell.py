"""The shell every page shares: navigation by role, breadcrumbs, messages, empty states and the
patient banner (tandem/templates/base.html and tandem/templates/workspace/)."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages.storage.base import Message
from django.template.loader import render_to_string
from django.urls import reverse

from tandem.workspace import context, rules
from tests import builders as b

CLINICAL_NAV = ["Home", "Worklists", "Tasks", "Cohorts", "Find a patient", "API tokens"]


def nav_labels(html: str) -> list[str]:
    nav = html[html.index('data-testid="main-nav"') : html.index("</ul>")]
    return re.findall(r'<a class="nav-link[^"]*" href="[^"]*"[^>]*>([^<]+)</a>', nav)


@pytest.mark.parametrize(
    ("persona", "labels"),
    [
        ("alice", CLINICAL_NAV),
        ("bob", CLINICAL_NAV),
        ("charlie", CLINICAL_NAV),
        ("sam", CLINICAL_NAV),
        ("olive", CLINICAL_NAV),  # an outsider works in a role; the pages show her nothing
        ("leo", ["Home", "Worklists", "Tasks", "Cohorts", "Find a patient", "Jobs", "API tokens"]),
        ("pat_user", ["My health", "Sharing", "Who looked"]),  # the portal, no staff pages
    ],
)
def test_it_shows_each_role_its_navigation(client, team, persona, labels):
    client.force_login(getattr(team, persona))
    assert nav_labels(client.get(reverse("home")).text) == labels


def test_a_user_with_no_role_gets_the_staff_navigation(client, team):
    client.force_login(b.user("nobody"))
    assert nav_labels(client.get(reverse("home")).text) == [
        "Home",
        "Tasks",
        "Find a patient",
        "API tokens",
    ]


def test_it_leaves_out_an_entry_whose_page_does_not_exist(db, monkeypatch):
    missing = rules.NavEntry("no-such-page", "Nowhere", rules.EVERYONE)
    monkeypatch.setattr(rules, "NAV", (*rules.NAV[:1], missing, *rules.NAV[1:]))

    labels = [link.label for link in context.navigation("pcp", "home")]

    assert "Nowhere" not in labels and labels[0] == "Home" and "Tasks" in labels


def test_it_marks_the_current_page_and_the_current_section(client, team):
    client.force_login(team.bob)
    home = client.get(reverse("home")).text
    assert f'href="{reverse("home")}" aria-current="page"' in home

    summary = client.get(reverse("patient-summary", args=[team.pat.pk])).text
    assert f'href="{reverse("patient-search")}" aria-current="true"' in summary
    assert 'aria-current="page"' not in summary[: summary.index("</nav>")]


def test_the_current_marker_follows_the_rules():
    worklists = next(e for e in rules.NAV if e.url_name == "worklists")
    assert rules.current(worklists, "worklists") == "page"
    assert rules.current(worklists, "worklist-item") == "true"
    assert rules.current(worklists, "home") is None
    assert rules.current(worklists, None) is None


def test_anonymous_visitors_get_no_navigation(client, db):
    assert 'data-testid="main-nav"' not in client.get(reverse("login")).text


def test_every_page_carries_the_csrf_header_for_htmx_and_the_shortcuts(client, team):
    client.force_login(team.bob)
    html = client.get(reverse("home")).text
    token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', html)
    assert token and len(token.group(1)) > 20
    assert "/static/tandem/shortcuts.js" in html
    assert 'id="tandem-shortcuts"' in html and "<dialog" in html
    assert "Tandem 0.1.0" in html  # the footer names the version


def test_messages_are_a_status_or_an_alert_by_level():
    html = render_to_string(
        "workspace/_messages.html",
        {"messages": [Message(25, "Task claimed."), Message(40, "Could not save.")]},
    )
    saved, failed = re.findall(r'<div class="alert ([^"]+)" role="(\w+)"', html)
    assert saved == ("alert-success", "status") and failed == ("alert-danger", "alert")
    assert "Task claimed." in html and "Could not save." in html
    assert "hx-swap-oob" not in html
    assert 'hx-swap-oob="true"' in render_to_string("workspace/_messages.html", {"oob": True})


def test_a_message_appears_once_on_the_page_after_a_redirect(client, team):
    from tandem.tokens import services

    issued = services.create_token(
        by=team.bob, user=team.bob, name="x", scopes=["patients:read"], expires_in_days=1
    )
    services.revoke_token(by=team.bob, token=issued.token)
    client.force_login(team.bob)
    page = client.post(reverse("api-token-revoke", args=[issued.token.pk]), follow=True).text
    assert page.count('data-testid="message"') == 1


def test_breadcrumbs_start_at_home_and_mark_the_current_page(rf):
    html = render_to_string(
        "workspace/_breadcrumbs.html",
        {"breadcrumbs": [("Worklists", "/worklists/"), ("Disengaged SMI", None)]},
    )
    assert '<nav aria-label="Breadcrumb"' in html
    items = re.findall(r"<li [^>]*>(.*?)</li>", html, re.S)
    assert [re.sub(r"<[^>]+>", "", i).strip() for i in items] == [
        "Home",
        "Worklists",
        "Disengaged SMI",
    ]
    assert 'aria-current="page">Disengaged SMI' in html
    assert '<a href="/worklists/">Worklists</a>' in html


def test_the_empty_state_says_why_and_what_to_do():
    html = render_to_string(
        "workspace/_empty.html",
        {
            "heading": "No open tasks",
            "reason": "Nobody has assigned you a task.",
            "hint": "Tasks from worklists and referrals land here.",
            "action_url": "/tasks/",
            "action_label": "See your queues",
            "heading_level": 3,
        },
    )
    assert '<h3 class="h5">No open tasks</h3>' in html
    assert "Nobody has assigned you a task." in html and "land here" in html
    assert 'href="/tasks/">See your queues</a>' in html
    assert "<h2" in render_to_string("workspace/_empty.html", {"heading": "x", "reason": "y"})


def test_the_patient_banner_follows_its_context_contract(db):
    import datetime as dt

    patient = b.patient(
        given_name="Pat",
        middle_name="Q",
        family_name="Jones",
        birth_date=dt.date(1970, 12, 2),
        sex="female",
    )
    html = render_to_string(
        "workspace/_patient_banner.html",
        {
            "patient": patient,
            "age": 55,
            "mrn": "RFM-000123",
            "pcp": "Dr Alice Adams",
            "risk": {"tier": "very-high", "tier_label": "Very high", "score": 14},
            "risk_href": "#risk",
            "restricted": True,
        },
    )
    assert '<h1 class="h3 mb-0 tandem-banner-name">JONES, Pat Q</h1>' in html
    assert "02-Dec-1970 (55 y)" in html and "Female" in html
    assert "RFM-000123" in html and "Dr Alice Adams" in html
    assert "tandem-risk-very-high" in html and "Very high" in html and "score 14" in html
    assert 'href="#risk"' in html and "Restricted record" in html

    plain = render_to_string(
        "workspace/_patient_banner.html",
        {"patient": patient, "age": 55, "mrn": "", "pcp": "", "banner_heading": "h2"},
    )
    assert "<h2" in plain and "<h1" not in plain
    assert "None assigned" in plain and "Not shown" in plain
    assert "Risk" not in plain and "Restricted record" not in plain
