"""The console over real QGIS work: projects uploaded with qfieldcloud-sdk, processed by the QGIS worker."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from qfieldcloud_sdk import sdk

from tests.browser.conftest import console_url, log_in, shot
from tests.e2e.conftest import make_project
from tests.e2e.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.qgis, pytest.mark.browser, pytest.mark.timeout(600)]


def uploaded(stack: Stack, kind: str, tmp_path: Path, repo_root: Path) -> tuple[sdk.Client, str]:
    """A project of ``kind`` (tests/qgis/make_project.py) uploaded with the SDK and processed by QGIS."""
    client = sdk.Client(url=stack.api_url)
    client.login(stack.user, stack.password)
    pid = str(client.create_project(f"{kind}-{uuid.uuid4().hex[:6]}", description=f"a {kind} project")["id"])
    local = tmp_path / kind
    make_project(kind, local, repo_root)
    client.upload_files(pid, sdk.FileTransferType.PROJECT, str(local), "*", throw_on_error=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        jobs = client.list_jobs(pid, sdk.JobTypes.PROCESS_PROJECTFILE)
        if jobs and all(j["status"] in ("finished", "failed") for j in jobs):
            assert {j["status"] for j in jobs} == {"finished"}, jobs
            return client, pid
        time.sleep(1)
    raise AssertionError(f"process_projectfile of {kind} did not end")


def test_project_page_shows_files_layer_checks_and_thumbnail(
    qgis_stack: Stack, page: Page, tmp_path: Path, repo_root: Path
) -> None:
    client, pid = uploaded(qgis_stack, "simple", tmp_path, repo_root)
    console = console_url(qgis_stack.api_url)
    log_in(page, console, qgis_stack.user, qgis_stack.password)
    page.goto(f"{console}projects/{pid}/")
    expect(page.locator("h1 .badge")).to_have_text("ok")
    expect(page.locator("#files tbody tr")).to_have_count(2)
    expect(page.locator("#files")).to_contain_text("data.gpkg")
    layer = page.locator("#layers tbody tr", has_text="points")
    expect(layer.locator(".badge")).to_have_text("no_error")
    expect(layer).to_contain_text("ogr")
    thumbnail = page.locator("#thumbnail")
    expect(thumbnail).to_be_visible()
    assert page.evaluate("document.getElementById('thumbnail').naturalWidth") > 0  # a real image loaded
    shot(page, "project")

    [job] = client.list_jobs(pid, sdk.JobTypes.PROCESS_PROJECTFILE)
    page.click(".tabs a:has-text('Jobs')")
    page.click(f"a[href='/console/jobs/{job['id']}/']")
    expect(page.locator("#job-status")).to_have_text("finished")
    expect(page.locator("#steps tbody tr")).not_to_have_count(0)
    expect(page.locator("#job-log")).to_contain_text("QGIS project layer checks")
    expect(page.locator("#result")).to_contain_text("project_details")
    expect(page.locator("#live-badge")).to_have_count(0)  # an ended job opens no event stream
    shot(page, "job")


def test_broken_layers_show_their_status_and_errors(
    qgis_stack: Stack, page: Page, tmp_path: Path, repo_root: Path
) -> None:
    _, pid = uploaded(qgis_stack, "invalid_layers", tmp_path, repo_root)
    console = console_url(qgis_stack.api_url)
    log_in(page, console, qgis_stack.user, qgis_stack.password)
    page.goto(f"{console}projects/{pid}/")
    rows = page.locator("#layers tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#layers tbody tr.ok")).to_have_count(0)
    statuses = {page.locator("#layers tbody tr").nth(i).locator(".badge").text_content() for i in range(4)}
    assert "no_error" not in statuses and "invalid_dataprovider" in statuses, statuses
    expect(page.locator("#layers")).to_contain_text("pg_service")
    shot(page, "project-layer-errors")
