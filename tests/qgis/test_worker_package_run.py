"""``runner.worker run`` with a ``package`` job against the fake API (download, package, upload)."""

from __future__ import annotations

import hashlib
import pathlib

import pytest

from tests.qgis.fake_api import FakeApi, job_spec, protocol_lines, step_events

pytestmark = [pytest.mark.qgis, pytest.mark.timeout(60)]

PACKAGE_STEPS = [
    "start_qgis_app",
    "download_project_directory",
    "qgis_layers_data",
    "package_project",
    "qfield_layer_data",
    "stop_qgis_app",
    "upload_packaged_project",
]


def _run_package(fake_api: FakeApi, run_worker, **overrides: object) -> tuple[int, list[dict], str]:
    spec = job_spec(fake_api, type="package", job_id="6f1c2a8e-0000-4000-8000-00000000abcd", **overrides)
    done = run_worker("run", stdin=spec)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, protocol_lines(done.stdout), done.stderr


def test_package_job_uploads_every_file(
    fake_api: FakeApi, make_project, run_worker, describe_project, tmp_path: pathlib.Path
) -> None:
    make_project("multi", fake_api.root)
    code, lines, stderr = _run_package(fake_api, run_worker)
    assert code == 0, stderr
    assert step_events(lines) == [
        (step, stage) for step in PACKAGE_STEPS for stage in ("started", "finished")
    ]
    feedback = lines[-1]["feedback"]
    assert "error" not in feedback
    assert feedback["feedback_version"] == "2.0"
    assert feedback["workflow_id"] == "package_project"
    assert [step["id"] for step in feedback["steps"]] == PACKAGE_STEPS
    assert all(step["stage"] == 2 for step in feedback["steps"])
    outputs = feedback["outputs"]
    assert set(outputs) == set(PACKAGE_STEPS)
    layers = outputs["qgis_layers_data"]["layers_by_id"]
    assert len(layers) == 12
    assert {data["name"] for data in layers.values() if not data["is_valid"]} == {"broken"}
    assert len(outputs["qfield_layer_data"]["layers_by_id"]) == 10
    package = outputs["package_project"]
    assert set(package) == {"files", "duration_s", "size_bytes"}
    assert package["size_bytes"] == sum(item["size"] for item in package["files"])
    assert isinstance(package["duration_s"], float)

    downloads = [
        path for method, path in fake_api.requests if method == "GET" and "skip_metadata" not in path
    ]
    assert downloads
    assert not any("DCIM" in path for path in downloads), "attachments are not downloaded"
    uploads = fake_api.package_uploads
    assert [name for _job, name, _content in uploads] == [item["name"] for item in package["files"]]
    assert uploads[-1][1] == "project_qfield.qgs"
    assert {job for job, _name, _content in uploads} == {"6f1c2a8e-0000-4000-8000-00000000abcd"}
    assert not any(name.startswith("DCIM") for _job, name, _content in uploads)
    for (_job, _name, content), item in zip(uploads, package["files"], strict=True):
        assert len(content) == item["size"]
        assert hashlib.sha256(content).hexdigest() == item["sha256"]

    # The uploaded files alone are a complete project: every layer opens.
    downloaded = tmp_path / "device"
    for _job, name, content in uploads:
        (downloaded / name).parent.mkdir(parents=True, exist_ok=True)
        (downloaded / name).write_bytes(content)
    described = describe_project(downloaded / "project_qfield.qgs")
    assert len(described["layers"]) == 10
    assert all(layer["valid"] for layer in described["layers"].values())
    by_name = {layer["name"]: layer for layer in described["layers"].values()}
    assert by_name["points"]["count"] == 3
    assert by_name["trees"]["crs"] == "EPSG:4326"


def test_package_upload_rejected(fake_api: FakeApi, make_project, run_worker) -> None:
    make_project("simple", fake_api.root)
    fake_api.package_status = 403
    code, lines, _stderr = _run_package(fake_api, run_worker)
    assert code == 1
    assert step_events(lines)[-1] == ("upload_packaged_project", "failed")
    feedback = lines[-1]["feedback"]
    assert feedback["error_type"] == "API_FORBIDDEN"
    assert "packages/" in feedback["error"]
    assert [step["stage"] for step in feedback["steps"]] == [2, 2, 2, 2, 2, 2, 1]
    assert "qgis_layers_data" in feedback["outputs"]


def test_package_upload_checksum_mismatch(fake_api: FakeApi, make_project, run_worker) -> None:
    make_project("simple", fake_api.root)
    fake_api.package_reply = {"sha256": "0" * 64}
    code, lines, _stderr = _run_package(fake_api, run_worker)
    assert code == 1
    feedback = lines[-1]["feedback"]
    assert feedback["error_type"] == "API_OTHER"
    assert "is corrupt" in feedback["error"]


def test_package_empty_project_fails(fake_api: FakeApi, make_project, run_worker) -> None:
    make_project("empty", fake_api.root)
    code, lines, _stderr = _run_package(fake_api, run_worker)
    assert code == 1
    feedback = lines[-1]["feedback"]
    assert feedback["error"] == "The project has no layers: there is nothing to package"
    assert [step["stage"] for step in feedback["steps"]] == [2, 2, 2, 1, 0, 0, 0]
    assert feedback["outputs"]["qgis_layers_data"] == {"layers_by_id": {}}
    assert fake_api.package_uploads == []
