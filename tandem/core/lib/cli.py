"""What every command-line entry point shares.

A command refuses bad input by raising :class:`UsageError` with a one-line message that names
what is wrong and where (file, line, option). ``tandem.cli.main`` prints it as
``tandem: error: <message>`` on stderr and exits with status 2.
"""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the person at the keyboard: a one-line reason, exit status 2."""

    exit_code = 2
