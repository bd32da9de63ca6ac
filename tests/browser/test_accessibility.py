"""No page fails axe-core's serious or critical checks (WCAG 2.x A/AA, colour contrast among
them). axe-core comes vendored in the ``axe-playwright-python`` wheel (pinned in the ``dev``
extra); nothing is fetched at run time."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.db import transaction
from playwright.sync_api import Page, expect

from tests.browser.test_care_manager_journey import chart, sign_in
from tests.personas import build_team

pytestmark = pytest.mark.browser
BLOCKING = {"serious", "critical"}


def serious_violations(page: Page) -> list[str]:
    """Each serious or critical violation axe finds, with the elements it found it on.

    axe reads the page as it is drawn at that instant, so first wait for htmx to settle and for
    every finite CSS transition or animation to end: a button caught mid-way through Bootstrap's
    150 ms colour transition (the pointer still over it after an htmx swap) reads as failing
    contrast, which made this check flaky in CI."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )
    page.evaluate(
        """() => Promise.all(document.getAnimations()
            .filter(a => a.effect && a.effect.getComputedTiming().iterations !== Infinity)
            .map(a => a.finished.catch(() => null)))"""
    )
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(", ".join(node["target"]) for node in v["nodes"])
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


def test_the_login_page_passes_axe_with_the_demo_hint(page: Page, settings) -> None:
    settings.TANDEM_ENV = "development"
    page.goto("/login/")
    expect(page.get_by_role("note")).to_contain_text("python3 dev.py demo")

    assert serious_violations(page) == []


def test_the_pages_a_care_manager_and_a_leader_see_pass_axe(page: Page) -> None:
    team = build_team()
    chart(team)
    sign_in(page, "bob")
    found = {}
    pages = ["/", "/patients/?name=jon", f"/patients/{team.pat.pk}/", "/tokens/", "/no-such-page/"]
    for url in pages:
        page.goto(url)
        found[url] = serious_violations(page)
    page.get_by_role("button", name="Log out").click()
    sign_in(page, "leo")
    expect(page.get_by_role("heading", name="Sites overview")).to_be_visible()
    found["/ (leader)"] = serious_violations(page)

    assert found == dict.fromkeys(found, [])


def test_the_cohort_pages_pass_axe(page: Page) -> None:
    import datetime as dt

    from django.utils import timezone

    from tandem.registry import services
    from tandem.registry.models import RiskScore, SavedFilter
    from tests import builders as b

    team = build_team()
    patients = [b.patient(home_site=team.pc_site, mrn_site=team.pc_site) for _ in range(30)]
    today = timezone.localdate()
    services.rebuild_cohorts(as_of=today, members={"diabetes": [p.pk for p in patients]})
    for i, p in enumerate(patients[:10]):
        score, tier = [(1, "low"), (5, "moderate"), (9, "high"), (13, "very-high")][i % 4]
        RiskScore.objects.create(
            patient=p, score=score, tier=tier, components=[], as_of=today,
            computed_at=timezone.now() - dt.timedelta(minutes=1), sensitivity="normal",
        )  # fmt: skip
    SavedFilter.objects.create(user=team.leo, cohort="diabetes", name="High", query="tier=high")
    sign_in(page, "leo")
    found = {}
    for url in ["/cohorts/", "/cohorts/diabetes/", "/cohorts/diabetes/?tier=low&site=999"]:
        page.goto(url)
        found[url] = serious_violations(page)
    page.goto("/cohorts/diabetes/?tier=very-high&sort=name")
    found["filtered"] = serious_violations(page)
    page.goto("/cohorts/smi/")
    found["empty"] = serious_violations(page)

    assert found == dict.fromkeys(found, [])


