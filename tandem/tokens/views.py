"""The API tokens page: the signed-in user creates and revokes their own tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from tandem.tokens import queries, services
from tandem.tokens.forms import CreateTokenForm


@require_http_methods(["GET", "POST"])
@login_required
def tokens_page(request: HttpRequest) -> HttpResponse:
    """List my tokens; POST creates one and shows its secret in this response only.

    The secret is rendered straight into the response (never stored, not even in the session
    or a message) and the response must not be cached.
    """
    form = CreateTokenForm(request.POST if request.method == "POST" else None)
    issued = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            issued = services.create_token(
                by=request.user,
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_in_days=form.cleaned_data["expires_in_days"],
            )
            form = CreateTokenForm()
        else:
            status = 400
    context = {
        "form": form,
        "issued": issued,
        "tokens": list(queries.tokens_of(request.user)),
        "now": timezone.now(),
    }
    response = render(request, "tokens/tokens.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
def revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    """Revoke one of my tokens (someone else's is a 404)."""
    token = queries.own_token(user=request.user, token_id=token_id)
    if token is None:
        return render(request, "404.html", status=404)
    try:
        services.revoke_token(by=request.user, token=token)
    except ValueError as exc:
        messages.warning(request, str(exc))
    else:
        messages.success(request, f"Token “{token.name}” ({token.display_prefix}) is revoked.")
    return redirect("api-tokens")
