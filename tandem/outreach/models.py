"""Worklist items, their history, and contact attempts (F3).

A :class:`WorklistItem` is one patient on one worklist (``outreach.rules.WORKLISTS`` and one
care-gap list per stored measure), opened by the daily refresh and worked by the care team
until it resolves (by a person, with a reason, or by the refresh when the data shows the gap
closed) or is marked unable to reach. At most one item per patient and worklist is open.

Being on a worklist can reveal a protected relationship (the SMI list says the patient has a
serious mental illness), so items and attempts are labelled (``Labelled``) with the most
protective of the list's label, the labels of the rows that put the patient there, and the
label of the item's site (the patient's home site). The gate filters them like clinical rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tandem.core.models import Labelled, Site, sensitivity_check
from tandem.outreach import rules


class WorklistItem(Labelled):
    class State(models.TextChoices):
        NEW = rules.NEW, "New"
        CLAIMED = rules.CLAIMED, "Claimed"
        IN_OUTREACH = rules.IN_OUTREACH, "In outreach"
        RESOLVED = rules.RESOLVED, "Resolved"
        UNABLE = rules.UNABLE, "Unable to reach"

    worklist = models.CharField(max_length=60, help_text="Worklist key (outreach.rules).")
    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey(
        Site,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The patient's home site when the item opened (the site filter).",
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.NEW)
    reason = models.CharField(max_length=400, help_text="Why the patient is on the list.")
    evidence = models.JSONField(default=dict, help_text="The dates and values behind the reason.")
    trigger_date = models.DateField(
        null=True, blank=True, help_text="The event that put the patient on (a discharge…)."
    )
    risk = models.PositiveIntegerField(default=0, help_text="Risk score (registry.RiskScore).")
    risk_tier = models.CharField(max_length=10, blank=True, default="")
    risk_sensitivity = models.CharField(
        max_length=20,
        default="normal",
        help_text="The risk score's own label: readers who may not see it rank the item as 0.",
    )
    time_critical = models.BooleanField(default=False)
    due = models.DateField(null=True, blank=True, help_text="Deadline of a time-critical item.")
    next_due = models.DateField(null=True, blank=True, help_text="Next contact attempt due.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    opened_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_reason = models.CharField(max_length=400, blank=True, default="")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who closed it; empty when the refresh resolved it.",
    )
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The primary-care appointment booked from this item.",
    )
    escalation = models.ForeignKey(
        "tasks.Task",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The supervisor's task opened when the item was marked unable to reach.",
    )

    class Meta:
        indexes = [
            models.Index(fields=["worklist", "state", "risk"], name="outreach_item_list"),
            models.Index(fields=["patient", "worklist"], name="outreach_item_patient"),
            models.Index(fields=["owner", "state"], name="outreach_item_owner"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["worklist", "patient"],
                condition=models.Q(state__in=sorted(rules.OPEN_STATES)),
                name="worklistitem_one_open_per_patient",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=[s for s, _ in rules.STATES]),
                name="worklistitem_state_known",
            ),
            models.CheckConstraint(
                condition=~models.Q(state__in=sorted(rules.CLOSED_STATES))
                | (~models.Q(resolved_reason="") & models.Q(resolved_at__isnull=False)),
                name="worklistitem_closed_has_reason",
            ),
            sensitivity_check("worklistitem"),
        ]

    @property
    def is_open(self) -> bool:
        return self.state in rules.OPEN_STATES

    def __str__(self) -> str:
        return f"WorklistItem {self.pk}"  # never a name: str() ends up in logs


class ItemEvent(models.Model):
    """One step in an item's history: opened, claimed, an attempt, resolved…"""

    item = models.ForeignKey(WorklistItem, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=30)
    from_state = models.CharField(max_length=20, blank=True, default="")
    to_state = models.CharField(max_length=20, blank=True, default="")
    detail = models.CharField(max_length=400, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["item", "at"])]


class ContactAttempt(Labelled):
    """One try to reach the patient about an item: channel, outcome, note, when, by whom.

    ``nonce`` makes a submission idempotent: the form's hidden token or the API's
    ``idempotency_key``; a second submission with the same one writes nothing.
    """

    item = models.ForeignKey(WorklistItem, on_delete=models.PROTECT, related_name="attempts")
    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=20, choices=rules.CHANNELS)
    outcome = models.CharField(max_length=20, choices=rules.OUTCOMES)
    note = models.TextField(blank=True, default="")
    attempted_at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    nonce = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["item", "attempted_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["nonce"], condition=~models.Q(nonce=""), name="contactattempt_nonce_once"
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=[c for c, _ in rules.CHANNELS]),
                name="contactattempt_channel_known",
            ),
            models.CheckConstraint(
                condition=models.Q(outcome__in=[o for o, _ in rules.OUTCOMES]),
                name="contactattempt_outcome_known",
            ),
            sensitivity_check("contactattempt"),
        ]

    def __str__(self) -> str:
        return f"ContactAttempt {self.pk}"
