"""delta_apply: QField deltas applied to generated projects (GeoPackage, shapefile, GeoJSON, CSV, PostGIS).

Most cases use ``python3 -m runner.worker apply-local DIR PROJECT DELTAFILE [--no-overwrite]``, which
applies in place and prints ``{"delta_feedback": [...], "changed_files": [...]}``; one case runs the
whole job (``run``) against the fake API to check the download, the feedback and that only the
changed data file is uploaded. The fixture project is generated once and copied for each test.
"""

from __future__ import annotations

import csv
import json
import os
import pathlib
import shutil
import sqlite3
import subprocess
import tempfile
import typing
import uuid
import xml.etree.ElementTree as ET

import pytest

from tests.qgis.conftest import MAKE_PROJECT, QGIS_PYTHON, SERVICES_DIR
from tests.qgis.fake_api import FakeApi, job_spec, protocol_lines, step_events

pytestmark = [pytest.mark.qgis, pytest.mark.timeout(120)]

X0, Y0 = 2600000.0, 1200000.0
APPLIED, CONFLICT, FAILED = "status_applied", "status_conflict", "status_apply_failed"
ENTRY_KEYS = {
    "msg",
    "status",
    "e_type",
    "delta_file_id",
    "layer_id",
    "delta_index",
    "delta_id",
    "feature_pk",
    "modified_pk",
    "conflicts",
    "provider_errors",
    "method",
}
CLIENT_A, CLIENT_B = str(uuid.uuid4()), str(uuid.uuid4())
UTC = {"TZ": "UTC"}


# --- fixtures and helpers -----------------------------------------------------------------------