def test_the_task_pages_pass_axe(page: Page) -> None:
    import datetime as dt

    from tandem.tasks import services
    from tests import builders as b

    team = build_team()
    queue = services.queue_for(site=team.pc_site, kind="primary-care")
    services.set_members(by=None, queue=queue, users=[team.alice])
    today = dt.date.today()
    mine = services.create_task(
        by=team.alice, patient=team.pat, title="Call Pat", owner=team.alice, due=today
    )
    late = services.create_task(
        by=None, patient=team.pat, title="Late", queue=queue, due=today - dt.timedelta(days=3),
        priority="urgent",
    )  # fmt: skip
    stranger = b.patient(given_name="Quinn", family_name="Stranger")
    hidden = services.create_task(by=None, patient=stranger, title="Hidden", queue=queue)
    done = services.create_task(by=team.alice, title="Done", owner=team.alice, priority="low")
    with transaction.atomic():  # services lock the row they change: a request's transaction
        services.complete_task(by=team.alice, task=done, outcome="Finished")
    page.goto("/login/", timeout=120_000)  # the server's first request loads every URLconf
    sign_in(page, "alice")
    found = {}
    urls = [
        "/tasks/",
        "/tasks/?status=all&sort=priority",
        "/tasks/?priority=high",  # empty
        f"/tasks/queues/{queue.key}/",
        f"/tasks/{mine.pk}/",
        f"/tasks/{hidden.pk}/",
        f"/tasks/{done.pk}/",
    ]
    for url in urls:
        page.goto(url)
        found[url] = serious_violations(page)
    page.goto(f"/tasks/{late.pk}/")
    page.get_by_role("button", name="Claim this task").click()
    expect(page.get_by_text("You claimed the task.")).to_be_visible()
    found["claimed (htmx)"] = serious_violations(page)
    page.get_by_role("button", name="Complete").click()  # no outcome: the browser refuses
    page.get_by_role("button", name="Log out").click()
    sign_in(page, "leo")
    page.goto(f"/tasks/queues/{queue.key}/")
    found["queue (leader)"] = serious_violations(page)

    assert found == dict.fromkeys(found, [])


def test_the_worklist_pages_pass_axe(page: Page) -> None:
    from django.utils import timezone

    from tandem.outreach import services as outreach
    from tandem.outreach.models import WorklistItem
    from tests.outreach import builders as ob

    team = build_team()
    patients = [ob.disengaged_smi(team) for _ in range(3)]
    outreach.rebuild_worklists(as_of=timezone.localdate())
    item = WorklistItem.objects.get(patient=patients[0])
    sign_in(page, "bob")
    found = {}
    urls = [
        "/worklists/",
        "/worklists/smi-disengaged/",
        "/worklists/smi-disengaged/?state=resolved",  # empty
        f"/worklists/items/{item.pk}/",
    ]
    for url in urls:
        page.goto(url)
        found[url] = serious_violations(page)
    page.goto("/worklists/smi-disengaged/")
    page.locator(f"#item-{item.pk}").get_by_role("button", name="Claim").click()
    expect(page.locator(f"#item-{item.pk}")).to_contain_text("Claimed")
    found["claimed (htmx)"] = serious_violations(page)
    page.goto(f"/worklists/items/{item.pk}/")
    page.get_by_test_id("attempt-form").get_by_role("button", name="Log attempt").click()
    expect(page.get_by_test_id("error-summary").first).to_be_visible()
    found["attempt with errors"] = serious_violations(page)

    assert found == dict.fromkeys(found, [])


def test_the_jobs_pages_pass_axe(page: Page, monkeypatch) -> None:
    import datetime as dt

    from tandem.jobs import rules, services
    from tandem.jobs.models import JobRun
    from tests.jobs import steps

    build_team()
    as_of = dt.date(2026, 12, 3)
    for names in (("first", "second"), ("first", "leaky_failure", "never")):
        monkeypatch.setattr(rules, "DAILY_REFRESH", steps.job(*names))
        monkeypatch.setitem(rules.JOBS, "daily-refresh", rules.DAILY_REFRESH)
        services.run_daily_refresh(by=None, as_of=as_of)
    failed = JobRun.objects.get(status="failed")
    sign_in(page, "leo")
    found = {}
    for url in ["/jobs/", f"/jobs/{failed.pk}/"]:
        page.goto(url)
        found[url] = serious_violations(page)
    page.goto("/jobs/")
    page.get_by_role("button", name="Run the daily refresh now").click()
    expect(page.get_by_text("Daily refresh queued as run")).to_be_visible()
    found["queued (polling row)"] = serious_violations(page)
    page.get_by_role("button", name="Run the daily refresh now").click()
    expect(page.get_by_text("Not queued: a daily refresh is queued")).to_be_visible()
    found["refused"] = serious_violations(page)

    assert found == dict.fromkeys(found, [])


