"""Attribute values and geometries of deltas: JSON <-> QGIS conversion and tolerant comparison.

A delta carries values as QField wrote them to JSON (``QJsonValue::fromVariant``): dates as ISO
text, booleans as JSON booleans (or 0/1), JSON fields as objects or as text, binary fields as
base64 text. Comparing them with what the layer holds now must not report a conflict for
``"5"`` vs ``5``, ``1.0`` vs ``1``, ``"2024-01-02T03:04:05.000Z"`` vs a QDateTime, or ``'{"a": 1}'``
vs a JSON map; and a value written to a field must have the field's type, or the delta fails with a
clear message instead of QGIS silently storing NULL.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import re
import typing

from runner.worker.ogr_values import (
    BOOL,
    BYTEARRAY,
    DATE,
    DATETIME,
    DOUBLE,
    INTEGER_TYPES,
    JSON_TYPES,
    TIME,
    is_null,
)

_NAN_RE = re.compile(r"(?<![\w.])[-+]?nan(?![\w.])", re.IGNORECASE)
_BASE64_RE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_BASE64URL_RE = re.compile(r"(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?")
_TRUE = frozenset({"true", "t", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "f", "0", "no", "n", "off"})
REL_TOLERANCE = 1e-12
ABS_TOLERANCE = 1e-9


class DeltaValueError(ValueError):
    """A delta value that cannot be given the field's type (the message names value and type)."""


# --- JSON-safe output -------------------------------------------------------------------------


def plain(value: typing.Any) -> typing.Any:
    """A JSON-safe copy of a QGIS attribute value: dates as ISO text, bytes as base64, NULL as None."""
    if is_null(value) or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    kind = "QByteArray" if isinstance(value, bytes | bytearray) else type(value).__name__
    converter = _QT_PLAIN.get(kind)
    return converter(value) if converter is not None else str(value)


def _base64_text(value: typing.Any) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


def _qdate_text(value: typing.Any) -> str:
    return str(value.toString("yyyy-MM-dd"))


def _qtime_text(value: typing.Any) -> str:
    return str(value.toString("HH:mm:ss.zzz" if value.msec() else "HH:mm:ss"))


