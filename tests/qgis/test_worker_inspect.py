"""``runner.worker inspect``: validity, opening and project details of generated projects."""

from __future__ import annotations

import json
import pathlib
import zipfile

import pytest

pytestmark = [pytest.mark.qgis, pytest.mark.timeout(120)]


def _only_layer(details: dict) -> dict:
    layers = list(details["layers_by_id"].values())
    assert len(layers) == 1
    return layers[0]


def _assert_simple_details(details: dict) -> None:
    layer = _only_layer(details)
    assert layer["name"] == "points"
    assert layer["is_valid"] is True
    assert layer["error_code"] == "no_error"
    assert layer["crs"] == "EPSG:2056"
    assert layer["qfc_source_data_pk_name"] == "fid"
    assert layer["filename"] == "data.gpkg"
    assert layer["wkb_type"] == 1  # Point
    assert layer["type"] == 0
    assert layer["type_name"] == "Vector"
    assert layer["provider_name"] == "ogr"
    assert layer["qfs_action"] is None
    assert details["ordered_layer_ids"] == [layer["id"]]
    assert details["attachment_dirs"] == ["DCIM"]
    assert details["qgis_version"].startswith("3.")
    assert details["crs"] == "EPSG:2056"
    assert details["project_name"] == "simple"
    assert details["background_color"] == "#ffffff"
    assert details["extent"].startswith("POLYGON((2599000 1199000")


def test_simple_project_details(tmp_path: pathlib.Path, make_project, inspect) -> None:
    assert make_project("simple", tmp_path) == ["project.qgs", "data.gpkg"]
    code, output = inspect(tmp_path, "project.qgs")
    assert code == 0, output
    _assert_simple_details(output["project_details"])


def test_qgz_project_details(tmp_path: pathlib.Path, make_project, inspect) -> None:
    assert make_project("qgz", tmp_path) == ["project.qgz", "data.gpkg"]
    code, output = inspect(tmp_path, "project.qgz")
    assert code == 0, output
    _assert_simple_details(output["project_details"])


def test_broken_xml_names_line_and_column(tmp_path: pathlib.Path, make_project, inspect) -> None:
    make_project("broken", tmp_path)
    code, output = inspect(tmp_path, "project.qgs")
    assert code == 1
    assert output["error_type"] == "INVALID_PROJECT_FILE"
    assert output["error"] == (
        'Invalid QGIS project file "project.qgs": not well-formed (invalid token) at line 3, column 11'
    )


def test_missing_data_file_is_reported_not_fatal(tmp_path: pathlib.Path, make_project, inspect) -> None:
    make_project("missing_file", tmp_path)
    code, output = inspect(tmp_path, "project.qgs")
    assert code == 0, output
    layer = _only_layer(output["project_details"])
    assert layer["is_valid"] is False
    assert layer["error_code"] == "invalid_dataprovider"
    assert layer["error_summary"] == 'File "data.gpkg" missing.'
    assert layer["filename"] == "data.gpkg"


def test_invalid_layer_diagnostics(tmp_path: pathlib.Path, make_project, run_worker) -> None:
    make_project("invalid_layers", tmp_path)
    done = run_worker("inspect", str(tmp_path), "project.qgs")
    assert done.returncode == 0, done.stderr
    assert "hunter2" not in done.stdout + done.stderr
    layers = {
        layer["name"]: layer for layer in json.loads(done.stdout)["project_details"]["layers_by_id"].values()
    }
    assert not any(layer["is_valid"] for layer in layers.values())
    assert layers["pg_local"]["error_code"] == "invalid_dataprovider"
    assert layers["pg_local"]["provider_error_summary"] == 'Unable to connect to host "127.0.0.1".'
    assert layers["pg_local"]["filename"] == ""
    assert layers["pg_service"]["provider_error_summary"] == (
        'Unable to connect to service "outpost_no_such_service".'
    )
    assert layers["localized"]["error_code"] == "localized_dataprovider"
    assert layers["localized"]["is_localized"] is True
    assert layers["raster"]["type_name"] == "Raster"
    assert layers["raster"]["wkb_type"] is None
    assert layers["raster"]["error_summary"] == 'File "nothere.tif" missing.'
    table_header = "Layer Name | Layer Id | Is Valid | Status | Error Summary | Provider Summary"
    assert table_header.replace(" ", "") in done.stderr.replace(" ", "")


def test_missing_project_file(tmp_path: pathlib.Path, inspect) -> None:
    code, output = inspect(tmp_path, "nothere.qgs")
    assert code == 1
    assert output["error_type"] == "FILE_NOT_FOUND"
    assert output["error"] == 'Project file "nothere.qgs" does not exist'


def test_wrong_extension(tmp_path: pathlib.Path, inspect) -> None:
    (tmp_path / "project.txt").write_text("<qgis/>", encoding="utf-8")
    code, output = inspect(tmp_path, "project.txt")
    assert code == 1
    assert output["error_type"] == "INVALID_PROJECT_FILE"


def test_entity_declarations_rejected(tmp_path: pathlib.Path, inspect) -> None:
    (tmp_path / "project.qgs").write_text(
        '<!DOCTYPE qgis [<!ENTITY a "aaaaaaaaaa">]>\n<qgis>&a;</qgis>\n', encoding="utf-8"
    )
    code, output = inspect(tmp_path, "project.qgs")
    assert code == 1
    assert output["error_type"] == "INVALID_PROJECT_FILE"
    assert "entity" in output["error"]


def _write_zip(path: pathlib.Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"../evil.qgs": b"<qgis/>"}, 'unsafe member path "../evil.qgs"'),
        ({"/abs/project.qgs": b"<qgis/>"}, "unsafe member path"),
        ({"a.qgs": b"<qgis/>", "b.qgs": b"<qgis/>"}, "expected exactly one .qgs file, found 2"),
        ({"project.qgd": b""}, "expected exactly one .qgs file, found 0"),
    ],
)
def test_qgz_structure_rejected(tmp_path: pathlib.Path, inspect, members: dict, message: str) -> None:
    _write_zip(tmp_path / "project.qgz", members)
    code, output = inspect(tmp_path, "project.qgz")
    assert code == 1
    assert output["error_type"] == "INVALID_PROJECT_FILE"
    assert message in output["error"]


def test_qgz_zip_bomb_rejected(tmp_path: pathlib.Path, inspect) -> None:
    path = tmp_path / "project.qgz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("project.qgs", b"<qgis/>")
        with archive.open("project.qgd", "w") as member:
            chunk = bytes(1024 * 1024)
            for _ in range(64):
                member.write(chunk)
    assert path.stat().st_size < 1024 * 1024
    code, output = inspect(tmp_path, "project.qgz")
    assert code == 1
    assert output["error_type"] == "INVALID_PROJECT_FILE"
    assert "compression ratio" in output["error"]


def test_qgz_not_a_zip(tmp_path: pathlib.Path, inspect) -> None:
    (tmp_path / "project.qgz").write_bytes(b"this is not a zip file")
    code, output = inspect(tmp_path, "project.qgz")
    assert code == 1
    assert output["error_type"] == "INVALID_PROJECT_FILE"
    assert "not a valid zip" in output["error"]
