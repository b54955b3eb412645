"""``runner.worker run``: the JSON-lines protocol against a fake Outpost files API on loopback."""

from __future__ import annotations

import collections
import pathlib

import pytest

from tests.qgis import png
from tests.qgis.fake_api import TOKEN, FakeApi
from tests.qgis.fake_api import job_spec as _spec
from tests.qgis.fake_api import protocol_lines as _protocol_lines
from tests.qgis.fake_api import step_events as _step_events

pytestmark = [pytest.mark.qgis, pytest.mark.timeout(120)]

PROCESS_STEPS = [
    "start_qgis_app",
    "download_project_directory",
    "project_validity_check",
    "opening_check",
    "project_details",
    "generate_thumbnail_image",
    "stop_qgis_app",
]
WHITE = (255, 255, 255, 255)


def test_run_success_protocol_and_feedback(fake_api: FakeApi, make_project, run_worker) -> None:
    make_project("simple", fake_api.root)
    fake_api.extra_entries.append({"name": "DCIM/photo.jpg", "size": 3, "md5sum": "", "is_attachment": True})
    done = run_worker("run", stdin=_spec(fake_api))
    assert done.returncode == 0, done.stderr
    lines = _protocol_lines(done.stdout)
    assert _step_events(lines) == [
        (step, stage) for step in PROCESS_STEPS for stage in ("started", "finished")
    ]
    assert lines[0] == {
        "kind": "step",
        "step_id": "start_qgis_app",
        "name": "Start QGIS Application",
        "stage": "started",
    }
    logs = [line["line"] for line in lines if line["kind"] == "log"]
    assert "QGIS project layer checks" in logs
    assert any(line.startswith("Layer Name | Layer Id | Is Valid | Status") for line in logs)
    assert not any(TOKEN in line for line in logs)
    downloaded = {
        path for method, path in fake_api.requests if method == "GET" and "skip_metadata" not in path
    }
    assert len(downloaded) == 2
    assert not any("DCIM" in path for path in downloaded)

    feedback = lines[-1]["feedback"]
    assert feedback["feedback_version"] == "2.0"
    assert feedback["workflow_id"] == "process_projectfile"
    assert feedback["workflow_version"] == "2.0"
    assert [step["id"] for step in feedback["steps"]] == PROCESS_STEPS
    assert all(step["stage"] == 2 for step in feedback["steps"])
    assert "error" not in feedback
    assert set(feedback["outputs"]) == set(PROCESS_STEPS)
    details = feedback["outputs"]["project_details"]["project_details"]
    layer = next(iter(details["layers_by_id"].values()))
    assert layer["is_valid"] is True
    assert layer["filename"] == "data.gpkg"
    assert details["crs"] == "EPSG:2056"
    thumbnail = feedback["outputs"]["generate_thumbnail_image"]["thumbnail"]
    assert thumbnail == {"size": len(fake_api.thumbnails[0]["content"]), "width": 100, "height": 100}


def test_run_uploads_a_thumbnail_of_the_map(fake_api: FakeApi, make_project, run_worker) -> None:
    make_project("simple", fake_api.root)
    done = run_worker("run", stdin=_spec(fake_api))
    assert done.returncode == 0, done.stderr
    (upload,) = fake_api.thumbnails
    assert (upload["field"], upload["filename"], upload["content_type"]) == (
        "thumbnail",
        "thumbnail.png",
        "image/png",
    )
    content = upload["content"]
    assert content.startswith(b"\x89PNG\r\n\x1a\n")
    assert png.header(content) == (100, 100)
    image = png.read(content)
    colours = collections.Counter(image.pixels)
    assert len(image.pixels) == 100 * 100
    assert colours.most_common(1)[0][0][:3] == WHITE[:3], "the canvas background is white"
    assert len(colours) > 1, "the point must be drawn"
    drawn = [pixel for pixel in image.pixels if pixel[:3] != WHITE[:3]]
    assert 10 < len(drawn) < 2000, "a point marker, not a blank or filled image"
    thumbnail_posts = [path for method, path in fake_api.requests if path.endswith("/thumbnail/")]
    assert thumbnail_posts == [f"/api/v1/projects/{fake_api.project_id}/thumbnail/"]


def test_run_thumbnail_upload_failure_is_a_warning(fake_api: FakeApi, make_project, run_worker) -> None:
    make_project("simple", fake_api.root)
    fake_api.thumbnail_status = 500
    done = run_worker("run", stdin=_spec(fake_api))
    assert done.returncode == 0, done.stderr
    lines = _protocol_lines(done.stdout)
    assert _step_events(lines) == [
        (step, stage) for step in PROCESS_STEPS for stage in ("started", "finished")
    ]
    feedback = lines[-1]["feedback"]
    assert "error" not in feedback
    assert all(step["stage"] == 2 for step in feedback["steps"])
    assert feedback["outputs"]["generate_thumbnail_image"] == {"thumbnail": None}
    warnings = [line["line"] for line in lines if line["kind"] == "log" and "thumbnail" in line["line"]]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("Warning: no thumbnail: the upload failed:")
    assert "HTTP 500" in warnings[0]
    assert fake_api.thumbnails == []


