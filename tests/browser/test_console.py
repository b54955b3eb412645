"""The web console in Chromium, against API, scheduler and runner processes with the stand-in worker."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import PASSWORD, console_url, log_in, shot
from tests.cluster import Cluster
from tests.integration.test_deltas_api import delta, deltafile
from tests.integration.test_quota import set_quota
from tests.stress.conftest import new_project, wait_status
from tests.stress.test_delta_flow import push, settled

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]


def processed(http: httpx.Client, pid: str) -> None:
    """Wait until the process_projectfile job set off by the upload has finished."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        jobs = http.get("jobs/", params={"project_id": pid, "type": "process_projectfile"}).json()
        if jobs and all(j["outpost_status"] == "finished" for j in jobs):
            return
        time.sleep(0.2)
    raise AssertionError(f"the upload's job did not finish: {jobs}")


def lines_in_log(page: Page) -> int:
    return int(
        page.evaluate("document.getElementById('job-log').textContent.split('\\n').filter(Boolean).length")
    )


def csrf_of(page: Page) -> str:
    return str(page.locator("input[name=csrf_token]").first.get_attribute("value"))


def test_login_lists_the_projects_uploaded_through_the_api(
    cluster: Cluster, alice: httpx.Client, page: Page
) -> None:
    console = console_url(cluster.api_url)
    pid = new_project(alice, f"listed-{uuid.uuid4().hex[:6]}")
    processed(alice, pid)
    page.goto(console)
    expect(page).to_have_url(f"{console}login?next=%2Fconsole%2F")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("Unknown username or wrong password.")
    shot(page, "login")

    log_in(page, console, "alice", PASSWORD)
    row = page.locator("#projects tbody tr", has=page.locator(f"a[href='/console/projects/{pid}/']"))
    expect(row).to_have_count(1)
    expect(row.locator(".badge")).to_have_text("ok")
    [cookie] = [c for c in page.context.cookies() if c["name"] == "outpost_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/console"
    expect(page.locator("#storage")).to_contain_text("no limit")
    assert set_quota(cluster.database_url, "alice", "5")["exit"] == 0
    try:
        page.reload()
        expect(page.locator("#storage")).to_contain_text("used of 5.0 MiB")
        shot(page, "projects")
    finally:
        assert set_quota(cluster.database_url, "alice", "default")["exit"] == 0

    page.click(f"a[href='/console/projects/{pid}/']")
    expect(page.locator("#files tbody tr")).to_have_count(1)
    expect(page.locator("#files")).to_contain_text("p.qgs")
    expect(page.locator(".tabs")).to_contain_text("Settings")


def test_a_running_job_log_grows_without_a_reload(cluster: Cluster, alice: httpx.Client, page: Page) -> None:
    console = console_url(cluster.api_url)
    pid = new_project(alice, f"live-{uuid.uuid4().hex[:6]}")
    processed(alice, pid)
    created = alice.post(
        "jobs/",
        json={"project_id": pid, "type": "process_projectfile", "force": True, "params": {"noop_sleep_s": 8}},
    )
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    wait_status(alice, job_id, "started")
    log_in(page, console, "alice", PASSWORD)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.goto(f"{console}jobs/{job_id}/")
    expect(page.locator("#live-badge")).to_be_visible()
    before = lines_in_log(page)
    assert before <= 1, page.locator("#job-log").text_content()

    page.wait_for_function(
        f"document.getElementById('job-log').textContent.split('\\n').filter(Boolean).length > {before}",
        timeout=10_000,
    )
    expect(page.locator("#job-status")).to_have_text("started")  # it grew while the job ran
    expect(page.locator("#steps tbody")).to_contain_text("Work")
    shot(page, "job-live")

    expect(page.locator("#log-ended")).to_be_visible(timeout=15_000)
    expect(page.locator("#job-status")).to_have_text("finished")
    assert len(navigations) == 1, navigations  # one page load: every line came over the event stream
    streamed = page.locator("#job-log").text_content() or ""
    assert "Prepare: job" in streamed and "Work: job" in streamed
    assert streamed.count("Work: job") == 1  # nothing sent twice

    page.click("#log-ended a")
    expect(page.locator("#result")).to_contain_text("No-op")
    assert page.locator("#job-log").text_content() == alice.get(f"jobs/{job_id}/").json()["output"]

    page.goto(f"{console}projects/{pid}/jobs/?status=finished&type=process_projectfile")
    expect(page.locator("#jobs tbody tr")).to_have_count(2)
    page.select_option("select[name=status]", "failed")
    page.click("#job-filters button[type=submit]")
    expect(page.locator("#jobs")).to_have_count(0)
    expect(page.locator(".empty")).to_contain_text("No jobs match these filters")
    page.goto(f"{console}projects/{pid}/jobs/")
    expect(page.locator("#jobs tbody tr")).to_have_count(2)
    shot(page, "jobs")


def conflicts_pushed(alice: httpx.Client, pid: str) -> tuple[dict[str, Any], list[str]]:
    """Three edits that all end in conflict: two on ``int``, one on ``name``."""
    edits = [
        delta(),
        delta(),
        delta(old={"attributes": {"name": "one"}}, new={"attributes": {"name": "uno"}}),
    ]
    body = deltafile(pid, *edits)
    push(alice, pid, body)
    assert {d["status"] for d in settled(alice, pid, body["id"])} == {"STATUS_CONFLICT"}
    return body, [d["uuid"] for d in edits]


def test_conflicts_are_resolved_by_clicking_then_applied(
    cluster: Cluster, alice: httpx.Client, page: Page
) -> None:
    console = console_url(cluster.api_url)
    pid = new_project(alice, f"conflicts-{uuid.uuid4().hex[:6]}")
    processed(alice, pid)
    log_in(page, console, "alice", PASSWORD)

    page.goto(f"{console}projects/{pid}/settings/")
    page.check("input[name=conflict_policy][value=manual]")
    page.fill("input[name=timeout-package]", "900")
    page.click("#save-settings")
    expect(page.get_by_role("status")).to_have_text("Settings saved.")
    assert alice.get(f"projects/{pid}/").json()["overwrite_conflicts"] is False
    assert alice.get(f"projects/{pid}/settings/").json() == {"job_timeouts": {"package": 900.0}}
    shot(page, "settings")
    assert "notice=" not in page.url  # shown once: a reload does not say "saved" again
    page.reload()
    expect(page.get_by_role("status")).to_have_count(0)

    body, (first, second, third) = conflicts_pushed(alice, pid)
    page.goto(f"{console}projects/{pid}/changes/")
    expect(page.locator("article.conflict")).to_have_count(3)
    side = page.locator(f"#conflict-{first} table.sides tbody tr")
    expect(side.locator("td.base")).to_have_text("1")
    expect(side.locator("td.current")).to_have_text("changed 1")
    expect(side.locator("td.incoming")).to_have_text("666")
    shot(page, "changes")

    page.check(f"#conflict-{first} input[value=apply_incoming]")
    page.check(f"#conflict-{second} input[value=keep_current]")
    page.check(f"#conflict-{third} input[value=merge]")
    page.fill(f"input[name=merged-{third}-0]", "ein")
    page.uncheck("input[name=apply]")  # save only: "Apply pending changes" does the rest
    page.click("#save-all")
    expect(page.get_by_role("status")).to_have_text("Resolutions saved.")
    expect(page.locator("article.conflict")).to_have_count(0)
    statuses = {d["id"]: d for d in alice.get(f"deltas/{pid}/{body['id']}/").json()}
    assert [statuses[i]["last_status"] for i in (first, second, third)] == ["pending", "ignored", "pending"]

    expect(page.locator("#apply-pending")).to_be_visible()
    page.click("#apply-pending")
    expect(page.get_by_role("status")).to_have_text("A delta_apply job applies the pending changes.")
    done = {d["id"]: d for d in settled(alice, pid, body["id"])}
    assert done[first]["status"] == "STATUS_APPLIED"
    assert done[second]["status"] == "STATUS_IGNORED"
    assert done[third]["status"] == "STATUS_APPLIED"
    assert done[third]["content"]["new"]["attributes"] == {"name": "ein"}
    assert alice.get(f"deltas/{pid}/conflicts/").json() == []
    page.reload()
    expect(page.locator("#deltas tbody tr")).to_have_count(3)
    expect(page.locator(f"#deltas tr[data-delta='{second}'] .badge")).to_have_text("ignored")
    shot(page, "changes-resolved")


def test_save_all_with_apply_resolves_and_applies_at_once(
    cluster: Cluster, alice: httpx.Client, page: Page
) -> None:
    console = console_url(cluster.api_url)
    pid = new_project(alice, f"merge-{uuid.uuid4().hex[:6]}")
    processed(alice, pid)
    assert alice.patch(f"projects/{pid}/", json={"overwrite_conflicts": False}).status_code == 200
    body, (first, _, _) = conflicts_pushed(alice, pid)
    log_in(page, console, "alice", PASSWORD)
    page.goto(f"{console}projects/{pid}/changes/")
    page.check(f"#conflict-{first} input[value=merge]")
    page.fill(f"input[name=merged-{first}-0]", "42")
    page.click("#save-all")
    expect(page.get_by_role("status")).to_contain_text("Resolutions saved; a delta_apply job")
    done = {d["id"]: d for d in settled(alice, pid, body["id"])}
    assert done[first]["status"] == "STATUS_APPLIED"
    assert done[first]["content"]["new"]["attributes"] == {"int": 42}  # typed as the incoming value
    assert len(alice.get(f"deltas/{pid}/conflicts/").json()) == 2  # the undecided ones wait


def test_posts_without_the_session_csrf_token_are_refused(
    cluster: Cluster, alice: httpx.Client, browser: Browser, page: Page
) -> None:
    console = console_url(cluster.api_url)
    pid = new_project(alice, f"csrf-{uuid.uuid4().hex[:6]}")
    log_in(page, console, "alice", PASSWORD)
    page.goto(f"{console}projects/{pid}/settings/")
    target = f"{console}projects/{pid}/settings/"
    real = csrf_of(page)
    tampered = real[:-1] + ("1" if real[-1] == "0" else "0")  # one hex digit off, never the token itself
    for form in (
        {"conflict_policy": "manual"},
        {"conflict_policy": "manual", "csrf_token": "0" * 64},
        {"conflict_policy": "manual", "csrf_token": tampered},
    ):
        refused = page.request.post(target, form=form, max_redirects=0)
        assert refused.status == 403, form
        assert refused.headers["content-type"].startswith("text/html")
        assert "did not come from this site" in refused.text()
    assert alice.get(f"projects/{pid}/").json()["overwrite_conflicts"] is True

    other: BrowserContext = browser.new_context()  # another browser's token is not this session's
    try:
        second = other.new_page()
        log_in(second, console, "alice", PASSWORD)
        second.goto(f"{console}projects/{pid}/settings/")
        stolen = csrf_of(second)
    finally:
        other.close()
    refused = page.request.post(target, form={"conflict_policy": "manual", "csrf_token": stolen})
    assert refused.status == 403
    accepted = page.request.post(target, form={"conflict_policy": "manual", "csrf_token": csrf_of(page)})
    assert accepted.ok and alice.get(f"projects/{pid}/").json()["overwrite_conflicts"] is False

    login = page.request.post(f"{console}login", form={"username": "alice", "password": PASSWORD})
    assert login.status == 403  # the login form is bound to its nonce cookie too


def test_a_reader_sees_no_settings_and_cannot_post_them(
    cluster: Cluster, alice: httpx.Client, page: Page
) -> None:
    console = console_url(cluster.api_url)
    pid = new_project(alice, f"reader-{uuid.uuid4().hex[:6]}")
    added = alice.post(f"collaborators/{pid}/", data={"collaborator": "rita", "role": "reader"})
    assert added.status_code == 201, added.text
    log_in(page, console, "rita", PASSWORD)
    page.goto(f"{console}projects/{pid}/")
    expect(page.locator(".tabs .role")).to_have_text("your role: reader")
    expect(page.locator(".tabs a")).to_have_count(1)  # Overview only: no Jobs, Changes or Settings
    expect(page.locator("main form")).to_have_count(0)
    token = csrf_of(page)  # the logout form's: a valid token of rita's session

    response = page.goto(f"{console}projects/{pid}/settings/")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.locator("#settings-form")).to_have_count(0)
    shot(page, "error-403")
    for path, form in (
        ("settings/", {"conflict_policy": "manual"}),
        ("secrets/", {"name": "STOLEN", "type": "envvar", "value": "x"}),
        ("changes/apply", {}),
    ):
        refused = page.request.post(f"{console}projects/{pid}/{path}", form={**form, "csrf_token": token})
        assert refused.status == 403, path
        assert "Your role &#39;reader&#39; on this project does not allow this" in refused.text()
    assert alice.get(f"projects/{pid}/").json()["overwrite_conflicts"] is True
    assert alice.get(f"projects/{pid}/secrets/").json() == []


