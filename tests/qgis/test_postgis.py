"""A PostGIS layer named by a pgservice service, against a real PostgreSQL + PostGIS on loopback.

The project holds only ``service='geodb'``: host, port, database and user come from the service file
the runner hands to the worker (``PGSERVICEFILE``, or ``PGSERVICE_FILE_CONTENTS`` written by the
worker itself). Checked: ``inspect`` sees a valid layer and its key; without the service file the
layer is reported invalid but the job does not fail; ``package-local`` copies the table offline
into data.gpkg with the same keys, values and geometries, and the package opens without the database.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import tempfile
import typing

import psycopg
import pytest

from common.devstack import PostgresServer

pytestmark = [pytest.mark.qgis, pytest.mark.timeout(120)]

SERVICE = "geodb"
DATABASE = "gis"
SETUP_SQL = [
    "CREATE EXTENSION postgis",
    """CREATE TABLE public.sites (
        id integer PRIMARY KEY,
        name text,
        seen_at timestamptz,
        geom geometry(Point, 2056)
    )""",
    """INSERT INTO public.sites (id, name, seen_at, geom) VALUES
        (3, 'alpha', '2024-05-06 07:08:09.123+00', ST_SetSRID(ST_MakePoint(2600000, 1200000), 2056)),
        (10, 'Ünïcode ✓', '2023-12-31 23:59:59+02', ST_SetSRID(ST_MakePoint(2600010.5, 1200020.25), 2056)),
        (42, NULL, NULL, ST_SetSRID(ST_MakePoint(2599990, 1199990), 2056)),
        (57, 'no geometry', '2020-02-29 12:00:00+00', NULL)""",
]
EXPECTED = {  # id -> (name, seen_at in UTC, WKT)
    3: ("alpha", "2024-05-06T07:08:09.123Z", "Point (2600000 1200000)"),
    10: ("Ünïcode ✓", "2023-12-31T21:59:59.000Z", "Point (2600010.5 1200020.25)"),
    42: (None, None, "Point (2599990 1199990)"),
    57: ("no geometry", "2020-02-29T12:00:00.000Z", None),
}


@pytest.fixture(scope="module")
def geodb() -> typing.Iterator[dict[str, str]]:
    """A private PostgreSQL with PostGIS and the ``sites`` table; yields the service's parameters."""
    base = pathlib.Path(tempfile.mkdtemp(prefix="outpost-postgis-"))
    base.chmod(0o711)  # the server runs as user postgres, which must reach its data dir
    server = PostgresServer(base / "pg")
    try:
        server.start()
        server.create_database(DATABASE)
        dsn = f"host=127.0.0.1 port={server.port} dbname={DATABASE} user=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in SETUP_SQL:
                conn.execute(statement)
        yield {"host": "127.0.0.1", "port": str(server.port), "dbname": DATABASE, "user": "postgres"}
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def service_text(params: dict[str, str]) -> str:
    return f"[{SERVICE}]\n" + "".join(f"{key}={value}\n" for key, value in params.items())


class WorkerEnv(typing.NamedTuple):
    """Extra environment of the worker: how the runner delivers (or does not deliver) the service."""

    service_file: dict[str, str]  # PGSERVICEFILE points at the job's pg_service.conf
    service_contents: dict[str, str]  # PGSERVICE_FILE_CONTENTS, which the worker writes itself
    no_service: dict[str, str]  # no service file anywhere libpq looks


@pytest.fixture
def worker_env(geodb: dict[str, str], tmp_path: pathlib.Path) -> WorkerEnv:
    job_dir = tmp_path / "job"  # where the runner puts a job's private files
    (job_dir / "sysconf").mkdir(parents=True)  # an empty PGSYSCONFDIR: no system-wide service file
    service_file = job_dir / "pg_service.conf"
    service_file.write_text(service_text(geodb), encoding="utf-8")
    service_file.chmod(0o600)
    isolated = {"PGSYSCONFDIR": str(job_dir / "sysconf"), "HOME": str(job_dir)}
    no_service = {**isolated, "PGSERVICEFILE": str(job_dir / "missing.conf")}
    return WorkerEnv(
        service_file={**isolated, "PGSERVICEFILE": str(service_file)},
        service_contents={**no_service, "PGSERVICE_FILE_CONTENTS": service_text(geodb)},
        no_service=no_service,
    )


