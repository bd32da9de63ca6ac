"""The patient portal (F30) at ``/me/``: the signed-in patient's own record, care team,
questionnaires, care plan, sharing choices and who looked at the record.

No URL names the patient: every page works on the patient the gate finds for the user
(``queries.own_patient``). Anyone else (staff, a user not linked to a record) gets the 404 page
and a ``denied`` audit event; so does an id in a URL (a directive, a recipient) that is not the
patient's own, and the page then reveals nothing about it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.core.forms import MAX_ID
from tandem.core.lib.http import refusals_as_404
from tandem.portal import forms, queries, rules, services
from tandem.registry import chart


def patient_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in, a patient, else the 404 page (audited); the view gets ``patient``. A gate
    or service refusal inside becomes the 404 page too (``refusals_as_404``)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        patient = queries.own_patient(user=request.user)
        if patient is None:
            queries.refuse(user=request.user, detail="not a patient")
            return render(request, "404.html", status=404)
        if any(isinstance(v, int) and v > MAX_ID for v in kwargs.values()):
            queries.refuse(user=request.user, detail="malformed id", patient_id=patient.pk)
            return render(request, "404.html", status=404)
        return view(request, patient, *args, **kwargs)

    return login_required(refusals_as_404(wrapped))


def _crumbs(label: str) -> list[tuple[str, str | None]]:
    return [("My health", reverse("portal-home")), (label, None)]


@require_GET
@patient_page
def home(request: HttpRequest, patient: Any) -> HttpResponse:
    context = queries.overview(user=request.user, patient_id=patient.pk)
    return render(request, "portal/home.html", context)


@require_GET
@patient_page
def record(request: HttpRequest, patient: Any) -> HttpResponse:
    disclosure = queries.record(user=request.user, patient_id=patient.pk)
    data, today = disclosure.data, timezone.localdate()
    age = patient.age_on(today)
    results = chart.results(data["observations"], sex=patient.sex, age=age)
    medicines, _ = chart.medications(
        data["medication_orders"], data["medication_dispenses"], today=today
    )
    context = {
        "patient": disclosure.patient,
        "problems": data["conditions"],
        "medicines": medicines,
        "results": results,
        "visits": data["encounters"],
        "notes": data["notes"],
        "psychotherapy_withheld": queries.psychotherapy_withheld(disclosure),
        "psychotherapy_words": queries.PSYCHOTHERAPY_WORDS,
        "breadcrumbs": _crumbs("My record"),
    }
    return render(request, "portal/record.html", context)


@require_GET
@patient_page
def team(request: HttpRequest, patient: Any) -> HttpResponse:
    disclosure = queries.team(user=request.user, patient_id=patient.pk)
    members = [
        {
            "name": m.practitioner.name,
            "role": rules.ROLE_WORDS.get(m.role, m.role).capitalize(),
            "program": m.program.name if m.program_id else "",
            "site": _site_name(m),
            "since": m.start,
        }
        for m in disclosure.data["care_team"]
    ]
    context = {
        "members": members,
        "appointments": disclosure.data["appointments"],
        "breadcrumbs": _crumbs("My care team"),
    }
    return render(request, "portal/team.html", context)


def _site_name(member: Any) -> str:
    """Where a care-team member sees the patient: the program's site, else their first site."""
    if member.program_id and member.program.site_id:
        return str(member.program.site.name)
    site = member.practitioner.sites.order_by("name").first()
    return str(site.name) if site else ""


