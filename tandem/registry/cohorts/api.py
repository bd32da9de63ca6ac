"""API router for registry cohorts (scope ``cohorts:read``): the cohorts with counts, and a
cohort's members with the filters, sort and pages of the cohort page.

Thin handlers over ``cohorts.queries``, so over ``consent.gate``: only patients the caller may
see, only memberships whose label they may see; every member listed is audited. Filters are
checked as on the page (``forms.CohortForm``): a tampered sort or an unknown site is a 400
problem naming the parameter; an unknown cohort a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Query, Router, Schema

from tandem.api import (
    ApiProblem,
    Page,
    PageQuery,
    audit_detail,
    caller,
    page_of,
    record_read,
    requires,
)
from tandem.core.queries import purpose_for, role_of
from tandem.measures.definitions import cohorts as definitions
from tandem.registry import rules
from tandem.registry.cohorts import queries
from tandem.registry.cohorts.forms import CohortForm

router = Router(auth=requires("cohorts:read"))


class CohortOut(Schema):
    key: str
    title: str
    description: str = Field(description="The definition, as a clinician reads it")
    count: int = Field(description="Patients on it that you may see")
    members: str = Field(description="Path of its members list")


class RiskOut(Schema):
    score: int
    tier: str


class MemberOut(Schema):
    id: int
    given_name: str
    family_name: str
    birth_date: dt.date
    sex: str
    home_site: str | None = Field(description="Null when not set or withheld from you")
    since: dt.date | None = Field(description="The day the patient joined the cohort")
    risk: RiskOut | None
    url: str = Field(description="This patient's chart in the API")

    @staticmethod
    def resolve_home_site(obj: Any) -> str | None:
        return obj.home_site.name if obj.home_site_id and obj.home_site else None

    @staticmethod
    def resolve_since(obj: Any) -> dt.date | None:
        return obj.cohort_since  # type: ignore[no-any-return]

    @staticmethod
    def resolve_risk(obj: Any) -> dict[str, Any] | None:
        if obj.risk_tier is None:
            return None
        return {"score": obj.risk_score, "tier": obj.risk_tier}

    @staticmethod
    def resolve_url(obj: Any) -> str:
        return reverse("api:patient", kwargs={"patient_id": obj.pk})


class MembersQuery(PageQuery):
    """Filters (ids as the cohort page offers them; see GET /api/cohorts/{key}/filters) and sort."""

    site: str = Field("", description="Home site id")
    team: str = Field("", description="Care-team program id")
    clinician: str = Field("", description="Practitioner id on the active care team")
    payer: str = Field("", description="Payer organization id (active coverage)")
    tier: str = Field("", description="low | moderate | high | very-high")
    gap: str = Field("", description='"any" or a measure key with an open care gap')
    sort: str = Field(
        rules.DEFAULT_SORT, description=f"One of {', '.join(rules.SORTS)}; a leading - descends"
    )


def _purpose(request: HttpRequest) -> str:
    return purpose_for(role_of(caller(request).user))


def _cohort(key: str) -> definitions.Cohort:
    try:
        return definitions.get(key)
    except KeyError:
        raise ApiProblem(404, "cohort-not-found", f"No cohort {key!r}; see /api/cohorts.") from None


@router.get("", response=list[CohortOut], summary="List cohorts")
def cohorts(request: HttpRequest) -> list[dict[str, Any]]:
    """Every registry cohort with the number of its patients you may see."""
    counts = queries.counts(user=caller(request).user, purpose=_purpose(request))
    record_read(request, "cohort counts")
    return [
        {
            "key": c.key,
            "title": c.title,
            "description": c.description,
            "count": counts.get(c.key, 0),
            "members": reverse("api:cohort-members", kwargs={"key": c.key}),
        }
        for c in definitions.COHORTS
    ]


@router.get(
    "/{key}/members",
    response=Page[MemberOut],
    summary="List a cohort's members",
    url_name="cohort-members",
)
def members(request: HttpRequest, key: str, q: Query[MembersQuery]) -> dict[str, Any]:
    """The cohort's patients you may see, filtered and sorted; each one listed is audited."""
    _cohort(key)
    who, purpose = caller(request).user, _purpose(request)
    data = {name: value for name, value in q.dict().items() if value not in ("", None)}
    data.pop("page_size", None)  # the API allows any size up to its maximum
    form = CohortForm(data, choices=queries.choices(user=who, purpose=purpose))
    if not form.is_valid():
        detail = "; ".join(f"{field}: {message}" for field, message in form.problems())
        raise ApiProblem(400, "validation-error", detail)
    criteria = form.criteria(key)
    criteria = queries.Criteria(**{**criteria.__dict__, "per_page": q.page_size, "page": q.page})
    page = queries.page(
        user=who, purpose=purpose, criteria=criteria, detail=audit_detail(request, f"cohort {key}")
    )
    if not page.object_list:
        record_read(request, f"cohort {key} found none")
    return page_of(request, page, list(page.object_list))
