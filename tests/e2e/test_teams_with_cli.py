"""Teams with the official qfieldcloud-cli: create, fill, make a collaborator, rename, remove."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import httpx
import pytest

from tests.e2e.conftest import cli, cli_text
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e


def test_team_commands_of_the_cli(stack: Stack) -> None:
    suffix = uuid.uuid4().hex[:6]
    org, member, password = f"crew-{suffix}", f"walker-{suffix}", "walker-secret-pw"
    created = subprocess.run(
        [sys.executable, "-m", "common.cli", "user", "create", member, password],
        env={**stack.env(), "OUTPOST_DATABASE_URL": stack.database_url},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(created.stdout)["created"] is True
    token = cli(stack, "login", stack.user, stack.password)["token"]
    walker = cli(stack, "login", member, password)["token"]
    headers = {"Authorization": f"Token {token}"}
    answer = httpx.post(f"{stack.api_url}organizations/", data={"username": org}, headers=headers)
    assert answer.status_code == 201, answer.text  # the CLI has no command to create organizations
    assert cli(stack, "members-add", org, member, "member", token=token)["member"] == member
    pid = cli(stack, "create-project", "mapping", "--owner", org, token=token)["id"]

    assert cli(stack, "teams-create", org, "surveyors", token=token) == {
        "team": "surveyors",
        "organization": org,
        "members": [],
    }
    assert cli(stack, "team-members-add", org, "surveyors", member, token=token) == {"member": member}
    assert cli(stack, "team-members-list", org, "surveyors", token=token) == [{"member": member}]
    team = f"@{org}/surveyors"
    assert cli(stack, "collaborators-add", pid, team, "editor", token=token)["collaborator"] == team
    seen = cli(stack, "get-project", pid, token=walker)
    assert (seen["user_role"], seen["user_role_origin"]) == ("editor", "team_member")

    renamed = cli(stack, "teams-patch", org, "surveyors", "--name", "mappers", token=token)
    assert renamed["team"] == "mappers" and renamed["members"] == [member]
    assert [t["team"] for t in cli(stack, "teams-list", org, token=token)] == ["mappers"]
    assert [c["collaborator"] for c in cli(stack, "collaborators-get", pid, token=token)] == [
        f"@{org}/mappers"
    ]
    assert cli(stack, "get-project", pid, token=walker)["user_role"] == "editor"

    cli_text(stack, "team-members-remove", org, "mappers", member, token=token)  # 204: no JSON to print
    assert cli(stack, "teams-get", org, "mappers", token=token)["members"] == []
    denied = httpx.get(f"{stack.api_url}projects/{pid}/", headers={"Authorization": f"Token {walker}"})
    assert denied.status_code == 403
    cli_text(stack, "teams-delete", org, "mappers", token=token)
    assert cli(stack, "teams-list", org, token=token) == []
