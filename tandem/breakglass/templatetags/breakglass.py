"""``{% emergency_banner disclosure %}``: the chart's "Emergency access until HH:MM" banner."""

from __future__ import annotations

from typing import Any

from django import template

from tandem.breakglass import queries
from tandem.consent.gate import EMERGENCY_BASIS

register = template.Library()


@register.inclusion_tag("breakglass/_chart_banner.html", takes_context=True)
def emergency_banner(context: Any, disclosure: Any) -> dict[str, Any]:
    """The active grant behind a chart read under break-the-glass, if that is its basis."""
    grant = None
    request = context.get("request")
    if disclosure is not None and disclosure.basis == EMERGENCY_BASIS and request is not None:
        grant = queries.active_grant(request.user, disclosure.patient.pk)
    return {"grant": grant}
