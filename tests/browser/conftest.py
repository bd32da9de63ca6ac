"""Browser fixtures: Playwright (sync API) driving Debian's system Chromium.

No browser is ever downloaded (``playwright install`` is not used). When ``chromium`` is not on
PATH the browser tests skip with a message — unless ``TANDEM_REQUIRE_BROWSER=1`` (CI), where a
missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = "Chromium is not installed: apt-get install -y chromium (Debian's package)"
        if os.environ.get("TANDEM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"TANDEM_REQUIRE_BROWSER=1 but {message}")
        pytest.skip(message)
    return path


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def page(chromium_executable: str, live_server, transactional_db) -> Iterator:  # type: ignore[no-untyped-def]
    """A fresh browser page whose relative URLs go to the live server.

    Playwright's sync API runs an event loop in this thread, so Django's async-safety check
    would refuse the ORM calls the test makes (builders, audit checks); it is lifted for the
    life of this fixture only, which ends before the database is flushed.
    """
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_executable, args=CHROMIUM_ARGS
            )
            context = browser.new_context(
                base_url=live_server.url, viewport={"width": 1280, "height": 900}
            )
            context.set_default_timeout(10_000)
            try:
                yield context.new_page()
            finally:
                context.close()
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
