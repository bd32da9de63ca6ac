"""Parsing a cohort list's query string (filters, sort, page) and the saved-filter form.

Every value is checked against what the reader is offered: a tampered sort key, an unknown
site or tier is refused with a 400 naming the field, never passed to the database.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict

from tandem.core.forms import PageForm
from tandem.registry import rules
from tandem.registry.cohorts.queries import Choices, Criteria

SORT_CHOICES = [(key, key) for name in rules.SORTS for key in (name, f"-{name}")]
TIER_CHOICES = [("", "Any tier"), *rules.TIER_LABELS.items()]
# Parameters that make up a filter (what a saved filter keeps; never the page).
FILTER_FIELDS = ("site", "team", "clinician", "payer", "tier", "gap", "sort", "per_page")


def _ids(label: str, options: list[tuple[int, str]], empty: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=[("", empty), *options],
        coerce=int,
        empty_value=None,
        required=False,
        error_messages={"invalid_choice": f"Choose a {label.lower()} from the list."},
    )


class CohortForm(PageForm):
    """A cohort list request; the choices are the reader's (``queries.choices``)."""

    def __init__(self, data: Any, *, choices: Choices) -> None:
        super().__init__(data)
        self.fields["site"] = _ids("Site", choices.sites, "Any site")
        self.fields["team"] = _ids("Team", choices.teams, "Any team")
        self.fields["clinician"] = _ids("Clinician", choices.clinicians, "Any clinician")
        self.fields["payer"] = _ids("Payer", choices.payers, "Any payer")
        self.fields["tier"] = forms.ChoiceField(
            label="Risk tier",
            choices=TIER_CHOICES,
            required=False,
            error_messages={"invalid_choice": "Choose a risk tier from the list."},
        )
        self.fields["gap"] = forms.ChoiceField(
            label="Open care gap",
            choices=[("", "Any patient"), *choices.gaps],
            required=False,
            error_messages={"invalid_choice": "Choose a care gap from the list."},
        )
        self.fields["sort"] = forms.ChoiceField(
            label="Sort",
            choices=SORT_CHOICES,
            required=False,
            error_messages={
                "invalid_choice": "Sort by one of: "
                + ", ".join(rules.SORTS)
                + " (a leading - for descending)."
            },
        )
        self.fields["per_page"] = forms.TypedChoiceField(
            label="Rows per page",
            choices=[(n, str(n)) for n in rules.PAGE_SIZES],
            coerce=int,
            empty_value=None,
            required=False,
            error_messages={"invalid_choice": "Rows per page must be 25, 50 or 100."},
        )
        for name in FILTER_FIELDS:
            self.fields[name].widget.attrs["class"] = "form-select form-select-sm"

    def filter_fields(self) -> list[Any]:
        """The bound fields the filter bar shows, in order."""
        return [self[name] for name in FILTER_FIELDS if name != "sort"]

    def criteria(self, cohort: str) -> Criteria:
        data = self.cleaned_data
        return Criteria(
            cohort=cohort,
            site=data.get("site"),
            team=data.get("team"),
            clinician=data.get("clinician"),
            payer=data.get("payer"),
            tier=data.get("tier") or "",
            gap=data.get("gap") or "",
            sort=data.get("sort") or rules.DEFAULT_SORT,
            page=data.get("page") or 1,
            per_page=data.get("per_page") or rules.DEFAULT_PAGE_SIZE,
        )

    def filter_query(self, *, without: tuple[str, ...] = ()) -> str:
        """The filter as a query string (only the filter fields that are set; no page)."""
        query = QueryDict(mutable=True)
        for name in (n for n in FILTER_FIELDS if n not in without):
            value = self.data.get(name, "")
            if value not in ("", None):
                query[name] = value
        return query.urlencode()

    def is_filtered(self) -> bool:
        data = self.cleaned_data
        return any(
            data.get(n) not in (None, "") for n in FILTER_FIELDS if n not in ("sort", "per_page")
        )


class SavedFilterForm(forms.Form):
    """Save the current filter of a cohort list under a name."""

    name = forms.CharField(label="Filter name", max_length=80, strip=True)
    query = forms.CharField(label="Filter", max_length=1000, required=False, strip=True)

    def problems(self) -> list[tuple[str, str]]:
        return [
            (str(self.fields[name].label) if name in self.fields else name, str(message))
            for name, messages in self.errors.items()
            for message in messages
        ]
