"""Every audit test keeps its anchors in its own file (never the var dir's)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _own_anchor_file(tmp_path, settings):
    settings.TANDEM_AUDIT_ANCHOR_FILE = tmp_path / "audit-anchors.txt"