@pytest.fixture
def project_dir(tmp_path: pathlib.Path, make_project, worker_env: WorkerEnv) -> pathlib.Path:
    source = tmp_path / "src"
    assert make_project("postgis", source, env=worker_env.service_file) == ["project.qgs"]
    return source


def _inspect(run_worker, directory: pathlib.Path, env: dict[str, str]) -> dict:
    done = run_worker("inspect", str(directory), "project.qgs", env=env)
    assert done.returncode == 0, done.stderr
    (layer,) = json.loads(done.stdout)["project_details"]["layers_by_id"].values()
    return layer


def test_project_names_only_the_service(project_dir: pathlib.Path, geodb: dict[str, str]) -> None:
    text = (project_dir / "project.qgs").read_text(encoding="utf-8")
    assert f"service='{SERVICE}'" in text
    assert geodb["port"] not in text
    assert "host=" not in text
    assert "user=" not in text


@pytest.mark.parametrize("delivery", ["service_file", "service_contents"])
def test_inspect_connects_through_the_service(
    project_dir: pathlib.Path, run_worker, worker_env: WorkerEnv, delivery: str
) -> None:
    layer = _inspect(run_worker, project_dir, getattr(worker_env, delivery))
    assert layer["name"] == "sites"
    assert layer["is_valid"] is True
    assert layer["error_code"] == "no_error"
    assert layer["provider_name"] == "postgres"
    assert layer["qfc_source_data_pk_name"] == "id"
    assert layer["crs"] == "EPSG:2056"
    assert layer["wkb_type"] == 1
    assert f"service='{SERVICE}'" in layer["datasource"]
    assert "host=" not in layer["datasource"]
    assert layer["filename"] == ""


def test_inspect_without_the_service_file(
    project_dir: pathlib.Path, run_worker, worker_env: WorkerEnv
) -> None:
    done = run_worker("inspect", str(project_dir), "project.qgs", env=worker_env.no_service)
    assert done.returncode == 0, done.stderr  # an unreachable layer is reported, the job succeeds
    (layer,) = json.loads(done.stdout)["project_details"]["layers_by_id"].values()
    assert layer["is_valid"] is False
    assert layer["error_code"] == "invalid_dataprovider"
    assert layer["provider_error_summary"] == f'Unable to connect to service "{SERVICE}".'
    assert "invalid_dataprovider" in done.stderr  # the layer check table names it


def _features(described: dict) -> dict[int, tuple]:
    (layer,) = described["layers"].values()
    assert layer["valid"], layer
    return {
        feature["attributes"]["id"]: (
            feature["attributes"]["name"],
            feature["attributes"]["seen_at"],
            feature["wkt"],
        )
        for feature in layer["features"]
    }


def test_package_local_copies_the_table_offline(
    project_dir: pathlib.Path, tmp_path: pathlib.Path, run_worker, describe_project, worker_env: WorkerEnv
) -> None:
    out = tmp_path / "out"
    done = run_worker("package-local", str(project_dir), "project.qgs", str(out), env=worker_env.service_file)
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert [item["name"] for item in output["files"]] == ["data.gpkg", "project_qfield.qgs"]
    (packaged,) = output["packaged_layers_by_id"].values()
    (original,) = output["layers_by_id"].values()
    assert packaged["id"] == original["id"]
    assert packaged["provider_name"] == "ogr"
    assert packaged["filename"] == "data.gpkg"
    assert packaged["qfc_source_data_pk_name"] == "id"
    assert packaged["wkb_type"] == original["wkb_type"] == 1
    text = (out / "project_qfield.qgs").read_text(encoding="utf-8")
    assert "service=" not in text
    assert "<datasource>./data.gpkg|layername=sites</datasource>" in text

    source = describe_project(project_dir / "project.qgs", env=worker_env.service_file)
    assert _features(source) == EXPECTED
    offline = describe_project(out / "project_qfield.qgs", env=worker_env.no_service)  # no database needed
    assert _features(offline) == EXPECTED
    (before,) = source["layers"].values()
    (after,) = offline["layers"].values()
    assert after["pk"] == ["id"]
    assert sorted(feature["id"] for feature in after["features"]) == sorted(EXPECTED)  # fid = source key
    assert [field[0] for field in after["fields"]] == [field[0] for field in before["fields"]]
    assert [field[1] for field in after["fields"][1:]] == [field[1] for field in before["fields"][1:]]
    assert after["crs"] == before["crs"] == "EPSG:2056"
