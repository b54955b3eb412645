"""Teams: an organization's members grouped, collaborating on its projects as `@org/team`."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api_helpers import assert_error, login, new_project

pytestmark = pytest.mark.integration
TEAMS = "organizations/field-team/teams/"


async def org_project(client: httpx.AsyncClient, alice: dict[str, str]) -> str:
    assert (
        await client.post("organizations/", data={"username": "field-team"}, headers=alice)
    ).status_code == 201
    joined = await client.post("members/field-team/", data={"member": "bob", "role": "member"}, headers=alice)
    assert joined.status_code == 201, joined.text
    created = await client.post("projects/", data={"name": "survey", "owner": "field-team"}, headers=alice)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def role_of(client: httpx.AsyncClient, auth: dict[str, str], pid: str) -> tuple[str, str] | int:
    answer = await client.get(f"projects/{pid}/", headers=auth)
    if answer.status_code != 200:
        return answer.status_code
    return answer.json()["user_role"], answer.json()["user_role_origin"]


async def test_a_team_gives_its_members_its_role_on_the_organizations_projects(
    client: httpx.AsyncClient,
) -> None:
    alice, bob = await login(client), await login(client, "bob")
    pid = await org_project(client, alice)
    assert await role_of(client, bob, pid) == 403  # a plain member of the organization sees nothing yet

    created = await client.post(TEAMS, data={"team": "surveyors"}, headers=alice)
    assert created.status_code == 201
    assert created.json() == {"team": "surveyors", "organization": "field-team", "members": []}
    assert_error(await client.post(TEAMS, data={"team": "mappers"}, headers=bob), 403, "permission_denied")
    assert_error(await client.post(TEAMS, data={"team": "SURVEYORS"}, headers=alice), 400, "validation_error")
    assert_error(await client.post(TEAMS, data={"team": "bad name/"}, headers=alice), 400, "validation_error")

    members = f"{TEAMS}surveyors/members/"
    added = await client.post(members, data={"member": "bob"}, headers=alice)
    assert (added.status_code, added.json()) == (201, {"member": "bob"})
    assert_error(await client.post(members, data={"member": "bob"}, headers=alice), 400, "validation_error")
    assert_error(
        await client.post(members, data={"member": "nobody"}, headers=alice), 400, "validation_error"
    )
    assert (await client.get(members, headers=bob)).json() == [{"member": "bob"}]

    collaborator = await client.post(
        f"collaborators/{pid}/",
        data={"collaborator": "@field-team/surveyors", "role": "editor"},
        headers=alice,
    )
    assert collaborator.status_code == 201, collaborator.text
    assert await role_of(client, bob, pid) == ("editor", "team_member")
    assert (await client.get(f"projects/{pid}/", headers=bob)).json()["teams"] == ["@field-team/surveyors"]
    assert pid in [p["id"] for p in (await client.get("projects/", headers=bob)).json()]
    upload = await client.post(f"files/{pid}/notes.txt/", files={"file": ("notes.txt", b"x")}, headers=bob)
    assert upload.status_code == 201

    own = await new_project(client, alice, "personal")  # a team works on its organization's projects only
    assert_error(
        await client.post(
            f"collaborators/{own}/",
            data={"collaborator": "@field-team/surveyors", "role": "reader"},
            headers=alice,
        ),
        400,
        "validation_error",
    )

    renamed = await client.put(f"{TEAMS}surveyors/", data={"team": "mappers"}, headers=alice)
    assert renamed.json() == {"team": "mappers", "organization": "field-team", "members": ["bob"]}
    assert [c["collaborator"] for c in (await client.get(f"collaborators/{pid}/", headers=alice)).json()] == [
        "@field-team/mappers"
    ]
    assert (await client.get(f"collaborators/{pid}/@field-team/mappers/", headers=alice)).json()[
        "role"
    ] == "editor"
    assert await role_of(client, bob, pid) == ("editor", "team_member")


async def test_leaving_the_organization_or_deleting_the_team_ends_the_access(
    client: httpx.AsyncClient,
) -> None:
    alice, bob = await login(client), await login(client, "bob")
    pid = await org_project(client, alice)
    await client.post(TEAMS, data={"team": "crew"}, headers=alice)
    await client.post(f"{TEAMS}crew/members/", data={"member": "bob"}, headers=alice)
    await client.post(
        f"collaborators/{pid}/", data={"collaborator": "@field-team/crew", "role": "reader"}, headers=alice
    )
    assert await role_of(client, bob, pid) == ("reader", "team_member")

    assert (await client.delete("members/field-team/bob/", headers=alice)).status_code == 204
    assert await role_of(client, bob, pid) == 403
    assert (await client.get(f"{TEAMS}crew/", headers=alice)).json()["members"] == []

    await client.post("members/field-team/", data={"member": "bob", "role": "member"}, headers=alice)
    await client.post(f"{TEAMS}crew/members/", data={"member": "bob"}, headers=alice)
    assert await role_of(client, bob, pid) == ("reader", "team_member")
    assert (await client.delete(f"{TEAMS}crew/", headers=alice)).status_code == 204
    assert await role_of(client, bob, pid) == 403
    assert (await client.get(f"collaborators/{pid}/", headers=alice)).json() == []
    assert_error(await client.get(f"{TEAMS}crew/", headers=alice), 404, "object_not_found")
    assert_error(await client.get("organizations/nowhere/teams/", headers=alice), 404, "object_not_found")
    assert_error(await client.delete(f"{TEAMS}crew/members/bob/", headers=alice), 404, "object_not_found")
