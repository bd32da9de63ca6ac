"""The leak test (F27): nothing the rules deny leaves Tandem, on any path.

Hypothesis generates readers, patients, labels, consent directives (categories, recipients
— a person, an organization, a site, a care-team role, some revoked —, purposes, periods,
statuses), break-the-glass grants and purposes, then calls a path: every registered URL and
API operation (``tests/consent/leak/probes.py``; a path without a probe or an exemption fails
``test_every_path_has_a_probe_or_an_exemption``), and the gate itself with every kind it
serves. The world (``leak/world.py``) gives every labelled row of every patient a unique
canary string; the oracle (``leak/oracle.py``), written from the rules table and not from the
gate, says which canaries the reader may see, and every canary found in the response must be
among them. A withheld row leaves a notice on the chart and a redaction count at the gate:
never a silent gap.

Cases: ``HTTP_CASES`` through paths plus ``GATE_CASES`` at the gate = 10,000 per run
(``TANDEM_LEAK_SCALE`` scales both down for a quick local run; CI uses 1). Each test counts
the cases it really ran and fails below its quota. The Hypothesis profile ``leak`` is
derandomized (the same cases on every run and machine, so a failure reproduces), keeps no
example database, and has no deadline.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.consent import gate
from tests.consent.leak import probes as P
from tests.consent.leak.oracle import (
    Directive,
    Facts,
    Grant,
    Oracle,
    Recipient,
    facts_of,
    purpose_of,
)
from tests.consent.leak.world import CANARY_RE, LABELS, World, build_world

SCALE = float(os.environ.get("TANDEM_LEAK_SCALE", "1"))
HTTP_CASES = max(1, int(5_000 * SCALE))
GATE_CASES = max(1, int(5_000 * SCALE))
MIN_CASES = 10_000  # HTTP_CASES + GATE_CASES at scale 1
KINDS = tuple(sorted(gate.KINDS))

settings.register_profile(
    "leak",
    max_examples=HTTP_CASES,
    deadline=None,
    derandomize=True,  # a fixed, reproducible sequence of cases (CI and local alike)
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,  # every case is a database round trip
        HealthCheck.function_scoped_fixture,  # the world is built once; cases roll back
        HealthCheck.data_too_large,
    ],
)

ITEM_LABELS = [label for label in LABELS if label != "psychotherapy-note"]
STAFF = ["alice", "bob", "charlie", "sam", "sara", "pete", "olive", "cora"]
PURPOSES = ["treatment", "payment", "operations", "research", "patient-access", "emergency"]
NOTICES = (
    b"Protected records",
    b"Psychotherapy notes are visible",
    b"Clinical notes are not shown",
)


@dataclass
class Env:
    world: World
    facts: Facts
    oracle: Oracle
    clients: dict[str, Client]
    totals: dict[tuple[int, str], int]  # (patient no, kind) -> rows, for the gate's counts
    ran: dict[str, int]
    # path name -> status codes answered; canaries seen anywhere (what the paths display)
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    seen: set[str] = field(default_factory=set)
    wall: float = 0.0
    cpu: float = 0.0


def test_every_path_has_a_probe_or_an_exemption():
    urls = P.registered_urls()
    operations = P.api_operations()
    exporters = P.exporters_in_code()

    missing_urls = sorted(set(urls) - set(P.URL_PROBES))
    missing_ops = sorted(operations - set(P.API_PROBES))
    missing_exporters = sorted(exporters - set(P.EXPORTERS))
    bad_via = sorted(
        (name, path)
        for name, entry in P.EXPORTERS.items()
        if isinstance(entry, P.Via)
        for path in entry.paths
        if not isinstance(P.URL_PROBES.get(path) or P.API_PROBES.get(path), P.Probe)
    )

    assert missing_urls == [], f"URL patterns without a leak probe: {missing_urls}"
    assert missing_ops == [], f"API operations without a leak probe: {missing_ops}"
    assert missing_exporters == [], f"exporters without a leak probe: {missing_exporters}"
    assert bad_via == [], f"exporters reached through unprobed paths: {bad_via}"


def test_the_coverage_check_sees_a_new_path():
    """The check must be able to fail: a URL pattern added at run time is reported."""
    from django.urls import clear_url_caches, get_resolver, path

    from tandem import urls

    def view(request):  # pragma: no cover - never called
        raise AssertionError

    urls.urlpatterns.append(path("leak-probe-missing/", view, name="leak-probe-missing"))
    clear_url_caches()
    try:
        assert "leak-probe-missing" in P.registered_urls()
        assert "leak-probe-missing" not in P.URL_PROBES
    finally:
        urls.urlpatterns.pop()
        clear_url_caches()
        get_resolver()


@pytest.fixture(scope="module")
def env(django_db_setup, django_db_blocker):
    """The world, built once for the module inside a transaction rolled back at its end."""
    from tandem import api

    # Each case's session write is rolled back with its savepoint: without this a run longer
    # than the idle timeout would sign every reader out (``check_path`` fails if it happens).
    idle = override_settings(TANDEM_SESSION_IDLE_SECONDS=10**9)
    with django_db_blocker.unblock(), idle:
        atomic = transaction.atomic()
        atomic.__enter__()
        limit = api.REQUESTS_PER_MINUTE
        api.REQUESTS_PER_MINUTE = 10**9  # thousands of calls a minute by one reader
        try:
            world = build_world()
            clients = {}
            for key, user in world.users.items():
                clients[key] = Client()
                clients[key].force_login(user)
            facts = facts_of(world, emergency_needs_grant=apps.is_installed("tandem.breakglass"))
            totals: dict[tuple[int, str], int] = {}

            for no, patient in world.patients.items():
                for kind, label in gate.KINDS.items():
                    model = apps.get_model(label)
                    totals[(no, kind)] = model.objects.filter(patient_id=patient.pk).count()
            yield Env(world, facts, Oracle(world, facts), clients, totals, {"http": 0, "gate": 0})
        finally:
            api.REQUESTS_PER_MINUTE = limit
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


# --- generated cases --------------------------------------------------------------------------

TODAY_OFFSETS = [-400, -30, -1, 0, 1, 30]
END_OFFSETS = [None, -1, 0, 1, 30]
CATEGORIES = ["substance-use", "mental-health", "hiv", "reproductive-health", "all"]
DIRECTIVE_PURPOSES = ["treatment", "payment", "operations", "research"]
RECIPIENT_REFS = {
    "person": STAFF,
    "organization": ["org", "other_org"],
    "site": ["pc", "cmhc", "sud"],
    "role": ["pcp", "care-manager", "psychiatrist", "bh-clinician"],
}
RECIPIENT_KINDS = list(RECIPIENT_REFS)
STATUSES = ["active"] * 4 + ["draft", "revoked", "expired", "entered-in-error"]


def _subset(options: list[str], mask: int) -> frozenset[str]:
    return frozenset(o for i, o in enumerate(options) if mask >> i & 1)


def _pick(draw: Any, options: list[Any]) -> Any:
    # An index: plain integer draws keep a case cheap to generate and to shrink.
    return options[draw(st.integers(0, len(options) - 1))]


def _directive(draw: Any, patient_no: int) -> Directive:
    today = timezone.localdate()
    start = today + dt.timedelta(days=_pick(draw, TODAY_OFFSETS))
    end_offset = _pick(draw, END_OFFSETS)
    end = None if end_offset is None else max(start, today + dt.timedelta(days=end_offset))
    recipients = []
    for _ in range(draw(st.integers(1, 3))):
        kind = _pick(draw, RECIPIENT_KINDS)
        ref = _pick(draw, RECIPIENT_REFS[kind])
        recipients.append(Recipient(kind, ref, revoked=draw(st.integers(0, 3)) == 0))
    return Directive(
        patient_no=patient_no,
        categories=_subset(CATEGORIES, draw(st.integers(1, 2 ** len(CATEGORIES) - 1))),
        purposes=_subset(DIRECTIVE_PURPOSES, draw(st.integers(1, 2**4 - 1))),
        recipients=tuple(recipients),
        start=start,
        end=end,
        status=_pick(draw, STATUSES),
    )


@st.composite
def cases(
    draw: Any, env_: Env, kinds: tuple[str, ...] = (), readers: tuple[str, ...] = ()
) -> P.Case:
    """One case: a reader (one of ``readers`` 3 times in 4 when given), a patient, 0–3
    directives of that patient, maybe a break-the-glass grant, the label of the row a path
    names, a purpose, and (at the gate) 1–4 of ``kinds``."""
    everyone = sorted(env_.world.users)
    reader = _pick(draw, list(readers) if readers and draw(st.integers(0, 3)) else everyone)
    no = _pick(draw, sorted(env_.world.patients))
    found = tuple(_directive(draw, no) for _ in range(draw(st.integers(0, 3))))
    grants: frozenset[Grant] = frozenset()
    if env_.facts.emergency_needs_grant and draw(st.integers(0, 4)) == 0:
        grants = frozenset({Grant(reader, no)})
    return P.Case(
        reader=reader,
        patient_no=no,
        label=_pick(draw, ITEM_LABELS),
        purpose=_pick(draw, PURPOSES),
        directives=found,
        grants=grants,
        kinds=tuple(sorted({_pick(draw, list(kinds)) for _ in range(draw(st.integers(1, 4)))}))
        if kinds
        else (),
    )


def write(env_: Env, case: P.Case) -> None:
    """Store the case's directives and grants (inside the case's savepoint), in a few bulk
    inserts labelled by the product's rules first (``rules.label_all``)."""
    from tandem.consent import rules
    from tandem.consent.models import ConsentDirective, DirectiveRecipient

    w = env_.world
    now = timezone.now()
    w.extra["case"] = {"directives": [], "recipients": {}}
    if case.directives:
        rows = [
            ConsentDirective(
                patient=w.patients[d.patient_no],
                categories=sorted(d.categories),
                purposes=sorted(d.purposes),
                start=d.start,
                end=d.end,
                status=d.status,
            )
            for d in case.directives
        ]
        rules.label_all(rows)
        ConsentDirective.objects.bulk_create(rows)
        w.extra["case"]["directives"] = [row.pk for row in rows]
        made = DirectiveRecipient.objects.bulk_create(
            [
                DirectiveRecipient(
                    directive=row,
                    kind=r.kind,
                    practitioner=w.practitioners[r.ref] if r.kind == "person" else None,
                    organization=(
                        (w.org if r.ref == "org" else w.extra["other_org"])
                        if r.kind == "organization"
                        else None
                    ),
                    site=w.sites[r.ref] if r.kind == "site" else None,
                    role=r.ref if r.kind == "role" else "",
                    revoked_on=now - dt.timedelta(minutes=1) if r.revoked else None,
                )
                for row, d in zip(rows, case.directives, strict=True)
                for r in d.recipients
            ]
        )
        for r in made:
            w.extra["case"]["recipients"].setdefault(r.directive_id, []).append(r.pk)
    if case.grants:
        emergency = apps.get_model("breakglass", "EmergencyAccess")
        for g in case.grants:
            emergency.objects.create(
                user=w.users[g.reader],
                patient=w.patients[g.patient_no],
                reason="leak test",
                declared_at=now - dt.timedelta(minutes=1),
                expires_at=now + dt.timedelta(minutes=59),
            )


