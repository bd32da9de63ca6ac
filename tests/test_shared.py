"""A clone without the project's shared folder runs every test: those that read the folder
find it through ``tests/shared.py`` and skip with a message when it is absent."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# Ways to reach the shared folder around tests/shared.py: building the path, or reading the
# product's default expansion folder (which is ../shared) with a bare load().
AROUND_THE_HELPER = re.compile(
    r"""["']shared["']|DEFAULT_EXPANSION_DIRS|\b(?:vs_module|valuesets)\.load\(\)"""
)
# Test modules that read the shared folder and need no database (quick to run in a subprocess).
READERS = [
    "tests/measures/test_evaluate_many.py",
    "tests/measures/test_valuesets.py",
    "tests/measures/conformance/test_cms_decks.py",
    "tests/measures/conformance/test_harness.py",
    "tests/importers/fhir/test_load.py",
]


def test_every_test_reaches_the_shared_folder_through_the_helper():
    around = [
        path.relative_to(TESTS).as_posix()
        for path in sorted(TESTS.rglob("*.py"))
        if path.name not in {"shared.py", "test_shared.py"}
        and AROUND_THE_HELPER.search(path.read_text())
    ]
    assert around == []


def test_without_the_shared_folder_its_tests_skip_and_say_why(tmp_path):
    env = dict(os.environ, TANDEM_SHARED_DIR=str(tmp_path / "no-shared-here"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *READERS],
        cwd=TESTS.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "no-shared-here" in done.stdout and "is not here" in done.stdout
    assert " error" not in done.stdout.splitlines()[-1]