def test_the_integrated_chart_passes_axe_for_the_bh_clinician_and_the_pcp(page: Page) -> None:
    from tests.browser.test_engagement_flow import integrated_record

    team = build_team()
    integrated_record(team)
    found = {}
    for user in ("charlie", "alice"):
        sign_in(page, user)
        page.goto(f"/patients/{team.pat.pk}/")
        expect(page.locator("#gaps")).not_to_have_attribute("aria-busy", "true")  # htmx loaded
        if user == "charlie":
            expect(page.get_by_test_id("engagement-panel")).to_be_visible()
        found[f"chart ({user})"] = serious_violations(page)
        if user == "charlie":
            page.get_by_role("button", name="Request a primary-care appointment").click()
            expect(page.get_by_test_id("engagement-open-request")).to_be_visible()
            found["chart after the request (charlie)"] = serious_violations(page)
        page.get_by_role("button", name="Log out").click()

    assert found == dict.fromkeys(found, [])


def test_every_role_home_and_the_shortcuts_help_pass_axe(page: Page) -> None:
    team = build_team()
    chart(team)
    found = {}
    for username in ("alice", "bob", "charlie", "sam", "leo", "olive", "pat"):
        sign_in(page, username)
        found[f"/ ({username})"] = serious_violations(page)
        if username == "bob":
            page.keyboard.press("?")
            expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
            found["shortcuts help"] = serious_violations(page)
            page.keyboard.press("Escape")
        page.get_by_role("button", name="Log out").click()

    assert found == dict.fromkeys(found, [])


def test_the_patient_portal_passes_axe_on_a_phone(page: Page, screenshots) -> None:
    from tests import builders as b
    from tests.portal.test_views import pat_record, sud_consent_for_alice

    team = build_team()
    pat_record(team)
    directive = sud_consent_for_alice(team)
    draft = b.consent(
        patient=team.pat, categories=["hiv"], purposes=["treatment"], status="draft",
        recipients=[{"kind": "role", "role": "pcp"}],
    )  # fmt: skip
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/login/", timeout=120_000)  # the server's first request loads every URLconf
    sign_in(page, "alice")
    page.goto(f"/patients/{team.pat.pk}/")  # a line in Pat's access log
    page.get_by_role("button", name="Log out").click()
    sign_in(page, "pat")
    found = {}
    urls = [
        "/me/",
        "/me/record/",
        "/me/care-team/",
        "/me/questionnaires/",
        "/me/questionnaires/phq9/",
        "/me/care-plan/",
        "/me/sharing/",
        "/me/sharing/new/",
        f"/me/sharing/{directive.pk}/",
        "/me/access/",
        f"/me/sharing/{draft.pk}/",
    ]
    for n, url in enumerate(urls):
        page.goto(url)
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        found[url] = serious_violations(page) + ([] if fits else ["scrolls sideways on a phone"])
        name = url.strip("/").replace("/", "-").replace(str(directive.pk), "directive")
        name = name.replace(str(draft.pk), "draft")
        page.screenshot(path=screenshots / f"6{n}-portal-{name}-phone.png", full_page=True)
    page.goto("/me/questionnaires/phq9/")
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_test_id("error-summary")).to_be_visible()
    found["questionnaire with errors"] = serious_violations(page)
    page.goto("/me/sharing/new/")
    page.get_by_label("Care for alcohol or drug use").check()
    page.get_by_label("Anyone who is your primary care provider").check()
    page.get_by_label("To treat you").check()
    page.get_by_role("button", name="See what they would see").click()
    expect(page.get_by_test_id("preview")).to_be_visible()
    found["sharing preview"] = serious_violations(page)
    page.screenshot(path=screenshots / "6a-portal-sharing-preview-phone.png", full_page=True)
    page.get_by_role("button", name="Sign and share").click()  # no signature typed
    expect(page.get_by_test_id("error-summary")).to_be_visible()
    found["sharing with errors"] = serious_violations(page)
    page.goto(f"/me/sharing/{draft.pk}/")
    page.get_by_role("button", name="Sign and share").click()  # no name typed
    expect(page.get_by_test_id("error-summary")).to_be_visible()
    found["draft sign with errors"] = serious_violations(page)

    assert found == dict.fromkeys(found, [])


