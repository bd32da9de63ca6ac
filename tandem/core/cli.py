"""Platform commands: serve, migrate, makemigrations, check, createuser, audit verify/anchor.

(``tandem demo`` is in ``tandem.workspace.cli``: it composes every app, and ``core`` imports
none.)
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tandem.core.lib import companions
from tandem.core.lib.cli import UsageError, port_number, positive_number

if TYPE_CHECKING:
    from tandem.audit.anchors import Anchor
    from tandem.audit.services import Verification


def register(sub: Any) -> None:
    serve = sub.add_parser("serve", help="serve the web application (waitress)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=port_number, default=8000)
    serve.add_argument("--threads", type=positive_number, default=8)
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="create or update the database tables")
    migrate.set_defaults(func=cmd_migrate)

    makemigrations = sub.add_parser(
        "makemigrations", help="(developers) write migrations for model changes"
    )
    makemigrations.add_argument("--check", action="store_true")
    makemigrations.add_argument("--dry-run", action="store_true")
    makemigrations.add_argument("--name", default=None)
    makemigrations.add_argument("app", nargs="*")
    makemigrations.set_defaults(func=cmd_makemigrations)

    check = sub.add_parser(
        "check",
        help="Django's system checks; --deploy adds the production ones; exit 1 on any warning",
    )
    check.add_argument(
        "--deploy", action="store_true", help="also check the settings for production"
    )
    check.set_defaults(func=cmd_check)

    createuser = sub.add_parser(
        "createuser",
        help="create a login; the password is read from TANDEM_NEW_PASSWORD or asked for",
    )
    createuser.add_argument("username")
    createuser.add_argument("--email", default="")
    createuser.add_argument("--superuser", action="store_true", help="may use /admin/")
    createuser.set_defaults(func=cmd_createuser)

    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    audit_sub.required = True
    verify = audit_sub.add_parser(
        "verify",
        help="check the hash chain (and anchors); print its head; exit 1 if tampered",
    )
    verify.add_argument(
        "--expect",
        metavar="HASH:COUNT",
        type=_anchor,
        action="append",
        default=[],
        help="a head recorded earlier: the event at position COUNT must have hash HASH",
    )
    verify.add_argument(
        "--anchor-file",
        metavar="PATH",
        type=Path,
        help="check every anchor recorded in PATH (by `tandem audit anchor --append-to PATH`)",
    )
    verify.set_defaults(func=cmd_audit_verify)
    anchor = audit_sub.add_parser(
        "anchor",
        help="verify the chain against the anchor file, then append its head to it",
    )
    anchor.add_argument("--append-to", metavar="PATH", type=Path, required=True)
    anchor.set_defaults(func=cmd_audit_anchor)
    if importlib.util.find_spec("tandem.audit.cli") is not None:  # tandem audit export
        importlib.import_module("tandem.audit.cli").register(audit_sub)


def _anchor(value: str) -> Anchor:
    from tandem.audit import anchors

    try:
        return anchors.parse_expect(value)
    except anchors.AnchorError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_migrate(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1)
    return 0


def cmd_makemigrations(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    options: dict[str, Any] = {"check_changes": args.check, "dry_run": args.dry_run}
    if args.name:
        options["name"] = args.name
    try:
        call_command("makemigrations", *args.app, **options)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Run Django's system checks (with ``--deploy``, the production ones: HTTPS, cookies,
    HSTS, secret key, debug). Prints each finding; exit 1 if there is any, warnings included."""
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    try:
        call_command("check", deploy=args.deploy, fail_level="WARNING")
    except SystemCheckError as exc:
        print(str(exc).strip())
        return 1
    return 0