def in_savepoint(fn: Any) -> Any:
    sid = transaction.savepoint()
    try:
        return fn()
    finally:
        transaction.savepoint_rollback(sid)


# --- reading responses ------------------------------------------------------------------------

PDF_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)


def body_of(response: Any) -> bytes:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    if raw.startswith(b"%PDF"):
        for stream in PDF_STREAM.findall(raw):
            with contextlib.suppress(zlib.error):  # an uncompressed stream is searchable as is
                raw += zlib.decompress(stream)
    return raw


def canaries_in(raw: bytes) -> set[str]:
    return {m.group(0).decode() for m in CANARY_RE.finditer(raw)}


def describe(case: P.Case) -> str:
    return (
        f"reader={case.reader} patient=p{case.patient_no} label={case.label} "
        f"purpose={case.purpose} grants={sorted(case.grants, key=repr)} "
        f"directives={list(case.directives)}"
    )


def call(env_: Env, name: str, probe: P.Probe, case: P.Case) -> Any:
    client = env_.clients[case.reader]
    url = probe.url(env_.world, case)
    if probe.method == "GET":
        return url, client.get(url)
    data = probe.data(env_.world, case) if probe.data else {}
    if url.startswith("/api/"):
        return url, client.generic(
            probe.method, url, json.dumps(data), content_type="application/json"
        )
    headers = {"HTTP_HX_REQUEST": "true"} if probe.htmx else {}
    return url, client.post(url, data, **headers)