def _env(runtime: pathlib.Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        PYTHONPATH=str(SERVICES_DIR),
        QT_QPA_PLATFORM="offscreen",
        XDG_RUNTIME_DIR=str(runtime),
        PYTHONDONTWRITEBYTECODE="1",
        TZ="UTC",
    )
    return {**env, **(extra or {})}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The ``deltas`` fixture project, generated once per module."""
    runtime = tmp_path_factory.mktemp("xdg-template")
    runtime.chmod(0o700)
    out = tmp_path_factory.mktemp("deltas-template")
    done = subprocess.run(
        [QGIS_PYTHON, str(MAKE_PROJECT), "deltas", str(out)],
        env=_env(runtime),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return out


class Project(typing.NamedTuple):
    root: pathlib.Path
    ids: dict[str, str]  # layer name -> layer id


def layer_ids(project_file: pathlib.Path) -> dict[str, str]:
    root = ET.parse(project_file).getroot()  # a file the test generated
    return {str(layer.findtext("layername")): str(layer.findtext("id")) for layer in root.iter("maplayer")}


@pytest.fixture
def project(template: pathlib.Path, tmp_path: pathlib.Path) -> Project:
    root = tmp_path / "project"
    shutil.copytree(template, root)
    return Project(root, layer_ids(root / "project.qgs"))


def delta(
    method: str,
    layer_id: str,
    *,
    client: str = CLIENT_A,
    local_pk: typing.Any = "",
    source_pk: typing.Any = "",
    old: dict | None = None,
    new: dict | None = None,
    **extra: typing.Any,
) -> dict[str, typing.Any]:
    """A delta as QField writes it."""
    item = {
        "uuid": str(uuid.uuid4()),
        "clientId": client,
        "exportId": str(uuid.uuid4()),
        "localPk": str(local_pk),
        "sourcePk": str(source_pk),
        "localLayerId": layer_id,
        "sourceLayerId": layer_id,
        "method": method,
        **extra,
    }
    if old is not None:
        item["old"] = old
    if new is not None:
        item["new"] = new
    return item


def deltafile(deltas: list[dict], client_pks: dict[str, str] | None = None) -> dict[str, typing.Any]:
    document = {"version": "1.0", "id": str(uuid.uuid4()), "project": str(uuid.uuid4()), "files": []}
    return {**document, "deltas": deltas, "clientPks": client_pks or {}}


class Applied(typing.NamedTuple):
    feedback: list[dict]
    changed: list[str]
    log: str


@pytest.fixture
def apply(run_worker, tmp_path: pathlib.Path) -> typing.Callable[..., Applied]:
    """``apply-local`` on a project dir; checks that every delta got exactly one well-formed entry."""

    def run(project: Project, document: dict, *, overwrite: bool = True, env: dict | None = None) -> Applied:
        path = tmp_path / f"deltafile-{uuid.uuid4().hex[:8]}.json"  # outside the project dir
        path.write_text(json.dumps(document), encoding="utf-8")
        args = ["apply-local", str(project.root), "project.qgs", str(path)]
        done = run_worker(*args, *([] if overwrite else ["--no-overwrite"]), env={**UTC, **(env or {})})
        assert done.returncode == 0, done.stderr
        assert done.stdout.count("\n") == 1, done.stdout
        output = json.loads(done.stdout)
        feedback = output["delta_feedback"]
        assert [entry["delta_index"] for entry in feedback] == list(range(len(document["deltas"])))
        for entry, item in zip(feedback, document["deltas"], strict=True):
            assert set(entry) == ENTRY_KEYS, entry
            assert entry["delta_file_id"] == document["id"]
            if isinstance(item, dict):
                assert entry["delta_id"] == item["uuid"]
                assert entry["method"] == item.get("method")
        return Applied(feedback, output["changed_files"], done.stderr)

    return run


@pytest.fixture
def features(describe_project) -> typing.Callable[..., dict[typing.Any, dict]]:
    """The features of one layer, by key value: ``{key: {**attributes, "wkt": ...}}``."""

    def read(
        project: Project, name: str, key: str = "fid", env: dict | None = None
    ) -> dict[typing.Any, dict]:
        described = describe_project(project.root / "project.qgs", env={**UTC, **(env or {})})
        (layer,) = [layer for layer in described["layers"].values() if layer["name"] == name]
        assert layer["valid"], layer
        return {
            feature["attributes"][key]: {**feature["attributes"], "wkt": feature["wkt"]}
            for feature in layer["features"]
        }

    return read


def statuses(applied: Applied) -> list[str]:
    return [entry["status"] for entry in applied.feedback]


def next_client_pks(document: dict, applied: Applied, known: dict[str, str]) -> dict[str, str]:
    """What the server sends as ``clientPks`` next time: ``clientId__localPk`` -> last modified pk."""
    mapping = dict(known)
    for item, entry in zip(document["deltas"], applied.feedback, strict=True):
        if entry["modified_pk"] is not None:
            mapping[f"{item['clientId']}__{item['localPk']}"] = str(entry["modified_pk"])
    return mapping


# --- GeoPackage ---------------------------------------------------------------------------------


def test_gpkg_create_patch_delete_with_z_and_defaults(project: Project, apply, features) -> None:
    points = project.ids["points"]
    nulls = dict.fromkeys(["int", "status", "score", "day", "stamp", "flag", "doc", "blob", "real"])
    document = deltafile(
        [
            delta(  # QField sends every attribute; NULLs of fields with a default keep the default
                "create",
                points,
                local_pk=101,
                new={
                    "geometry": f"PointZ ({X0 + 50} {Y0 + 50} nan)",
                    "attributes": {**nulls, "fid": 101, "name": "created", "int": 5},
                },
            ),
            delta(  # a 2D point on a PointZ layer; explicit values win over the defaults
                "create",
                points,
                local_pk=102,
                new={
                    "geometry": f"Point ({X0 + 60} {Y0 + 60})",
                    "attributes": {"name": "flat", "status": "set", "score": 5},
                },
            ),
            delta(
                "patch",
                points,
                local_pk=2,
                source_pk=2,
                old={"geometry": f"PointZ ({X0 + 10} {Y0 + 10} 410)", "attributes": {"int": 2}},
                new={"geometry": f"PointZ ({X0 + 15} {Y0 + 15} 415)", "attributes": {"int": 22}},
            ),
            delta(
                "delete",
                points,
                local_pk=3,
                source_pk=3,
                old={
                    "geometry": f"PointZ ({X0 + 20} {Y0 + 20} 420)",
                    "attributes": {"fid": 3, "name": "three"},
                },
            ),
        ]
    )
    applied = apply(project, document)
    assert statuses(applied) == [APPLIED] * 4, applied.feedback
    assert [entry["modified_pk"] for entry in applied.feedback] == [4, 5, 2, 3]
    assert applied.feedback[0]["msg"] == "Successfully applied delta!"
    assert all(entry["e_type"] is None and entry["conflicts"] is None for entry in applied.feedback)
    assert applied.feedback[2]["feature_pk"] == "2"
    assert applied.changed == ["data.gpkg"]
    assert not list(project.root.glob("*-wal")) and not list(project.root.glob("*-shm"))

    result = features(project, "points")
    assert sorted(result) == [1, 2, 4, 5]
    assert result[4]["wkt"] == "PointZ (2600050 1200050 0)"
    assert (result[4]["name"], result[4]["int"], result[4]["status"], result[4]["score"]) == (
        "created",
        5,
        "new",
        42,
    )
    assert result[5]["wkt"] == "PointZ (2600060 1200060 0)"
    assert (result[5]["status"], result[5]["score"]) == ("set", 5)
    assert result[2]["wkt"] == "PointZ (2600015 1200015 415)"
    assert result[2]["int"] == 22
    assert (result[1]["name"], result[1]["int"]) == ("one", 1)
    for line in ("# | Method | Layer", "0 | create | points | 4", "3 | delete | points | 3"):
        assert line in applied.log, applied.log


def test_dates_booleans_json_and_binary(project: Project, apply, features) -> None:
    points = project.ids["points"]
    first = {
        "int": "1",  # text for an integer: the same value
        "day": "2024-01-02",
        "stamp": "2024-01-02T03:04:05.123Z",
        "flag": True,
        "doc": {"a": [1, 2]},
        "blob": "AP8=",  # base64 of 00 ff
        "real": 1.25,
    }
    second = {
        "int": 11,
        "day": "2025-05-06",
        "stamp": "2025-05-06T09:08:09+02:00",
        "flag": False,
        "doc": {"b": "x"},
        "blob": "AQID",
        "real": 2.5,
    }
    same_again = {  # what was written, in other spellings: no conflict
        "int": 11.0,
        "day": "2025-05-06T00:00:00",
        "stamp": "2025-05-06T07:08:09Z",
        "flag": 0,
        "doc": '{"b": "x"}',
        "blob": "AQID",
        "real": "2.5",
    }
    created = {
        "name": "typed",
        "day": "2023-03-04",
        "stamp": "2023-03-04T05:06:07Z",
        "flag": True,
        "doc": [1, "two"],
        "blob": "_w",  # base64url without padding (Qt 6) of ff
        "real": 0.5,
    }
    document = deltafile(
        [
            delta(
                "patch",
                points,
                local_pk=1,
                source_pk=1,
                old={"attributes": first},
                new={"attributes": second},
            ),
            delta(
                "patch",
                points,
                local_pk=1,
                source_pk=1,
                old={"attributes": {**same_again, "name": "one"}},
                new={"attributes": {"name": "uno"}},
            ),
            delta(
                "create",
                points,
                local_pk=50,
                new={"geometry": f"PointZ ({X0} {Y0} 1)", "attributes": created},
            ),
            delta(
                "patch",
                points,
                local_pk=2,
                source_pk=2,
                old={"attributes": {"int": 2}},
                new={"attributes": {"int": "x"}},
            ),
        ]
    )
    applied = apply(project, document, overwrite=False)  # a false conflict would show as status_conflict
    assert statuses(applied) == [APPLIED, APPLIED, APPLIED, FAILED], applied.feedback
    assert applied.feedback[3]["msg"] == 'Invalid value: "x" is not a valid integer for field "int" (Integer)'
    result = features(project, "points")
    one = result[1]
    assert one["name"] == "uno"
    assert (one["int"], one["day"], one["flag"], one["doc"], one["blob"], one["real"]) == (
        11,
        "2025-05-06",
        False,
        {"b": "x"},
        "010203",
        2.5,
    )
    assert one["stamp"].startswith("2025-05-06T07:08:09")  # stored in UTC
    new = result[4]
    assert (new["day"], new["flag"], new["doc"], new["blob"], new["real"]) == (
        "2023-03-04",
        True,
        [1, "two"],
        "ff",
        0.5,
    )
    assert new["stamp"].startswith("2023-03-04T05:06:07")
    assert result[2]["int"] == 2


# --- other formats ------------------------------------------------------------------------------


def test_shapefile_with_a_fid_column_and_one_without_key(project: Project, apply, features) -> None:
    roads, nokey = project.ids["roads"], project.ids["nokey"]
    document = deltafile(
        [
            delta(
                "patch",
                roads,
                local_pk=1,
                source_pk=1,
                old={"attributes": {"name": "main", "lanes": 2}},
                new={"attributes": {"name": "main street", "lanes": 3}},
            ),
            delta(
                "create",
                roads,
                local_pk=7,
                new={
                    "geometry": f"LineString ({X0} {Y0}, {X0 + 1} {Y0 + 1})",
                    "attributes": {"name": "new road"},
                },
            ),
            delta("delete", roads, local_pk=2, source_pk=2, old={"attributes": {"fid": 2, "name": "side"}}),
            delta(
                "patch",
                nokey,
                local_pk=1,
                source_pk=1,
                old={"attributes": {"name": "k"}},
                new={"attributes": {"name": "x"}},
            ),
        ]
    )
    applied = apply(project, document)
    assert statuses(applied) == [APPLIED, APPLIED, APPLIED, FAILED], applied.feedback
    assert applied.feedback[1]["modified_pk"] == 3  # the fid column is nobody's sequence: max + 1
    assert applied.feedback[3]["msg"] == (
        f'Layer "nokey" ({nokey}) has no primary key: it needs a single-column key or a field named "fid"'
    )
    assert all(name.startswith("shapes/roads.") for name in applied.changed), applied.changed
    result = features(project, "roads")
    assert sorted(result) == [1, 3]
    assert (result[1]["name"], result[1]["lanes"]) == ("main street", 3)
    assert result[3]["name"] == "new road"
    assert (
        result[3]["wkt"] == "MultiLineString ((2600000 1200000, 2600001 1200001))"
    )  # shapefile lines are multi


def test_geojson(project: Project, apply) -> None:
    trees = project.ids["trees"]
    document = deltafile(
        [
            delta(
                "patch",
                trees,
                local_pk=2,
                source_pk=2,
                old={"geometry": "Point (7.44 46.95)", "attributes": {"species": "birch"}},
                new={"geometry": "Point (7.45 46.96)", "attributes": {"species": "ash"}},
            ),
            delta(
                "create",
                trees,
                local_pk=9,
                new={"geometry": "Point (7.3 46.3)", "attributes": {"species": "yew"}},
            ),
            delta(
                "delete",
                trees,
                local_pk=1,
                source_pk=1,
                old={"attributes": {"species": "oak", "height": 12.5}},
            ),
            delta(  # digitised in a layer of another CRS: transformed to the source layer's
                "create",
                trees,
                local_pk=10,
                localLayerCrs="EPSG:2056",
                new={"geometry": f"Point ({X0} {Y0})", "attributes": {"species": "lime"}},
            ),
        ]
    )
    applied = apply(project, document, overwrite=False)
    assert statuses(applied) == [APPLIED] * 4, applied.feedback
    assert applied.feedback[3]["modified_pk"] == 4
    assert applied.changed == ["trees.geojson"]
    collection = json.loads((project.root / "trees.geojson").read_text(encoding="utf-8"))
    by_fid = {item["properties"]["fid"]: item for item in collection["features"]}
    assert sorted(by_fid) == [2, 3, 4]
    assert by_fid[4]["geometry"]["coordinates"] == pytest.approx([7.43863, 46.95108], abs=1e-4)
    assert by_fid[2]["properties"]["species"] == "ash"
    assert by_fid[2]["geometry"]["coordinates"] == pytest.approx([7.45, 46.96])
    assert by_fid[3]["properties"]["species"] == "yew"
    assert by_fid[3]["geometry"]["coordinates"] == pytest.approx([7.3, 46.3])


def test_csv_without_geometry(project: Project, apply) -> None:
    notes, text = project.ids["notes"], project.ids["notes (text)"]
    document = deltafile(
        [
            delta(
                "patch",
                notes,
                local_pk=1,
                source_pk=1,
                old={"geometry": "", "attributes": {"text": "first"}},
                new={"geometry": "", "attributes": {"text": "changed"}},
            ),
            delta(
                "create",
                notes,
                local_pk=5,
                new={"geometry": None, "attributes": {"text": "third", "rank": 30}},
            ),
            delta(
                "delete",
                notes,
                local_pk=2,
                source_pk=2,
                old={"attributes": {"fid": 2, "text": "second", "rank": 20}},
            ),
            delta(
                "patch",
                text,
                local_pk=1,
                source_pk=1,
                old={"attributes": {"text": "first"}},
                new={"attributes": {"text": "x"}},
            ),
            delta(  # the fid column is an ordinary field here: a taken value is refused, not duplicated
                "create",
                notes,
                local_pk=6,
                new={"attributes": {"fid": 1, "text": "duplicate", "rank": 0}},
            ),
        ]
    )
    applied = apply(project, document)
    assert statuses(applied) == [APPLIED, APPLIED, APPLIED, FAILED, FAILED], applied.feedback
    assert applied.feedback[1]["modified_pk"] == 3
    assert applied.feedback[3]["msg"] == (
        f'Layer "notes (text)" ({text}) cannot change attribute values: '
        'its data source (provider "delimitedtext") is read-only'
    )
    assert applied.feedback[4]["msg"] == f'A feature with fid=1 already exists in layer "notes" ({notes})'
    assert applied.changed == ["notes.csv"]
    with (project.root / "notes.csv").open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    assert [(row["fid"], row["text"], row["rank"]) for row in rows] == [
        ("1", "changed", "10"),
        ("3", "third", "30"),
    ]


# --- several clients, several stages ------------------------------------------------------------


def test_two_clients_in_three_stages(project: Project, apply, features) -> None:
    points = project.ids["points"]
    stage1 = deltafile(
        [
            delta(
                "create",
                points,
                local_pk=101,
                new={
                    "geometry": f"PointZ ({X0} {Y0} 1)",
                    "attributes": {"fid": 101, "name": "A-new", "int": 5},
                },
            ),
            delta(  # the same file patches the feature it just created, by its local key
                "patch",
                points,
                local_pk=101,
                old={"attributes": {"name": "A-new"}},
                new={"attributes": {"name": "A-renamed"}},
            ),
            delta(  # client B happens to use the same local key
                "create",
                points,
                client=CLIENT_B,
                local_pk=101,
                new={"geometry": f"PointZ ({X0} {Y0} 2)", "attributes": {"fid": 101, "name": "B-new"}},
            ),
            delta(  # A creates local 2 in another layer (server key 3) ...
                "create",
                project.ids["notes"],
                local_pk=2,
                new={"attributes": {"fid": None, "text": "A's note", "rank": 1}},
            ),
            delta(  # ... and then patches source feature 2 of points: not the note
                "patch",
                points,
                local_pk=2,
                source_pk=2,
                old={"attributes": {"int": 2}},
                new={"attributes": {"int": 21}},
            ),
        ]
    )
    applied1 = apply(project, stage1)
    assert statuses(applied1) == [APPLIED] * 5, applied1.feedback
    assert [entry["modified_pk"] for entry in applied1.feedback] == [4, 4, 5, 3, 2]
    client_pks = next_client_pks(stage1, applied1, {})
    assert client_pks == {f"{CLIENT_A}__101": "4", f"{CLIENT_B}__101": "5", f"{CLIENT_A}__2": "2"}

    stage2 = deltafile(
        [
            delta(
                "patch",
                points,
                client=CLIENT_B,
                local_pk=1,
                source_pk=1,
                old={"attributes": {"int": 1}},
                new={"attributes": {"int": 100}},
            ),
            delta(
                "patch", points, local_pk=101, old={"attributes": {"int": 5}}, new={"attributes": {"int": 55}}
            ),
            delta(
                "patch",
                points,
                client=CLIENT_B,
                local_pk=101,
                source_pk=101,  # a stale key: the mapping wins
                old={"attributes": {"name": "B-new"}},
                new={"attributes": {"name": "B-renamed"}},
            ),
        ],
        client_pks,
    )
    applied2 = apply(project, stage2, overwrite=False)
    assert statuses(applied2) == [APPLIED] * 3, applied2.feedback
    assert [entry["modified_pk"] for entry in applied2.feedback] == [1, 4, 5]
    client_pks = next_client_pks(stage2, applied2, client_pks)

    stage3 = deltafile(
        [
            delta(
                "delete",
                points,
                local_pk=101,
                old={
                    "geometry": f"PointZ ({X0} {Y0} 1)",
                    "attributes": {"fid": 101, "name": "A-renamed", "int": 55},
                },
            )
        ],
        client_pks,
    )
    applied3 = apply(project, stage3, overwrite=False)
    assert statuses(applied3) == [APPLIED], applied3.feedback
    assert applied3.feedback[0]["modified_pk"] == 4
    result = features(project, "points")
    assert sorted(result) == [1, 2, 3, 5]
    assert result[1]["int"] == 100
    assert result[2]["int"] == 21
    assert (result[5]["name"], result[5]["wkt"]) == ("B-renamed", "PointZ (2600000 1200000 2)")


# --- conflicts ----------------------------------------------------------------------------------


def test_conflict_reported_or_overwritten(project: Project, apply, features) -> None:
    points = project.ids["points"]
    document = deltafile(
        [
            delta(
                "patch",
                points,
                local_pk=1,
                source_pk=1,
                old={"attributes": {"int": 999, "name": "one"}},
                new={"attributes": {"int": 666, "name": "uno"}},
            )
        ]
    )
    before = (project.root / "data.gpkg").read_bytes()
    refused = apply(project, document, overwrite=False)
    (entry,) = refused.feedback
    assert (entry["status"], entry["e_type"], entry["modified_pk"], entry["feature_pk"]) == (
        CONFLICT,
        "CONFLICT",
        None,
        "1",
    )
    assert entry["conflicts"] == [{"field": "int", "base": 999, "current": 1, "incoming": 666}]
    assert "int" in entry["msg"]
    assert "not applied" in entry["msg"]
    assert refused.changed == []
    assert (project.root / "data.gpkg").read_bytes() == before
    assert "Delta 0 (" in refused.log
    assert "int: base 999, current 1, incoming 666" in refused.log

    overwritten = apply(project, document)
    (entry,) = overwritten.feedback
    assert (entry["status"], entry["modified_pk"]) == (APPLIED, 1)
    assert entry["conflicts"] == [{"field": "int", "base": 999, "current": 1, "incoming": 666}]
    assert entry["msg"] == "Applied over 1 conflict(s) (int) because of overwrite_conflicts"
    assert (features(project, "points")[1]["int"], features(project, "points")[1]["name"]) == (666, "uno")


def test_geometry_conflict_and_tolerance(project: Project, apply, features) -> None:
    points = project.ids["points"]
    document = deltafile(
        [
            delta(
                "patch",
                points,
                local_pk=2,
                source_pk=2,
                old={"geometry": f"PointZ ({X0 + 11} {Y0 + 11} 410)", "attributes": {"int": 2}},
                new={"geometry": f"PointZ ({X0 + 12} {Y0 + 12} 410)", "attributes": {"int": 20}},
            ),
            delta(
                "delete",
                points,
                local_pk=3,
                source_pk=3,
                old={"geometry": f"Point ({X0} {Y0})", "attributes": {"name": "three"}},
            ),
            delta(  # the same point within a tiny tolerance, and nan for 0 (not here: 400)
                "patch",
                points,
                local_pk=1,
                source_pk=1,
                old={"geometry": f"PointZ ({X0 + 1e-10} {Y0} 400)", "attributes": {"name": "one"}},
                new={"attributes": {"name": "still one"}},
            ),
        ]
    )
    applied = apply(project, document, overwrite=False)
    assert statuses(applied) == [CONFLICT, CONFLICT, APPLIED], applied.feedback
    assert applied.feedback[0]["conflicts"] == [
        {
            "field": "geometry",
            "base": f"PointZ ({X0 + 11} {Y0 + 11} 410)",
            "current": "PointZ (2600010 1200010 410)",
            "incoming": f"PointZ ({X0 + 12} {Y0 + 12} 410)",
        }
    ]
    assert applied.feedback[1]["conflicts"] == [
        {
            "field": "geometry",
            "base": f"Point ({X0} {Y0})",
            "current": "PointZ (2600020 1200020 420)",
            "incoming": None,
        }
    ]
    result = features(project, "points")
    assert sorted(result) == [1, 2, 3]
    assert (result[2]["int"], result[2]["wkt"]) == (2, "PointZ (2600010 1200010 410)")
    assert result[1]["name"] == "still one"


def test_force_applies_despite_the_conflict(project: Project, apply, features) -> None:
    points = project.ids["points"]
    document = deltafile(
        [
            delta(
                "patch",
                points,
                local_pk=1,
                source_pk=1,
                old={"attributes": {"name": "someone else's"}},
                new={"attributes": {"name": "resolved"}},
                force=True,
            )
        ]
    )
    (entry,) = apply(project, document, overwrite=False).feedback
    assert entry["status"] == APPLIED
    assert entry["conflicts"] == [
        {"field": "name", "base": "someone else's", "current": "one", "incoming": "resolved"}
    ]
    assert entry["msg"] == "Applied over 1 conflict(s) (name) because of force"
    assert features(project, "points")[1]["name"] == "resolved"


# --- failures -----------------------------------------------------------------------------------


def test_failures_are_reported_and_the_other_deltas_applied(project: Project, apply, features) -> None:
    points = project.ids["points"]
    unknown = delta("patch", "no_such_layer", local_pk=1, source_pk=1, new={"attributes": {"int": 1}})
    document = deltafile(
        [
            unknown,
            delta(
                "patch",
                points,
                local_pk=999,
                source_pk=999,
                old={"attributes": {"int": 1}},
                new={"attributes": {"int": 2}},
            ),
            delta(
                "patch",
                points,
                local_pk=1,
                source_pk=1,
                old={"attributes": {"int": 1}},
                new={"attributes": {"int": 7}},
            ),
            "not a delta",
            delta("upsert", points, local_pk=1, source_pk=1),
            delta("delete", points, client=str(uuid.uuid4()), local_pk=777, source_pk=""),
            delta("delete", points, local_pk=3, source_pk=3, old={"attributes": {"name": "three"}}),
        ]
    )
    applied = apply(project, document)
    assert statuses(applied) == [FAILED, FAILED, APPLIED, FAILED, FAILED, FAILED, APPLIED], applied.feedback
    messages = [entry["msg"] for entry in applied.feedback]
    assert messages[0] == 'No layer with id "no_such_layer" in the project'
    assert messages[1] == f'Unable to find feature with fid=999 in layer "points" ({points})'
    assert messages[3] == "The delta is not a JSON object"
    assert messages[4] == 'Unknown delta method "upsert"'
    assert messages[5].startswith('Unable to find feature in layer "points"')
    assert "'777'" in messages[5]
    assert applied.feedback[0]["layer_id"] == "no_such_layer"
    assert all(applied.feedback[index]["e_type"] == "ERROR" for index in (0, 1, 3, 4, 5))
    result = features(project, "points")
    assert sorted(result) == [1, 2]
    assert result[1]["int"] == 7


def test_unexpected_errors_are_per_delta(run_python) -> None:
    code = """
