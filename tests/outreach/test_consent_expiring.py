"""The `consent-expiring` worklist: active directives ending within 30 days, one item per
patient ranked by the nearest expiry, closed by itself when the directive is renewed, revoked or
has ended; the item carries the directive's label."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tandem.consent.models import ConsentDirective, DirectiveRecipient
from tandem.outreach import rules, services
from tandem.outreach.models import WorklistItem
from tests import builders as b

pytestmark = pytest.mark.django_db

KEY = "consent-expiring"


def today() -> dt.date:
    return timezone.localdate()


def directive(patient, *, ends_in=None, categories=("mental-health",), recipients=None, **kw):
    kw.setdefault("start", today() - dt.timedelta(days=300))
    kw.setdefault("status", "active")
    kw.setdefault("purposes", ["treatment"])
    label = "substance-use" if "substance-use" in categories else categories[0]
    made = ConsentDirective.objects.create(
        patient=patient,
        categories=list(categories),
        end=None if ends_in is None else today() + dt.timedelta(days=ends_in),
        sensitivity=label,
        **kw,
    )
    for recipient in recipients or [{"kind": "role", "role": "pcp"}]:
        DirectiveRecipient.objects.create(directive=made, **recipient)
    return made


def refresh(on: dt.date | None = None) -> None:
    services.rebuild_worklists(as_of=on or today())


def items(**kw):
    return WorklistItem.objects.filter(worklist=KEY, **kw)


def test_a_directive_ending_within_30_days_puts_the_patient_on_the_list(team):
    soon = directive(team.pat, ends_in=12)
    later = directive(team.pat, ends_in=31, categories=("hiv",))

    refresh()

    [item] = items()
    assert item.state == rules.NEW
    assert item.due == soon.end
    assert item.reason.startswith(f"Consent directive ends on {soon.end.isoformat()}")
    assert "mental health" in item.reason and "primary care provider" in item.reason
    assert [d["directive"] for d in item.evidence["directives"]] == [soon.pk]
    assert later.pk not in [d["directive"] for d in item.evidence["directives"]]
    assert item.sensitivity == "mental-health"


@pytest.mark.parametrize(("ends_in", "listed"), [(0, True), (30, True), (31, False), (-1, False)])
def test_the_window_is_today_to_30_days_ahead(team, ends_in, listed):
    directive(team.pat, ends_in=ends_in)
    refresh()
    assert items().exists() is listed


def test_drafts_revoked_and_open_ended_directives_are_not_listed(team):
    directive(team.pat, ends_in=5, status="draft")
    directive(team.pat, ends_in=5, status="revoked")
    directive(team.pat, ends_in=None)
    refresh()
    assert not items().exists()


def test_one_item_per_patient_names_every_expiring_directive(team):
    first = directive(team.pat, ends_in=20)
    second = directive(team.pat, ends_in=3, categories=("substance-use",))
    refresh()
    [item] = items()
    assert [d["directive"] for d in item.evidence["directives"]] == [second.pk, first.pk]
    assert "2 directives expiring" in item.reason
    # the most protective label of its directives: a Part 2 directive makes a Part 2 item
    assert item.sensitivity == "substance-use"


def test_items_rank_by_nearest_expiry_whatever_the_risk(client, team):
    other = b.patient(mrn_site=team.pc_site, home_site=team.pc_site)
    b.care_team_member(patient=other, practitioner=team.practitioner(team.bob), role="care-manager")
    directive(team.pat, ends_in=25)
    directive(other, ends_in=4)
    refresh()
    items().filter(patient=team.pat).update(risk=90)

    client.force_login(team.bob)
    page = client.get(reverse("worklist", args=[KEY]))

    assert page.status_code == 200
    listed = [i.patient_id for i in page.context["page"].object_list]
    assert listed == [other.pk, team.pat.pk]


def test_a_renewal_closes_the_item_by_itself(team):
    old = directive(team.pat, ends_in=10)
    refresh()
    assert items(state=rules.NEW).exists()

    new = directive(team.pat, ends_in=375, start=old.end)
    refresh()

    [item] = items()
    assert item.state == rules.RESOLVED
    assert (
        item.resolved_reason == f"Directive {old.pk} renewed by directive {new.pk} until {new.end}"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"categories": ["hiv"]},  # does not cover mental health
        {"purposes": ["operations"]},  # not for treatment
        {"ends_in": 5},  # does not last longer
    ],
)
def test_a_newer_directive_that_covers_less_is_no_renewal(team, change):
    directive(team.pat, ends_in=10)
    kw = {"ends_in": 375, **change}
    if "categories" in kw:
        kw["categories"] = tuple(kw["categories"])
    directive(team.pat, **kw)
    refresh()
    assert items(state=rules.NEW).exists()


def test_a_renewal_must_name_the_same_recipients(team):
    alice = team.practitioner(team.alice)
    directive(team.pat, ends_in=10, recipients=[{"kind": "person", "practitioner": alice}])
    directive(team.pat, ends_in=375, recipients=[{"kind": "role", "role": "care-manager"}])
    refresh()
    assert items(state=rules.NEW).exists()


def test_an_ended_directive_closes_its_item_saying_it_was_not_renewed(team):
    old = directive(team.pat, ends_in=2)
    refresh()
    refresh(on=today() + dt.timedelta(days=3))
    [item] = items()
    assert item.state == rules.RESOLVED
    assert item.resolved_reason == f"Directive {old.pk} ended on {old.end} without renewal"


def test_a_revoked_directive_closes_its_item(team):
    old = directive(team.pat, ends_in=9)
    refresh()
    ConsentDirective.objects.filter(pk=old.pk).update(status="revoked")
    refresh()
    [item] = items()
    assert item.state == rules.RESOLVED
    assert item.resolved_reason == f"Directive {old.pk} revoked"


def test_the_pcp_outside_the_directive_does_not_see_a_part2_item(client, team):
    care_managers = [{"kind": "role", "role": "care-manager"}]
    directive(team.pat, ends_in=9, categories=("substance-use",), recipients=care_managers)
    refresh()
    client.force_login(team.alice)
    page = client.get(reverse("worklist", args=[KEY]))
    assert page.status_code == 200
    assert list(page.context["page"].object_list) == []


def test_care_managers_see_the_list_on_the_worklists_page(client, team):
    directive(team.pat, ends_in=9)
    refresh()
    client.force_login(team.bob)
    page = client.get(reverse("worklists"))
    assert page.status_code == 200
    assert "Consent directives expiring within 30 days" in page.content.decode()
