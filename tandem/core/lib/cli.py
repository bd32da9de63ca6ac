"""What every command-line entry point shares.

A command refuses bad input by raising :class:`UsageError` with a one-line message that names
what is wrong and where (file, line, option). ``tandem.cli.main`` prints it as
``tandem: error: <message>`` on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse


class UsageError(Exception):
    """Bad input from the person at the keyboard: a one-line reason, exit status 2."""

    exit_code = 2


def port_number(value: str) -> int:
    """An argparse type: a TCP port, 1–65535."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a number, got {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1–65535, got {port}")
    return port


def positive_number(value: str) -> int:
    """An argparse type: a whole number above 0."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {number}")
    return number
