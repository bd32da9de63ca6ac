"""The worklist pages: lists, one item, the actions, refusals and query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.outreach import services
from tandem.outreach.models import ContactAttempt, WorklistItem
from tests.outreach import builders as ob


@pytest.fixture
def item(team):
    patient = ob.disengaged_smi(team)
    services.rebuild_worklists(as_of=timezone.localdate())
    return WorklistItem.objects.get(patient=patient, worklist="smi-disengaged")


def login(client, user):
    client.force_login(user)
    return client


def attempt_data(**kw):
    data = {
        "channel": "phone",
        "outcome": "no-answer",
        "attempted_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "note": "",
        "nonce": "n-" + str(timezone.now().timestamp()),
    }
    data.update(kw)
    return data


def test_the_index_counts_items_by_state_and_links_each_number(client, team, item):
    response = login(client, team.bob).get(reverse("worklists"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "SMI and disengaged from primary care" in html
    assert f'href="{reverse("worklist", args=["smi-disengaged"])}?state=new"' in html


def test_the_worklist_lists_the_item_and_audits_the_listing(client, team, item):
    response = login(client, team.bob).get(reverse("worklist", args=["smi-disengaged"]))

    assert response.status_code == 200
    assert item.patient.family_name.upper() in response.content.decode()
    assert AuditEvent.objects.filter(action="list", patient_id=item.patient_id).exists()


def test_the_pcp_does_not_see_the_smi_item_a_mental_health_label_hides(client, team, item):
    response = login(client, team.alice).get(reverse("worklist", args=["smi-disengaged"]))

    assert response.status_code == 200
    assert item.patient.family_name.upper() not in response.content.decode()
    assert (
        login(client, team.alice).get(reverse("worklist-item", args=[item.pk])).status_code == 404
    )


def test_the_outsider_sees_no_list_and_no_item_and_each_refusal_is_audited(client, team, item):
    login(client, team.olive)

    assert client.get(reverse("worklists")).status_code == 403
    assert client.get(reverse("worklist", args=["smi-disengaged"])).status_code == 403
    assert client.get(reverse("worklist-item", args=[item.pk])).status_code == 404
    denied = AuditEvent.objects.filter(actor_id=team.olive.pk, outcome="denied")
    assert denied.count() == 3
    assert denied.filter(patient_id=item.patient_id).exists()


@pytest.mark.parametrize(
    "query", ["state=bogus", "sort=patient__family_name", "owner=root", "site=x", "page=0"]
)
def test_tampered_filters_are_a_400_naming_the_field(client, team, item, query):
    response = login(client, team.bob).get(
        reverse("worklist", args=["smi-disengaged"]) + "?" + query
    )

    assert response.status_code == 400


def test_an_unknown_worklist_or_item_is_a_404(client, team, item):
    login(client, team.bob)

    assert client.get(reverse("worklist", args=["no-such-list"])).status_code == 404
    assert client.get(reverse("worklist-item", args=[item.pk + 999])).status_code == 404
    assert client.get(f"/worklists/items/{2**64}/").status_code == 404


def test_the_item_page_shows_reason_protocol_and_forms(client, team, item):
    response = login(client, team.bob).get(reverse("worklist-item", args=[item.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert item.reason in html and "Log a contact attempt" in html
    assert "at least 4 attempts over at least 3 channels within 30 days" in html


def test_an_attempt_dated_in_the_future_is_refused_and_nothing_is_written(client, team, item):
    future = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    response = login(client, team.bob).post(
        reverse("worklist-item-attempt", args=[item.pk]), attempt_data(attempted_at=future)
    )

    assert response.status_code == 400
    assert "cannot be in the future" in response.content.decode()
    assert ContactAttempt.objects.count() == 0


def test_a_double_submitted_attempt_is_written_once(client, team, item):
    data = attempt_data(nonce="same-form")
    login(client, team.bob)

    first = client.post(reverse("worklist-item-attempt", args=[item.pk]), data)
    second = client.post(reverse("worklist-item-attempt", args=[item.pk]), data)

    assert first.status_code == second.status_code == 302
    assert ContactAttempt.objects.filter(item=item).count() == 1
    item.refresh_from_db()
    assert item.state == "in-outreach" and item.owner == team.bob


def test_claiming_inline_returns_the_row(client, team, item):
    response = login(client, team.bob).post(
        reverse("worklist-item-claim", args=[item.pk]), HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert (
        f'id="item-{item.pk}"' in response.content.decode() and "Undo" in response.content.decode()
    )
    item.refresh_from_db()
    assert item.state == "claimed" and item.owner == team.bob


def test_a_leader_reads_the_list_but_may_not_act(client, team, item):
    login(client, team.leo)
    assert client.get(reverse("worklists")).status_code == 200
    assert client.post(reverse("worklist-item-claim", args=[item.pk])).status_code in (403, 404)


def test_unable_to_reach_is_refused_until_the_protocol_is_exhausted(client, team, item):
    login(client, team.bob)
    client.post(reverse("worklist-item-attempt", args=[item.pk]), attempt_data(nonce="a1"))

    response = client.post(reverse("worklist-item-unable", args=[item.pk]), {"note": ""})

    assert response.status_code == 400
    assert "not exhausted" in response.content.decode()


def test_booking_an_appointment_moves_the_item_to_in_outreach(client, team, item):
    start = (timezone.localtime() + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    data = {"start": start, "site": team.pc_site.pk, "channel": "phone", "nonce": "book-1"}

    response = login(client, team.bob).post(reverse("worklist-item-book", args=[item.pk]), data)

    assert response.status_code == 302
    item.refresh_from_db()
    assert item.state == "in-outreach" and item.appointment.status == "booked"
    assert item.appointment.practitioner == team.practitioner(team.alice)
    assert ContactAttempt.objects.get(item=item).outcome == "appointment-made"


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_worklist_page_does_not_query_per_row(client, team, item):
    login(client, team.bob)
    url = reverse("worklist", args=["smi-disengaged"])
    one = _queries(client, url)
    for _ in range(5):
        ob.disengaged_smi(team)
    services.rebuild_worklists(as_of=timezone.localdate())

    six = _queries(client, url)

    assert six == one
    # session, user, staff facts (read once per request: core.lib.memo), care-team ids, count,
    # page, audit (3), sites (the bound was 30 while each gate call read the staff facts again)
    assert one <= 16


def test_the_item_page_query_count_does_not_grow_with_attempts(client, team, item):
    login(client, team.bob)
    url = reverse("worklist-item", args=[item.pk])
    client.post(reverse("worklist-item-attempt", args=[item.pk]), attempt_data(nonce="q1"))
    one = _queries(client, url)
    for n in range(3):
        client.post(
            reverse("worklist-item-attempt", args=[item.pk]),
            attempt_data(nonce=f"q{n + 2}", channel="text"),
        )

    assert _queries(client, url) == one
