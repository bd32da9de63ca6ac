"""The pages: Olive declares an emergency for Pat and lands on the chart with the banner;
Priya reviews it; nobody else sees the review pages."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tandem.audit.models import AuditEvent
from tandem.breakglass import rules, services
from tandem.breakglass.models import EmergencyAccess

pytestmark = pytest.mark.django_db

REASON = "Brought to urgent care confused; need current medications and diagnoses."


def mrn(team):
    return team.pat.identifiers.get(kind="mrn").value


def declare(client, **data):
    body = {"reason": REASON, "acknowledge": "on", **data}
    return client.post(reverse("emergency-access"), body)


def last(user, action):
    return AuditEvent.objects.filter(actor_id=user.pk, action=action).order_by("pk").last()


def test_the_page_warns_and_asks_for_an_exact_patient_and_a_reason(client, team):
    client.force_login(team.olive)
    page = client.get(reverse("emergency-access"))

    assert page.status_code == 200
    text = page.text
    assert "What this means" in text
    assert "Reason for emergency access" in text
    assert "Jones" not in text  # nothing listed


def test_a_declaration_lands_on_the_chart_with_the_banner(client, team):
    client.force_login(team.olive)

    response = declare(client, mrn=mrn(team))

    grant = EmergencyAccess.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("patient-summary", args=[team.pat.pk])
    chart = client.get(response["Location"])
    assert chart.status_code == 200
    banner = f"Emergency access until {grant.expires_at.astimezone().strftime('%H:%M')}"
    assert 'data-testid="emergency-banner"' in chart.text
    assert "Emergency access until" in chart.text and banner[:-5] in chart.text
    assert "emergency access (break-the-glass)" in chart.text


def test_by_name_and_birth_date_too(client, team):
    client.force_login(team.olive)
    response = declare(
        client,
        family_name="JONES",
        given_name="pat",
        birth_date=team.pat.birth_date.isoformat(),
    )
    assert response.status_code == 302
    assert EmergencyAccess.objects.get().patient == team.pat


def test_without_a_reason_it_is_a_form_error_audited_as_denied(client, team):
    client.force_login(team.olive)

    response = declare(client, mrn=mrn(team), reason="")

    assert response.status_code == 400
    assert "Give the reason for emergency access." in response.text
    assert not EmergencyAccess.objects.exists()
    denied = last(team.olive, "break-the-glass")
    assert (denied.outcome, denied.detail, denied.patient_id) == ("denied", "no reason given", None)


def test_a_miss_and_a_hit_look_the_same_until_the_reason_is_given(client, team):
    client.force_login(team.olive)

    hit = declare(client, mrn=mrn(team), reason="")
    miss = declare(client, mrn="NO-SUCH-MRN", reason="")

    def shown(response):
        text = re.sub(r'(csrfmiddlewaretoken" value=|X-CSRFToken": )"[^"]+"', "", response.text)
        return text.replace(mrn(team), "X").replace("NO-SUCH-MRN", "X")

    assert (hit.status_code, miss.status_code) == (400, 400)
    assert shown(hit) == shown(miss)


def test_a_miss_with_a_reason_is_refused_and_audited(client, team):
    client.force_login(team.olive)

    response = declare(client, mrn=mrn(team)[:-1])

    assert response.status_code == 400
    assert "No single patient matches exactly" in response.text
    assert last(team.olive, "break-the-glass").detail == "no exact match by mrn"


def test_too_many_misses_pause_the_lookup(client, team):
    client.force_login(team.olive)
    for _ in range(rules.MAX_MISSES_PER_HOUR):
        declare(client, mrn="NOPE")

    response = declare(client, mrn=mrn(team))

    assert response.status_code == 429
    assert not EmergencyAccess.objects.exists()


def test_a_patients_care_team_member_is_sent_to_the_chart_without_a_grant(client, team):
    client.force_login(team.alice)
    response = declare(client, mrn=mrn(team))
    assert response.status_code == 302
    assert not EmergencyAccess.objects.exists()


def test_only_practitioners_get_the_page(client, team):
    for user in (team.leo, team.priya):
        client.force_login(user)
        assert client.get(reverse("emergency-access")).status_code == 403
        assert last(user, "break-the-glass").outcome == "denied"


# --- reviews -------------------------------------------------------------------------------


def grant(team):
    return services.declare(by=team.olive, patient_id=team.pat.pk, reason=REASON)


def test_the_privacy_officer_sees_the_queue_and_the_reason(client, team):
    g = grant(team)
    client.force_login(team.priya)

    listing = client.get(reverse("emergency-access-reviews"))
    detail = client.get(reverse("emergency-access-review", args=[g.pk]))

    assert listing.status_code == 200 and "JONES, Pat" in listing.text
    assert "Awaiting review" in listing.text
    assert detail.status_code == 200 and REASON in detail.text
    assert 'data-testid="access-event"' in detail.text


def test_others_get_the_404_page_audited(client, team):
    g = grant(team)
    for user in (team.alice, team.olive, team.leo):
        client.force_login(user)
        assert client.get(reverse("emergency-access-reviews")).status_code == 404
        assert client.get(reverse("emergency-access-review", args=[g.pk])).status_code == 404
        response = client.post(
            reverse("emergency-access-review", args=[g.pk]), {"decision": "justified"}
        )
        assert response.status_code == 404
        assert last(user, "break-the-glass-review").outcome == "denied"
    g.refresh_from_db()
    assert g.review_status == "unreviewed"


def test_the_privacy_officer_reviews_with_a_note(client, team):
    g = grant(team)
    client.force_login(team.priya)
    url = reverse("emergency-access-review", args=[g.pk])

    refused = client.post(url, {"decision": "not-justified", "note": ""})
    done = client.post(url, {"decision": "justified", "note": "Urgent care visit confirmed."})

    assert refused.status_code == 400 and "Say why the access was not justified." in refused.text
    assert done.status_code == 302
    g.refresh_from_db()
    assert (g.review_status, g.review_note) == ("justified", "Urgent care visit confirmed.")
    after = client.get(url)
    assert "Urgent care visit confirmed." in after.text and "Your review" not in after.text


def test_tampered_filters_and_missing_grants(client, team):
    client.force_login(team.priya)
    assert client.get(reverse("emergency-access-reviews") + "?status=bogus").status_code == 400
    assert client.get(reverse("emergency-access-review", args=[987654])).status_code == 404
    assert client.get("/emergency-access/reviews/99999999999999999999/").status_code == 404
