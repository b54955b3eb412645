"""Mapping of QGIS fields, values and geometries to OGR, for writing the offline GeoPackage.

Features are read through QGIS (so any provider works: ogr, postgres, delimitedtext, memory, ...)
and written with OGR, which keeps what ``QgsVectorFileWriter`` 3.22 loses: milliseconds and time
zones of DateTime values, JSON/list fields (the writer drops them) and exact control over the FID.
"""

from __future__ import annotations

import json
import typing

# QVariant.Type values (stable Qt 5 numbers; avoids importing Qt in this mapping table).
BOOL, INT, UINT, LONGLONG, ULONGLONG, DOUBLE = 1, 2, 3, 4, 5, 6
MAP, LIST, STRING, STRINGLIST, BYTEARRAY = 8, 9, 10, 11, 12
DATE, TIME, DATETIME = 14, 15, 16
INTEGER_TYPES = (INT, UINT, LONGLONG, ULONGLONG)
JSON_TYPES = (MAP, LIST, STRINGLIST)
UTC_FLAG = 100  # OGR time zone flag for UTC; 100 + n means +n quarter-hours


def ogr_field_defn(field: typing.Any) -> typing.Any:
    """An OGR field definition keeping the QGIS field's type (and length for strings)."""
    from osgeo import ogr

    qtype = int(field.type())
    simple = {
        INT: ogr.OFTInteger,
        UINT: ogr.OFTInteger64,
        LONGLONG: ogr.OFTInteger64,
        ULONGLONG: ogr.OFTInteger64,
        DOUBLE: ogr.OFTReal,
        DATE: ogr.OFTDate,
        DATETIME: ogr.OFTDateTime,
        BYTEARRAY: ogr.OFTBinary,
        BOOL: ogr.OFTInteger,
    }
    defn = ogr.FieldDefn(field.name(), simple.get(qtype, ogr.OFTString))
    if qtype == BOOL:
        defn.SetSubType(ogr.OFSTBoolean)
    elif qtype in JSON_TYPES:  # GeoPackage has no list types: JSON text, read back as a JSON field
        defn.SetSubType(ogr.OFSTJSON)
    elif qtype == STRING and 0 < field.length() < 2**31 - 1:
        defn.SetWidth(field.length())
    elif qtype == DOUBLE and field.length() > 0:
        defn.SetWidth(field.length())
        defn.SetPrecision(max(field.precision(), 0))
    return defn


def is_null(value: typing.Any) -> bool:
    """PyQGIS 3.22 hands out NULL as a null QVariant (and invalid dates as null QDate/QDateTime)."""
    if value is None:
        return True
    is_null_method = getattr(value, "isNull", None)
    return (
        bool(is_null_method())
        if callable(is_null_method) and type(value).__module__.startswith("PyQt")
        else False
    )


def set_value(feature: typing.Any, index: int, qtype: int, value: typing.Any) -> None:
    """Write one attribute value, converting Qt types to what OGR expects for the field."""
    kind = type(value)
    if kind in _PLAIN_SETTERS and qtype not in JSON_TYPES:  # the common case, without the checks below
        _PLAIN_SETTERS[kind](feature, index, value)
        return
    if is_null(value):
        feature.SetFieldNull(index)
        return
    kind = type(value).__name__
    if kind == "QDateTime":
        _set_datetime(feature, index, value)
    elif kind == "QDate":
        feature.SetField(index, value.year(), value.month(), value.day(), 0, 0, 0.0, 0)
    elif kind == "QTime":
        feature.SetField(index, value.toString("HH:mm:ss.zzz" if value.msec() else "HH:mm:ss"))
    elif kind == "QByteArray" or isinstance(value, (bytes, bytearray)):
        feature.SetFieldBinaryFromHexString(index, bytes(value).hex())
    elif qtype in JSON_TYPES or isinstance(value, (dict, list, tuple)):
        feature.SetField(index, json.dumps(_plain(value), ensure_ascii=False))
    elif isinstance(value, bool):
        feature.SetField(index, int(value))
    elif isinstance(value, (int, float, str)):
        feature.SetField(index, value)
    else:
        feature.SetField(index, str(value))


def _set_string(feature: typing.Any, index: int, value: str) -> None:
    feature.SetFieldString(index, value)


def _set_integer(feature: typing.Any, index: int, value: int) -> None:
    feature.SetFieldInteger64(index, value)