def test_secrets_are_set_and_deleted_by_name_and_never_shown(
    cluster: Cluster, alice: httpx.Client, page: Page
) -> None:
    console = console_url(cluster.api_url)
    pid = new_project(alice, f"secrets-{uuid.uuid4().hex[:6]}")
    log_in(page, console, "alice", PASSWORD)
    page.goto(f"{console}projects/{pid}/settings/")
    page.fill("#secret-form input[name=name]", "SURVEY_API_KEY")
    page.fill("#secret-form textarea[name=value]", "value-that-must-not-show")
    page.click("#secret-form button[type=submit]")
    expect(page.get_by_role("status")).to_contain_text("Secret saved")
    expect(page.locator("#secret-list")).to_contain_text("SURVEY_API_KEY")
    assert "value-that-must-not-show" not in page.content()
    assert [s["name"] for s in alice.get(f"projects/{pid}/secrets/").json()] == ["SURVEY_API_KEY"]

    page.fill("#secret-form input[name=name]", "bad name")
    page.evaluate("document.querySelector('#secret-form input[name=name]').removeAttribute('pattern')")
    page.fill("#secret-form textarea[name=value]", "x")
    page.click("#secret-form button[type=submit]")
    expect(page.locator(".error-message")).to_contain_text("name")  # a 400 page, not a crash
    page.go_back()

    page.goto(f"{console}projects/{pid}/settings/")
    page.click("#secret-list button:has-text('Delete')")
    expect(page.get_by_role("status")).to_have_text("Secret deleted.")
    assert alice.get(f"projects/{pid}/secrets/").json() == []