def test_the_audit_pages_pass_axe(page: Page, settings, tmp_path) -> None:
    settings.TANDEM_AUDIT_ANCHOR_FILE = tmp_path / "audit-anchors.txt"  # not the var dir's
    from tandem.audit import services as audit
    from tests.audit.tampering import guard_put_back, tamper

    team = build_team()
    for outcome in ("shown", "redacted", "denied"):
        audit.record(
            actor=team.alice,
            entry=audit.Entry("read", outcome, team.pat.pk, "conditions", "treatment",
                              "basis=care-team consent=3"),
        )  # fmt: skip
    audit.record(
        actor=team.olive,
        entry=audit.Entry("read", "shown", team.pat.pk, "conditions", "emergency",
                          "basis=emergency-access"),
    )  # fmt: skip
    page.goto("/login/", timeout=120_000)
    sign_in(page, "priya")
    found = {}
    for url in [
        "/",
        "/audit/",
        f"/audit/?patient={team.pat.pk}&outcome=denied",
        "/audit/?since=2999-01-01",  # empty
        "/audit/disclosures/",
        "/audit/disclosures/?patient=NO-SUCH",
        f"/audit/disclosures/{team.pat.pk}/",
    ]:
        page.goto(url)
        found[url] = serious_violations(page)
    with guard_put_back():  # the live server's database outlives this test
        tamper(
            "UPDATE audit_auditevent SET detail = 'x' WHERE id = (SELECT MIN(id) FROM audit_auditevent)"
        )
    page.goto("/audit/")
    expect(page.get_by_role("alert")).to_contain_text("Audit chain broken at event")
    found["broken chain"] = serious_violations(page)

    assert found == dict.fromkeys(found, [])


# --- Every page is checked --------------------------------------------------------------------
# Each page (a GET answered with HTML) by URL name, and the test above that runs axe on it.
# Add a page here when you add it to one of the tests (htmx fragments: the test that checks
# the page they are swapped into).


def test_the_break_the_glass_pages_pass_axe(page: Page) -> None:
    from tandem.breakglass import services as breakglass
    from tests import builders as b

    team = build_team()
    chart(team)
    other = b.patient(given_name="Quinn", family_name="Other", mrn_site=team.pc_site)
    reason = "Unconscious in the ED, no family reachable; need medications."
    reviewed = breakglass.declare(by=team.sam, patient_id=other.pk, reason=reason)
    breakglass.review(by=team.priya, grant=reviewed, justified=True, note="ED visit confirmed.")
    page.goto("/login/", timeout=120_000)  # the server's first request loads every URLconf
    sign_in(page, "olive")
    found = {}
    page.goto("/emergency-access/")
    found["declare"] = serious_violations(page)
    page.get_by_role("button", name="Declare emergency and open the chart").click()
    expect(page.get_by_test_id("error-summary")).to_be_visible()
    found["declare with errors"] = serious_violations(page)
    page.get_by_label("MRN").fill(team.pat.identifiers.get(kind="mrn").value)
    page.get_by_label("Reason for emergency access").fill(reason)
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Declare emergency and open the chart").click()
    expect(page.get_by_test_id("emergency-banner")).to_be_visible()
    found["chart with the emergency banner"] = serious_violations(page)
    page.get_by_role("button", name="Log out").click()
    sign_in(page, "priya")
    for url in [
        "/emergency-access/reviews/",
        "/emergency-access/reviews/?status=not-justified",  # empty
        f"/emergency-access/reviews/{reviewed.pk}/",
    ]:
        page.goto(url)
        found[url] = serious_violations(page)
    page.goto("/emergency-access/reviews/?status=unreviewed")
    page.get_by_test_id("grant-row").get_by_role("link").click()
    found["unreviewed"] = serious_violations(page)
    page.get_by_role("button", name="Record the review").click()
    expect(page.get_by_test_id("error-summary")).to_be_visible()
    found["review with errors"] = serious_violations(page)

    assert found == dict.fromkeys(found, [])


