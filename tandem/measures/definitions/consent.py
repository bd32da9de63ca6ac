"""TANDEM-CONSENT: consent on file between behavioral-health and primary-care providers (F26).

People with serious mental illness or a substance use disorder whose behavioral-health (BH) and
primary-care (PC) providers are both on the care team, and whether the patient has an active
consent directive that lets the PC provider see the BH data their condition concerns. Tandem's
own definition; written for people in ``docs/measures/tandem-consent.md`` (keep them together).

Definitions, all on the **measurement date** (the period end, ``md``):
- *SMI* and *SUD*: the registry cohorts' criteria (``cohorts.get("smi")``, ``get("sud")``:
  a diagnosis active in the 24 months to ``md``).
- *Care-team member on md*: a ``care_team`` row with ``start_date <= md`` (or none) and
  ``end_date >= md`` (or none).
- *PC provider*: a member in role ``pcp`` (the most recently started when several).
- *BH provider*: a member in role ``bh-clinician`` or ``psychiatrist``, or a member in any
  role (care manager, nurse, peer specialist) whose practitioner works at a behavioral-health
  site (kind ``cmhc``, ``co-located-bh`` or ``sud-program``; a practitioner's site in the
  analytic tables is their first site).
- *Directive in force*: status ``active``, purpose ``treatment``, ``start_date <= md``, no end
  date or ``end_date >= md``; the recipient row not revoked on or before md.
- *Covers the PC provider*: the recipient is the PC provider (person), the PC provider's site
  (site), the organization running that site (organization), or the role ``pcp`` (role).

Populations: initial population = SMI or SUD, alive on md; denominator = the initial
population with a BH provider and a PC provider; numerator = for **each** of the patient's
conditions a directive in force covering its category (SMI: ``mental-health``; SUD:
``substance-use``) and the PC provider (a patient with both needs both, in one directive or
two).

Stored results are labelled per patient by the ``label`` stratifier (``patient_label``):
``substance-use`` when the patient is on the SUD cohort or a directive the result names is a
substance-use one (Part 2: the result would say there are such records), else
``mental-health`` (being measured says the patient has SMI).
"""

from __future__ import annotations

from typing import Any

from tandem.measures import language as q
from tandem.measures.definitions import cohorts
from tandem.measures.definitions.hedis_common import died_by
from tandem.measures.language import Expr, Frame

BH_CARE_TEAM_ROLES = ("bh-clinician", "psychiatrist")
BH_SITE_KINDS = ("cmhc", "co-located-bh", "sud-program")
PC_ROLE = "pcp"
MENTAL_HEALTH, SUBSTANCE_USE = "mental-health", "substance-use"
TREATMENT = "treatment"


def members_on(md: Any) -> Frame:
    """Care-team memberships active on ``md``."""
    return q.table("care_team").where(
        lambda m: (
            (m.start_date.is_null() | (m.start_date <= md))
            & (m.end_date.is_null() | (m.end_date >= md))
        )
    )


def bh_providers(md: Any) -> Frame:
    sites = q.table("sites")
    practitioners = q.table("practitioners")
    return members_on(md).where(
        lambda m: (
            m.role.isin(list(BH_CARE_TEAM_ROLES))
            | practitioners.where(
                lambda p: (
                    (p.practitioner_id == m.practitioner_id)
                    & sites.where(
                        lambda s: (s.site_id == p.site_id) & s.kind.isin(list(BH_SITE_KINDS))
                    ).exists()
                )
            ).exists()
        )
    )


def directives_in_force(md: Any, purpose: str = TREATMENT) -> Frame:
    """Rows of directives in force on ``md`` for ``purpose`` whose recipient is not revoked."""
    return q.table("consent_directives").where(
        lambda d: (
            (d.status == "active")
            & (d.purpose == purpose)
            & (d.start_date <= md)
            & (d.end_date.is_null() | (d.end_date >= md))
            & (d.recipient_revoked_date.is_null() | (d.recipient_revoked_date > md))
        )
    )


def tandem_consent() -> q.Measure:
    md = q.period_end
    smi = cohorts.get("smi").criterion()
    sud = cohorts.get("sud").criterion()
    pc = members_on(md).where(lambda m: m.role == PC_ROLE)
    pcp = pc.last_by(lambda m: m.start_date, nulls="first")
    pcp_id = pcp.practitioner_id
    pcp_site = (
        q.table("practitioners")
        .where(lambda p: p.practitioner_id == pcp_id)
        .max(lambda p: p.site_id)
    )
    pcp_org = (
        q.table("sites").where(lambda s: s.site_id == pcp_site).max(lambda s: s.organization_id)
    )
    bh = bh_providers(md)

    def shared(category: str) -> Frame:
        return directives_in_force(md).where(
            lambda d: (
                (d.category == category)
                & (
                    ((d.recipient_kind == "person") & (d.recipient_id == pcp_id))
                    | ((d.recipient_kind == "role") & (d.recipient_role == PC_ROLE))
                    | ((d.recipient_kind == "site") & (d.recipient_id == pcp_site))
                    | ((d.recipient_kind == "organization") & (d.recipient_id == pcp_org))
                )
            )
        )

    mh, su = shared(MENTAL_HEALTH), shared(SUBSTANCE_USE)
    mh_pick = mh.last_by(lambda d: d.start_date)
    su_pick = su.last_by(lambda d: d.start_date)
    ip = (smi | sud) & ~died_by(md)
    denominator = ip & pc.exists() & bh.exists()
    numerator = (~smi | mh.exists()) & (~sud | su.exists())
    part2 = sud | mh.where(lambda d: d.sensitivity == SUBSTANCE_USE).exists()
    evidence: dict[str, Expr] = {
        "pcp_id": pcp_id,
        "bh_provider_id": bh.last_by(lambda m: m.start_date, nulls="first").practitioner_id,
        "mental_health_directive": mh_pick.directive_id,
        "mental_health_expires": mh_pick.end_date,
        "substance_use_directive": su_pick.directive_id,
        "substance_use_expires": su_pick.end_date,
    }
    return q.Measure(
        id="TANDEM-CONSENT",
        title="Consent on file between behavioral-health and primary-care providers",
        parameters=dict(cohorts.PARAMETERS),
        groups=[
            q.Group(
                id="group-1",
                description="SMI or SUD with BH and PC providers: an active directive shares "
                "the BH data with the PC provider for treatment",
                populations={
                    "initial-population": ip,
                    "denominator": denominator,
                    "numerator": numerator,
                },
                evidence={"denominator": evidence},
            )
        ],
        strata=[
            q.Stratifier("site", q.patient.site_id),
            q.Stratifier(
                "condition",
                q.when(smi & sud, "smi+sud", q.when(smi, "smi", q.when(sud, "sud", q.null("str")))),
            ),
            q.Stratifier("label", q.when(part2, SUBSTANCE_USE, MENTAL_HEALTH)),
        ],
    )


def patient_label(patient: Any) -> str:
    """The label of a patient's stored TANDEM-CONSENT result (the ``label`` stratum)."""
    label = (patient.strata or {}).get("label")
    return label if label in (MENTAL_HEALTH, SUBSTANCE_USE) else MENTAL_HEALTH


__all__ = ["patient_label", "tandem_consent"]
