"""QField's field edits end to end: delta-push with the official CLI, QGIS applies them, the data changes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from qfieldcloud_sdk import sdk

from tests.e2e.conftest import CLI, cli, make_project
from tests.e2e.stack import Stack
from tests.e2e.test_packaging_with_cli import wait_processed

pytestmark = [pytest.mark.e2e, pytest.mark.qgis, pytest.mark.timeout(600)]


def layer_id(project_file: Path, name: str) -> str:
    root = ET.parse(project_file).getroot()
    for layer in root.iter("maplayer"):
        if layer.findtext("layername") == name:
            return str(layer.findtext("id"))
    raise AssertionError(f"no layer {name}")


def sdk_deltas(stack: Stack, token: str, pid: str, dfid: str) -> list[dict[str, Any]]:
    """The SDK has no command for a deltafile's deltas: use its client as QField's poll would."""
    client = sdk.Client(url=stack.api_url, token=token)
    return list(client._request_json("GET", f"deltas/{pid}/{dfid}"))


def test_delta_push_applies_and_download_shows_the_edit(
    stack: Stack, tmp_path: Path, repo_root: Path
) -> None:
    token = cli(stack, "login", stack.user, stack.password)["token"]
    pid = cli(stack, "create-project", "field-edits", token=token)["id"]
    local = tmp_path / "project"
    make_project("simple", local, repo_root)
    cli(stack, "upload-files", pid, str(local), "--throw-on-error", token=token)
    wait_processed(stack, token, pid)
    points = layer_id(local / "project.qgs", "points")
    client_id = str(uuid.uuid4())
    dfid = str(uuid.uuid4())
    common = {
        "clientId": client_id,
        "localLayerId": points,
        "sourceLayerId": points,
        "localLayerName": "points",
    }
    deltafile = {
        "version": "1.0",
        "id": dfid,
        "project": pid,
        "files": [],
        "deltas": [
            {
                **common,
                "uuid": str(uuid.uuid4()),
                "method": "patch",
                "localPk": "1",
                "sourcePk": "1",
                "old": {"attributes": {"int": 1}},
                "new": {"attributes": {"int": 666}},
            },
            {
                **common,
                "uuid": str(uuid.uuid4()),
                "method": "create",
                "localPk": "-1",
                "sourcePk": "",
                "new": {"geometry": "POINT (2600000 1200000)", "attributes": {"name": "new", "int": 7}},
            },
        ],
    }
    path = tmp_path / "delta.json"
    path.write_text(json.dumps(deltafile))
    env = {**os.environ, "QFIELDCLOUD_URL": stack.api_url, "QFIELDCLOUD_TOKEN": token}
    subprocess.run([CLI, "delta-push", pid, str(path)], env=env, check=True, capture_output=True, timeout=60)

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        deltas = sdk_deltas(stack, token, pid, dfid)
        if deltas and all(d["status"] not in ("STATUS_PENDING", "STATUS_BUSY") for d in deltas):
            break
        time.sleep(1)
    assert {d["status"] for d in deltas} == {"STATUS_APPLIED"}, [d["last_feedback"] for d in deltas]
    assert all(d["last_status"] == "applied" for d in deltas)
    [job] = cli(stack, "list-jobs", pid, "--type", "delta_apply", token=token)
    assert job["status"] == "finished"

    subprocess.run([CLI, "delta-push", pid, str(path)], env=env, check=True, capture_output=True, timeout=60)
    assert len(sdk_deltas(stack, token, pid, dfid)) == 2  # re-pushing changed nothing
    out = tmp_path / "after"
    cli(stack, "download-files", pid, str(out), "--filter", "*.gpkg", "--force-download", token=token)
    with sqlite3.connect(out / "data.gpkg") as db:
        assert db.execute("SELECT int FROM points WHERE fid = 1").fetchone() == (666,)
        assert db.execute("SELECT count(*) FROM points").fetchone() == (2,)
    assert cli(stack, "get-project", pid, token=token)["needs_repackaging"] is True