def test_the_sign_in_and_account_pages_pass_axe(page: Page, settings) -> None:
    from tests.browser.test_signin_security import required_set_up_axe, sign_in_security_pages_axe

    found = sign_in_security_pages_axe(page)
    page.get_by_role("link", name="Start again").click()
    found |= required_set_up_axe(page, settings)

    assert found == dict.fromkeys(found, [])


def test_the_consent_directive_pages_pass_axe(page: Page) -> None:
    from tests.browser.test_consent_pages import consent_pages_pass_axe

    found = consent_pages_pass_axe(page, serious_violations)

    assert found == dict.fromkeys(found, [])


AXE_PAGES = {
    "login": "test_the_login_page_passes_axe_with_the_demo_hint",
    "home": "test_every_role_home_and_the_shortcuts_help_pass_axe",
    "patient-search": "test_the_pages_a_care_manager_and_a_leader_see_pass_axe",
    "patient-summary": "test_the_integrated_chart_passes_axe_for_the_bh_clinician_and_the_pcp",
    "patient-sections": "test_the_integrated_chart_passes_axe_for_the_bh_clinician_and_the_pcp",
    # One chart section alone (an htmx partial): the same templates the chart test checks in
    # place after the lazy sections have loaded.
    "patient-section": "test_the_integrated_chart_passes_axe_for_the_bh_clinician_and_the_pcp",
    "api-tokens": "test_the_pages_a_care_manager_and_a_leader_see_pass_axe",
    "cohorts": "test_the_cohort_pages_pass_axe",
    "cohort": "test_the_cohort_pages_pass_axe",
    "tasks": "test_the_task_pages_pass_axe",
    "task-home-panel": "test_every_role_home_and_the_shortcuts_help_pass_axe",
    "task-queue": "test_the_task_pages_pass_axe",
    "task-detail": "test_the_task_pages_pass_axe",
    "worklists": "test_the_worklist_pages_pass_axe",
    "worklist": "test_the_worklist_pages_pass_axe",
    "worklist-item": "test_the_worklist_pages_pass_axe",
    "jobs": "test_the_jobs_pages_pass_axe",
    "job-detail": "test_the_jobs_pages_pass_axe",
    "job-row": "test_the_jobs_pages_pass_axe",
    "emergency-access": "test_the_break_the_glass_pages_pass_axe",
    "emergency-access-reviews": "test_the_break_the_glass_pages_pass_axe",
    "emergency-access-review": "test_the_break_the_glass_pages_pass_axe",
    "portal-home": "test_the_patient_portal_passes_axe_on_a_phone",
    "portal-record": "test_the_patient_portal_passes_axe_on_a_phone",
    "portal-team": "test_the_patient_portal_passes_axe_on_a_phone",
    "portal-questionnaires": "test_the_patient_portal_passes_axe_on_a_phone",
    "portal-questionnaire": "test_the_patient_portal_passes_axe_on_a_phone",
    "portal-care-plan": "test_the_patient_portal_passes_axe_on_a_phone",
    "portal-sharing": "test_the_patient_portal_passes_axe_on_a_phone",
    "portal-sharing-new": "test_the_patient_portal_passes_axe_on_a_phone",
    "portal-directive": "test_the_patient_portal_passes_axe_on_a_phone",
    "portal-access": "test_the_patient_portal_passes_axe_on_a_phone",
    "audit-log": "test_the_audit_pages_pass_axe",
    "audit-disclosures-index": "test_the_audit_pages_pass_axe",
    "audit-disclosures": "test_the_audit_pages_pass_axe",
    "login-code": "test_the_sign_in_and_account_pages_pass_axe",
    "login-setup": "test_the_sign_in_and_account_pages_pass_axe",
    "account": "test_the_sign_in_and_account_pages_pass_axe",
    "password-change": "test_the_sign_in_and_account_pages_pass_axe",
    "second-factor-setup": "test_the_sign_in_and_account_pages_pass_axe",
    "recovery-codes": "test_the_sign_in_and_account_pages_pass_axe",
    "consent-directives": "test_the_consent_directive_pages_pass_axe",
    "consent-new": "test_the_consent_directive_pages_pass_axe",
    # POST only (405 to a GET); its htmx partial is checked in place on the form, and the page
    # without JavaScript is consent/preview.html, which the draft's preview also renders.
    "consent-preview": "test_the_consent_directive_pages_pass_axe",
    "consent-directive": "test_the_consent_directive_pages_pass_axe",
    "consent-history": "test_the_consent_directive_pages_pass_axe",
    "consent-preview-draft": "test_the_consent_directive_pages_pass_axe",
}
# Named URLs that answer a GET with HTML but are not Tandem pages for axe, and why. (A named URL
# whose GET is refused with 405 is an action, not a page, and needs no line here.)
EXEMPT = {
    "cohort-export": "CSV download",
    "worklist-item-letter": "PDF download (an outreach letter)",
    "consent-signed-form": "PDF download (a consent directive's scanned signed form)",
    "audit-export": "CSV or FHIR JSON download of audit events",
    "oidc-start": "a redirect to the OpenID Connect provider (404 when not configured)",
    "oidc-callback": "a redirect back from the OpenID Connect provider (404 when not configured)",
}
EXEMPT_NAMESPACES = {
    "admin": "Django's admin: its own templates, for superusers only",
    "api": "the JSON API (problem+json); its Swagger UI page is django-ninja's",
}