def check_path(env_: Env, name: str, probe: P.Probe, case: P.Case) -> None:
    write(env_, case)
    url, response = call(env_, name, probe, case)
    assert "?next=" not in response.get("Location", ""), f"{case.reader} was signed out at {url}"
    raw = body_of(response)
    found = canaries_in(raw)
    env_.statuses[name][response.status_code] += 1
    env_.seen |= found
    facts, oracle = env_.facts, env_.oracle
    purposes = (purpose_of(facts, case.reader),) + (("emergency",) if case.grants else ())
    patients = {"all": None, "patient": (case.patient_no,), "none": ()}[probe.scope]
    leaked = oracle.denied(found, case.reader, purposes, case.directives, case.grants, patients)
    assert leaked == [], (
        f"{probe.method} {url} ({name}) answered {response.status_code} with rows the rules "
        f"deny: {leaked}\n{describe(case)}"
    )
    if name in P.COHORT_LISTS:
        key = P.cohort_key(case)
        named = {
            row.canary
            for row in env_.world.rows
            if row.kind == "cohorts"
            and row.canary.startswith(f"COHORT_{key}__")
            and env_.world.patients[row.patient_no].family_name.encode() in raw
        }
        listed = oracle.denied(named, case.reader, purposes, case.directives, case.grants)
        assert listed == [], (
            f"{url} names members of the {key} cohort the rules deny: {listed}\n{describe(case)}"
        )
    if probe.notice_kinds and response.status_code == 200:
        withheld = {
            c
            for p in purposes
            for c in oracle.withheld(
                case.reader,
                case.patient_no,
                p,
                set(probe.notice_kinds),
                case.directives,
                case.grants,
            )
        } - found
        if withheld:
            assert any(n in raw for n in NOTICES), (
                f"{url} withholds {sorted(withheld)} without a notice (a silent gap)\n"
                f"{describe(case)}"
            )