def _set_double(feature: typing.Any, index: int, value: float) -> None:
    feature.SetField(index, value)  # GDAL's Python binding has no SetFieldDouble


# What ``ogr.Feature.SetField`` itself calls for these exact Python types (not ``bool``, which
# ``set_value`` writes as 0/1); calling them directly skips its argument dispatch for every value.
_PLAIN_SETTERS: dict[type, typing.Callable[[typing.Any, int, typing.Any], None]] = {
    str: _set_string,
    int: _set_integer,
    float: _set_double,
}


def _set_datetime(feature: typing.Any, index: int, value: typing.Any) -> None:
    """Keep milliseconds and the time zone; local times are stored as UTC, like QGIS reads them back."""
    spec = int(value.timeSpec())
    if spec == 2:  # Qt.OffsetFromUTC
        flag = UTC_FLAG + value.offsetFromUtc() // 900
    else:  # LocalTime, UTC or TimeZone: an absolute instant, written in UTC
        value, flag = value.toUTC(), UTC_FLAG
    date, time = value.date(), value.time()
    seconds = time.second() + time.msec() / 1000.0
    feature.SetField(index, date.year(), date.month(), date.day(), time.hour(), time.minute(), seconds, flag)


def _plain(value: typing.Any) -> typing.Any:
    """JSON-able copy of a QGIS map/list value (nested Qt values become strings)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if is_null(value):
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    to_string = getattr(value, "toString", None)
    return (
        to_string(1) if type(value).__name__.startswith("QDate") else str(to_string() if to_string else value)
    )


def ogr_geometry_type(wkb_type: typing.Any) -> int:
    """The OGR geometry type with the same base type and Z/M dimensions as a QGIS WKB type."""
    from osgeo import ogr
    from qgis.core import QgsWkbTypes

    if wkb_type == QgsWkbTypes.NoGeometry:
        return ogr.wkbNone
    flat = int(QgsWkbTypes.flatType(wkb_type))
    return ogr.GT_SetModifier(flat, int(QgsWkbTypes.hasZ(wkb_type)), int(QgsWkbTypes.hasM(wkb_type)))


def geometry_converter(wkb_type: typing.Any) -> typing.Callable[[typing.Any], typing.Any]:
    """``ogr_geometry`` for one layer, with the imports done once: it runs for every feature."""
    from osgeo import ogr

    from_wkb = ogr.CreateGeometryFromWkb

    def convert(geometry: typing.Any) -> typing.Any:
        if geometry is None or geometry.isNull():
            return None
        if geometry.wkbType() == wkb_type:  # already the layer's exact type: nothing to coerce
            return from_wkb(bytes(geometry.asWkb()))
        return ogr_geometry(geometry, wkb_type)

    return convert


def ogr_geometry(geometry: typing.Any, wkb_type: typing.Any) -> typing.Any:
    """Convert a QGIS geometry to OGR, coerced to the layer's single/multi type and Z/M dimensions."""
    from osgeo import ogr
    from qgis.core import QgsGeometry, QgsWkbTypes

    if geometry is None or geometry.isNull():
        return None
    if QgsWkbTypes.flatType(wkb_type) in (QgsWkbTypes.Unknown, QgsWkbTypes.GeometryCollection):
        return ogr.CreateGeometryFromWkb(bytes(geometry.asWkb()))  # a generic layer takes any geometry
    geometry = QgsGeometry(geometry)  # a copy: the coercions below modify it
    if QgsWkbTypes.isMultiType(wkb_type) and not geometry.isMultipart():
        geometry.convertToMultiType()
    elif not QgsWkbTypes.isMultiType(wkb_type) and geometry.isMultipart() and _part_count(geometry) == 1:
        geometry.convertToSingleType()
    abstract = geometry.get()
    if QgsWkbTypes.hasZ(wkb_type) and not abstract.is3D():
        abstract.addZValue(0.0)
    elif not QgsWkbTypes.hasZ(wkb_type) and abstract.is3D():
        abstract.dropZValue()
    if QgsWkbTypes.hasM(wkb_type) and not abstract.isMeasure():
        abstract.addMValue(0.0)
    elif not QgsWkbTypes.hasM(wkb_type) and abstract.isMeasure():
        abstract.dropMValue()
    return ogr.CreateGeometryFromWkb(bytes(geometry.asWkb()))


def _part_count(geometry: typing.Any) -> int:
    return int(geometry.constGet().partCount())
