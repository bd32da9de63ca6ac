"""Where tests find the project's shared folder, and how they skip without it.

The shared folder holds the official conformance material (the CMS eCQM test decks and the
public VSAC expansions of their value sets), docs and source papers. The project lays it beside
the repository as ``../shared``; it is never copied into the repository, so a clone on its own
does not have it. ``TANDEM_SHARED_DIR`` names another place (or, pointed at a missing folder,
shows what a clone alone does).

Every test that reads it names the part it needs with :func:`needs`, and skips with a message
when that part is absent. ``tests/test_shared.py`` keeps it the only way.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TANDEM_SHARED_DIR") or REPOSITORY.parent / "shared")
ECQM = SHARED / "conformance" / "ecqm-qicore-2024"
VALUESETS = ECQM / "valuesets"  # FHIR ValueSet expansions (VSAC) the CMS measures use
DECKS = ECQM / "tests"  # the CMS test decks: one folder of cases per measure
LIBRARIES = ECQM / "libraries"  # compiled logic (ELM) of the 2025 versions, for fqm-execution
MEASURES = ECQM / "measures"  # the 2025 versions' FHIR Measure resources
ECQM_2026 = SHARED / "conformance" / "ecqm-2026"
VALUESETS_2026 = ECQM_2026 / "valuesets"  # expansions of the value sets the 2026 versions name
MEASURES_2026 = ECQM_2026 / "measures"  # the 2026 versions' FHIR Measure resources
VALUESETS_BY_YEAR = {2025: VALUESETS, 2026: VALUESETS_2026}


def needs(path: Path) -> pytest.MarkDecorator:
    """Skip the test (or module, as ``pytestmark``) unless the shared folder's ``path`` exists."""
    return pytest.mark.skipif(
        not path.is_dir(),
        reason=(
            f"{path} not found: the project's shared folder (../shared beside the repository, "
            "or TANDEM_SHARED_DIR) is not here"
        ),
    )
