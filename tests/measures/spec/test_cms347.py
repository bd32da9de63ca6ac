"""CMS347 (statin therapy): what changed between CMS347v8 (2025) and CMS347v9 (2026), on every
engine, plus the rules both versions share that the official deck pins only indirectly.

Hand-made patients and hand-made value sets (a few codes each; every other value set the
measure names is empty), so the tests need no VSAC download. Both versions are evaluated over
the same period (2025) so that one chart shows the difference: each builder's logic takes the
period as a parameter. All patients are evaluated once per engine (``evaluate_many``); each
test reads its own patients. See ``docs/measures/cms347.md``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from typing import Any

from tandem.measures.definitions import cms_statin as m
from tandem.measures.evaluation import evaluate_many
from tandem.measures.lang_walk import valuesets_used
from tests.measures.conftest import make_tables

PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

OFFICE = "99213"
TELEHEALTH = "98000"
IHD = "I25.10"
MI_BOTH, MI_2026_ONLY = "22298006", "1163440003"
FH = "E78.01"
DIABETES = "E11.9"
BREASTFEEDING = "169750002"
ESRD = "N18.6"
PALLIATIVE_DX = "Z51.5"
HOSPICE_ENC = "183919006"
ATORVASTATIN = "617312"
MEDICAL_REASON = "183932001"

VALUESETS: dict[str, frozenset[tuple[str, str]]] = {
    m.QUALIFYING_ENCOUNTERS[1]: frozenset({(CPT, OFFICE)}),  # Office Visit
    m.TELEMEDICINE: frozenset({(CPT, TELEHEALTH)}),
    m.MYOCARDIAL_INFARCTION_2025: frozenset({(SNOMED, MI_BOTH)}),
    m.MYOCARDIAL_INFARCTION_2026: frozenset({(SNOMED, MI_BOTH), (SNOMED, MI_2026_ONLY)}),
    m.ASCVD_DIAGNOSES[2]: frozenset({(ICD, IHD)}),  # Ischemic Heart Disease
    m.LDL_CHOLESTEROL: frozenset({(LOINC, "13457-7")}),
    m.FAMILIAL_HYPERCHOLESTEROLEMIA: frozenset({(ICD, FH)}),
    m.DIABETES: frozenset({(ICD, DIABETES)}),
    m.EXCLUSION_DIAGNOSES[0]: frozenset({(SNOMED, BREASTFEEDING)}),
    m.STATIN_ALLERGEN: frozenset({(RXNORM, "301542")}),
    m.ESRD: frozenset({(ICD, ESRD)}),
    m.MEDICAL_REASON: frozenset({(SNOMED, MEDICAL_REASON)}),
    m.STATINS[1]: frozenset({(RXNORM, ATORVASTATIN)}),  # Moderate Intensity
    "2.16.840.1.113883.3.464.1003.1167": frozenset({(ICD, PALLIATIVE_DX)}),  # Palliative Dx
    "2.16.840.1.113883.3.464.1003.1003": frozenset({(SNOMED, HOSPICE_ENC)}),  # Hospice Enc.
}
MEASURES = {"2025": m.cms347_2025(), "2026": m.cms347_2026()}
for _measure in MEASURES.values():
    for _vs in valuesets_used(list(_measure.outputs().values())):
        VALUESETS.setdefault(_vs, frozenset())

_ids = itertools.count(1)


def ts(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour))


class Chart:
    """Rows of one patient (born 1970: 54 at the start of 2025)."""

    def __init__(self, pid: str, born: str = "1970-06-01") -> None:
        self.pid = pid
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.rows["patients"].append(
            {"patient_id": pid, "birth_date": dt.date.fromisoformat(born), "sex": "female"}
        )

    def add(self, table: str, **row: Any) -> Chart:
        row.setdefault("patient_id", self.pid)
        self.rows[table].append(row)
        return self

    def visit(self, day: str = "2025-03-03", code: str = OFFICE, **kw: Any) -> Chart:
        kw.setdefault("encounter_id", f"enc-{self.pid}-{next(_ids)}")
        kw.setdefault("status", "finished")
        kw.setdefault("start", ts(day, 9))
        kw.setdefault("end", ts(day, 10))
        kw.setdefault("system", CPT)
        return self.add("encounters", code=code, **kw)

    def condition(self, code: str, system: str = ICD, **kw: Any) -> Chart:
        kw.setdefault("condition_id", f"con-{self.pid}-{next(_ids)}")
        kw.setdefault("category", "problem-list-item")
        kw.setdefault("clinical_status", "active")
        kw.setdefault("onset", ts("2020-01-01"))
        return self.add("conditions", system=system, code=code, **kw)

    def ascvd(self, **kw: Any) -> Chart:
        return self.condition(IHD, **kw)

    def statin(self, **kw: Any) -> Chart:
        kw.setdefault("request_id", f"med-{self.pid}-{next(_ids)}")
        kw.setdefault("status", "active")
        kw.setdefault("intent", "order")
        return self.add("medication_requests", system=RXNORM, code=ATORVASTATIN, **kw)

    def ldl(self, value: float = 200, **kw: Any) -> Chart:
        kw.setdefault("category", "laboratory")
        return self.observation("13457-7", value, "mg/dL", **kw)

    def risk(self, value: float = 21, **kw: Any) -> Chart:
        kw.setdefault("effective_start", ts("2025-02-01"))
        return self.observation("99055-6", value, "%", **kw)

    def observation(self, code: str, value: float, unit: str, **kw: Any) -> Chart:
        kw.setdefault("observation_id", f"obs-{self.pid}-{next(_ids)}")
        kw.setdefault("status", "final")
        kw.setdefault("effective_start", ts("2024-05-01"))
        kw.setdefault("effective_end", kw["effective_start"])
        kw.setdefault("value_unit", unit)
        kw.setdefault("value_type", "Quantity")
        return self.add("observations", system=LOINC, code=code, value_num=value, **kw)


def ascvd_patient(pid: str) -> Chart:
    """In group 1 of both versions (ischaemic heart disease, an office visit), no statin."""
    return Chart(pid).visit().ascvd()


CHARTS = [
    # encounters
    Chart("tele").ascvd().visit(code=TELEHEALTH),
    # ASCVD diagnoses
    Chart("mi-new-code").visit().condition(MI_2026_ONLY, system=SNOMED),
    Chart("nstemi").visit().condition("I22.2").ldl(),
    Chart("refuted").visit().ascvd(verification_status="refuted"),
    Chart("no-status").visit().ascvd(verification_status=None),
    Chart("diabetes").visit().condition(DIABETES),
    Chart("diabetes-inactive").visit().condition(DIABETES, clinical_status="inactive"),
    Chart("diabetes-abated")
    .visit()
    .condition(DIABETES, clinical_status="resolved", abatement=ts("2025-02-01")),
    # exclusions and exceptions
    ascvd_patient("bf-encounter-dx").condition(
        BREASTFEEDING, SNOMED, category="encounter-diagnosis"
    ),
    ascvd_patient("bf-problem").condition(BREASTFEEDING, SNOMED),
    ascvd_patient("ae-date-before").add(
        "adverse_events",
        system=RXNORM,
        code="301542",
        occurred=ts("2024-12-20"),
        recorded=ts("2025-01-05"),
    ),
    ascvd_patient("ae-date-only").add(
        "adverse_events", system=RXNORM, code="301542", occurred=ts("2025-06-01")
    ),
    ascvd_patient("allergy").add(
        "allergies",
        system=RXNORM,
        code="301542",
        clinical_status="active",
        onset_start=ts("2024-06-01"),
    ),
    ascvd_patient("allergy-resolved").add(
        "allergies",
        system=RXNORM,
        code="301542",
        clinical_status="resolved",
        onset_start=ts("2024-06-01"),
    ),
    ascvd_patient("reason-active").statin(
        status="active",
        do_not_perform=True,
        authored=ts("2025-03-03", 9),
        reason_system=SNOMED,
        reason_code=MEDICAL_REASON,
    ),
    ascvd_patient("reason-after-visit").statin(
        status="completed",
        do_not_perform=True,
        authored=ts("2025-03-03", 15),
        reason_system=SNOMED,
        reason_code=MEDICAL_REASON,
    ),
    ascvd_patient("reason-during-visit").statin(
        status="completed",
        do_not_perform=True,
        authored=ts("2025-03-03", 9),
        reason_system=SNOMED,
        reason_code=MEDICAL_REASON,
    ),
    ascvd_patient("esrd-refuted").condition(ESRD, verification_status="refuted"),
    ascvd_patient("palliative-refuted").condition(PALLIATIVE_DX, verification_status="refuted"),
    ascvd_patient("hospice-in-progress").visit(
        code=HOSPICE_ENC, system=SNOMED, status="in-progress"
    ),
    ascvd_patient("palliative-inactive").condition(PALLIATIVE_DX, clinical_status="inactive"),
    # groups 2 and 4: observations
    Chart("ldl-procedure").visit().ldl(category="procedure"),
    Chart("ldl-appended").visit().ldl(status="appended"),
    Chart("ldl-mmol").visit().ldl(value=5.2, value_unit="mmol/L"),
    Chart("risk-preliminary").visit().risk(status="preliminary"),
    Chart("risk-final").visit().risk(category="procedure"),
    # numerator
    ascvd_patient("original-order").statin(intent="original-order", authored=ts("2025-04-01")),
    ascvd_patient("filler-order").statin(intent="filler-order", authored=ts("2025-04-01")),
    ascvd_patient("plan-with-supply").statin(
        intent="plan", authored=ts("2024-11-01"), days_supply=90, refills=1
    ),
    ascvd_patient("supply-before").statin(authored=ts("2024-11-01"), days_supply=30, refills=0),
    ascvd_patient("bounds-open").statin(authored=ts("2024-11-01"), period_start=ts("2024-11-01")),
    ascvd_patient("bounds-closed").statin(
        authored=ts("2024-11-01"), period_start=ts("2024-11-01"), period_end=ts("2025-02-01")
    ),
    ascvd_patient("not-requested").statin(do_not_perform=True, authored=ts("2025-04-01")),
    ascvd_patient("ordered").statin(authored=ts("2025-04-01")),
]
TABLES = make_tables(
    **{
        table: [row for chart in CHARTS for row in chart.rows.get(table, [])]
        for table in {t for chart in CHARTS for t in chart.rows}
    }
)
_RESULTS: dict[str, dict[str, Any]] = {}


def results(engine: Any) -> dict[str, Any]:
    """Both versions' results on ``engine``, computed once per engine."""
    if engine.name not in _RESULTS:
        out = evaluate_many(
            list(MEASURES.values()),
            TABLES,
            VALUESETS,
            period=PERIOD,
            engine=engine.name,
            connection=engine.connection,
        )
        _RESULTS[engine.name] = dict(zip(MEASURES, out, strict=True))
    return _RESULTS[engine.name]


