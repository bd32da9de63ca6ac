"""``tandem demo``: set up the demo (``tandem.workspace.demo.set_up``), print the logins, serve."""

from __future__ import annotations

import argparse
from typing import Any

from tandem.core.cli import cmd_serve
from tandem.core.lib.cli import port_number, positive_number


def register(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="migrate, generate a synthetic population if empty, create demo logins and the "
        "day's work, serve",
        description="Set up and serve the demo on the embedded SQLite database.",
    )
    demo.add_argument("--patients", type=positive_number, default=5000, help="population size")
    demo.add_argument("--seed", type=int, default=20261122, help="generator seed")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=port_number, default=8000)
    demo.add_argument("--no-serve", action="store_true", help="set up, print logins, exit")
    demo.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from tandem.workspace import demo

    logins = demo.set_up(
        patients=args.patients, seed=args.seed, say=lambda line: print(line, flush=True)
    )
    url = f"http://{args.host}:{args.port}/"
    print("\nDemo logins (synthetic data only):")
    width = max(len(p.username) for p, _ in logins)
    for persona, password in logins:
        print(f"  {persona.username:<{width}}  {password:<14}  {persona.title}")
    print(f"\nOpen {url} and sign in with one of them.\n", flush=True)
    if args.no_serve:
        return 0
    return cmd_serve(argparse.Namespace(host=args.host, port=args.port, threads=8))
