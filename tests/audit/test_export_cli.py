"""`tandem audit export --format fhir|csv [--patient ID] [--since DATE]`: stdout, audited;
bad input is one line and exit status 2."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tandem.audit import services
from tandem.audit.models import AuditEvent
from tandem.cli import main
from tests.audit.test_cli import usage_error

pytestmark = pytest.mark.django_db


def test_csv_export_of_one_patient(capsys, team):
    mine = services.record(
        actor=team.alice, entry=services.Entry("read", "shown", team.pat.pk, "conditions")
    )
    services.record(actor=team.alice, entry=services.Entry("read", "shown", None, "conditions"))

    assert main(["audit", "export", "--format", "csv", "--patient", str(team.pat.pk)]) == 0

    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["id"] for r in rows] == [str(mine.pk)]
    export = AuditEvent.objects.latest("pk")
    assert export.action == "audit-export" and export.actor_id is None
    assert export.patient_id == team.pat.pk and "format=csv" in export.detail


def test_fhir_export_since_a_day(capsys, team):
    services.record(
        actor=team.alice, entry=services.Entry("read", "shown", team.pat.pk, "conditions")
    )

    assert main(["audit", "export", "--format", "fhir", "--since", "2000-01-01"]) == 0
    bundle = json.loads(capsys.readouterr().out)
    assert bundle["resourceType"] == "Bundle" and bundle["entry"]
    assert main(["audit", "export", "--format", "fhir", "--since", "2999-01-01"]) == 0
    assert json.loads(capsys.readouterr().out)["entry"] == []


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "xml"],
        ["--patient", "1"],
        ["--format", "csv", "--patient", "abc"],
        ["--format", "csv", "--since", "31/12/2026"],
        ["--format", "csv", "--patient", "999999"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, db, args):
    line = usage_error(capsys, "audit", "export", *args)
    assert "Traceback" not in line
