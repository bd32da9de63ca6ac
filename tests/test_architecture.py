"""Patient data is read only through consent.gate and the domain queries.py modules.

The check walks the package's syntax trees. It flags, outside the allowed modules:
- ``<PatientModel>.objects.<anything but create/bulk_create>``;
- ``apps.get_model(..., "<PatientModel>")``;
- string literals that name a patient-data table (raw SQL).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tandem"

PATIENT_MODELS = {
    "Patient",
    "PatientIdentifier",
    "PatientContact",
    "Coverage",
    "CareTeamMember",
    "Encounter",
    "Condition",
    "Observation",
    "Procedure",
    "ServiceRequest",
    "ClinicalNote",
    "MedicationOrder",
    "MedicationDispense",
    "Appointment",
    "AssessmentResponse",
    "ConsentDirective",
    "DirectiveRecipient",
    "DirectiveVersion",
    "SignedForm",
    "EmergencyAccess",
    "MeasurePatientResult",
    "CohortMembership",
    "RiskScore",
    "Task",
    "TaskEvent",
    "WorklistItem",
    "ContactAttempt",
    "ItemEvent",
}
PATIENT_TABLES = re.compile(
    r"\b(registry_patient\w*|registry_coverage|core_careteammember|clinical_(encounter|condition"
    r"|observation|procedure|servicerequest|clinicalnote)|meds_medication\w+"
    r"|scheduling_appointment|screening_assessmentresponse|consent_(consentdirective|directiverecipient|directiveversion|signedform)|breakglass_emergencyaccess"
    r"|measures_measurepatientresult|registry_cohortmembership|registry_riskscore"
    r"|tasks_task\w*|outreach_(worklistitem|contactattempt|itemevent))\b"
)
WRITES = {"create", "bulk_create", "update_or_create"}  # writes (the last returns the row it wrote)

# Modules that may read patient-data models directly, and why.
ALLOWED = {
    "consent/gate.py": "the gate itself",
    "audit/services.py": "the audit trail stores patient ids, not patient data",
}


def allowed(path: Path) -> bool:
    rel = path.relative_to(PACKAGE).as_posix()
    return path.name == "queries.py" or rel in ALLOWED or "/migrations/" in f"/{rel}"


def violations(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "objects"
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id in PATIENT_MODELS
            and node.attr not in WRITES
        ):
            found.append(f"line {node.lineno}: {node.value.value.id}.objects.{node.attr}")
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "get_model":
            names = {a.value for a in node.args if isinstance(a, ast.Constant)}
            if any(str(n).split(".")[-1] in PATIENT_MODELS for n in names):
                found.append(f"line {node.lineno}: get_model({', '.join(map(str, names))})")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and PATIENT_TABLES.search(node.value.lower())
        ):
            found.append(f"line {node.lineno}: SQL naming a patient-data table")
    return found


def test_patient_data_is_read_only_through_the_gate_and_queries_modules():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if allowed(path):
            continue
        for problem in violations(path.read_text()):
            problems.append(f"{path.relative_to(PACKAGE.parent)} {problem}")
    assert problems == [], "patient data read outside consent.gate:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "snippet",
    [
        "Patient.objects.filter(pk=1)",
        "Condition.objects.all()",
        "apps.get_model('registry', 'Patient')",
        "cursor.execute('SELECT * FROM clinical_condition')",
    ],
)
def test_the_check_catches_a_read_outside_the_gate(snippet):
    assert violations(snippet)


def test_the_check_lets_writes_through():
    assert violations("Condition.objects.create(code='E11.9')") == []


# --- Layering: core is the ground --------------------------------------------------------------
# ``tandem.core`` (with ``tandem.audit``, the other ground package) is what every app stands on,
# so it imports no domain app: only Django, the standard library, its own modules, ``audit`` and
# the package's top-level wiring (``tandem.config``). Domain apps plug into it by registration
# (``Labelled.label_with`` from ``tandem.consent``) or sit above it (``tandem.workspace``).
# Migrations are exempt: they are frozen history, run only by ``migrate`` with every app
# installed (``core/migrations/0003`` back-fills labels through ``tandem.consent.rules``).
GROUND = {"core", "audit"}
DOMAIN_APPS = {
    p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists() and p.name not in GROUND
}


def domain_imports(source: str) -> list[str]:
    """``tandem.<domain app>`` imports (top-level or inside functions, and import_module
    calls with a literal name) in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "tandem":
                names = [f"tandem.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            names = [a.value for a in node.args if isinstance(a, ast.Constant)]
        for name in names:
            parts = str(name).split(".")
            if len(parts) > 1 and parts[0] == "tandem" and parts[1] in DOMAIN_APPS:
                found.append(f"line {node.lineno}: imports {name}")
    return found


def test_core_imports_no_domain_app():
    problems = []
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for problem in domain_imports(path.read_text()):
            problems.append(f"{path.relative_to(PACKAGE.parent)} {problem}")
    assert problems == [], "core depends on an app above it:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "snippet",
    [
        "from tandem.registry import queries",
        "import tandem.consent.gate",
        "from tandem import registry",
        "def f():\n    from tandem.consent.gate import AccessDenied",
        "importlib.import_module('tandem.registry.queries')",
    ],
)
def test_the_layering_check_catches_a_domain_import(snippet):
    assert "consent" in DOMAIN_APPS and "registry" in DOMAIN_APPS
    assert domain_imports(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "from tandem.core.lib.access import AccessDenied",
        "from tandem.audit import services",
        "from tandem.config import ConfigError",
        "from . import models",
    ],
)
def test_the_layering_check_lets_the_ground_through(snippet):
    assert domain_imports(snippet) == []
