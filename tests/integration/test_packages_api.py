"""Package endpoints: the worker's job-token uploads, the latest package, its files (spec section 5)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from common.eventstore import EventStore
from contracts import events as ev
from tests.integration.api_helpers import assert_error, login, new_project, start_job, worker_token

pytestmark = pytest.mark.integration


async def start_package_job(store: EventStore, project_id: uuid.UUID) -> tuple[uuid.UUID, dict[str, str]]:
    job_id = await start_job(store, project_id, "package")
    return job_id, worker_token(job_id, project_id)


async def finish(
    store: EventStore, job_id: uuid.UUID, project_id: uuid.UUID, layers: dict[str, object]
) -> None:
    feedback = {"feedback_version": "2.0", "outputs": {"qgis_layers_data": {"layers_by_id": layers}}}
    async with store.transaction() as tx:
        await tx.append(
            ev.job_stream(job_id),
            [ev.JobFinished(job_id=job_id, project_id=project_id, job_type="package", feedback=feedback)],
            expected_version=None,
            correlation_id=uuid.uuid4(),
        )


async def test_package_lifecycle(client: httpx.AsyncClient, store: EventStore) -> None:
    alice = await login(client)
    pid = uuid.UUID(await new_project(client, alice))
    assert (
        await client.post(f"files/{pid}/DCIM/a.jpg/", files={"file": ("a", b"photo")}, headers=alice)
    ).status_code == 201
    assert_error(await client.get(f"packages/{pid}/latest/", headers=alice), 400, "invalid_job")

    job_id, worker = await start_package_job(store, pid)
    gpkg = bytes(range(256)) * 4096
    stored = await client.post(
        f"packages/{pid}/{job_id}/files/data.gpkg/", files={"file": ("x", gpkg)}, headers=worker
    )
    assert stored.status_code == 201 and stored.json()["size"] == len(gpkg)
    qgs = await client.post(
        f"packages/{pid}/{job_id}/files/p_qfield.qgs/", files={"file": ("x", b"<qgis/>")}, headers=worker
    )
    assert qgs.status_code == 201
    assert_error(
        await client.post(
            f"packages/{pid}/{job_id}/files/x.txt/", files={"file": ("x", b"1")}, headers=alice
        ),
        403,
        "permission_denied",
    )  # a person cannot write into a package
    assert_error(
        await client.get(f"packages/{pid}/latest/", headers=alice), 400, "invalid_job"
    )  # not finished yet

    await finish(
        store, job_id, pid, {"layer_1": {"name": "points", "is_valid": True, "error_code": "no_error"}}
    )
    latest = (await client.get(f"packages/{pid}/latest/", headers=alice)).json()
    assert latest["package_id"] == str(job_id) and latest["status"] == "finished" and latest["packaged_at"]
    assert {f["name"]: f["is_attachment"] for f in latest["files"]} == {
        "data.gpkg": False,
        "p_qfield.qgs": False,
        "DCIM/a.jpg": True,
    }
    assert latest["layers"]["layer_1"]["name"] == "points"
    project = (await client.get(f"projects/{pid}/", headers=alice)).json()
    assert project["data_last_packaged_at"] is not None
    part = await client.get(
        f"packages/{pid}/latest/files/data.gpkg/", headers={**alice, "Range": "bytes=1000-"}
    )
    assert part.status_code == 206 and part.content == gpkg[1000:]
    assert (await client.get(f"packages/{pid}/latest/files/DCIM/a.jpg/", headers=alice)).content == b"photo"
    assert_error(
        await client.get(f"packages/{pid}/latest/files/nope.txt/", headers=alice), 404, "object_not_found"
    )
    assert_error(
        await client.post(
            f"packages/{pid}/{job_id}/files/late.txt/", files={"file": ("x", b"1")}, headers=worker
        ),
        401,
        "token_authentication_failed",
    )  # the job ended: its token is dead

    second, worker2 = await start_package_job(store, pid)
    await client.post(
        f"packages/{pid}/{second}/files/p_qfield.qgs/", files={"file": ("x", b"<qgis v2/>")}, headers=worker2
    )
    await finish(store, second, pid, {})
    names = {f["name"] for f in (await client.get(f"packages/{pid}/latest/", headers=alice)).json()["files"]}
    assert names == {"p_qfield.qgs", "DCIM/a.jpg"}  # the older package is gone


async def test_a_job_token_cannot_write_into_another_job_or_project(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    alice = await login(client)
    mine, other = (
        uuid.UUID(await new_project(client, alice, "mine")),
        uuid.UUID(await new_project(client, alice, "other")),
    )
    job_id, worker = await start_package_job(store, mine)
    other_job, _ = await start_package_job(store, other)
    assert_error(
        await client.post(
            f"packages/{mine}/{other_job}/files/a.txt/", files={"file": ("x", b"1")}, headers=worker
        ),
        403,
        "permission_denied",
    )
    assert_error(
        await client.post(
            f"packages/{other}/{job_id}/files/a.txt/", files={"file": ("x", b"1")}, headers=worker
        ),
        403,
        "permission_denied",
    )
    assert_error(
        await client.post(
            f"packages/{mine}/{job_id}/files/..%2Fx/", files={"file": ("x", b"1")}, headers=worker
        ),
        400,
        "validation_error",
    )


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_thumbnails(client: httpx.AsyncClient, store: EventStore) -> None:
    alice, bob = await login(client), await login(client, "bob")
    pid = uuid.UUID(await new_project(client, alice))
    assert_error(await client.get(f"files/thumbnails/{pid}/", headers=alice), 404, "object_not_found")
    uploaded = await client.post(
        f"projects/{pid}/thumbnail/", files={"thumbnail": ("t.png", PNG)}, headers=alice
    )
    assert uploaded.status_code == 204
    got = await client.get(f"files/thumbnails/{pid}/", headers=alice)
    assert got.content == PNG and got.headers["content-type"] == "image/png"
    assert_error(
        await client.post(
            f"projects/{pid}/thumbnail/", files={"thumbnail": ("t.txt", b"not an image")}, headers=alice
        ),
        400,
        "validation_error",
    )
    assert_error(
        await client.post(f"projects/{pid}/thumbnail/", files={"thumbnail": ("t.png", PNG)}, headers=bob),
        403,
        "permission_denied",
    )
    job_id = await start_job(store, pid)
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 32
    by_worker = await client.post(
        f"projects/{pid}/thumbnail/", files={"thumbnail": ("t.jpg", jpeg)}, headers=worker_token(job_id, pid)
    )
    assert by_worker.status_code == 204
    assert (await client.get(f"files/thumbnails/{pid}/", headers=alice)).content == jpeg
