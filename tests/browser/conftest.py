"""Browser tests: Playwright drives Debian's Chromium against real Outpost processes.

Two stacks: a cluster with the QGIS-free stand-in worker (slow jobs on demand, conflicts on every
apply) for the live log, the changes page, CSRF and roles; and the stack `make up` starts, with the real
QGIS worker, for the project page's layer checks and thumbnail. Screenshots go to build/screenshots/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.cluster import Cluster
from tests.conftest import server_dir
from tests.e2e.stack import Stack
from tests.stress.conftest import PASSWORD, api_client, running_cluster

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


# Package scope, not session: a live sync Playwright keeps its event loop marked as running in this thread,
# and every async test collected after tests/browser would fail to start its own loop.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert os.path.exists(CHROMIUM), "Debian's chromium is missing: run infra/scripts/system-deps.sh --test"
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) per test."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as build/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def console_url(api_url: str) -> str:
    return api_url.removesuffix("/api/v1/") + "/console/"


def log_in(page: Page, console: str, user: str, password: str) -> None:
    page.goto(console + "login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(console)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """API, scheduler and runner with the stand-in worker, which reports every delta as a conflict
    unless it was resolved (forced): the changes page always has something to resolve."""
    env = {"OUTPOST_WORKER_ENV": '{"NOOP_DELTA_STATUS": "status_conflict"}'}
    managed = running_cluster("browser", env, users=("alice", "rita"))
    # Playwright's sync API keeps an event loop running in this thread; the cluster's setup runs
    # asyncio.run (user creation), so it is entered and left in a thread of its own.
    with ThreadPoolExecutor(1) as thread:
        running = thread.submit(managed.__enter__).result()
        try:
            yield running
        finally:
            thread.submit(managed.__exit__, None, None, None).result()


@pytest.fixture(scope="module")
def alice(cluster: Cluster) -> Iterator[httpx.Client]:
    """The JSON API as alice, once the scheduler answers."""
    with api_client(cluster, "alice") as client:
        yield client


@pytest.fixture(scope="module")
def qgis_stack() -> Iterator[Stack]:
    """The whole stack as `make up` starts it: the real QGIS worker processes uploads."""
    base = server_dir("browser-stack")
    running = Stack.random(base / "data")
    running.start()
    yield running
    if running.process and running.process.poll() is None:
        running.stop()
    shutil.rmtree(base, ignore_errors=True)


__all__ = ["PASSWORD", "console_url", "log_in", "shot"]