@require_GET
@patient_page
def questionnaires(request: HttpRequest, patient: Any) -> HttpResponse:
    context = queries.questionnaires(user=request.user, patient_id=patient.pk)
    context["breadcrumbs"] = _crumbs("Questionnaires")
    return render(request, "portal/questionnaires.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page
def questionnaire(request: HttpRequest, patient: Any, instrument: str) -> HttpResponse:
    q = rules.QUESTIONNAIRES.get(instrument)
    if q is None:
        return render(request, "404.html", status=404)
    form = forms.QuestionnaireForm(
        request.POST if request.method == "POST" else None, questionnaire=q
    )
    if request.method == "POST" and form.is_valid():
        team = queries.team(user=request.user, patient_id=patient.pk).data["care_team"]
        response, task = services.complete_questionnaire(
            by=request.user,
            patient=patient,
            questionnaire=q,
            answers=form.answers(),
            care_team=team,
        )
        messages.success(
            request, f"Thank you. Your answers to the {q.title} were sent to your care team."
        )
        if task is not None or (q.crisis_item and form.answers().get(q.crisis_item, 0) > 0):
            messages.warning(
                request, rules.CRISIS_LINE + " Someone from your care team will call you today."
            )
        return redirect("portal-questionnaires")
    status = 400 if request.method == "POST" else 200
    context = {
        "q": q,
        "form": form,
        "crisis_line": rules.CRISIS_LINE,
        "breadcrumbs": [
            ("My health", reverse("portal-home")),
            ("Questionnaires", reverse("portal-questionnaires")),
            (q.title, None),
        ],
    }
    return render(request, "portal/questionnaire.html", context, status=status)


@require_GET
@patient_page
def care_plan(request: HttpRequest, patient: Any) -> HttpResponse:
    plan = queries.care_plan(user=request.user, patient_id=patient.pk)
    return render(
        request, "portal/care_plan.html", {"plan": plan, "breadcrumbs": _crumbs("My care plan")}
    )


# --- sharing choices --------------------------------------------------------------------------


def _describe(directive: Any) -> dict[str, Any]:
    """A directive in the patient's words."""
    cats = list(directive.categories or ())
    what = (
        list(rules.CATEGORY_WORDS.values())
        if rules.ALL_CATEGORIES in cats
        else [rules.CATEGORY_WORDS.get(c, c) for c in cats]
    )
    recipients = [
        {
            "pk": r.pk,
            "name": _recipient_words(r),
            "revoked": r.revoked_on is not None,
            "revoked_on": r.revoked_on,
        }
        for r in directive.recipient_list
    ]
    return {
        "pk": directive.pk,
        "what": what,
        "why": [rules.PURPOSE_WORDS.get(p, p) for p in directive.purposes or ()],
        "recipients": recipients,
        "status": directive.status,
        "status_words": rules.STATUS_WORDS.get(directive.status, directive.status),
        "start": directive.start,
        "end": directive.end,
        "signed_on": directive.signed_on,
        "signer_name": directive.signer_name,
        "active": directive.status == "active",
    }


def _recipient_words(r: Any) -> str:
    if r.kind == "role":
        return f"Anyone who is your {rules.ROLE_WORDS.get(r.role, r.role)}"
    if r.kind == "site" and r.site is not None:
        return f"Everyone at {r.site.name}"
    if r.kind == "organization" and r.organization is not None:
        return f"Everyone who works for {r.organization.name}"
    return str(r.describe())


@require_GET
@patient_page
def sharing(request: HttpRequest, patient: Any) -> HttpResponse:
    rows = [_describe(d) for d in queries.directives(user=request.user, patient_id=patient.pk)]
    context = {
        "current": [d for d in rows if d["status"] == "active"],
        "drafts": [d for d in rows if d["status"] == "draft"],
        "past": [d for d in rows if d["status"] not in ("active", "draft")],
        "breadcrumbs": _crumbs("My sharing choices"),
    }
    return render(request, "portal/sharing.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page
def sharing_new(request: HttpRequest, patient: Any) -> HttpResponse:
    """The sharing form; "See what they would see" previews (nothing saved), "Sign and
    share" records the directive, signed by the patient ("self"), active from today."""
    from tandem.consent import services as consent

    choices = queries.recipient_choices(user=request.user, patient_id=patient.pk)
    posted = request.method == "POST"
    form = forms.SharingForm(request.POST if posted else None, choices=choices, patient=patient)
    action = request.POST.get("action", "preview")
    previews = None
    status = 200
    if posted and form.is_valid():
        today = timezone.localdate()
        specs = [consent.RecipientSpec(**s) for s in form.specs()]
        end = form.cleaned_data["end"]
        purposes = list(form.cleaned_data["purposes"])
        if action == "sign" and form.check_signature():
            try:
                directive = consent.record_directive(
                    by=request.user,
                    patient=patient,
                    categories=form.chosen_categories,
                    purposes=purposes,
                    recipients=specs,
                    start=today,
                    end=end,
                    signature=consent.Signature(
                        signer_name=form.cleaned_data["signature"],
                        signed_on=today,
                        relationship="self",
                    ),
                    part2_tpo=form.part2_tpo,
                    activate=True,
                )
            except consent.DirectiveError as error:
                form.add_error(_field(error.field), error.message)
            else:
                messages.success(request, "Your sharing choice is saved. It starts today.")
                return redirect("portal-directive", directive_id=directive.pk)
        elif action != "sign":
            found = queries.preview(
                user=request.user,
                patient_id=patient.pk,
                categories=form.chosen_categories,
                purposes=purposes,
                recipients=specs,
                start=today,
                end=end,
            )
            previews = [_preview_words(p) for p in found]
    if posted and form.errors:
        status = 400
    context = {
        "form": form,
        "choices": choices,
        "previews": previews,
        "breadcrumbs": [
            ("My health", reverse("portal-home")),
            ("My sharing choices", reverse("portal-sharing")),
            ("Share my records", None),
        ],
    }
    return render(request, "portal/sharing_new.html", context, status=status)


def _preview_words(p: Any) -> dict[str, Any]:
    """One recipient's preview in plain words ("2 health problems")."""
    name = str(p.recipient).replace("the patient's ", "your ")
    return {
        "recipient": name,
        "see": rules.counted(p.would_see),
        "not_see": rules.counted(p.would_not_see),
    }


def _field(name: str) -> str | None:
    known = {"categories", "recipients", "purposes", "end", "signature"}
    if name in known:
        return name
    if name in ("start",):
        return "end"
    if name in ("signer_name", "signed_on"):
        return "signature"
    return None


@require_GET
@patient_page
def directive(request: HttpRequest, patient: Any, directive_id: int) -> HttpResponse:
    found = queries.directive(user=request.user, patient_id=patient.pk, directive_id=directive_id)
    if found is None:
        return render(request, "404.html", status=404)
    return _directive_page(request, patient, found)


def _directive_page(
    request: HttpRequest, patient: Any, found: Any, sign_form: Any = None, status: int = 200
) -> HttpResponse:
    context = {
        "d": _describe(found),
        "form": forms.RevokeForm(),
        "sign_form": sign_form or forms.SignForm(patient=patient),
        "breadcrumbs": [
            ("My health", reverse("portal-home")),
            ("My sharing choices", reverse("portal-sharing")),
            ("One sharing choice", None),
        ],
    }
    return render(request, "portal/directive.html", context, status=status)


@require_POST
@patient_page
def directive_sign(request: HttpRequest, patient: Any, directive_id: int) -> HttpResponse:
    """Sign a draft the patient recorded with staff: it is in force from now on."""
    from tandem.consent import services as consent

    found = queries.directive(user=request.user, patient_id=patient.pk, directive_id=directive_id)
    if found is None:
        return render(request, "404.html", status=404)
    if found.status != "draft":
        messages.info(request, "This sharing choice is already signed.")
        return redirect("portal-directive", directive_id=directive_id)
    form = forms.SignForm(request.POST, patient=patient)
    if not form.is_valid():
        return _directive_page(request, patient, found, form, status=400)
    try:
        consent.sign_directive(
            by=request.user,
            directive=found,
            signature=consent.Signature(
                signer_name=form.cleaned_data["signature"],
                signed_on=timezone.localdate(),
                relationship="self",
            ),
            patient_id=patient.pk,
        )
    except consent.DirectiveError as error:
        form.add_error(None, error.message)
        return _directive_page(request, patient, found, form, status=400)
    messages.success(request, "You signed. Sharing starts today.")
    return redirect("portal-directive", directive_id=directive_id)


@require_POST
@patient_page
def directive_revoke(request: HttpRequest, patient: Any, directive_id: int) -> HttpResponse:
    from tandem.consent import services as consent

    found = queries.directive(user=request.user, patient_id=patient.pk, directive_id=directive_id)
    if found is None:
        return render(request, "404.html", status=404)
    form = forms.RevokeForm(request.POST)
    if not form.is_valid():
        return redirect("portal-directive", directive_id=directive_id)
    if found.status not in ("active", "draft"):
        messages.info(request, "This sharing choice was already stopped.")
    else:
        consent.revoke_directive(
            by=request.user, directive=found, reason=form.why, patient_id=patient.pk
        )
        messages.success(
            request, "You stopped this sharing choice. Nobody gets these records under it now."
        )
    return redirect("portal-directive", directive_id=directive_id)


@require_POST
@patient_page
def recipient_revoke(
    request: HttpRequest, patient: Any, directive_id: int, recipient_id: int
) -> HttpResponse:
    from tandem.consent import services as consent

    found = queries.directive(user=request.user, patient_id=patient.pk, directive_id=directive_id)
    recipient = None
    if found is not None:
        recipient = next((r for r in found.recipient_list if r.pk == recipient_id), None)
        if recipient is None:
            queries.refuse(
                user=request.user,
                patient_id=patient.pk,
                detail=f"recipient={recipient_id} is not on directive={directive_id}",
            )
    if found is None or recipient is None:
        return render(request, "404.html", status=404)
    form = forms.RevokeForm(request.POST)
    if not form.is_valid():
        return redirect("portal-directive", directive_id=directive_id)
    name = _recipient_words(recipient)
    if recipient.revoked_on is not None or found.status not in ("active", "draft"):
        messages.info(request, f"You already stopped sharing with {name}.")
    else:
        consent.revoke_recipient(
            by=request.user,
            directive=found,
            recipient_id=recipient_id,
            reason=form.why,
            patient_id=patient.pk,
        )
        messages.success(request, f"You stopped sharing with {name}.")
    return redirect("portal-directive", directive_id=directive_id)


@require_GET
@patient_page
def access(request: HttpRequest, patient: Any) -> HttpResponse:
    lines = queries.access_log(user=request.user, patient_id=patient.pk)
    return render(
        request,
        "portal/access.html",
        {"lines": lines, "breadcrumbs": _crumbs("Who looked at my record")},
    )
