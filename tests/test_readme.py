"""What the README tells a newcomer holds: the demo command and every option it takes."""

from __future__ import annotations

from pathlib import Path

from django.urls import reverse

from tandem.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
DEMO = "python3 dev.py demo"


def test_the_login_page_names_the_demo_command_the_readme_gives(client, db, settings):
    settings.TANDEM_ENV = "development"

    assert DEMO in README
    assert DEMO in client.get(reverse("login")).text


def test_the_readme_names_every_option_of_the_demo_command():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    options = [
        option
        for action in sub.choices["demo"]._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]

    assert options and [o for o in options if f"`{o}" not in README] == []
