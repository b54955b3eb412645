"""Fixture projects for the packager (used by make_project.py; run with Debian's /usr/bin/python3).

``multi``: one project with every kind of layer the packager handles: a GeoPackage with points
(Point, many field types, sparse fids), lines (LineStringZ), polygons (MultiPolygon), pointsm
(PointZM) and a table without geometry; a shapefile (offline) and a shapefile marked ``copy``; a
GeoJSON in EPSG:4326; a CSV read as points; a GeoTIFF; a layer whose file is missing; a layer marked
``remove``; and a DCIM/ attachment that must stay out of the package.
``aoi`` / ``aoi_all``: points and lines spread around an L-shaped area of interest, with
``offlineCopyOnlyAoi`` on / off. ``empty``: a project without layers.
"""

from __future__ import annotations

import json
import pathlib
import struct
import typing

CRS = "EPSG:2056"
X0, Y0 = 2600000.0, 1200000.0
CLOUD_ACTION = "QFieldSync/cloud_action"
# L-shaped area: contains p2, p3, p4 (bottom row) and q4 (top row); q2 and q3 are in its bbox only.
AOI_WKT = (
    "POLYGON((2600150 1199950, 2600450 1199950, 2600450 1200350, 2600350 1200350, "
    "2600350 1200050, 2600150 1200050, 2600150 1199950))"
)
AOI_EXPECTED = {"points": ["p2", "p3", "p4", "q4"], "lines": ["crossing"], "notes": ["n1", "n2", "n3"]}
KINDS = ("multi", "aoi", "aoi_all", "empty")
Save = typing.Callable[..., None]


def _srs(epsg: int = 2056) -> typing.Any:
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs


def _add(layer: typing.Any, wkt: str | None, fid: int | None = None, **values: typing.Any) -> None:
    from osgeo import ogr

    feature = ogr.Feature(layer.GetLayerDefn())
    if fid is not None:
        feature.SetFID(fid)
    for name, value in values.items():
        if value is None:
            feature.SetFieldNull(name)
        elif isinstance(value, bytes):
            feature.SetFieldBinaryFromHexString(name, value.hex())
        elif isinstance(value, tuple):
            feature.SetField(name, *value)
        else:
            feature.SetField(name, value)
    if wkt is not None:
        feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
    layer.CreateFeature(feature)


def _fields(layer: typing.Any, specs: list[tuple[str, int, int]]) -> None:
    from osgeo import ogr

    for name, field_type, sub_type in specs:
        definition = ogr.FieldDefn(name, field_type)
        definition.SetSubType(sub_type)
        layer.CreateField(definition)


def write_multi_gpkg(path: pathlib.Path) -> None:
    """points (many field types, fids 3/7/11), lines (Z), polygons (multi), pointsm (ZM), notes (table)."""
    from osgeo import ogr

    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    points = source.CreateLayer("points", _srs(), ogr.wkbPoint, ["FID=fid"])
    _fields(
        points,
        [
            ("name", ogr.OFTString, ogr.OFSTNone),
            ("int", ogr.OFTInteger, ogr.OFSTNone),
            ("big", ogr.OFTInteger64, ogr.OFSTNone),
            ("real", ogr.OFTReal, ogr.OFSTNone),
            ("day", ogr.OFTDate, ogr.OFSTNone),
            ("stamp", ogr.OFTDateTime, ogr.OFSTNone),
            ("flag", ogr.OFTInteger, ogr.OFSTBoolean),
            ("blob", ogr.OFTBinary, ogr.OFSTNone),
            ("doc", ogr.OFTString, ogr.OFSTJSON),
        ],
    )
    _add(points, f"POINT ({X0} {Y0})", 3, name="one", int=1, big=2**40, real=1.25,
         day=(2024, 1, 2, 0, 0, 0, 0), stamp=(2024, 1, 2, 3, 4, 5.123, 100), flag=1, blob=b"\x00\xff",
         doc='{"a": [1, 2]}')  # fmt: skip
    _add(points, f"POINT ({X0 + 10} {Y0 + 10})", 7, name="two", int=None, big=-5, real=None, day=None,
         stamp=(2023, 12, 31, 23, 59, 59.0, 100), flag=0, blob=None, doc=None)  # fmt: skip
    _add(points, f"POINT ({X0 + 20} {Y0 - 10})", 11, name="Ünïcode ✓", int=-3, big=None, real=-0.5,
         day=(1999, 9, 9, 0, 0, 0, 0), stamp=None, flag=None, blob=b"", doc='["x"]')  # fmt: skip
    lines = source.CreateLayer("lines", _srs(), ogr.wkbLineString25D, ["FID=fid"])
    _fields(lines, [("label", ogr.OFTString, ogr.OFSTNone)])
    _add(lines, f"LINESTRING Z ({X0} {Y0} 400, {X0 + 50} {Y0 + 50} 410.5)", label="a")
    _add(lines, f"LINESTRING Z ({X0 - 50} {Y0} 1, {X0} {Y0 - 50} 2, {X0 + 5} {Y0 + 5} 3)", label="b")
    polygons = source.CreateLayer("polygons", _srs(), ogr.wkbMultiPolygon, ["FID=fid"])
    _fields(polygons, [("area_name", ogr.OFTString, ogr.OFSTNone)])
    square = f"(({X0} {Y0}, {X0 + 100} {Y0}, {X0 + 100} {Y0 + 100}, {X0} {Y0 + 100}, {X0} {Y0}))"
    hole = f"(({X0 + 200} {Y0}, {X0 + 300} {Y0}, {X0 + 300} {Y0 + 100}, {X0 + 200} {Y0}))"
    _add(polygons, f"MULTIPOLYGON ({square}, {hole})", area_name="two parts")
    _add(polygons, f"MULTIPOLYGON ({square})", area_name="one part")
    pointsm = source.CreateLayer("pointsm", _srs(), ogr.wkbPointZM, ["FID=fid"])
    _fields(pointsm, [("m_note", ogr.OFTString, ogr.OFSTNone)])
    _add(pointsm, f"POINT ZM ({X0} {Y0} 12.5 7)", 5, m_note="zm")
    _add(pointsm, f"POINT ZM ({X0 + 1} {Y0 + 1} -1 0.25)", 6, m_note="zm2")
    notes = source.CreateLayer("notes", None, ogr.wkbNone, ["FID=fid"])
    _fields(notes, [("text", ogr.OFTString, ogr.OFSTNone), ("rank", ogr.OFTInteger, ogr.OFSTNone)])
    for rank in (1, 2, 3):
        _add(notes, None, text=f"note {rank}", rank=rank)
    source = None


