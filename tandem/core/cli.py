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
    serve = sub.add_parser(
        "serve", help="serve the web application (waitress; gunicorn with --workers above 1)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=port_number, default=8000)
    serve.add_argument(
        "--threads", type=positive_number, default=8, help="threads per server process"
    )
    serve.add_argument(
        "--workers",
        type=positive_number,
        default=1,
        help="server processes: 1 serves with waitress; more with gunicorn, one process per "
        "core (POSIX systems; elsewhere waitress serves alone)",
    )
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

    One process (``--workers 1``, the default): waitress, ``--threads`` threads. Python runs
    one thread at a time per process, so a busy server uses one core whatever the threads;
    ``--workers N`` serves with gunicorn, N processes of ``--threads`` threads each (ADR 0009).

    waitress drops X-Forwarded-* headers unless told to trust the peer. Behind a TLS proxy
    (TANDEM_BEHIND_TLS_PROXY) it trusts X-Forwarded-Proto (so Django sees HTTPS) and the last
    X-Forwarded-For hop (so sign-in throttling counts the client's address, not the proxy's).
    Under gunicorn the same waitress code does it (``_proxy_headers``), before Django.
    Apps' companions (``core.lib.companions``: the background-jobs worker) run beside the
    server, once, in this process.
    """
    workers = args.workers
    if workers > 1 and not _gunicorn_available():
        print(
            "tandem serve: gunicorn cannot run here (it needs a POSIX system); "
            "serving with one waitress process",
            file=sys.stderr,
            flush=True,
        )
        workers = 1
    if workers > 1:
        return _serve_gunicorn(args, workers)
    return _serve_waitress(args)


def _proxy_options() -> dict[str, Any]:
    from django.conf import settings

    if settings.CONFIG["TANDEM_BEHIND_TLS_PROXY"]:
        return {
            "trusted_proxy": "*",
            "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-for"},
        }
    return {}


def _display_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host  # an IPv6 address


def _cannot_listen(exc: OSError, args: argparse.Namespace) -> UsageError:
    import errno

    if exc.errno == errno.EADDRINUSE:
        return UsageError(
            f"port {args.port} on {args.host} is in use; stop what uses it or pick --port"
        )
    if exc.errno == errno.EACCES:
        return UsageError(
            f"port {args.port} on {args.host}: permission denied; pick a port above 1023"
        )
    where = f"{_display_host(args.host)}:{args.port}"
    return UsageError(f"cannot listen on {where}: {exc.strerror or exc}")


def _serve_waitress(args: argparse.Namespace) -> int:
    from waitress.server import create_server  # type: ignore[import-untyped]

    from tandem.wsgi import application

    options: dict[str, Any] = {"host": args.host, "port": args.port, "threads": args.threads}
    options.update(_proxy_options())
    host = _display_host(args.host)
    try:
        server = create_server(application, **options)
    except OSError as exc:
        raise _cannot_listen(exc, args) from None
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


def _gunicorn_available() -> bool:
    try:
        import fcntl  # noqa: F401  (gunicorn's arbiter needs POSIX)

        import gunicorn  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


def _bind(args: argparse.Namespace) -> Any:
    """The listening socket, bound here so that a busy port is one line, as with waitress."""
    import socket

    try:
        infos = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        where = f"{_display_host(args.host)}:{args.port}"
        raise UsageError(f"cannot listen on {where}: {exc.strerror or exc}") from None
    family, _, _, _, address = infos[0]
    try:
        return socket.create_server(address, family=family, backlog=1024)
    except OSError as exc:
        raise _cannot_listen(exc, args) from None


GRACEFUL_STOP_SECONDS = 10


def _serve_gunicorn(args: argparse.Namespace, workers: int) -> int:
    """gunicorn's master (this process) and ``workers`` forked server processes.

    The master binds nothing itself: it is handed the socket bound here. The companions start
    in the master once gunicorn is ready and stop when it exits, so exactly one jobs worker
    runs however many server processes there are. No database connection is open when the
    workers fork (each opens its own). No access log: URLs can carry search terms.
    """
    from contextlib import ExitStack

    from django.conf import settings
    from django.db import connections
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    from tandem.wsgi import application

    sock = _bind(args)
    app = _proxy_headers(application)
    stack = ExitStack()

    def when_ready(arbiter: Any) -> None:
        stack.enter_context(companions.running())
        connections.close_all()  # the workers fork next: no connection may be shared

    def on_exit(arbiter: Any) -> None:
        stack.close()

    options: dict[str, Any] = {
        "bind": [f"fd://{sock.fileno()}"],
        "workers": workers,
        "threads": args.threads,
        "worker_class": "gthread",
        "proc_name": "tandem",
        "accesslog": None,
        "loglevel": "debug" if settings.CONFIG["TANDEM_LOG_LEVEL"] == "DEBUG" else "warning",
        # Scheme and client address come from the proxy headers only as waitress takes them
        # (``_proxy_headers``): gunicorn itself trusts no forwarded header.
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        # A stop gives requests in flight 10 s, then the master kills what is left. Now and
        # then a gthread worker that served a request does not exit on its own after a stop
        # (seen 1 stop in 8-16 here, threads waiting on locks; cause not found): with
        # gunicorn's default (30 s) such a stop took 30 s.
        "graceful_timeout": GRACEFUL_STOP_SECONDS,
        # gunicorn 27's control socket is one path per user (~/.gunicorn/gunicorn.ctl), which
        # every server of that user would share; Tandem does not use it.
        "control_socket_disable": True,
        "when_ready": when_ready,
        "on_exit": on_exit,
    }

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    connections.close_all()
    # Per-process counters (the API's rate limit) allow each process its share (tandem.api).
    os.environ["TANDEM_SERVER_PROCESSES"] = str(workers)
    host = _display_host(args.host)
    print(
        f"Tandem is serving at http://{host}:{args.port}/  (Ctrl-C to stop; "
        f"{workers} processes of {args.threads} threads)",
        flush=True,
    )
    master = os.getpid()
    try:
        Server().run()
    except SystemExit as exc:
        if os.getpid() != master:
            raise  # a forked worker leaving: its exit is gunicorn's business, not ours
        return int(exc.code or 0)  # the master leaves by sys.exit, 0 on Ctrl-C
    finally:
        if os.getpid() == master:
            stack.close()
    return 0


def _proxy_headers(app: Any) -> Any:
    """waitress's own proxy-header handling around ``app``: untrusted X-Forwarded-* headers
    removed, and behind a TLS proxy the scheme and client address taken from the trusted ones
    — the same code, so the two servers cannot differ."""
    from waitress.proxy_headers import proxy_headers_middleware  # type: ignore[import-untyped]

    options = _proxy_options()
    return proxy_headers_middleware(
        app,
        trusted_proxy=options.get("trusted_proxy"),
        trusted_proxy_count=options.get("trusted_proxy_count", 1),
        trusted_proxy_headers=options.get("trusted_proxy_headers"),
        clear_untrusted=True,
    )