def named_urls() -> list[tuple[str, str]]:
    """(name, route) of every named URL pattern, namespaced as ``namespace:name``."""
    from django.urls import URLResolver, get_resolver

    found: list[tuple[str, str]] = []

    def walk(patterns: list, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = ":".join(n for n in (namespace, pattern.namespace or "") if n)
                walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif pattern.name:
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                found.append((name, prefix + str(pattern.pattern)))

    walk(get_resolver().url_patterns, "", "")
    return found


def example_path(route: str) -> str:
    """The route with each ``<converter:name>`` filled by a value no object has."""
    import re

    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: "999999" if m[1] == "int" else "none", route)


def test_every_page_is_checked_by_axe_or_exempt_with_a_reason(client, team) -> None:
    client.force_login(team.bob)
    unchecked = []
    for name, route in named_urls():
        if name in AXE_PAGES or name in EXEMPT or name.split(":")[0] in EXEMPT_NAMESPACES:
            continue
        response = client.get(example_path(route))
        if response.status_code == 405:  # an action (POST only), not a page
            continue
        if not response.get("Content-Type", "").startswith("text/html"):
            continue
        unchecked.append(f"{name} ({route})")

    assert unchecked == [], "pages no axe test visits (add them to AXE_PAGES or EXEMPT):\n" + (
        "\n".join(unchecked)
    )


def test_the_page_lists_name_only_urls_that_exist(db) -> None:
    names = {name for name, _ in named_urls()}
    assert [n for n in [*AXE_PAGES, *EXEMPT] if n not in names] == []
    tests = {name for name in globals() if name.startswith("test_")}
    assert {t for t in AXE_PAGES.values() if t not in tests} == set()