def check_gate(env_: Env, case: P.Case) -> None:

    write(env_, case)
    w = env_.world
    index = {(row.kind, row.pk): row.canary for row in w.rows}
    try:
        disclosure = gate.read(
            user=w.users[case.reader],
            patient_id=w.patients[case.patient_no].pk,
            purpose=case.purpose,
            requests=[gate.Request(kind) for kind in case.kinds],
            detail="leak test",
        )
    except gate.AccessDenied:
        return
    shown = {
        index[(kind, row.pk)]
        for kind, rows in disclosure.data.items()
        for row in rows
        if (kind, row.pk) in index
    }
    # An active break-the-glass grant gives its reader the emergency basis for this patient.
    purposes = (case.purpose,) + (("emergency",) if case.grants else ())
    leaked = env_.oracle.denied(
        shown, case.reader, purposes, case.directives, case.grants, (case.patient_no,)
    )
    assert leaked == [], f"gate.read shows rows the rules deny: {leaked}\n{describe(case)}"
    consents = sum(1 for d in case.directives if d.patient_no == case.patient_no)
    for kind, rows in disclosure.data.items():
        total = env_.totals[(case.patient_no, kind)] + (consents if kind == "consents" else 0)
        redacted = sum(r.count for r in disclosure.withheld(kind))
        assert len(rows) + redacted == total, (
            f"gate.read {kind}: {len(rows)} shown + {redacted} noticed of {total} rows "
            f"(a silent gap)\n{describe(case)}"
        )


