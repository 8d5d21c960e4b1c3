"""What the end-to-end tests of the admin web share: one headless Chromium per test (Debian's, through Playwright)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.web_support import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's Chromium, headless; a test that has no Playwright installed is skipped, saying so."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