import json
from runner.worker import deltas

class Broken:
    def mapLayer(self, layer_id):
        raise RuntimeError("boom " + layer_id)

first = {"uuid": "u1", "method": "patch", "sourceLayerId": "a"}
second = {"uuid": "u2", "method": "delete", "localLayerId": "b", "sourceLayerId": ""}
document = {"id": "f", "deltas": [first, second]}
print(json.dumps(deltas.DeltaApplier(Broken(), document, log=lambda line: None).apply_all()))
"""
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    first, second = json.loads(done.stdout)
    assert (first["status"], first["msg"], first["layer_id"]) == (
        "status_unknown_error",
        "Unexpected error: RuntimeError: boom a",
        "a",
    )
    assert (second["status"], second["msg"], second["layer_id"]) == (
        "status_unknown_error",
        "Unexpected error: RuntimeError: boom b",
        "b",
    )


# --- the whole job through the API ------------------------------------------------------------


APPLY_STEPS = [
    "start_qgis_app",
    "download_project_directory",
    "apply_deltas",
    "stop_qgis_app",
    "upload_exported_project",
]


def test_run_uploads_only_the_changed_data_file(
    fake_api: FakeApi, template: pathlib.Path, run_worker, tmp_path: pathlib.Path
) -> None:
    shutil.copytree(template, fake_api.root, dirs_exist_ok=True)
    ids = layer_ids(fake_api.root / "project.qgs")
    document = deltafile(
        [
            delta(
                "patch",
                ids["points"],
                local_pk=1,
                source_pk=1,
                old={"attributes": {"int": 1}},
                new={"attributes": {"int": 666}},
            ),
            delta("patch", "no_such_layer", local_pk=1, source_pk=1),
        ]
    )
    params = {"deltafile": document}  # overwrite_conflicts absent: true
    done = run_worker("run", stdin=job_spec(fake_api, type="delta_apply", params=params), env=UTC)
    assert done.returncode == 0, done.stderr
    lines = protocol_lines(done.stdout)
    assert step_events(lines) == [(step, stage) for step in APPLY_STEPS for stage in ("started", "finished")]
    feedback = lines[-1]["feedback"]
    assert "error" not in feedback
    assert feedback["workflow_id"] == "apply_changes"
    entries = feedback["outputs"]["apply_deltas"]["delta_feedback"]
    assert [entry["status"] for entry in entries] == [APPLIED, FAILED]
    assert entries[0]["modified_pk"] == 1
    assert [upload["name"] for upload in feedback["outputs"]["upload_exported_project"]["files"]] == [
        "data.gpkg"
    ]

    assert set(fake_api.uploads) == {"data.gpkg"}
    assert fake_api.upload_fields == {"data.gpkg": "file"}
    uploaded = tmp_path / "uploaded.gpkg"
    uploaded.write_bytes(fake_api.uploads["data.gpkg"])
    with sqlite3.connect(uploaded) as connection:
        assert connection.execute("SELECT name, int FROM points WHERE fid = 1").fetchone() == ("one", 666)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # no WAL left behind
    logs = [line["line"] for line in lines if line["kind"] == "log"]
    assert any(line.startswith("# | Method | Layer") for line in logs), logs
    assert any("Uploaded 1 changed file(s)" in line for line in logs), logs


def test_run_without_changes_uploads_nothing(fake_api: FakeApi, template: pathlib.Path, run_worker) -> None:
    shutil.copytree(template, fake_api.root, dirs_exist_ok=True)
    ids = layer_ids(fake_api.root / "project.qgs")
    document = deltafile(
        [
            delta(
                "patch",
                ids["points"],
                local_pk=1,
                source_pk=1,
                old={"attributes": {"int": 5}},
                new={"attributes": {"int": 6}},
            )
        ]
    )
    params = {"deltafile": document, "overwrite_conflicts": False}
    done = run_worker("run", stdin=job_spec(fake_api, type="delta_apply", params=params))
    assert done.returncode == 0, done.stderr
    feedback = protocol_lines(done.stdout)[-1]["feedback"]
    assert [entry["status"] for entry in feedback["outputs"]["apply_deltas"]["delta_feedback"]] == [CONFLICT]
    assert feedback["outputs"]["upload_exported_project"] == {"files": []}
    assert fake_api.uploads == {}


def test_run_without_a_deltafile_fails_the_job(fake_api: FakeApi, template: pathlib.Path, run_worker) -> None:
    shutil.copytree(template, fake_api.root, dirs_exist_ok=True)
    done = run_worker("run", stdin=job_spec(fake_api, type="delta_apply"))
    assert done.returncode == 1, done.stderr
    feedback = protocol_lines(done.stdout)[-1]["feedback"]
    assert feedback["error"] == "The job has no deltafile (params.deltafile must be an object)"
    assert [step["stage"] for step in feedback["steps"]] == [2, 2, 1, 0, 0]


# --- PostGIS ------------------------------------------------------------------------------------

PG_SQL = [
    "CREATE EXTENSION postgis",
    """CREATE TABLE public.edits (
        id serial PRIMARY KEY,
        name text,
        status text DEFAULT 'fresh',
        seen_at timestamptz,
        geom geometry(Point, 2056),
        CONSTRAINT name_allowed CHECK (name IS DISTINCT FROM 'forbidden')
    )""",
    """INSERT INTO public.edits (name, status, seen_at, geom) VALUES
        ('alpha', 'old', '2024-05-06 07:08:09+00', ST_SetSRID(ST_MakePoint(2600000, 1200000), 2056)),
        ('beta', 'old', NULL, ST_SetSRID(ST_MakePoint(2600010, 1200010), 2056))""",
]


@pytest.fixture(scope="module")
def geodb() -> typing.Iterator[dict[str, str]]:
    import psycopg

    from common.devstack import PostgresServer

    base = pathlib.Path(tempfile.mkdtemp(prefix="outpost-postgis-deltas-"))
    base.chmod(0o711)  # the server runs as user postgres, which must reach its data dir
    server = PostgresServer(base / "pg")
    try:
        server.start()
        server.create_database("gis")
        dsn = f"host=127.0.0.1 port={server.port} dbname=gis user=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in PG_SQL:
                conn.execute(statement)
        yield {"host": "127.0.0.1", "port": str(server.port), "dbname": "gis", "user": "postgres", "dsn": dsn}
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_postgis_patch_and_create(geodb: dict[str, str], tmp_path: pathlib.Path, make_project, apply) -> None:
    import psycopg

    service = "[geodb]\n" + "".join(f"{key}={geodb[key]}\n" for key in ("host", "port", "dbname", "user"))
    (tmp_path / "sysconf").mkdir()
    service_file = tmp_path / "pg_service.conf"
    service_file.write_text(service, encoding="utf-8")
    env = {
        "PGSERVICEFILE": str(service_file),
        "PGSYSCONFDIR": str(tmp_path / "sysconf"),
        "HOME": str(tmp_path),
    }
    root = tmp_path / "pg-project"
    assert make_project("deltas_postgis", root, env=env) == ["project.qgs"]
    project = Project(root, layer_ids(root / "project.qgs"))
    edits = project.ids["edits"]
    document = deltafile(
        [
            delta(
                "patch",
                edits,
                local_pk=1,
                source_pk=1,
                old={
                    "geometry": f"Point ({X0} {Y0})",
                    "attributes": {"name": "alpha", "seen_at": "2024-05-06T07:08:09.000Z"},
                },
                new={
                    "geometry": f"Point ({X0 + 5} {Y0 + 5})",
                    "attributes": {"name": "alpha2", "seen_at": "2025-01-02T03:04:05Z"},
                },
            ),
            delta(  # the client's key 101 is ignored: the serial gives the key; status keeps its default
                "create",
                edits,
                local_pk=101,
                new={
                    "geometry": f"Point ({X0 + 7} {Y0 + 7})",
                    "attributes": {"id": 101, "name": "created", "status": None},
                },
            ),
            delta(  # the database refuses it: the commit errors are reported, nothing is written
                "create",
                edits,
                local_pk=102,
                new={"geometry": f"Point ({X0} {Y0})", "attributes": {"name": "forbidden"}},
            ),
            delta("delete", edits, local_pk=2, source_pk=2, old={"attributes": {"name": "beta"}}),
        ]
    )
    applied = apply(project, document, overwrite=False, env=env)
    assert statuses(applied) == [APPLIED, APPLIED, FAILED, APPLIED], applied.feedback
    assert [entry["modified_pk"] for entry in applied.feedback] == [1, 3, None, 2]
    refused = applied.feedback[2]
    assert refused["e_type"] == "IO"
    assert refused["msg"].startswith("The data provider refused to add the feature: PostGIS error")
    assert "\n" not in refused["msg"]
    assert "name_allowed" in refused["msg"]
    assert any("name_allowed" in line for line in refused["provider_errors"]), refused
    assert applied.changed == []  # the database was written, no file changed
    with psycopg.connect(geodb["dsn"]) as conn:
        rows = conn.execute(
            "SELECT id, name, status, seen_at AT TIME ZONE 'UTC', ST_AsText(geom)"
            " FROM public.edits ORDER BY id"
        ).fetchall()
    assert [(row[0], row[1], row[2], row[4]) for row in rows] == [
        (1, "alpha2", "old", "POINT(2600005 1200005)"),
        (3, "created", "fresh", "POINT(2600007 1200007)"),
    ]
    assert rows[0][3].isoformat() == "2025-01-02T03:04:05"


# --- the conflict matrix: what another client changed first, then this client's delta, under both policies


def _matrix_case(points: str, case: str) -> tuple[dict, dict]:
    """(the other client's delta that lands first, this client's delta based on the original feature 1)."""
    original = {"geometry": f"PointZ ({X0} {Y0} 400)", "attributes": {"int": 1, "name": "one"}}
    moved = f"PointZ ({X0 + 5} {Y0 + 5} 400)"
    first = {
        "same_attribute": delta(
            "patch",
            points,
            client=CLIENT_B,
            local_pk=1,
            source_pk=1,
            old={"attributes": {"int": 1}},
            new={"attributes": {"int": 5}},
        ),
        "different_attributes": delta(
            "patch",
            points,
            client=CLIENT_B,
            local_pk=1,
            source_pk=1,
            old={"attributes": {"name": "one"}},
            new={"attributes": {"name": "uno"}},
        ),
        "geometry_against_attributes": delta(
            "patch",
            points,
            client=CLIENT_B,
            local_pk=1,
            source_pk=1,
            old={"geometry": original["geometry"]},
            new={"geometry": moved},
        ),
        "delete_against_patch": delta(
            "patch",
            points,
            client=CLIENT_B,
            local_pk=1,
            source_pk=1,
            old={"attributes": {"int": 1}},
            new={"attributes": {"int": 5}},
        ),
    }[case]
    if case == "different_attributes":
        second = delta(
            "patch",
            points,
            local_pk=1,
            source_pk=1,
            old={"attributes": {"int": 1}},
            new={"attributes": {"int": 666}},
        )
    elif case == "delete_against_patch":
        second = delta("delete", points, local_pk=1, source_pk=1, old=original)
    else:  # QField sends the feature as it knew it: attributes and geometry
        second = delta(
            "patch", points, local_pk=1, source_pk=1, old=original, new={"attributes": {"int": 666}}
        )
    return first, second


@pytest.mark.parametrize("overwrite", [True, False], ids=["last_wins", "manual"])
@pytest.mark.parametrize(
    ("case", "conflicting"),
    [
        ("same_attribute", ["int"]),
        ("different_attributes", []),
        ("geometry_against_attributes", ["geometry"]),
        ("delete_against_patch", ["int"]),
    ],
)
def test_conflict_matrix(
    project: Project, apply, features, case: str, conflicting: list[str], overwrite: bool
) -> None:
    points = project.ids["points"]
    first, second = _matrix_case(points, case)
    assert statuses(apply(project, deltafile([first]))) == [APPLIED]
    (entry,) = apply(project, deltafile([second]), overwrite=overwrite).feedback
    assert sorted(c["field"] for c in entry["conflicts"] or []) == conflicting
    applies = overwrite or not conflicting
    assert entry["status"] == (APPLIED if applies else CONFLICT), entry
    result = features(project, "points")
    if case == "delete_against_patch":
        assert (1 not in result) == applies
        return
    if case == "same_attribute":
        assert result[1]["int"] == (666 if applies else 5)  # last wins, or the other client's value stays
    if case == "different_attributes":
        assert (result[1]["int"], result[1]["name"]) == (666, "uno")  # both changes kept
    if case == "geometry_against_attributes":
        assert result[1]["wkt"] == f"PointZ ({X0 + 5:.0f} {Y0 + 5:.0f} 400)"  # the other client's move stays
        assert result[1]["int"] == (666 if applies else 1)
