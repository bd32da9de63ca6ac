"""Query-string and action forms of the task pages. Anything tampered with is refused (400)."""

from __future__ import annotations

from django import forms

from tandem.core.forms import PageForm
from tandem.tasks import rules
from tandem.tasks.queries import Filters

STATUS_CHOICES = [
    ("active", "Open or in progress"),
    ("open", "Open"),
    ("in-progress", "In progress"),
    ("done", "Done"),
    ("cancelled", "Cancelled"),
    ("all", "All"),
]
PRIORITY_CHOICES = [("", "Any priority")] + [(p, p.capitalize()) for p in rules.PRIORITY_RANK]
HOLDER_CHOICES = [("", "Me or my queues"), ("mine", "Held by a person"), ("queue", "Unclaimed")]
SORT_CHOICES = [
    ("due", "Due date, soonest first"),
    ("-due", "Due date, latest first"),
    ("priority", "Priority, most urgent first"),
    ("-created", "Newest first"),
    ("created", "Oldest first"),
]


class ListForm(PageForm):
    """Filters, sort and page of a task list (all in the query string, so a view can be shared)."""

    status = forms.ChoiceField(label="Status", choices=STATUS_CHOICES, required=False)
    priority = forms.ChoiceField(label="Priority", choices=PRIORITY_CHOICES, required=False)
    overdue = forms.BooleanField(label="Overdue only", required=False)
    due_today = forms.BooleanField(label="Due today", required=False)
    holder = forms.ChoiceField(label="Held by", choices=HOLDER_CHOICES, required=False)
    sort = forms.ChoiceField(label="Sort by", choices=SORT_CHOICES, required=False)

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            status=data.get("status") or "active",
            priority=data.get("priority") or "",
            overdue=bool(data.get("overdue")),
            due_today=bool(data.get("due_today")),
            holder=data.get("holder") or "",
            sort=data.get("sort") or rules.DEFAULT_SORT,
            page=data.get("page") or 1,
        )


class ActionForm(PageForm):
    """Every task action sends back the version it saw: a second click finds it stale."""

    version = forms.IntegerField(label="Version", min_value=1, required=True)

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        del self.fields["page"]


class CompleteForm(ActionForm):
    outcome = forms.CharField(
        label="Outcome",
        max_length=2000,
        required=True,
        strip=True,
        error_messages={"required": "Say what was done: an outcome is required."},
    )


class CancelForm(ActionForm):
    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        required=True,
        strip=True,
        error_messages={"required": "Say why the task is cancelled."},
    )


class ReassignForm(ActionForm):
    to_queue = forms.SlugField(label="Team queue", max_length=60, required=False)
    to_user = forms.CharField(label="Person (user name)", max_length=150, required=False)
    note = forms.CharField(label="Note", max_length=2000, required=False, strip=True)

    def clean(self) -> dict:  # type: ignore[type-arg]
        data = super().clean() or {}
        if bool(data.get("to_queue")) == bool(data.get("to_user")):
            self.add_error("to_queue", "Choose either a team queue or a person (one of them).")
        return data