def test_errors_are_pages_for_the_console_and_json_for_the_api(cluster: Cluster, page: Page) -> None:
    console = console_url(cluster.api_url)
    response = page.goto(f"{console}projects/{uuid.uuid4()}/")
    assert response is not None and response.url.startswith(f"{console}login?next=")
    log_in(page, console, "alice", PASSWORD)
    for path in (
        f"projects/{uuid.uuid4()}/",
        "projects/not-a-uuid/",
        "no/such/page",
        f"jobs/{uuid.uuid4()}/",
    ):
        response = page.goto(console + path)
        assert response is not None and response.status == 404, path
        assert response.headers["content-type"].startswith("text/html")
        expect(page.locator("h1")).to_have_text("Not found")
    shot(page, "error-404")
    api = httpx.get(f"{cluster.api_url}projects/not-a-uuid/", headers={"Authorization": "Token nope"})
    assert api.status_code == 401 and json.loads(api.text)["code"] == "token_authentication_failed"


def test_logout_ends_the_session_token(cluster: Cluster, page: Page) -> None:
    console = console_url(cluster.api_url)
    log_in(page, console, "alice", PASSWORD)
    [cookie] = [c for c in page.context.cookies() if c["name"] == "outpost_session"]
    as_api = {"Authorization": f"Token {cookie['value']}"}
    assert httpx.get(f"{cluster.api_url}auth/user/", headers=as_api).status_code == 200
    page.click("header button:has-text('Log out')")
    expect(page).to_have_url(f"{console}login")
    assert httpx.get(f"{cluster.api_url}auth/user/", headers=as_api).status_code == 401
    page.goto(console)
    expect(page).to_have_url(f"{console}login?next=%2Fconsole%2F")
