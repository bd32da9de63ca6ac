"""The leader's home page, "Sites overview": counts per site, through the gate, in a fixed
number of queries however many patients and sites there are."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tandem.registry import queries
from tandem.registry.models import PatientIdentifier
from tests import builders as b


def overview(client) -> dict[str, tuple[int, int]]:
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return {s.name: (s.patients, s.with_care_team) for s in response.context["sites"]}


def a_site_led_by(leader, name: str):
    site = b.site(name=name)
    b.site_role(user=leader, site=site, role="leader")
    return site


def test_each_patient_counts_once_per_site_they_are_registered_at(client, team):
    # Pat: home site Riverside and an MRN there, with an active care team.
    both = b.patient(home_site=team.pc_site, mrn_site=team.cmhc)
    PatientIdentifier.objects.create(
        patient=both, kind="mrn", system="urn:x", value="second", site=team.cmhc
    )
    b.patient(mrn_site=team.cmhc)  # no home site: registered by the MRN alone
    b.patient(home_site=team.sud_site)  # registered only where Leo has no role
    client.force_login(team.leo)

    assert overview(client) == {"Riverside Family Medicine": (2, 1), "Northside CMHC": (2, 0)}


def test_only_current_care_teams_count(client, team):
    today = timezone.localdate()
    bob = team.practitioner(team.bob)
    ended = b.patient(home_site=team.cmhc)
    b.care_team_member(
        patient=ended, practitioner=bob, start=today - dt.timedelta(days=90), end=today
    )
    future = b.patient(home_site=team.cmhc)
    b.care_team_member(patient=future, practitioner=bob, start=today + dt.timedelta(days=1))
    finished = b.patient(home_site=team.cmhc)
    b.care_team_member(
        patient=finished,
        practitioner=bob,
        start=today - dt.timedelta(days=90),
        end=today - dt.timedelta(days=1),
    )
    client.force_login(team.leo)

    assert overview(client)["Northside CMHC"] == (3, 1)  # ends today: still current


def test_the_overview_counts_no_patient_the_gate_would_not_show(client, team, monkeypatch):
    from tandem.consent import gate

    seen = []
    real = gate.visible_patients

    def watched(**kwargs):
        seen.append(kwargs)
        return real(**kwargs).none()  # a gate that shows nothing

    monkeypatch.setattr(gate, "visible_patients", watched)
    client.force_login(team.leo)

    assert overview(client) == {"Riverside Family Medicine": (0, 0), "Northside CMHC": (0, 0)}
    assert {"user": team.leo, "purpose": "operations"} in seen  # the site counts asked the gate


def test_the_number_of_queries_does_not_grow_with_patients_or_sites(client, team):
    client.force_login(team.leo)
    with CaptureQueriesContext(connection) as two_sites_one_patient:
        overview(client)

    for n in range(3):
        site = a_site_led_by(team.leo, f"Clinic {n}")
        for _ in range(5):
            b.care_team_member(
                patient=b.patient(home_site=site, mrn_site=team.cmhc),
                practitioner=team.practitioner(team.alice),
            )
    with CaptureQueriesContext(connection) as five_sites_sixteen_patients:
        counts = overview(client)

    assert counts["Clinic 2"] == (5, 5) and counts["Northside CMHC"] == (15, 15)
    assert len(five_sites_sixteen_patients) == len(two_sites_one_patient)


def test_the_counts_take_a_fixed_handful_of_queries(team, django_assert_max_num_queries):
    sites = [a_site_led_by(team.leo, f"Clinic {n}") for n in range(10)]
    for site in sites:
        b.patient(home_site=site)

    with django_assert_max_num_queries(6):
        rows = queries.site_overview(
            user=team.leo, site_ids=[s.pk for s in [team.pc_site, team.cmhc, *sites]]
        )

    assert len(rows) == 12 and sum(r.patients for r in rows) == 11


def test_no_query_of_the_overview_runs_a_subquery_once_per_patient(team):
    """A correlated subquery per patient was the slow page: SQLite planned it on the (site,
    kind) index of identifiers and scanned a site's every MRN once per patient."""
    if connection.vendor != "sqlite":
        pytest.skip("reads SQLite's query plans")
    with CaptureQueriesContext(connection) as overview_queries:
        queries.site_overview(user=team.leo, site_ids=[team.pc_site.pk, team.cmhc.pk])

    plans = []
    with connection.cursor() as cursor:
        for query in overview_queries.captured_queries:
            cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
            plans += [row[-1] for row in cursor.fetchall()]
    assert any("registry_patient" in step for step in plans)
    assert not [step for step in plans if "CORRELATED" in step]


def listed(client, query: str) -> set[int]:
    response = client.get(reverse("patient-search") + query)
    assert response.status_code == 200
    return {p.pk for p in response.context["page"].object_list}


def test_each_count_links_to_the_patients_it_counts(client, team):
    both = b.patient(home_site=team.pc_site, mrn_site=team.cmhc)
    by_mrn = b.patient(mrn_site=team.cmhc)
    b.patient(home_site=team.sud_site)
    client.force_login(team.leo)
    home = client.get(reverse("home")).text
    cmhc = team.cmhc.pk

    assert f'href="/patients/?site={cmhc}"' in home
    assert f'href="/patients/?site={cmhc}&amp;care_team=on"' in home
    assert listed(client, f"?site={cmhc}") == {both.pk, by_mrn.pk}
    riverside = listed(client, f"?site={team.pc_site.pk}")
    assert len(riverside) == overview(client)["Riverside Family Medicine"][0]
    with_team = listed(client, f"?site={team.pc_site.pk}&care_team=on")
    assert len(with_team) == overview(client)["Riverside Family Medicine"][1]


def test_a_site_the_reader_does_not_lead_is_refused(client, team):
    client.force_login(team.alice)

    response = client.get(reverse("patient-search") + f"?site={team.sud_site.pk}")

    assert response.status_code == 400
    assert "Choose a site you lead." in response.text
