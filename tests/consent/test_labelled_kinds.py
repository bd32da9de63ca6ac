"""Every kind the gate serves is labelled when one of its rows could name a protected program.

A row can reveal a protected program when a chain of foreign keys from it, not through the
patient it belongs to, reaches a site, a program, a practitioner or an organization: an MRN
"(New Path Recovery Services)", a care-team member "Outpatient SUD treatment (Part 2)". Such a
kind must carry a sensitivity label with a database check, or the gate cannot filter it
(issue 9, item 1). The check walks the models' metadata, so a new kind or a new foreign key
is covered without editing this test.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models

from tandem.consent import gate
from tandem.core.models import Sensitivity

REVEALING = {"core.Site", "core.Program", "core.Practitioner", "core.Organization"}
SUBJECT = "registry.Patient"  # the patient the row belongs to: not a disclosure of a program
DEPTH = 3


def revealing_paths(model: type[models.Model], depth: int = DEPTH) -> list[str]:
    """Foreign-key paths from ``model`` to a site, program, practitioner or organization."""
    found = []
    for field in model._meta.get_fields():
        if not (field.is_relation and (field.many_to_one or field.one_to_one)):
            continue
        if field.auto_created and not field.concrete:
            continue  # a reverse relation: the row does not point there
        target = field.related_model
        if target is None or target._meta.label == SUBJECT:
            continue
        if target._meta.label in REVEALING:
            found.append(f"{field.name} -> {target._meta.label}")
        elif depth > 1:
            found += [f"{field.name}.{p}" for p in revealing_paths(target, depth - 1)]
    return found


def label_problems(model: type[models.Model], fields: set[str] | None = None) -> list[str]:
    """Why ``model`` cannot be filtered by label (empty when it can).

    ``fields`` overrides the model's field names, to show the check fails on a kind that lost
    its label.
    """
    names = fields if fields is not None else {f.name for f in model._meta.get_fields()}
    if "sensitivity" not in names:
        return ["no sensitivity column"]
    problems = []
    field = model._meta.get_field("sensitivity")
    if set(dict(field.choices or ())) != set(Sensitivity.values):
        problems.append("sensitivity does not take the Sensitivity labels")
    checks = [c.name for c in model._meta.constraints if c.name.endswith("_sensitivity_known")]
    if not checks:
        problems.append("no database check on the label")
    return problems


@pytest.mark.parametrize("kind", sorted(gate.KINDS))
def test_a_kind_that_could_reveal_a_program_carries_a_label(kind):
    model = apps.get_model(gate.KINDS[kind])
    paths = revealing_paths(model)

    problems = label_problems(model) if paths else []

    assert problems == [], f"{kind} reaches {paths} but: {problems}"


@pytest.mark.parametrize("kind", ["care_team", "identifiers", "coverage", "appointments"])
def test_the_check_fails_for_a_revealing_kind_without_its_label(kind):
    """The walk must be able to fail: drop the label of a kind and the check reports it."""
    model = apps.get_model(gate.KINDS[kind])
    without_label = {f.name for f in model._meta.get_fields()} - {"sensitivity"}

    assert revealing_paths(model)
    assert label_problems(model, without_label) == ["no sensitivity column"]


def test_the_walk_finds_the_paths_that_reveal_a_program():
    care_team = apps.get_model(gate.KINDS["care_team"])
    identifiers = apps.get_model(gate.KINDS["identifiers"])

    assert "program -> core.Program" in revealing_paths(care_team)
    assert "practitioner -> core.Practitioner" in revealing_paths(care_team)
    assert revealing_paths(identifiers) == ["site -> core.Site"]


def test_a_kind_without_such_a_path_needs_no_label():
    contacts = apps.get_model(gate.KINDS["contacts"])  # names and phones of the patient's people

    assert revealing_paths(contacts) == []


def test_a_model_outside_the_gate_with_a_site_and_no_label_is_reported():
    site_role = apps.get_model("core.SiteRole")

    assert revealing_paths(site_role) == ["site -> core.Site"]
    assert label_problems(site_role) == ["no sensitivity column"]


def test_the_patient_row_labels_every_unit_it_names():
    """The patient is the subject of every kind, and itself names units (its home site)."""
    patient = apps.get_model(SUBJECT)
    names = {f.name for f in patient._meta.get_fields()}
    checks = {c.name for c in patient._meta.constraints}

    units = [p.split(" -> ")[0] for p in revealing_paths(patient, depth=1)]

    assert units == ["home_site"]
    for field in units:
        assert f"{field}_sensitivity" in names
        assert f"patient_{field}_sensitivity_known" in checks
