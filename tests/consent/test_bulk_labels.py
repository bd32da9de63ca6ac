"""Labels assigned in bulk (the synthetic writer, the back-fill migrations) follow the same rules
as ``save()`` (issue 9, item 1)."""

from __future__ import annotations

import datetime as dt

import pytest

from tandem.consent import rules
from tandem.consent.models import ConsentDirective
from tandem.core.models import CareTeamMember
from tandem.registry.models import Coverage, PatientIdentifier
from tests import builders as b

pytestmark = pytest.mark.django_db

RELATIONSHIPS = [CareTeamMember, PatientIdentifier, Coverage, ConsentDirective]


def relationship_rows(team):
    """One row of each labelled relationship kind per unit of the personas' world."""
    sam = team.practitioner(team.sam)
    rows = [
        b.care_team_member(patient=team.pat, practitioner=sam, program=team.part2_program),
        b.care_team_member(patient=team.pat, practitioner=sam, role="bh-clinician"),  # no program
        PatientIdentifier.objects.create(
            patient=team.pat, kind="mrn", system="urn:h", value="H1", site=team.sud_site
        ),
        PatientIdentifier.objects.create(
            patient=team.pat, kind="mrn", system="urn:c", value="C1", site=team.cmhc
        ),
        PatientIdentifier.objects.create(
            patient=team.pat, kind="medicaid", system="urn:m", value="X1"
        ),
        Coverage.objects.create(
            patient=team.pat, payer=b.organization(), kind="medicaid", start=dt.date(2024, 1, 1)
        ),
        b.consent(patient=team.pat, category="hiv", recipient_practitioner=sam),
    ]
    return rows


def labels(model):
    return dict(model.objects.values_list("pk", "sensitivity"))


def test_save_labels_each_relationship_by_its_unit(team):
    rows = relationship_rows(team)

    assert [r.sensitivity for r in rows] == [
        "substance-use",  # a Part 2 program
        "substance-use",  # no program: Sam works only in the Part 2 program
        "substance-use",  # Harbor Recovery runs only the Part 2 program
        "mental-health",  # the CMHC
        "normal",  # a Medicaid id names no site
        "normal",  # a payer with no site
        "hiv",  # a consent directive: its category
    ]


def test_the_back_fill_labels_stored_rows_as_save_would(team):
    relationship_rows(team)
    saved = {m: labels(m) for m in RELATIONSHIPS}
    for model in RELATIONSHIPS:  # as the rows stood right after the columns were added
        model.objects.update(sensitivity="normal")

    units = rules.Units.load()
    for model in RELATIONSHIPS:
        rules.backfill(model, units)

    assert {m: labels(m) for m in RELATIONSHIPS} == saved


def test_the_back_fill_keeps_code_labels_and_psychotherapy_notes(team):
    from tandem.clinical.models import Encounter
    from tandem.scheduling.models import Appointment

    now = b.timezone.now()
    hiv_visit = b.encounter(patient=team.pat, site=team.cmhc, type_system=rules.ICD10)
    Encounter.objects.filter(pk=hiv_visit.pk).update(sensitivity="hiv")
    booked = Appointment.objects.create(patient=team.pat, site=team.sud_site, start=now, end=now)
    Appointment.objects.filter(pk=booked.pk).update(sensitivity="normal")

    units = rules.Units.load()
    rules.backfill(Encounter, units)
    rules.backfill(Appointment, units)

    assert Encounter.objects.get(pk=hiv_visit.pk).sensitivity == "hiv"  # rule 3 before rule 5
    assert Appointment.objects.get(pk=booked.pk).sensitivity == "substance-use"


def test_the_synthetic_writer_labels_relationships_as_save_would(db):
    from tandem.synth.database import write_population

    write_population(patients=150, seed=91, start=dt.date(2024, 1, 1), end=dt.date(2025, 6, 30))

    for model in RELATIONSHIPS:
        rows = list(model.objects.all())
        assert rows or model is ConsentDirective, model  # few directives in 150 people
        wrong = [r.pk for r in rows if r.sensitivity != rules.label_for(r)]
        assert wrong == [], model
    from tandem.registry.models import Patient

    homes = {
        p.pk: (p.home_site_sensitivity, rules.label_home_site(p)) for p in Patient.objects.all()
    }
    assert [pk for pk, (stored, rule) in homes.items() if stored != rule] == []
    assert {stored for stored, _ in homes.values()} == {"normal", "mental-health"}  # CMHC homes
    part2 = CareTeamMember.objects.filter(program__is_part2=True)
    assert part2.exists()
    assert set(part2.values_list("sensitivity", flat=True)) == {"substance-use"}
    part2_mrns = PatientIdentifier.objects.filter(
        site__programs__is_part2=True, site__kind="sud-program"
    )
    assert set(part2_mrns.values_list("sensitivity", flat=True)) == {"substance-use"}


def test_a_bulk_insert_that_forgets_the_label_fails():
    from django.db import IntegrityError, transaction

    from tandem.synth.dbinsert import insert

    patient = b.patient()
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(
            PatientIdentifier,
            [{"patient_id": patient.pk, "kind": "medicaid", "system": "urn:x", "value": "1"}],
        )
