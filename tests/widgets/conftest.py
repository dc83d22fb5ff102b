"""The browser tests' fixtures: one real store, one `bifrost dashboard` and one headless Chromium per module.

The store is tests/ui's (ORCL, NVDA, YHOO, SPY 2012-2014 from ../shared/data and the portfolio
'desk'); the server is `bifrost.testing.running_dashboard` (stopped with every kernel by pid);
the browser is Debian's /usr/bin/chromium driven by Playwright (never a downloaded one).
Each page records its console errors and every request whose host is not 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bifrost.testing._voila import CHROMIUM, CHROMIUM_ARGS, RunningDashboard, running_dashboard

VIEWPORT = {"width": 1400, "height": 900}


@dataclass
class Watched:
    """A page and what it did: console errors, requests that left 127.0.0.1, uncaught page errors."""

    page: Any
    response: Any = None  # the page's own (its HTML as served: response.text())
    console_errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.outside == [], f"requests left 127.0.0.1: {self.outside}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"
        assert self.page_errors == [], f"uncaught errors in the page: {self.page_errors}"


def needs_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's Chromium (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for the module."""
    needs_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """Return a function that opens a URL in a fresh 1400x900 page and returns it `Watched`."""
    contexts: list[Any] = []

    def open_(url: str, *, wait_for: str | None = None, timeout_s: float = 60.0) -> Watched:
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        page = context.new_page()
        watched = Watched(page=page)

        def on_request(request: Any) -> None:
            host = urlsplit(request.url).hostname
            if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host != "127.0.0.1":
                watched.outside.append(request.url)

        page.on("request", on_request)
        page.on("console", lambda m: watched.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: watched.page_errors.append(str(e)))
        watched.response = page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        if wait_for is not None:
            page.wait_for_selector(wait_for, timeout=timeout_s * 1000)
        return watched

    yield open_
    for context in contexts:
        for page in context.pages:  # as closed tabs: Voila's page shuts its kernel down (a beacon on unload)
            page.close(run_before_unload=True)
        context.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The folder the test artifacts go to (printed); with BIFROST_SCREENSHOTS_DIR also copied there."""
    folder = tmp_path_factory.mktemp("screenshots")
    yield folder
    print(f"\nbrowser test screenshots: {folder}")
    target = os.environ.get("BIFROST_SCREENSHOTS_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for png in folder.glob("*.png"):
            shutil.copy2(png, Path(target) / png.name)


def serve(root: Path | None, home: Path, log: Path, **options: Any) -> Any:
    """`running_dashboard` on the embedded store at ``home``, whatever this process's environment says."""
    env = {"BIFROST_HOME": str(home), "BIFROST_DATABASE_URL": "", "BIFROST_CONFIG": ""}
    env.update(options.pop("env", {}))
    return running_dashboard(root, log=log, env=env, **options)


@pytest.fixture(scope="module")
def dashboard_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real store for the dashboards (tests/ui's), closed before the server opens it."""
    from tests.ui.conftest import fill_store

    home = tmp_path_factory.mktemp("dashboard") / "home"
    fill_store(home).close()
    return home


@pytest.fixture(scope="module")
def dashboard(dashboard_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDashboard]:
    """`bifrost dashboard` on widgets/ and the test store for the module; the log's path is printed on failure."""
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    with serve(None, dashboard_home, log) as running:
        yield running