def write_shapefile(path: pathlib.Path, geometry_type: int, rows: list[tuple[str, dict]]) -> None:
    from osgeo import ogr

    path.parent.mkdir(parents=True, exist_ok=True)
    source = ogr.GetDriverByName("ESRI Shapefile").CreateDataSource(str(path))
    layer = source.CreateLayer(path.stem, _srs(), geometry_type, ["ENCODING=UTF-8"])
    name = ogr.FieldDefn("name", ogr.OFTString)
    name.SetWidth(20)
    layer.CreateField(name)
    layer.CreateField(ogr.FieldDefn("lanes", ogr.OFTInteger))
    layer.CreateField(ogr.FieldDefn("len", ogr.OFTReal))
    for wkt, values in rows:
        _add(layer, wkt, **values)
    source = None


def write_geojson(path: pathlib.Path) -> None:
    features = [
        {"type": "Feature", "properties": {"species": "oak", "height": 12.5, "age": 80},
         "geometry": {"type": "Point", "coordinates": [7.4386, 46.9511]}},
        {"type": "Feature", "properties": {"species": "birch", "height": None, "age": 7},
         "geometry": {"type": "Point", "coordinates": [7.44, 46.95]}},
    ]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")


def write_geotiff(path: pathlib.Path) -> None:
    """A 10x10 Float32 GeoTIFF in EPSG:2056 (no numpy needed)."""
    from osgeo import gdal

    path.parent.mkdir(parents=True, exist_ok=True)
    raster = gdal.GetDriverByName("GTiff").Create(str(path), 10, 10, 1, gdal.GDT_Float32)
    raster.SetGeoTransform((X0 - 500, 100.0, 0.0, Y0 + 500, 0.0, -100.0))
    raster.SetProjection(_srs().ExportToWkt())
    raster.GetRasterBand(1).WriteRaster(0, 0, 10, 10, struct.pack("<100f", *[float(i) for i in range(100)]))
    raster = None


def _categorized(layer: typing.Any, field: str) -> None:
    """A categorized renderer, so the test can see the style survived the new data source."""
    from qgis.core import QgsCategorizedSymbolRenderer, QgsRendererCategory, QgsSymbol

    categories = []
    for value in ("one", "two"):
        symbol = QgsSymbol.defaultSymbol(layer.geometryType())
        categories.append(QgsRendererCategory(value, symbol, value))
    layer.setRenderer(QgsCategorizedSymbolRenderer(field, categories))