def pops(engine: Any, version: str, pid: str, group: int = 1) -> set[str]:
    """The populations the patient is in, for one version and group."""
    populations = results(engine)[version].patient(pid).populations[f"group-{group}"]
    return {code for code, value in populations.items() if value}


def groups(engine: Any, version: str, pid: str) -> list[int]:
    """The groups whose initial population holds the patient."""
    return [g for g in (1, 2, 3, 4) if "initial-population" in pops(engine, version, pid, g)]


IN_DENOMINATOR = {"initial-population", "denominator"}
EXCEPTED = IN_DENOMINATOR | {"denominator-exception"}
EXCLUDED = IN_DENOMINATOR | {"denominator-exclusion"}
MET = IN_DENOMINATOR | {"numerator"}


# --- initial populations ---------------------------------------------------------------


def test_a_telehealth_visit_qualifies_only_in_2026(engine):
    assert groups(engine, "2025", "tele") == []
    assert groups(engine, "2026", "tele") == [1]


def test_the_2026_myocardial_infarction_value_set_is_read(engine):
    assert groups(engine, "2025", "mi-new-code") == []
    assert groups(engine, "2026", "mi-new-code") == [1]


def test_a_subsequent_nstemi_is_ascvd_in_2026_but_not_in_2025(engine):
    # 2025 reads I22.2 in its own definition, which group 2's "without ASCVD" does not name
    assert groups(engine, "2025", "nstemi") == [1, 2]
    assert groups(engine, "2026", "nstemi") == [1]


