"""Packaging 100,000 point features: ``runner.worker package-local`` against ``ogr2ogr``.

Floor: ``ogr2ogr -f GPKG`` copying the same layer into a new GeoPackage (what any packager must at
least do: read every feature, write it with its spatial index). The figure is the whole
``/usr/bin/python3 -m runner.worker package-local`` process: QGIS start, opening the project,
checking its layers, writing data.gpkg and the packaged project, then reopening it. Both are
measured in this run on the same generated GeoPackage, best of ``SAMPLES``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.report import Report

FEATURES = 100_000
SAMPLES = 2
QGIS_PYTHON = "/usr/bin/python3"
SERVICES_DIR = Path(__file__).resolve().parents[1] / "services"
TIMEOUT_S = 300

# Run by /usr/bin/python3 (GDAL + PyQGIS): argv = project dir, feature count.
GENERATE = r"""
import pathlib, sys
from osgeo import ogr, osr
from qgis.core import QgsApplication, QgsCoordinateReferenceSystem, QgsProject, QgsVectorLayer

out, count = pathlib.Path(sys.argv[1]), int(sys.argv[2])
ogr.UseExceptions()
srs = osr.SpatialReference()
srs.ImportFromEPSG(2056)
source = ogr.GetDriverByName("GPKG").CreateDataSource(str(out / "points.gpkg"))
layer = source.CreateLayer("points", srs, ogr.wkbPoint, ["FID=fid", "GEOMETRY_NAME=geom"])
for name, kind in (("name", ogr.OFTString), ("category", ogr.OFTInteger), ("value", ogr.OFTReal),
                   ("observed", ogr.OFTDateTime)):
    layer.CreateField(ogr.FieldDefn(name, kind))
definition = layer.GetLayerDefn()
layer.StartTransaction()
for index in range(1, count + 1):
    feature = ogr.Feature(definition)
    feature.SetFID(index)
    feature.SetField("name", f"point {index}")
    feature.SetField("category", index % 17)
    feature.SetField("value", index * 0.25)
    feature.SetField("observed", 2024, 1 + index % 12, 1 + index % 28, index % 24, index % 60, 0.0, 100)
    x, y = 2600000.0 + (index % 400) * 25.0, 1200000.0 + (index // 400) * 25.0
    feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({x} {y})"))
    layer.CreateFeature(feature)
layer.CommitTransaction()
feature = layer = source = None

app = QgsApplication([], False)
app.initQgis()
project = QgsProject.instance()
project.setCrs(QgsCoordinateReferenceSystem("EPSG:2056"))
project.writeEntryBool("Paths", "/Absolute", False)
vector = QgsVectorLayer(f"{out / 'points.gpkg'}|layername=points", "points", "ogr")
assert vector.isValid() and vector.featureCount() == count, "the generated layer did not load"
project.addMapLayer(vector)
assert project.write(str(out / "project.qgs")), project.error()
project.clear()
vector = project = None
app.exitQgis()
"""


def _qgis_env(work: Path) -> dict[str, str]:
    runtime = Path(tempfile.mkdtemp(prefix="xdg-", dir=work))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        PYTHONPATH=str(SERVICES_DIR),
        QT_QPA_PLATFORM="offscreen",
        XDG_RUNTIME_DIR=str(runtime),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed


def generate_points_project(project_dir: Path, count: int, work: Path) -> None:
    """``project.qgs`` + ``points.gpkg`` with ``count`` points (also the compose tests' long package job)."""
    _timed([QGIS_PYTHON, "-c", GENERATE, str(project_dir), str(count)], _qgis_env(work))


def ogr2ogr_s(source: Path, work: Path) -> float:
    """Best time of ``ogr2ogr -f GPKG`` copying the points layer into a new GeoPackage."""
    times = []
    for sample in range(SAMPLES):
        target = work / f"ogr2ogr-{sample}.gpkg"
        times.append(_timed(["ogr2ogr", "-f", "GPKG", str(target), str(source), "points"]))
        target.unlink()
    return min(times)


def package_s(project_dir: Path, work: Path, env: dict[str, str]) -> float:
    """Best time of the worker's ``package-local`` on the generated project."""
    times = []
    for sample in range(SAMPLES):
        out = work / f"package-{sample}"
        command = ["package-local", str(project_dir), "project.qgs", str(out)]
        times.append(_timed([QGIS_PYTHON, "-m", "runner.worker", *command], env))
        shutil.rmtree(out)
    return min(times)


def run(report: Report, work: Path) -> None:
    missing = [tool for tool in (QGIS_PYTHON, "ogr2ogr") if shutil.which(tool) is None]
    if missing:
        why = f"not measured: {', '.join(missing)} not installed"
        report.add("ogr2ogr_100k_features_s", None, "s", notes=why)
        report.add("package_100k_features_s", None, "s", notes=why)
        return
    base = Path(tempfile.mkdtemp(prefix="package-", dir=work))
    try:
        env = _qgis_env(base)
        project_dir = base / "project"
        project_dir.mkdir()
        generate_points_project(project_dir, FEATURES, base)
        floor = ogr2ogr_s(project_dir / "points.gpkg", base)
        report.add(
            "ogr2ogr_100k_features_s",
            floor,
            "s",
            notes=f"ogr2ogr -f GPKG, {FEATURES} points with 4 attributes, best of {SAMPLES}",
        )
        value = package_s(project_dir, base, env)
        report.add(
            "package_100k_features_s",
            value,
            "s",
            floor="ogr2ogr_100k_features_s",
            floor_value=floor,
            notes=f"runner.worker package-local, whole process incl. QGIS start, best of {SAMPLES}",
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
