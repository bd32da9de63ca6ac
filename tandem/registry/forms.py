"""Parsing the patient-search query string into :class:`tandem.registry.queries.Search`."""

from __future__ import annotations

from typing import Any

from django import forms

from tandem.core.forms import PageForm
from tandem.registry.queries import Search


class SearchForm(PageForm):
    """Name, MRN and birth date (any combination) plus the page number, all from GET."""

    name = forms.CharField(label="Name", max_length=100, required=False, strip=True)
    mrn = forms.CharField(label="MRN", max_length=64, required=False, strip=True)
    birth_date = forms.DateField(
        label="Birth date",
        required=False,
        input_formats=["%Y-%m-%d", "%m/%d/%Y"],
        error_messages={"invalid": "Enter a real date as YYYY-MM-DD (or MM/DD/YYYY)."},
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    # A leader's overview links its counts here: the patients registered at a site they lead
    # (``site``), optionally only those with an active care team (``care_team``).
    site = forms.IntegerField(label="Site", required=False, min_value=1, widget=forms.HiddenInput)
    care_team = forms.BooleanField(
        label="Active care team", required=False, widget=forms.HiddenInput
    )
    field_order = ["name", "mrn", "birth_date", "page"]

    def __init__(self, data: Any = None, *, led_site_ids: list[int] | None = None) -> None:
        super().__init__(data)
        self.led_site_ids = led_site_ids or []

    def clean_site(self) -> int | None:
        site = self.cleaned_data.get("site")
        if site is not None and site not in self.led_site_ids:
            raise forms.ValidationError("Choose a site you lead.")
        return site

    def is_empty(self) -> bool:
        """True when no search criterion was given (the page then only shows the form)."""
        data = self.cleaned_data
        return not (
            data.get("name") or data.get("mrn") or data.get("birth_date") or data.get("site")
        )

    def criteria(self) -> Search:
        data = self.cleaned_data
        return Search(
            name=data.get("name") or "",
            mrn=data.get("mrn") or "",
            birth_date=data.get("birth_date"),
            site_id=data.get("site"),
            with_care_team=bool(data.get("care_team")),
            page=data.get("page") or 1,
        )