def test_a_refuted_diagnosis_counts_only_in_2025(engine):
    assert groups(engine, "2025", "refuted") == [1]
    assert groups(engine, "2026", "refuted") == []


def test_a_diagnosis_without_verification_status_counts_in_both(engine):
    assert groups(engine, "2025", "no-status") == [1]
    assert groups(engine, "2026", "no-status") == [1]


def test_an_inactive_condition_without_abatement_is_not_in_the_period(engine):
    # prevalenceInterval: a missing abatement is ongoing only for an active condition; for
    # another clinical status the end is unknown and the overlap is not true
    for version in ("2025", "2026"):
        assert groups(engine, version, "diabetes") == [3]
        assert groups(engine, version, "diabetes-inactive") == []
        assert groups(engine, version, "diabetes-abated") == [3]


# --- denominator exclusions and exceptions -----------------------------------------------


def test_an_encounter_diagnosis_of_breastfeeding_excludes_only_in_2026(engine):
    assert pops(engine, "2025", "bf-encounter-dx") == IN_DENOMINATOR
    assert pops(engine, "2026", "bf-encounter-dx") == EXCLUDED


def test_a_problem_list_breastfeeding_excludes_in_both(engine):
    assert pops(engine, "2025", "bf-problem") == EXCLUDED
    assert pops(engine, "2026", "bf-problem") == EXCLUDED


def test_an_adverse_event_is_dated_by_its_date_in_2026_and_recorded_date_in_2025(engine):
    assert pops(engine, "2025", "ae-date-before") == EXCEPTED
    assert pops(engine, "2026", "ae-date-before") == IN_DENOMINATOR
    assert pops(engine, "2025", "ae-date-only") == IN_DENOMINATOR
    assert pops(engine, "2026", "ae-date-only") == EXCEPTED


