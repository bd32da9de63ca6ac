"""Cohort pages (F1): index counts, filters, sort, pages, saved filters, CSV — through the gate."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.registry import services
from tandem.registry.models import RiskScore, SavedFilter
from tests import builders as b

INDEX = reverse("cohorts")
DIABETES = reverse("cohort", args=["diabetes"])
TODAY = timezone.localdate()


def login(client, user) -> None:
    client.force_login(user)


def on_cohort(cohort: str, *patients) -> None:
    services.rebuild_cohorts(as_of=TODAY, members={cohort: [p.pk for p in patients]})


def risk(patient, score: int, tier: str, sensitivity: str = "normal") -> RiskScore:
    return RiskScore.objects.create(
        patient=patient,
        score=score,
        tier=tier,
        components=[],
        as_of=TODAY,
        computed_at=timezone.now(),
        sensitivity=sensitivity,
    )


def registered(team, n: int, **kw) -> list:
    """Patients at the primary-care site (Leo, a leader there, sees them for operations)."""
    return [
        b.patient(home_site=team.pc_site, mrn_site=team.pc_site, family_name=f"Zed{i:03d}", **kw)
        for i in range(n)
    ]


def names(response) -> list[str]:
    return [p.family_name for p in response.context["page"].object_list]


# --- index ---------------------------------------------------------------------------------


def test_the_index_counts_the_patients_the_reader_may_see_and_links_each_number(client, team):
    patients = registered(team, 3)
    outside = b.patient()  # registered nowhere Leo leads
    on_cohort("diabetes", *patients, outside)
    login(client, team.leo)

    response = client.get(INDEX)

    assert response.status_code == 200
    counts = {c.key: n for c, n in response.context["rows"]}
    assert counts["diabetes"] == 3
    assert f'href="{DIABETES}" data-testid="count-diabetes"' in response.text


def test_the_outsider_sees_no_patient_on_any_cohort(client, team):
    on_cohort("diabetes", *registered(team, 2), team.pat)
    login(client, team.olive)

    assert all(n == 0 for _, n in client.get(INDEX).context["rows"])
    response = client.get(DIABETES)
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 0
    assert "No patients on this cohort" in response.text


def test_a_mental_health_membership_is_listed_only_inside_behavioral_health(client, team):
    on_cohort("smi", team.pat)  # no diagnosis record: the cohort's own label
    smi = reverse("cohort", args=["smi"])

    login(client, team.bob)
    assert names(client.get(smi)) == ["Jones"]
    login(client, team.alice)
    assert names(client.get(smi)) == []


def test_an_unknown_cohort_is_not_found(client, team):
    login(client, team.leo)
    assert client.get(reverse("cohort", args=["astrology"])).status_code == 404


# --- filters, sort, pages ------------------------------------------------------------------


def test_it_filters_by_risk_tier_and_sorts_by_risk_with_the_unscored_last(client, team):
    low, high, unscored, very = registered(team, 4)
    risk(low, 1, "low")
    risk(high, 9, "high")
    risk(very, 14, "very-high")
    on_cohort("diabetes", low, high, unscored, very)
    login(client, team.leo)

    assert names(client.get(DIABETES)) == ["Zed003", "Zed001", "Zed000", "Zed002"]
    assert names(client.get(DIABETES, {"sort": "risk"})) == ["Zed000", "Zed001", "Zed003", "Zed002"]
    assert names(client.get(DIABETES, {"tier": "high"})) == ["Zed001"]


def test_it_filters_by_site_clinician_team_and_payer(client, team):
    a, c, d, e = registered(team, 4)
    on_cohort("diabetes", a, c, d, e)
    alice = team.practitioner(team.alice)
    b.care_team_member(patient=c, practitioner=alice, program=team.pc_program)
    payer = b.organization(name="Medicaid of the State", kind="payer")
    from tandem.registry.models import Coverage

    Coverage.objects.create(patient=d, payer=payer, kind="medicaid", start=TODAY)
    e.home_site = team.cmhc
    e.save()
    login(client, team.leo)

    assert names(client.get(DIABETES, {"clinician": alice.pk})) == ["Zed001"]
    assert names(client.get(DIABETES, {"team": team.pc_program.pk})) == ["Zed001"]
    assert names(client.get(DIABETES, {"payer": payer.pk})) == ["Zed002"]
    assert names(client.get(DIABETES, {"site": team.pc_site.pk, "sort": "name"})) == [
        "Zed000",
        "Zed001",
        "Zed002",
    ]


def test_a_filter_offers_no_part2_program_to_a_reader_outside_it(client, team):
    login(client, team.leo)

    form = client.get(DIABETES).context["form"]

    teams = [label for _, label in form.fields["team"].choices]
    assert not any("Opioid treatment" in label for label in teams)
    assert "Harbor Recovery" not in [label for _, label in form.fields["site"].choices]
    response = client.get(DIABETES, {"team": team.part2_program.pk})
    assert response.status_code == 400


def test_it_filters_by_an_open_care_gap(client, team):
    from tandem.measures.models import MeasurePatientResult, MeasureRun

    gap, met, excluded = registered(team, 3)
    on_cohort("diabetes", gap, met, excluded)
    now = timezone.now()
    run = MeasureRun.objects.create(
        measure="CMS165", version="CMS165v13", period_start=dt.date(2025, 1, 1),
        period_end=dt.date(2025, 12, 31), engine="duckdb", started_at=now, finished_at=now,
        patients=3, summary=[],
    )  # fmt: skip
    for patient, pops in (
        (gap, {"initial-population": 1, "denominator": 1, "numerator": 0}),
        (met, {"initial-population": 1, "denominator": 1, "numerator": 1}),
        (excluded, {"initial-population": 1, "denominator": 1, "denominator-exclusion": 1}),
    ):
        MeasurePatientResult.objects.create(
            run=run, patient=patient, group="group-1", populations=pops,
            in_initial_population=True, in_numerator=bool(pops.get("numerator")),
        )  # fmt: skip
    login(client, team.leo)

    assert names(client.get(DIABETES, {"gap": "any"})) == ["Zed000"]
    assert names(client.get(DIABETES, {"gap": "CMS165"})) == ["Zed000"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"sort": "password"}, "Sort"),
        ({"sort": "-name;drop table"}, "Sort"),
        ({"tier": "extreme"}, "Risk tier"),
        ({"site": "999999"}, "Site"),
        ({"site": "abc"}, "Site"),
        ({"per_page": "100000"}, "Rows per page"),
        ({"page": "0"}, "Page"),
        ({"gap": "NOPE"}, "Open care gap"),
    ],
)
def test_a_tampered_filter_or_sort_is_refused_with_a_message(client, team, query, field):
    login(client, team.leo)

    response = client.get(DIABETES, query)

    assert response.status_code == 400
    assert field in response.text
    assert not AuditEvent.objects.filter(action="list").exists()


def test_a_tampered_sort_over_htmx_gets_the_message_partial(client, team):
    login(client, team.leo)

    response = client.get(DIABETES, {"sort": "ssn"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 400
    assert "<html" not in response.text
    assert "Sort" in response.text


def test_it_pages_on_the_server_and_htmx_gets_the_list_alone(client, team):
    on_cohort("diabetes", *registered(team, 30))
    login(client, team.leo)

    first = client.get(DIABETES, {"sort": "name"})
    second = client.get(DIABETES, {"sort": "name", "page": 2}, HTTP_HX_REQUEST="true")

    assert len(names(first)) == 25
    assert names(second) == [f"Zed{i:03d}" for i in range(25, 30)]
    assert "<html" not in second.text
    assert "Page 2 of 2" in second.text
    assert (
        names(client.get(DIABETES, {"per_page": 50}))
        and len(names(client.get(DIABETES, {"per_page": 50}))) == 30
    )
    listed = AuditEvent.objects.filter(action="list", detail="cohort diabetes")
    assert listed.count() == 25 + 5 + 30 + 30


def test_the_list_takes_the_same_number_of_queries_for_5_or_25_rows(client, team):
    login(client, team.leo)

    def queries_for(n: int) -> int:
        patients = registered(team, n)
        for p in patients:
            risk(p, 3, "low")
        on_cohort("diabetes", *patients)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(DIABETES).status_code == 200
        return len(ctx.captured_queries)

    few = queries_for(5)
    assert queries_for(20) == few
    assert few <= 40


# --- saved filters -------------------------------------------------------------------------


def save(client, name: str, query: str):
    return client.post(
        reverse("cohort-save-filter", args=["diabetes"]), {"name": name, "query": query}
    )


def test_a_saved_filter_is_kept_per_user_and_applied_by_its_link(client, team):
    login(client, team.leo)

    response = save(client, "High risk", "tier=high&sort=-risk")
    again = save(client, "High risk", "tier=high&sort=-risk")  # a double click

    assert response.status_code == again.status_code == 302
    assert response["Location"] == DIABETES + "?tier=high&sort=-risk"
    saved = SavedFilter.objects.get()
    assert (saved.user, saved.name, saved.query) == (team.leo, "High risk", "tier=high&sort=-risk")
    page = client.get(DIABETES)
    assert f'href="{DIABETES}?tier=high&amp;sort=-risk">High risk</a>' in page.text
    login(client, team.alice)
    assert "High risk" not in client.get(DIABETES).text


def test_a_saved_filter_with_a_tampered_query_is_refused(client, team):
    login(client, team.leo)

    response = save(client, "Bad", "sort=password")

    assert response.status_code == 400
    assert not SavedFilter.objects.exists()


def test_a_user_deletes_their_own_saved_filter_and_not_someone_elses(client, team):
    mine = SavedFilter.objects.create(user=team.leo, cohort="diabetes", name="Mine", query="")
    theirs = SavedFilter.objects.create(user=team.alice, cohort="diabetes", name="Hers", query="")
    login(client, team.leo)

    client.post(reverse("cohort-delete-filter", args=["diabetes", theirs.pk]))
    client.post(reverse("cohort-delete-filter", args=["diabetes", mine.pk]))
    again = client.post(reverse("cohort-delete-filter", args=["diabetes", mine.pk]))

    assert again.status_code == 302
    assert list(SavedFilter.objects.values_list("name", flat=True)) == ["Hers"]
    assert AuditEvent.objects.filter(action="write:delete_filter").count() == 1


# --- CSV ----------------------------------------------------------------------------------


def test_the_csv_has_every_row_the_reader_may_see_and_audits_them(client, team):
    shown = registered(team, 30)
    hidden = b.patient(family_name="Hidden")
    shown[0].family_name = "=HYPERLINK(1)"
    shown[0].save()
    on_cohort("diabetes", *shown, hidden)
    login(client, team.leo)

    response = client.get(reverse("cohort-export", args=["diabetes"]), {"sort": "name"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["Family name", "Given name", "Birth date"]
    family = [r[0] for r in rows[1:]]
    assert len(family) == 30
    assert "Hidden" not in family
    assert "'=HYPERLINK(1)" in family
    assert rows[1][-1].endswith(reverse("patient-summary", args=[shown[0].pk]))  # "=" sorts first
    exported = AuditEvent.objects.filter(action="list", detail="cohort diabetes CSV export")
    assert exported.count() == 30


def test_the_outsider_exports_an_empty_csv(client, team):
    on_cohort("diabetes", *registered(team, 2))
    login(client, team.olive)

    response = client.get(reverse("cohort-export", args=["diabetes"]))

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