def timed(env_: Env, name: str, run: Any, quiet: bool = False) -> None:
    """Run ``run``, adding its wall time and this process's CPU time to the run's (the
    machine may be shared: CPU time is what the cases cost)."""
    wall, cpu = time.perf_counter(), time.process_time()
    before = env_.ran[name]
    run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    env_.wall += wall
    env_.cpu += cpu
    if not quiet:
        print(f"\nleak {name}: {env_.ran[name] - before} cases, {wall:.1f} s wall, {cpu:.1f} s CPU")


# --- the properties ---------------------------------------------------------------------------


CATALOGUE = P.catalogue()
QUOTAS = P.quotas(CATALOGUE, HTTP_CASES)


@pytest.mark.django_db
@pytest.mark.parametrize("name", CATALOGUE.names)
def test_no_path_discloses_what_the_rules_deny(env, name):
    """Each path gets its share of ``HTTP_CASES`` (by weight: ``probes.WEIGHTS``)."""
    probe = CATALOGUE.probes[CATALOGUE.names.index(name)]
    before = env.ran["http"]

    @settings(settings.get_profile("leak"), max_examples=QUOTAS[name])
    @given(data=st.data())
    def run(data):
        case = data.draw(cases(env, readers=probe.readers))
        env.ran["http"] += 1
        in_savepoint(lambda: check_path(env, name, probe, case))

    timed(env, "http", run, quiet=True)
    assert env.ran["http"] - before >= QUOTAS[name]


@pytest.mark.django_db
def test_the_gate_discloses_nothing_the_rules_deny_and_notices_the_rest(env):
    @settings(settings.get_profile("leak"), max_examples=GATE_CASES)
    @given(data=st.data())
    def run(data):
        case = data.draw(cases(env, kinds=KINDS))
        env.ran["gate"] += 1
        in_savepoint(lambda: check_gate(env, case))

    timed(env, "gate", run)
    assert env.ran["gate"] >= GATE_CASES


@pytest.mark.django_db
def test_the_properties_fail_on_a_leaky_gate(env, monkeypatch):
    """The properties must be able to fail: a gate that filters nothing leaks, on a path and
    at the gate, and a gate that drops its notices leaves a silent gap."""
    alice = P.Case("alice", 1, "normal", "treatment", kinds=("conditions", "notes"))
    summary = CATALOGUE.probes[CATALOGUE.names.index("patient-summary")]
    honest = gate.read

    with monkeypatch.context() as leaky:
        leaky.setattr(gate._Policy, "filter_for", lambda self, model: None)
        with pytest.raises(AssertionError, match="rules deny"):
            in_savepoint(lambda: check_path(env, "patient-summary", summary, alice))
        with pytest.raises(AssertionError, match="rules deny"):
            in_savepoint(lambda: check_gate(env, alice))

    def silent(**kw: Any) -> Any:
        found = honest(**kw)
        found.redactions.clear()
        return found

    with monkeypatch.context() as quiet:
        quiet.setattr(gate, "read", silent)
        with pytest.raises(AssertionError, match="silent gap"):
            in_savepoint(lambda: check_gate(env, alice))

    in_savepoint(lambda: check_path(env, "patient-summary", summary, alice))  # honest: passes
    in_savepoint(lambda: check_gate(env, alice))


@pytest.mark.django_db  # so that it also runs in the PostgreSQL pass (-m database)
def test_a_run_generates_at_least_10000_cases(env):
    """Runs last (pytest keeps the file's order): counts the cases the two properties ran."""
    if not (env.ran["http"] and env.ran["gate"]):
        pytest.skip("the properties did not both run (a selection with -k)")
    print(
        f"\nleak: {env.ran['http']} path cases + {env.ran['gate']} gate cases; "
        f"{env.cpu:.1f} s CPU, {env.wall:.1f} s wall"
    )
    if os.environ.get("TANDEM_LEAK_REPORT"):
        for name in CATALOGUE.names:
            print(f"  {name}: {dict(sorted(env.statuses[name].items()))}")
        print("  kinds displayed:", sorted({c.split("__")[1] for c in env.seen}))
    assert sorted(set(CATALOGUE.names) - set(env.statuses)) == []
    assert SCALE < 1 or env.ran["http"] + env.ran["gate"] >= MIN_CASES
