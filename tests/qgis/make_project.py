"""Generate QGIS test projects with PyQGIS + GDAL/OGR (run with Debian's /usr/bin/python3).

Usage: ``/usr/bin/python3 tests/qgis/make_project.py KIND OUT_DIR`` with KIND one of
``simple`` (project.qgs + data.gpkg), ``qgz`` (project.qgz + data.gpkg), ``broken`` (a project.qgs
that is not well-formed XML), ``missing_file`` (project.qgs whose data.gpkg was removed) and
``invalid_layers`` (project.qgs with unreachable PostGIS layers, a localized and a missing raster),
``empty`` (project.qgs without layers), the packager fixtures ``multi``, ``aoi`` and ``aoi_all``
(see package_fixtures.py), ``postgis`` (project.qgs with the PostGIS table ``public.sites``
through ``service='geodb'``; the service must be reachable: set PGSERVICEFILE) and the delta_apply
fixtures ``deltas`` and ``deltas_postgis`` (see delta_fixtures.py).
Prints the list of written files (relative to OUT_DIR) as JSON on stdout.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import tempfile
import typing

CRS = "EPSG:2056"
POINT = (2600000.0, 1200000.0)
CANVAS_EXTENT = (2599000.0, 1199000.0, 2601000.0, 1201000.0)
BROKEN_QGS = """<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis projectname="broken" version="3.22.16-Białowieża">
  <title>&& broken</title>
</qgis>
"""


def write_gpkg(path: pathlib.Path) -> None:
    """points layer: INTEGER PK fid, name TEXT, int INTEGER, one feature (fid=1, int=1, name "one")."""
    from osgeo import ogr, osr

    ogr.UseExceptions()
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(2056)
    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = source.CreateLayer("points", srs, ogr.wkbPoint, ["FID=fid", "GEOMETRY_NAME=geom"])
    layer.CreateField(ogr.FieldDefn("name", ogr.OFTString))
    layer.CreateField(ogr.FieldDefn("int", ogr.OFTInteger))
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetFID(1)
    feature.SetField("name", "one")
    feature.SetField("int", 1)
    feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({POINT[0]} {POINT[1]})"))
    layer.CreateFeature(feature)
    feature = layer = source = None


def add_canvas(document: typing.Any) -> None:
    """Write a ``theMapCanvas`` element like the QGIS desktop does (there is no canvas headless)."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsMapSettings, QgsRectangle

    settings = QgsMapSettings()
    settings.setDestinationCrs(QgsCoordinateReferenceSystem(CRS))
    settings.setExtent(QgsRectangle(*CANVAS_EXTENT))
    canvas = document.createElement("mapcanvas")
    canvas.setAttribute("name", "theMapCanvas")
    settings.writeXml(canvas, document)
    document.documentElement().appendChild(canvas)


