"""The ``tandem`` command: argument parsing only; every command calls services.

Commands refuse bad input with one line on stderr and exit status 2. Domain packages add
their own commands through a ``register(subparsers)`` function in their ``cli.py``
(see ``COMMAND_MODULES``).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from tandem.core.lib.cli import UsageError

COMMAND_MODULES = (
    "tandem.core.cli",
    "tandem.terminology.cli",
    "tandem.synth.cli",
    "tandem.measures.cli",
    "tandem.tokens.cli",
    "tandem.workspace.cli",
    "tandem.jobs.cli",
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tandem",
        description="Tandem: primary care and behavioral health as one team.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(sub)
    return parser


def setup_django() -> None:
    """Configure Django (settings come from TANDEM_* variables)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    import django

    django.setup()


def main(argv: Sequence[str] | None = None) -> int:
    from tandem.config import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "needs_django", True):
            setup_django()
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"tandem: error: {exc}", file=sys.stderr)
        return UsageError.exit_code
    except ConfigError as exc:
        print(f"tandem: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tandem: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
