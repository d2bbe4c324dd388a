"""Headless Debian Chromium driven by Playwright, one fresh profile per test.

Playwright's own browser downloads are never used (`playwright install` is not run): the
tests launch /usr/bin/chromium, which `.ci/run` installs with apt-get.  Screenshots go to
test-artifacts/browser/ (git-ignored).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright, expect

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Live updates arrive within a second or so; the margin is for a loaded CI machine.
expect.set_options(timeout=15_000)


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    return CHROMIUM


@pytest.fixture
async def browser_context(chromium: Path) -> AsyncIterator[BrowserContext]:
    with tempfile.TemporaryDirectory(prefix="colonies-ha-chromium-") as profile:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(chromium),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 860},
            )
            try:
                yield context
            finally:
                await context.close()


@pytest.fixture
async def page(browser_context: BrowserContext) -> AsyncIterator[Page]:
    """A page that fails the test on any uncaught script error."""
    page = browser_context.pages[0] if browser_context.pages else await browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"script errors in the dashboard: {errors}"


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