def write_project(out_dir: pathlib.Path, project_name: str) -> None:
    """Save a project with the points layer of ./data.gpkg, using relative paths."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsProject, QgsVectorLayer

    project = QgsProject.instance()
    project.clear()
    project.setTitle("simple")
    project.setCrs(QgsCoordinateReferenceSystem(CRS))
    project.writeEntryBool("Paths", "/Absolute", False)
    layer = QgsVectorLayer(f"{out_dir / 'data.gpkg'}|layername=points", "points", "ogr")
    if not layer.isValid():
        raise RuntimeError("the generated data.gpkg did not load")
    project.addMapLayer(layer)
    project.writeProject.connect(add_canvas)
    try:
        if not project.write(str(out_dir / project_name)):
            raise RuntimeError(f"cannot write project: {project.error()}")
    finally:
        project.writeProject.disconnect(add_canvas)
        project.clear()
    layer = project = None


INVALID_SOURCES = {
    "pg_local": (
        "postgres",
        "host=127.0.0.1 port=1 dbname='gis' user='u' password='hunter2' sslmode=disable key='id' "
        'srid=2056 type=Point table="public"."t" (geom)',
    ),
    "pg_service": ("postgres", "service='outpost_no_such_service' key='id' table=\"public\".\"t\" (geom)"),
    "localized": ("ogr", "localized:shared.gpkg|layername=points"),
}


def write_invalid_layers_project(out_dir: pathlib.Path) -> None:
    """Save a project whose layers cannot load here: QGIS keeps them as invalid ("bad") layers."""
    from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer

    project = QgsProject.instance()
    project.clear()
    project.setTitle("invalid_layers")
    layers = [QgsVectorLayer(source, name, provider) for name, (provider, source) in INVALID_SOURCES.items()]
    layers.append(QgsRasterLayer(str(out_dir / "nothere.tif"), "raster", "gdal"))
    project.addMapLayers(layers)
    try:
        if not project.write(str(out_dir / "project.qgs")):
            raise RuntimeError(f"cannot write project: {project.error()}")
    finally:
        project.clear()
    layers = project = None


PG_SERVICE = "geodb"
PG_SOURCE = f"service='{PG_SERVICE}' key='id' srid=2056 type=Point table=\"public\".\"sites\" (geom)"


def write_postgis_project(out_dir: pathlib.Path) -> None:
    """A project whose only layer is a PostGIS table named by service: no host, port or user in it."""
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(PG_SOURCE, "sites", "postgres")
    if not layer.isValid():
        raise RuntimeError(f"the PostGIS layer did not load: {layer.dataProvider().error().summary()}")
    save_project(out_dir / "project.qgs", [layer], "postgis")


def save_project(
    path: pathlib.Path, layers: list[typing.Any], title: str, entries: dict[str, typing.Any] | None = None
) -> None:
    """Save ``layers`` (and QFieldSync project entries) as a project with relative paths and a canvas."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsProject

    project = QgsProject.instance()
    project.clear()
    project.setTitle(title)
    project.setCrs(QgsCoordinateReferenceSystem(CRS))
    project.writeEntryBool("Paths", "/Absolute", False)
    for key, value in (entries or {}).items():
        if isinstance(value, bool):
            project.writeEntryBool("QFieldSync", key, value)
        else:
            project.writeEntry("QFieldSync", key, value)
    project.addMapLayers(layers)
    project.writeProject.connect(add_canvas)
    try:
        if not project.write(str(path)):
            raise RuntimeError(f"cannot write project: {project.error()}")
    finally:
        project.writeProject.disconnect(add_canvas)
        project.clear()
    layers = project = None


def make(kind: str, out_dir: pathlib.Path) -> list[str]:
    """Create the fixture of ``kind`` in ``out_dir``; return the file names written."""
    import delta_fixtures
    import package_fixtures

    fixture_modules = (package_fixtures, delta_fixtures)
    for module in fixture_modules:
        if kind in module.KINDS:
            return module.make(kind, out_dir, save_project)
    if kind == "broken":
        (out_dir / "project.qgs").write_text(BROKEN_QGS, encoding="utf-8")
        return ["project.qgs"]
    if kind == "invalid_layers":
        write_invalid_layers_project(out_dir)
        return ["project.qgs"]
    if kind == "postgis":
        write_postgis_project(out_dir)
        return ["project.qgs"]
    write_gpkg(out_dir / "data.gpkg")
    project_name = "project.qgz" if kind == "qgz" else "project.qgs"
    write_project(out_dir, project_name)
    if kind == "missing_file":
        (out_dir / "data.gpkg").unlink()
        return [project_name]
    return [project_name, "data.gpkg"]


def main(argv: list[str]) -> int:
    import delta_fixtures
    import package_fixtures

    kinds = (
        "simple",
        "broken",
        "missing_file",
        "qgz",
        "invalid_layers",
        "postgis",
        *package_fixtures.KINDS,
        *delta_fixtures.KINDS,
    )
    if len(argv) != 2 or argv[0] not in kinds:
        print(f"usage: make_project.py {{{'|'.join(kinds)}}} OUT_DIR", file=sys.stderr)
        return 2
    kind, out_dir = argv[0], pathlib.Path(argv[1]).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if kind == "broken":
        print(json.dumps(make(kind, out_dir)))
        return 0
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if "XDG_RUNTIME_DIR" not in os.environ:
        os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="xdg-")
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    try:
        written = make(kind, out_dir)
    finally:
        app.exitQgis()
    print(json.dumps(written))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
