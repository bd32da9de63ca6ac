"""The home page: each role's panels (``rules.HOMES``), composed from the apps' queries."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from tandem.core.forms import PageForm
from tandem.core.queries import role_of
from tandem.core.views import HtmxHttpRequest, bad_request
from tandem.workspace import queries, rules


@require_GET
@login_required
def home(request: HtmxHttpRequest) -> HttpResponse:
    """The role's home: tasks, worklists and caseload for clinicians and staff, the sites
    overview for leaders, their own record for patients. htmx asking for another page of the
    caseload gets the caseload partial alone."""
    form = PageForm(request.GET)
    if not form.is_valid():
        return bad_request(request, form.problems())
    page = form.cleaned_data["page"] or 1
    role = role_of(request.user)
    home = rules.home_for(role.key)
    if request.htmx and "caseload" in home.panels:
        caseload = queries.caseload(user=request.user, page=page)
        return render(request, "workspace/_caseload.html", {"caseload": caseload})
    context: dict[str, Any] = {"role": role, "home": home, "today": timezone.localdate()}
    panels: list[dict[str, Any]] = []
    for key in home.panels:
        data = queries.PANELS[key](user=request.user, page=page)
        if data is not None:  # None: the panel has nothing for this user and is left out
            panels.append({"key": key, "template": f"workspace/_panel_{key}.html", "data": data})
            context[key.replace("-", "_")] = data
    context["panels"] = panels
    return render(request, "workspace/home.html", context)
