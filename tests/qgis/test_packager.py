"""``runner.worker package-local``: the packager on generated projects, checked by reopening in QGIS.

The packaged project is opened with tests/qgis/describe_project.py (real QGIS) and compared layer by
layer with the original: same ids, validity, CRS, geometry type, fields and types, features
(attributes and WKT geometries, incl. Z/M) and styles.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import typing

import pytest

pytestmark = [pytest.mark.qgis, pytest.mark.timeout(60)]

MULTI_PACKAGE_FILES = [
    "data.gpkg",
    "raster/dem.tif",
    "raster/dem.tif.aux.xml",
    "shapes/parcels.cpg",
    "shapes/parcels.dbf",
    "shapes/parcels.prj",
    "shapes/parcels.shp",
    "shapes/parcels.shx",
    "project_qfield.qgs",
]
OFFLINE_LAYERS = {"points", "lines", "polygons", "pointsm", "notes", "roads", "trees", "csv points"}
WKB = {"points": 1, "lines": 1002, "polygons": 6, "pointsm": 3001, "notes": 100, "roads": 5, "trees": 1}
NO_PK_SOURCES = {"roads", "trees", "csv points"}  # shapefile, GeoJSON, CSV: a new fid column is added


@pytest.fixture
def package_local(run_worker) -> typing.Callable[..., tuple[int, dict]]:
    """``package-local SRC FILE OUT`` -> (exit code, parsed JSON printed on stdout)."""

    def run(source: pathlib.Path, project_file: str, out: pathlib.Path) -> tuple[int, dict]:
        done = run_worker("package-local", str(source), project_file, str(out))
        assert done.returncode in (0, 1), done.stderr
        assert done.stdout.count("\n") == 1, done.stdout
        return done.returncode, json.loads(done.stdout)

    return run


def _hashes(root: pathlib.Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def multi(tmp_path: pathlib.Path, make_project, package_local) -> tuple[pathlib.Path, pathlib.Path, dict]:
    """The ``multi`` fixture packaged: (source dir, package dir, package-local output)."""
    source, out = tmp_path / "src", tmp_path / "out"
    make_project("multi", source)
    before = _hashes(source)
    code, output = package_local(source, "project.qgs", out)
    assert code == 0, output
    assert _hashes(source) == before, "packaging must not modify the project directory"
    return source, out, output


def test_multi_package_files(multi) -> None:
    source, out, output = multi
    assert [item["name"] for item in output["files"]] == MULTI_PACKAGE_FILES  # the .qgs comes last
    on_disk = _hashes(out)
    assert sorted(on_disk) == sorted(MULTI_PACKAGE_FILES), "the export dir holds nothing but the package"
    for item in output["files"]:
        assert item["sha256"] == on_disk[item["name"]]
        assert item["size"] == (out / item["name"]).stat().st_size
    for name in MULTI_PACKAGE_FILES[1:-1]:  # copied files are byte-identical to the sources
        assert on_disk[name] == hashlib.sha256((source / name).read_bytes()).hexdigest()
    assert not (out / "DCIM").exists()
    text = (out / "project_qfield.qgs").read_text(encoding="utf-8")
    assert str(source) not in text
    assert str(out) not in text
    assert "<datasource>./data.gpkg|layername=points</datasource>" in text
    assert "<datasource>./shapes/parcels.shp</datasource>" in text
    assert "<datasource>./raster/dem.tif</datasource>" in text


def test_multi_layers_data(multi) -> None:
    _source, _out, output = multi
    original = {data["name"]: data for data in output["layers_by_id"].values()}
    packaged = {data["name"]: data for data in output["packaged_layers_by_id"].values()}
    assert len(original) == 12
    assert original["broken"]["is_valid"] is False
    assert original["broken"]["error_code"] == "invalid_dataprovider"
    assert original["removed points"]["qfs_cloud_action"] == "remove"
    assert set(packaged) == OFFLINE_LAYERS | {"parcels", "dem"}
    assert all(data["is_valid"] and data["error_code"] == "no_error" for data in packaged.values())
    for name in OFFLINE_LAYERS:
        assert packaged[name]["id"] == original[name]["id"]
        assert packaged[name]["filename"] == "data.gpkg"
        assert packaged[name]["provider_name"] == "ogr"
        assert packaged[name]["crs"] == original[name]["crs"]
        assert packaged[name]["wkb_type"] == original[name]["wkb_type"]
        assert packaged[name]["qfc_source_data_pk_name"] == original[name]["qfc_source_data_pk_name"]
    assert {name: packaged[name]["wkb_type"] for name in WKB} == WKB
    assert packaged["points"]["qfc_source_data_pk_name"] == "fid"
    assert packaged["roads"]["qfc_source_data_pk_name"] == ""
    assert packaged["trees"]["crs"] == "EPSG:4326"
    assert packaged["parcels"]["filename"] == "shapes/parcels.shp"
    assert packaged["dem"]["filename"] == "raster/dem.tif"
    assert packaged["dem"]["provider_name"] == "gdal"


def _compare_vector(name: str, original: dict, packaged: dict) -> None:
    source_fields = [field[:2] for field in original["fields"]]
    packaged_fields = [field[:2] for field in packaged["fields"]]
    if name in NO_PK_SOURCES:
        assert packaged_fields[0] == ["fid", 4], name  # the new GeoPackage fid (Integer64)
        packaged_fields = packaged_fields[1:]
    assert packaged_fields == source_fields, name
    assert packaged["count"] == original["count"] == len(original["features"]) > 0, name
    for before, after in zip(original["features"], packaged["features"], strict=True):
        assert after["wkt"] == before["wkt"], name
        assert {key: after["attributes"][key] for key in before["attributes"]} == before["attributes"], name
        if name not in NO_PK_SOURCES:
            assert after["id"] == before["id"], name  # the source's integer key is the GeoPackage fid
    assert packaged["renderer"] == original["renderer"], name
    assert packaged["aliases"] == original["aliases"], name


def test_multi_packaged_project_matches_source(multi, describe_project) -> None:
    source, out, _output = multi
    original = describe_project(source / "project.qgs")
    packaged = describe_project(out / "project_qfield.qgs")
    assert packaged["crs"] == original["crs"] == "EPSG:2056"
    assert packaged["title"] == original["title"]
    by_name = {layer["name"]: layer for layer in packaged["layers"].values()}
    assert set(by_name) == OFFLINE_LAYERS | {"parcels", "dem"}
    for layer_id, after in packaged["layers"].items():
        before = original["layers"][layer_id]
        assert after["valid"], after["name"]
        assert after["name"] == before["name"]
        assert after["crs"] == before["crs"], after["name"]
        if after["type"] == 0:
            _compare_vector(after["name"], before, after)
    for name in OFFLINE_LAYERS:
        assert by_name[name]["source"] == f"{out / 'data.gpkg'}|layername={name.replace(' ', '_')}"
    points = by_name["points"]
    assert points["fields"][-1][:2] == ["upper_name", 10]  # an expression field, not a column
    assert points["features"][0]["attributes"]["upper_name"] == "ONE"
    assert by_name["polygons"]["subset"] == ""  # the filter was applied while packaging
    assert [f["attributes"]["area_name"] for f in by_name["polygons"]["features"]] == ["one part"]
    assert points["renderer"] == "categorizedSymbol"
    assert points["aliases"] == {"name": "Name alias"}
    first = points["features"][0]["attributes"]
    assert first["stamp"] == "2024-01-02T03:04:05.123Z"
    assert first["doc"] == {"a": [1, 2]}
    assert first["blob"] == "00ff"
    assert first["flag"] is True
    assert first["big"] == 2**40
    assert [feature["id"] for feature in points["features"]] == [3, 7, 11]
    assert by_name["pointsm"]["features"][0]["wkt"] == "PointZM (2600000 1200000 12.5 7)"
    assert by_name["lines"]["features"][0]["wkt"].startswith("LineStringZ (2600000 1200000 400")
    assert by_name["parcels"]["source"] == str(out / "shapes" / "parcels.shp")
    assert by_name["dem"]["provider"] == "gdal"
    assert by_name["dem"]["source"] == str(out / "raster" / "dem.tif")


def _feature_names(describe_project, project_file: pathlib.Path) -> dict[str, list[str]]:
    layers = describe_project(project_file)["layers"].values()
    return {layer["name"]: [f["attributes"]["name"] for f in layer["features"]] for layer in layers}


def test_aoi_only_features_in_the_area(tmp_path: pathlib.Path, make_project, package_local, describe_project):
    make_project("aoi", tmp_path / "src")
    code, output = package_local(tmp_path / "src", "project.qgs", tmp_path / "out")
    assert code == 0, output
    assert _feature_names(describe_project, tmp_path / "out" / "project_qfield.qgs") == {
        "points": ["p2", "p3", "p4", "q4"],  # q2 and q3 are inside the area's bbox but not the area
        "lines": ["crossing"],
        "notes": ["n1", "n2", "n3"],  # tables without geometry are copied whole
    }


def test_aoi_ignored_without_only_aoi(tmp_path: pathlib.Path, make_project, package_local, describe_project):
    make_project("aoi_all", tmp_path / "src")
    code, output = package_local(tmp_path / "src", "project.qgs", tmp_path / "out")
    assert code == 0, output
    names = _feature_names(describe_project, tmp_path / "out" / "project_qfield.qgs")
    assert len(names["points"]) == 20
    assert names["lines"] == ["crossing", "outside"]


def test_qgz_is_packaged_as_plain_qgs(tmp_path: pathlib.Path, make_project, package_local) -> None:
    make_project("qgz", tmp_path / "src")
    code, output = package_local(tmp_path / "src", "project.qgz", tmp_path / "out")
    assert code == 0, output
    assert [item["name"] for item in output["files"]] == ["data.gpkg", "project_qfield.qgs"]
    assert (tmp_path / "out" / "project_qfield.qgs").read_bytes().startswith(b"<!DOCTYPE qgis")
    (layer,) = output["packaged_layers_by_id"].values()
    assert layer["is_valid"] is True
    assert layer["filename"] == "data.gpkg"


@pytest.mark.parametrize(
    "case",
    [
        ("empty", "UNKNOWN", "The project has no layers"),
        ("missing_file", "UNKNOWN", "The packaged project would be empty"),
        ("broken", "INVALID_PROJECT_FILE", "Invalid QGIS project file"),
    ],
)
def test_unpackageable_projects_fail(
    tmp_path: pathlib.Path, make_project, package_local, case: tuple[str, str, str]
) -> None:
    kind, error_type, message = case
    make_project(kind, tmp_path / "src")
    code, output = package_local(tmp_path / "src", "project.qgs", tmp_path / "out")
    assert code == 1
    assert output["error_type"] == error_type
    assert output["error"].startswith(message), output


def test_missing_project_file_fails(tmp_path: pathlib.Path, make_project, package_local) -> None:
    make_project("simple", tmp_path / "src")
    code, output = package_local(tmp_path / "src", "other.qgs", tmp_path / "out")
    assert code == 1
    assert output["error_type"] == "FILE_NOT_FOUND"


def test_out_dir_must_be_empty(tmp_path: pathlib.Path, make_project, run_worker) -> None:
    make_project("simple", tmp_path / "src")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale.txt").write_text("x")
    done = run_worker("package-local", str(tmp_path / "src"), "project.qgs", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "must be an empty or new directory" in done.stderr