def multi_layers(out: pathlib.Path) -> list[typing.Any]:
    from qgis.core import QgsField, QgsRasterLayer, QgsVectorLayer
    from qgis.PyQt.QtCore import QVariant

    csv = f"file://{out / 'table.csv'}?type=csv&xField=x&yField=y&crs={CRS}&detectTypes=yes&geomType=point"
    layers = [
        QgsVectorLayer(f"{out / 'data.gpkg'}|layername=points", "points", "ogr"),
        QgsVectorLayer(f"{out / 'data.gpkg'}|layername=lines", "lines", "ogr"),
        QgsVectorLayer(f"{out / 'data.gpkg'}|layername=polygons", "polygons", "ogr"),
        QgsVectorLayer(f"{out / 'data.gpkg'}|layername=pointsm", "pointsm", "ogr"),
        QgsVectorLayer(f"{out / 'data.gpkg'}|layername=notes", "notes", "ogr"),
        QgsVectorLayer(str(out / "shapes" / "roads.shp"), "roads", "ogr"),
        QgsVectorLayer(str(out / "shapes" / "parcels.shp"), "parcels", "ogr"),
        QgsVectorLayer(str(out / "trees.geojson"), "trees", "ogr"),
        QgsVectorLayer(csv, "csv points", "delimitedtext"),
        QgsRasterLayer(str(out / "raster" / "dem.tif"), "dem", "gdal"),
    ]
    for layer in layers:
        if not layer.isValid():
            raise RuntimeError(f"fixture layer {layer.name()} did not load")
    _categorized(layers[0], "name")
    layers[0].setFieldAlias(layers[0].fields().indexOf("name"), "Name alias")
    layers[0].addExpressionField('upper("name")', QgsField("upper_name", QVariant.String))
    layers[2].setSubsetString("\"area_name\" = 'one part'")  # only this feature is packaged
    layers[6].setCustomProperty(CLOUD_ACTION, "copy")
    removed = QgsVectorLayer(f"{out / 'data.gpkg'}|layername=points", "removed points", "ogr")
    removed.setCustomProperty(CLOUD_ACTION, "remove")
    broken = QgsVectorLayer(f"{out / 'missing.gpkg'}|layername=gone", "broken", "ogr")
    return [*layers, removed, broken]


def make_multi(out: pathlib.Path, save: Save) -> list[str]:
    write_multi_gpkg(out / "data.gpkg")
    road_rows = [
        (f"LINESTRING ({X0} {Y0}, {X0 + 100} {Y0})", {"name": "main", "lanes": 2, "len": 100.0}),
        (f"LINESTRING ({X0} {Y0 + 5}, {X0} {Y0 + 105})", {"name": None, "lanes": 1, "len": 100.5}),
    ]
    write_shapefile(out / "shapes" / "roads.shp", 2, road_rows)
    parcel = f"POLYGON (({X0} {Y0}, {X0 + 9} {Y0}, {X0 + 9} {Y0 + 9}, {X0} {Y0}))"
    write_shapefile(out / "shapes" / "parcels.shp", 3, [(parcel, {"name": "p1", "lanes": 0, "len": 0.5})])
    write_geojson(out / "trees.geojson")
    rows = ["x,y,name,count", f"{X0 + 1},{Y0 + 2},alpha,1", f"{X0 + 3.5},{Y0 + 4},beta,22", f"{X0},{Y0},,3"]
    (out / "table.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    write_geotiff(out / "raster" / "dem.tif")
    (out / "DCIM").mkdir(exist_ok=True)
    (out / "DCIM" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    save(out / "project.qgs", multi_layers(out), "multi")
    return sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file())


def write_aoi_gpkg(path: pathlib.Path) -> None:
    from osgeo import ogr

    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    points = source.CreateLayer("points", _srs(), ogr.wkbPoint, ["FID=fid"])
    _fields(points, [("name", ogr.OFTString, ogr.OFSTNone)])
    for index in range(10):
        _add(points, f"POINT ({X0 + 100 * index} {Y0})", name=f"p{index}")
        _add(points, f"POINT ({X0 + 100 * index} {Y0 + 300})", name=f"q{index}")
    lines = source.CreateLayer("lines", _srs(), ogr.wkbLineString, ["FID=fid"])
    _fields(lines, [("name", ogr.OFTString, ogr.OFSTNone)])
    _add(lines, f"LINESTRING ({X0 - 1000} {Y0 + 200}, {X0 + 1000} {Y0 + 200})", name="crossing")
    _add(lines, f"LINESTRING ({X0 - 1000} {Y0 + 1000}, {X0 + 1000} {Y0 + 1000})", name="outside")
    notes = source.CreateLayer("notes", None, ogr.wkbNone, ["FID=fid"])
    _fields(notes, [("name", ogr.OFTString, ogr.OFSTNone)])
    for index in (1, 2, 3):
        _add(notes, None, name=f"n{index}")
    source = None


def make_aoi(out: pathlib.Path, save: Save, only_aoi: bool) -> list[str]:
    from qgis.core import QgsVectorLayer

    write_aoi_gpkg(out / "data.gpkg")
    layers = [QgsVectorLayer(f"{out / 'data.gpkg'}|layername={name}", name, "ogr") for name in AOI_EXPECTED]
    entries = {"areaOfInterest": AOI_WKT, "areaOfInterestCrs": CRS, "offlineCopyOnlyAoi": only_aoi}
    save(out / "project.qgs", layers, "aoi", entries)
    return ["data.gpkg", "project.qgs"]


def make(kind: str, out: pathlib.Path, save: Save) -> list[str]:
    """Create the packager fixture ``kind`` in ``out``; ``save`` is make_project.save_project."""
    if kind == "multi":
        return make_multi(out, save)
    if kind in ("aoi", "aoi_all"):
        return make_aoi(out, save, only_aoi=kind == "aoi")
    save(out / "project.qgs", [], "empty")
    return ["project.qgs"]