def cmd_createuser(args: argparse.Namespace) -> int:
    from django.db import transaction

    from tandem.core import services

    password = os.environ.get("TANDEM_NEW_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise UsageError("no password: set TANDEM_NEW_PASSWORD or run in a terminal")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise UsageError("the two passwords differ")
    with transaction.atomic():
        user = services.create_user(
            by=None,
            username=args.username,
            password=password,
            email=args.email,
            superuser=args.superuser,
        )
    print(f"created user {user.get_username()}")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    expect = list(args.expect)
    if args.anchor_file is not None:
        expect += _anchor_file(args.anchor_file, must_exist=True)
    result = _verify_audit_chain(expect)
    return 0 if result.intact else 1


def cmd_audit_anchor(args: argparse.Namespace) -> int:
    from tandem.audit import anchors

    result = _verify_audit_chain(_anchor_file(args.append_to, must_exist=False))
    if not result.intact:
        print(f"no anchor recorded: the chain does not verify ({args.append_to} unchanged)")
        return 1
    anchor = result.anchor()
    try:
        anchors.append(args.append_to, anchor)
    except anchors.AnchorError as exc:
        raise UsageError(str(exc)) from None
    print(f"anchor recorded in {args.append_to}: {anchor.line()}")
    return 0


def _anchor_file(path: Path, *, must_exist: bool) -> list[Anchor]:
    from tandem.audit import anchors

    if not must_exist and not path.exists():
        return []
    try:
        found = anchors.read_file(path)
    except anchors.AnchorError as exc:
        raise UsageError(str(exc)) from None
    if must_exist and not found:
        raise UsageError(
            f"{path} holds no anchor; record one with `tandem audit anchor --append-to {path}`"
        )
    return found


def _verify_audit_chain(expect: list[Anchor]) -> Verification:
    """Verify (one line and exit 2 if the database cannot be used) and print the outcome."""
    from tandem.audit import services
    from tandem.core.lib.db import require_tables

    require_tables("audit_auditevent", "audit_auditchainhead", kind="audit")
    result = services.verify(expect=expect)
    if result.intact:
        events = "event" if result.checked == 1 else "events"
        print(f"audit chain intact: {result.checked} {events}, head {result.head}")
        if result.anchors:
            print(f"consistent with {result.anchors} anchor(s)")
        return result
    for problem in result.problems:
        where = f"event {problem.event_id}" if problem.event_id is not None else "chain"
        print(f"TAMPERED {where}: {problem.message}")
    print(f"audit chain BROKEN: {len(result.problems)} problem(s) in {result.checked} events")
    return result


def cmd_serve(args: argparse.Namespace) -> int:
    """Bind the port first, then say where Tandem is serving, then serve until Ctrl-C.

    waitress drops X-Forwarded-* headers unless told to trust the peer. Behind a TLS proxy
    (TANDEM_BEHIND_TLS_PROXY) it trusts X-Forwarded-Proto (so Django sees HTTPS) and the last
    X-Forwarded-For hop (so sign-in throttling counts the client's address, not the proxy's).
    Apps' companions (``core.lib.companions``: the background-jobs worker) run beside it.
    """
    import errno

    from django.conf import settings
    from waitress.server import create_server  # type: ignore[import-untyped]

    from tandem.wsgi import application

    options: dict[str, Any] = {"host": args.host, "port": args.port, "threads": args.threads}
    if settings.CONFIG["TANDEM_BEHIND_TLS_PROXY"]:
        options.update(
            trusted_proxy="*",
            trusted_proxy_count=1,
            trusted_proxy_headers={"x-forwarded-proto", "x-forwarded-for"},
        )
    host = f"[{args.host}]" if ":" in args.host else args.host  # an IPv6 address
    try:
        server = create_server(application, **options)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {args.port} on {args.host} is in use; stop what uses it or pick --port"
            ) from None
        if exc.errno == errno.EACCES:
            raise UsageError(
                f"port {args.port} on {args.host}: permission denied; pick a port above 1023"
            ) from None
        raise UsageError(f"cannot listen on {host}:{args.port}: {exc.strerror or exc}") from None
    except ValueError as exc:  # waitress: a host it cannot resolve
        raise UsageError(f"cannot listen on {host}:{args.port}: {exc}") from None
    print(f"Tandem is serving at http://{host}:{args.port}/  (Ctrl-C to stop)", flush=True)
    # Companions (the background-jobs worker) start once the port is ours and stop with us.
    with companions.running():
        try:
            server.run()
        finally:
            server.close()
    return 0
