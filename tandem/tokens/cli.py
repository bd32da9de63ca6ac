"""`tandem token …`: issue, list and revoke personal access tokens from the console."""

from __future__ import annotations

import argparse
from typing import Any

from tandem.tokens import rules


def _days(value: str) -> int:
    try:
        return rules.check_lifetime(int(value))
    except ValueError as exc:
        message = str(exc) if value.strip().lstrip("-").isdigit() else f"not a number: {value!r}"
        raise argparse.ArgumentTypeError(message) from None


def _token_id(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 2**63:
        raise argparse.ArgumentTypeError(f"a token id is a whole number, got {value!r}")
    return int(value)


def register(sub: Any) -> None:
    parser = sub.add_parser("token", help="personal access tokens for the JSON API")
    actions = parser.add_subparsers(dest="token_command", metavar="ACTION")
    actions.required = True

    create = actions.add_parser(
        "create",
        help="issue a token acting as a user; prints the token once",
        description="Scopes: " + "; ".join(f"{s} ({t})" for s, t in rules.SCOPES.items()),
    )
    create.add_argument("--user", required=True, help="the username the token acts as")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        metavar="SCOPE",
        help="a scope (repeat, or separate with commas)",
    )
    create.add_argument(
        "--expires-in-days",
        type=_days,
        default=rules.DEFAULT_LIFETIME_DAYS,
        metavar="N",
        help=f"1–{rules.MAX_LIFETIME_DAYS} (default {rules.DEFAULT_LIFETIME_DAYS})",
    )
    create.add_argument("--name", default="", help="what the token is for (default: cli)")
    create.set_defaults(func=cmd_create)

    listing = actions.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--user", default=None, help="only this user's tokens")
    listing.set_defaults(func=cmd_list)

    revoke = actions.add_parser("revoke", help="revoke a token for good")
    revoke.add_argument("token_id", type=_token_id, metavar="ID")
    revoke.set_defaults(func=cmd_revoke)


def cmd_create(args: argparse.Namespace) -> int:
    from django.db import transaction

    from tandem.core.lib.cli import UsageError
    from tandem.tokens import queries, services

    user = queries.user_named(args.user)
    if user is None:
        raise UsageError(f"no user {args.user!r}")
    try:
        with transaction.atomic():
            issued = services.create_token(
                by=None,
                user=user,
                name=args.name or "cli",
                scopes=args.scope,
                expires_in_days=args.expires_in_days,
            )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    token = issued.token
    print(issued.secret)
    print(
        f"token {token.pk} for {user.get_username()}: {' '.join(token.scope_list)}, "
        f"expires {token.expires_at:%Y-%m-%d}. Shown once: Tandem keeps only its SHA-256.",
        flush=True,
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from tandem.core.lib.cli import UsageError
    from tandem.tokens import queries

    if args.user and queries.user_named(args.user) is None:
        raise UsageError(f"no user {args.user!r}")
    now = timezone.now()
    rows = list(queries.all_tokens(username=args.user))
    if not rows:
        print("no tokens")
        return 0
    print(
        f"{'ID':>5}  {'USER':12} {'TOKEN':15} {'STATUS':8} {'EXPIRES':10} {'LAST USED':16}  SCOPES  NAME"
    )
    for t in rows:
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        print(
            f"{t.pk:>5}  {t.user.get_username():12} {t.display_prefix:15} {t.status_on(now):8} "
            f"{t.expires_at:%Y-%m-%d} {used:16}  {','.join(t.scope_list)}  {t.name}"
        )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from django.db import transaction

    from tandem.core.lib.cli import UsageError
    from tandem.tokens import queries, services

    token = queries.token_by_id(args.token_id)
    if token is None:
        raise UsageError(f"no token {args.token_id}")
    try:
        with transaction.atomic():
            services.revoke_token(by=None, token=token)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"token {token.pk} ({token.display_prefix}) of {token.user.get_username()} revoked")
    return 0