def _qdatetime_text(value: typing.Any) -> str:
    spec = int(value.timeSpec())  # 0 local, 1 UTC, 2 offset, 3 time zone
    text = value.toString("yyyy-MM-ddTHH:mm:ss.zzz")
    if spec == 1:
        return text + "Z"
    if spec in (2, 3):
        offset = value.offsetFromUtc()
        sign = "+" if offset >= 0 else "-"
        hours, minutes = divmod(abs(offset) // 60, 60)
        return f"{text}{sign}{hours:02d}:{minutes:02d}"
    return text


_QT_PLAIN: dict[str, typing.Callable[[typing.Any], str]] = {
    "QByteArray": _base64_text,
    "QDateTime": _qdatetime_text,
    "QDate": _qdate_text,
    "QTime": _qtime_text,
}


# --- canonical values for comparison ----------------------------------------------------------


def canonical(field_type: int, value: typing.Any) -> typing.Any:
    """The value as a plain Python object of the field's kind; raises ``DeltaValueError`` if impossible.

    ``value`` is a JSON value of a delta or a ``plain()`` copy of a layer value.
    """
    if value is None:
        return None
    return _CONVERTERS.get(field_type, _to_text)(value)


def _to_text(value: typing.Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fail(value: typing.Any, kind: str) -> DeltaValueError:
    return DeltaValueError(f"{json.dumps(value, ensure_ascii=False, default=str)} is not a valid {kind}")


def _to_bool(value: typing.Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _fail(value, "boolean")


def _to_int(value: typing.Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if math.isfinite(number) and number.is_integer():
                return int(number)
    raise _fail(value, "integer")


def _to_float(value: typing.Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise _fail(value, "number")


def _iso(value: typing.Any, kind: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(value, kind)
    text = value.strip().replace(" ", "T", 1) if kind != "time" else value.strip()
    return text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text


def _to_date(value: typing.Any) -> datetime.date:
    text = _iso(value, "date")
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        raise _fail(value, "date") from None


def _to_datetime(value: typing.Any) -> datetime.datetime:
    text = _iso(value, "date and time")
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise _fail(value, "date and time") from None
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)  # Qt keeps milliseconds


def _to_time(value: typing.Any) -> datetime.time:
    text = _iso(value, "time")
    try:
        parsed = datetime.time.fromisoformat(text)
    except ValueError:
        raise _fail(value, "time") from None
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000, tzinfo=None)


def _to_json(value: typing.Any) -> typing.Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value  # a plain string in a JSON field
    return value


def _to_bytes(value: typing.Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list) and all(isinstance(item, int) and 0 <= item < 256 for item in value):
        return bytes(value)
    if isinstance(value, str):
        decoded = _base64(value.strip())
        return decoded if decoded is not None else value.encode("utf-8")
    raise _fail(value, "binary value (base64 text)")


def _base64(text: str) -> bytes | None:
    """Standard or URL-safe base64, padding optional (Qt 6 writes base64url); None if it is neither."""
    padded = text + "=" * (-len(text) % 4)
    if _BASE64_RE.fullmatch(padded):
        return base64.b64decode(padded)
    if _BASE64URL_RE.fullmatch(padded):
        return base64.urlsafe_b64decode(padded)
    return None


_CONVERTERS: dict[int, typing.Callable[[typing.Any], typing.Any]] = {
    BOOL: _to_bool,
    DOUBLE: _to_float,
    DATE: _to_date,
    DATETIME: _to_datetime,
    TIME: _to_time,
    BYTEARRAY: _to_bytes,
    **dict.fromkeys(INTEGER_TYPES, _to_int),
    **dict.fromkeys(JSON_TYPES, _to_json),
}


def equal(field_type: int, left: typing.Any, right: typing.Any) -> bool:
    """Whether two values (JSON or ``plain()``) mean the same for a field of ``field_type``."""
    try:
        a, b = canonical(field_type, left), canonical(field_type, right)
    except DeltaValueError:
        return _loose_text(left) == _loose_text(right)
    return same(a, b)


def same(a: typing.Any, b: typing.Any) -> bool:
    """Equality of canonical values: floats with a tolerance, naive vs aware times by wall clock."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return _number(a) and _number(b) and _close(float(a), float(b))
    if isinstance(a, datetime.datetime | datetime.time) and isinstance(b, datetime.datetime | datetime.time):
        return _same_time(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return (type(a) is type(b) or (_number(a) and _number(b))) and a == b


def _number(value: typing.Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_time(a: typing.Any, b: typing.Any) -> bool:
    """Times and date-times; naive vs aware by wall clock (QGIS 3.22 reads GeoPackage times as naive),
    and to the second when one side has no sub-second part (QGIS 3.22's OGR provider drops it)."""
    if (
        isinstance(a, datetime.datetime)
        and isinstance(b, datetime.datetime)
        and (a.tzinfo is None) != (b.tzinfo is None)
    ):
        a, b = _wall_clock(a), _wall_clock(b)
    if type(a) is not type(b):
        return False
    if a.microsecond == 0 or b.microsecond == 0:
        a, b = a.replace(microsecond=0), b.replace(microsecond=0)
    return bool(a == b)


def _wall_clock(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(datetime.UTC).replace(tzinfo=None)


def _loose_text(value: typing.Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else str(value)


# --- values written to a layer ----------------------------------------------------------------


def to_qgis(field: typing.Any, value: typing.Any) -> typing.Any:
    """A value for ``QgsFeature.setAttribute`` / ``changeAttributeValue`` with the field's type."""
    field_type = int(field.type())
    try:
        converted = canonical(field_type, value)
    except DeltaValueError as error:
        raise DeltaValueError(f'{error} for field "{field.name()}" ({field.typeName()})') from None
    return None if converted is None else _qt_value(field_type, converted)


def _qt_value(field_type: int, converted: typing.Any) -> typing.Any:
    """Qt types for dates, times and bytes; everything else is already what PyQGIS takes."""
    from qgis.PyQt.QtCore import QByteArray, QDate, QDateTime, Qt, QTime

    if field_type == BYTEARRAY:
        return QByteArray(converted)
    if field_type not in (DATE, TIME, DATETIME):
        return converted
    if field_type == DATE:
        return QDate(converted.year, converted.month, converted.day)
    if field_type == DATETIME and converted.tzinfo is not None:
        converted = converted.astimezone(datetime.UTC)  # stored as UTC, like GeoPackage wants it
    time = QTime(converted.hour, converted.minute, converted.second, converted.microsecond // 1000)
    if field_type == TIME:
        return time
    date = QDate(converted.year, converted.month, converted.day)
    return QDateTime(date, time) if converted.tzinfo is None else QDateTime(date, time, Qt.UTC)


def key_value(field: typing.Any, raw: typing.Any) -> typing.Any:
    """A primary key value (as sent in ``sourcePk`` / ``clientPks``: text) with the key field's type."""
    field_type = int(field.type())
    if field_type in INTEGER_TYPES:
        return _to_int(raw)
    if field_type == DOUBLE:
        return _to_float(raw)
    return str(raw)


# --- geometries -------------------------------------------------------------------------------


def parse_wkt(text: typing.Any) -> typing.Any:
    """A QgsGeometry from delta WKT (``nan`` coordinates become 0); None for null or empty text."""
    from qgis.core import QgsGeometry

    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if not isinstance(text, str):
        raise DeltaValueError(f"The geometry {json.dumps(text, default=str)} is not WKT text")
    geometry = QgsGeometry.fromWkt(_NAN_RE.sub("0", text.strip()))
    if geometry.isNull():
        raise DeltaValueError(f'Invalid geometry WKT "{_short(text)}"')
    return geometry


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def for_layer(geometry: typing.Any, wkb_type: typing.Any) -> typing.Any:
    """The geometry coerced to the layer's type (single/multi, Z/M added as 0 or dropped)."""
    from qgis.core import QgsWkbTypes

    if geometry is None or geometry.wkbType() == wkb_type:
        return geometry
    if QgsWkbTypes.flatType(wkb_type) in (QgsWkbTypes.Unknown, QgsWkbTypes.GeometryCollection):
        return geometry
    coerced = geometry.coerceToType(wkb_type)
    if len(coerced) != 1 or coerced[0].isNull():
        name = QgsWkbTypes.displayString(wkb_type)
        raise DeltaValueError(
            f"A {QgsWkbTypes.displayString(geometry.wkbType())} cannot be stored in a {name} layer"
        )
    return coerced[0]


def wkt(geometry: typing.Any) -> str | None:
    """WKT of a QgsGeometry, None when it has none."""
    if geometry is None or geometry.isNull() or geometry.isEmpty():
        return None
    return str(geometry.asWkt())


def geometries_equal(a: typing.Any, b: typing.Any) -> bool:
    """Same shape within a tiny tolerance; Z/M are compared only when both have them (NaN = 0)."""
    a_empty = a is None or a.isNull() or a.isEmpty()
    b_empty = b is None or b.isNull() or b.isEmpty()
    if a_empty or b_empty:
        return a_empty and b_empty
    from qgis.core import QgsWkbTypes

    if QgsWkbTypes.geometryType(a.wkbType()) != QgsWkbTypes.geometryType(b.wkbType()):
        return False
    first, second = a.constGet(), b.constGet()
    if first.partCount() != second.partCount():
        return False
    if any(first.ringCount(part) != second.ringCount(part) for part in range(first.partCount())):
        return False
    vertices_a, vertices_b = list(a.vertices()), list(b.vertices())
    if len(vertices_a) != len(vertices_b):
        return False
    return all(_same_vertex(p, q) for p, q in zip(vertices_a, vertices_b, strict=True))


def _close(x: float, y: float) -> bool:
    x = 0.0 if math.isnan(x) else x
    y = 0.0 if math.isnan(y) else y
    return math.isclose(x, y, rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE)


def _same_vertex(p: typing.Any, q: typing.Any) -> bool:
    if not (_close(p.x(), q.x()) and _close(p.y(), q.y())):
        return False
    if p.is3D() and q.is3D() and not _close(p.z(), q.z()):
        return False
    return not (p.isMeasure() and q.isMeasure() and not _close(p.m(), q.m()))
