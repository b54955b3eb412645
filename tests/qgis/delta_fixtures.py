"""Fixture projects for the delta_apply tests (used by make_project.py; run with Debian's /usr/bin/python3).

``deltas``: project.qgs with
* ``points`` (data.gpkg, PointZ, key fid): name, int, status (DEFAULT 'new'), score (DEFAULT 42), day
  (date), stamp (datetime), flag (boolean), doc (JSON), blob (binary), real; fids 1, 2 and 3;
* ``roads`` (shapes/roads.shp, LineString) with an integer ``fid`` column, and ``nokey``
  (shapes/nokey.shp) without any key;
* ``trees`` (trees.geojson, EPSG:4326) with a ``fid`` property;
* ``notes``: notes.csv (+ .csvt) through OGR, editable, and ``notes (text)``: the same file through the
  read-only delimitedtext provider.
``deltas_postgis``: project.qgs with ``edits`` = PostGIS ``public.edits`` through ``service='geodb'``.
"""

from __future__ import annotations

import json
import pathlib
import typing

KINDS = ("deltas", "deltas_postgis")
X0, Y0 = 2600000.0, 1200000.0
Save = typing.Callable[..., None]
POINTS = [
    # fid, wkt, values
    (1, f"POINT Z ({X0} {Y0} 400)", {"name": "one", "int": 1, "status": "checked", "score": 7,
     "day": (2024, 1, 2, 0, 0, 0, 0), "stamp": (2024, 1, 2, 3, 4, 5.123, 100), "flag": 1,
     "doc": '{"a": [1, 2]}', "blob": b"\x00\xff", "real": 1.25}),
    (2, f"POINT Z ({X0 + 10} {Y0 + 10} 410)", {"name": "two", "int": 2, "status": "checked", "score": 8,
     "day": None, "stamp": None, "flag": 0, "doc": None, "blob": None, "real": None}),
    (3, f"POINT Z ({X0 + 20} {Y0 + 20} 420)", {"name": "three", "int": 3, "status": "checked", "score": 9,
     "day": None, "stamp": None, "flag": None, "doc": None, "blob": None, "real": None}),
]  # fmt: skip


def _srs(epsg: int = 2056) -> typing.Any:
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs


def _field(name: str, field_type: int, sub_type: int = 0, default: str | None = None) -> typing.Any:
    from osgeo import ogr

    definition = ogr.FieldDefn(name, field_type)
    definition.SetSubType(sub_type)
    if default is not None:
        definition.SetDefault(default)
    return definition


def _add(layer: typing.Any, wkt: str | None, feature_id: int | None = None, **values: typing.Any) -> None:
    from osgeo import ogr

    feature = ogr.Feature(layer.GetLayerDefn())
    if feature_id is not None:
        feature.SetFID(feature_id)
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


def write_points_gpkg(path: pathlib.Path) -> None:
    from osgeo import ogr

    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    points = source.CreateLayer("points", _srs(), ogr.wkbPoint25D, ["FID=fid", "GEOMETRY_NAME=geom"])
    for definition in (
        _field("name", ogr.OFTString),
        _field("int", ogr.OFTInteger),
        _field("status", ogr.OFTString, default="'new'"),
        _field("score", ogr.OFTInteger, default="42"),
        _field("day", ogr.OFTDate),
        _field("stamp", ogr.OFTDateTime),
        _field("flag", ogr.OFTInteger, ogr.OFSTBoolean),
        _field("doc", ogr.OFTString, ogr.OFSTJSON),
        _field("blob", ogr.OFTBinary),
        _field("real", ogr.OFTReal),
    ):
        points.CreateField(definition)
    for fid, wkt, values in POINTS:
        _add(points, wkt, fid, **values)
    source = None


def write_shapefile(path: pathlib.Path, geometry_type: int, key: bool, rows: list[tuple[str, dict]]) -> None:
    from osgeo import ogr

    path.parent.mkdir(parents=True, exist_ok=True)
    source = ogr.GetDriverByName("ESRI Shapefile").CreateDataSource(str(path))
    layer = source.CreateLayer(path.stem, _srs(), geometry_type, ["ENCODING=UTF-8"])
    if key:
        layer.CreateField(_field("fid", ogr.OFTInteger))
    name = _field("name", ogr.OFTString)
    name.SetWidth(30)
    layer.CreateField(name)
    layer.CreateField(_field("lanes", ogr.OFTInteger))
    for wkt, values in rows:
        _add(layer, wkt, **values)
    source = None


def write_geojson(path: pathlib.Path) -> None:
    features = [
        {"type": "Feature", "properties": {"fid": 1, "species": "oak", "height": 12.5},
         "geometry": {"type": "Point", "coordinates": [7.4386, 46.9511]}},
        {"type": "Feature", "properties": {"fid": 2, "species": "birch", "height": 3.0},
         "geometry": {"type": "Point", "coordinates": [7.44, 46.95]}},
    ]  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")


def make_deltas(out: pathlib.Path, save: Save) -> list[str]:
    from osgeo import ogr
    from qgis.core import QgsVectorLayer

    write_points_gpkg(out / "data.gpkg")
    roads = [
        (f"LINESTRING ({X0} {Y0}, {X0 + 100} {Y0})", {"fid": 1, "name": "main", "lanes": 2}),
        (f"LINESTRING ({X0} {Y0 + 5}, {X0} {Y0 + 105})", {"fid": 2, "name": "side", "lanes": 1}),
    ]
    write_shapefile(out / "shapes" / "roads.shp", ogr.wkbLineString, True, roads)
    write_shapefile(
        out / "shapes" / "nokey.shp", ogr.wkbPoint, False, [(f"POINT ({X0} {Y0})", {"name": "k"})]
    )
    write_geojson(out / "trees.geojson")
    (out / "notes.csv").write_text("fid,text,rank\n1,first,10\n2,second,20\n", encoding="utf-8")
    (out / "notes.csvt").write_text("Integer,String,Integer\n", encoding="utf-8")
    text_uri = f"file://{out / 'notes.csv'}?type=csv&geomType=none&detectTypes=yes"
    layers = [
        QgsVectorLayer(f"{out / 'data.gpkg'}|layername=points", "points", "ogr"),
        QgsVectorLayer(str(out / "shapes" / "roads.shp"), "roads", "ogr"),
        QgsVectorLayer(str(out / "shapes" / "nokey.shp"), "nokey", "ogr"),
        QgsVectorLayer(str(out / "trees.geojson"), "trees", "ogr"),
        QgsVectorLayer(str(out / "notes.csv"), "notes", "ogr"),
        QgsVectorLayer(text_uri, "notes (text)", "delimitedtext"),
    ]
    for layer in layers:
        if not layer.isValid():
            raise RuntimeError(f"fixture layer {layer.name()} did not load")
    save(out / "project.qgs", layers, "deltas")
    return sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file())


POSTGIS_SOURCE = "service='geodb' key='id' srid=2056 type=Point table=\"public\".\"edits\" (geom)"


def make_postgis(out: pathlib.Path, save: Save) -> list[str]:
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(POSTGIS_SOURCE, "edits", "postgres")
    if not layer.isValid():
        raise RuntimeError(f"the PostGIS layer did not load: {layer.dataProvider().error().summary()}")
    save(out / "project.qgs", [layer], "deltas_postgis")
    return ["project.qgs"]


def make(kind: str, out: pathlib.Path, save: Save) -> list[str]:
    """Create the delta fixture ``kind`` in ``out``; ``save`` is make_project.save_project."""
    if kind == "deltas":
        return make_deltas(out, save)
    return make_postgis(out, save)