def test_run_thumbnail_without_extent_is_a_warning(fake_api: FakeApi, make_project, run_worker) -> None:
    make_project("invalid_layers", fake_api.root)  # no saved canvas and no valid layer: no extent
    done = run_worker("run", stdin=_spec(fake_api))
    assert done.returncode == 0, done.stderr
    lines = _protocol_lines(done.stdout)
    feedback = lines[-1]["feedback"]
    assert "error" not in feedback
    assert feedback["outputs"]["generate_thumbnail_image"] == {"thumbnail": None}
    logs = [line["line"] for line in lines if line["kind"] == "log"]
    assert any(line.startswith("Warning: no thumbnail: rendering failed:") for line in logs), logs
    assert fake_api.thumbnails == []


def test_run_expired_token_fails_download_step(fake_api: FakeApi, make_project, run_worker) -> None:
    make_project("simple", fake_api.root)
    done = run_worker("run", stdin=_spec(fake_api, token="wrong"))
    assert done.returncode == 1, done.stderr
    lines = _protocol_lines(done.stdout)
    assert _step_events(lines)[-1] == ("download_project_directory", "failed")
    feedback = lines[-1]["feedback"]
    assert feedback["error_type"] == "API_TOKEN_EXPIRED"
    assert feedback["error_class"] == "ApiError"
    assert isinstance(feedback["error_stack"], list)
    assert feedback["error_stack"]
    assert [step["stage"] for step in feedback["steps"]] == [2, 1, 0, 0, 0, 0, 0]
    assert set(feedback["outputs"]) == {"start_qgis_app"}


@pytest.mark.parametrize(
    ("status", "error_type"), [(403, "API_FORBIDDEN"), (404, "API_NOT_FOUND"), (418, "API_OTHER")]
)
def test_run_http_errors_map_to_error_types(
    fake_api: FakeApi, run_worker, status: int, error_type: str
) -> None:
    fake_api.status_override = status
    done = run_worker("run", stdin=_spec(fake_api))
    assert done.returncode == 1, done.stderr
    assert _protocol_lines(done.stdout)[-1]["feedback"]["error_type"] == error_type


def test_run_broken_project_fails_validity(fake_api: FakeApi, make_project, run_worker) -> None:
    make_project("broken", fake_api.root)
    done = run_worker("run", stdin=_spec(fake_api))
    assert done.returncode == 1, done.stderr
    lines = _protocol_lines(done.stdout)
    feedback = lines[-1]["feedback"]
    assert feedback["error_type"] == "INVALID_PROJECT_FILE"
    assert "line 3, column 11" in feedback["error"]
    assert [step["stage"] for step in feedback["steps"]] == [2, 2, 1, 0, 0, 0, 0]


def test_run_refuses_names_escaping_the_job_dir(fake_api: FakeApi, make_project, run_worker) -> None:
    make_project("simple", fake_api.root)
    fake_api.extra_entries.append({"name": "../escape.txt", "size": 1, "md5sum": "", "is_attachment": False})
    done = run_worker("run", stdin=_spec(fake_api))
    assert done.returncode == 1, done.stderr
    feedback = _protocol_lines(done.stdout)[-1]["feedback"]
    assert feedback["error_type"] == "API_OTHER"
    assert "unsafe file name" in feedback["error"]


def test_run_project_file_not_on_server(fake_api: FakeApi, make_project, run_worker) -> None:
    make_project("simple", fake_api.root)
    done = run_worker("run", stdin=_spec(fake_api, project_file="other.qgs"))
    assert done.returncode == 1, done.stderr
    feedback = _protocol_lines(done.stdout)[-1]["feedback"]
    assert feedback["error_type"] == "FILE_NOT_FOUND"
    assert feedback["error"] == 'Project file "other.qgs" does not exist'


def test_run_unsupported_job_type(fake_api: FakeApi, run_worker) -> None:
    done = run_worker("run", stdin=_spec(fake_api, type="no_such_job"))
    assert done.returncode == 1, done.stderr
    feedback = _protocol_lines(done.stdout)[-1]["feedback"]
    assert "Unsupported job type" in feedback["error"]


@pytest.mark.parametrize("stdin", ["not json", "[]", '{"job_id": "x"}'])
def test_run_bad_spec_exits_2_without_output(run_worker, stdin: str) -> None:
    done = run_worker("run", stdin=stdin)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "job spec" in done.stderr


def test_upload_file_streams_multipart(fake_api: FakeApi, run_python, tmp_path: pathlib.Path) -> None:
    payload = bytes(range(256)) * 5000
    source = tmp_path / "data.gpkg"
    source.write_bytes(payload)
    code = (
        "import sys; from runner.worker import transfer; "
        "print(transfer.upload_file(sys.argv[1], sys.argv[2], sys.argv[3], 'sub dir/data.gpkg', sys.argv[4]))"
    )
    done = run_python(code, fake_api.api_url, TOKEN, fake_api.project_id, str(source))
    assert done.returncode == 0, done.stderr
    assert fake_api.uploads == {"sub dir/data.gpkg": payload}
    assert fake_api.upload_fields == {"sub dir/data.gpkg": "file"}
    assert "'size': 1280000" in done.stdout