def test_an_active_statin_allergy_overlapping_the_period_is_an_exception(engine):
    for version in ("2025", "2026"):
        assert pops(engine, version, "allergy") == EXCEPTED
        assert pops(engine, version, "allergy-resolved") == IN_DENOMINATOR


def test_an_active_statin_not_requested_is_a_medical_reason_only_in_2026(engine):
    assert pops(engine, "2025", "reason-active") == IN_DENOMINATOR
    assert pops(engine, "2026", "reason-active") == EXCEPTED


def test_a_completed_statin_not_requested_during_the_visit_is_a_medical_reason(engine):
    for version in ("2025", "2026"):
        assert pops(engine, version, "reason-during-visit") == EXCEPTED


def test_a_statin_not_requested_later_on_the_visit_day_counts_only_in_2026(engine):
    # 2025: authoredOn during the encounter's period; 2026: during its days
    assert pops(engine, "2025", "reason-after-visit") == IN_DENOMINATOR
    assert pops(engine, "2026", "reason-after-visit") == EXCEPTED


def test_a_refuted_esrd_diagnosis_is_an_exception_only_in_2025(engine):
    assert pops(engine, "2025", "esrd-refuted") == EXCEPTED
    assert pops(engine, "2026", "esrd-refuted") == IN_DENOMINATOR


def test_a_refuted_palliative_care_diagnosis_is_an_exception_only_in_2025(engine):
    assert pops(engine, "2025", "palliative-refuted") == EXCEPTED
    assert pops(engine, "2026", "palliative-refuted") == IN_DENOMINATOR


def test_an_in_progress_hospice_encounter_is_an_exception_only_in_2025(engine):
    assert pops(engine, "2025", "hospice-in-progress") == EXCEPTED
    assert pops(engine, "2026", "hospice-in-progress") == IN_DENOMINATOR


def test_an_inactive_palliative_care_diagnosis_without_abatement_is_no_exception(engine):
    for version in ("2025", "2026"):
        assert pops(engine, version, "palliative-inactive") == IN_DENOMINATOR


# --- groups 2 and 4: observations --------------------------------------------------------


def test_an_ldl_outside_the_laboratory_category_counts_only_in_2025(engine):
    assert groups(engine, "2025", "ldl-procedure") == [2]
    assert groups(engine, "2026", "ldl-procedure") == []


def test_an_appended_ldl_counts_in_both(engine):
    assert groups(engine, "2025", "ldl-appended") == [2]
    assert groups(engine, "2026", "ldl-appended") == [2]


def test_an_ldl_in_other_units_does_not_count(engine):
    assert groups(engine, "2025", "ldl-mmol") == []
    assert groups(engine, "2026", "ldl-mmol") == []


def test_a_preliminary_risk_score_counts_only_in_2025(engine):
    assert groups(engine, "2025", "risk-preliminary") == [4]
    assert groups(engine, "2026", "risk-preliminary") == []


def test_a_risk_score_of_any_category_counts_in_both(engine):
    assert groups(engine, "2025", "risk-final") == [4]
    assert groups(engine, "2026", "risk-final") == [4]


# --- numerator ----------------------------------------------------------------------------


def test_an_original_order_counts_only_in_2026(engine):
    assert pops(engine, "2025", "original-order") == IN_DENOMINATOR
    assert pops(engine, "2026", "original-order") == MET


def test_a_filler_order_counts_in_neither(engine):
    # the 2026 CQL lists 'filter-order' (sic), so a filler order is not an order there
    assert pops(engine, "2025", "filler-order") == IN_DENOMINATOR
    assert pops(engine, "2026", "filler-order") == IN_DENOMINATOR


def test_a_request_whose_supply_reaches_the_period_counts_only_in_2026(engine):
    # authored 2024-11-01, 90 days x 2 fills: medicationRequestPeriod to 2025-04-29, any intent
    assert pops(engine, "2025", "plan-with-supply") == IN_DENOMINATOR
    assert pops(engine, "2026", "plan-with-supply") == MET
    # 30 days from 2024-11-01 ends before the period
    assert pops(engine, "2026", "supply-before") == IN_DENOMINATOR


def test_open_dosage_bounds_count_only_in_2025(engine):
    # 2026: without a supply or a bounds end the request period is null, not open-ended
    assert pops(engine, "2025", "bounds-open") == MET
    assert pops(engine, "2026", "bounds-open") == IN_DENOMINATOR


def test_dosage_bounds_overlapping_the_period_count_in_both(engine):
    assert pops(engine, "2025", "bounds-closed") == MET
    assert pops(engine, "2026", "bounds-closed") == MET


def test_a_statin_not_requested_is_not_in_the_numerator(engine):
    for version in ("2025", "2026"):
        assert pops(engine, version, "not-requested") == IN_DENOMINATOR
        assert pops(engine, version, "ordered") == MET
