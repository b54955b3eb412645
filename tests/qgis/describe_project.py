"""Describe every layer of a QGIS project as JSON (run with Debian's /usr/bin/python3).

Usage: ``/usr/bin/python3 tests/qgis/describe_project.py PROJECT_FILE``. The packager tests run it on
the original and on the packaged project and compare the two: validity, provider and source, CRS,
geometry type, fields with their types, primary key, every feature (id, attributes, geometry WKT),
renderer type and aliases. Values are made JSON-comparable (dates as ISO text in UTC, blobs as hex).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import typing


def plain(value: typing.Any) -> typing.Any:
    """A JSON value for an attribute; NULL becomes None."""
    from qgis.PyQt.QtCore import Qt

    qt_value = type(value).__module__.startswith("PyQt")
    if value is None or (qt_value and hasattr(value, "isNull") and value.isNull()):
        return None
    converters = {
        "QDateTime": lambda: value.toUTC().toString(Qt.ISODateWithMs),
        "QDate": lambda: value.toString(Qt.ISODate),
        "QTime": lambda: value.toString(Qt.ISODate),
        "QByteArray": lambda: bytes(value).hex(),
    }
    if type(value).__name__ in converters:
        return converters[type(value).__name__]()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def describe_vector(layer: typing.Any) -> dict[str, typing.Any]:
    fields = layer.fields()
    features = [
        {
            "id": feature.id(),
            "attributes": {field.name(): plain(feature[field.name()]) for field in fields},
            "wkt": feature.geometry().asWkt() if feature.hasGeometry() else None,
        }
        for feature in layer.getFeatures()
    ]
    return {
        "wkb_type": int(layer.wkbType()),
        "fields": [[field.name(), int(field.type()), field.typeName()] for field in fields],
        "pk": [fields.at(index).name() for index in layer.primaryKeyAttributes()],
        "count": layer.featureCount(),
        "features": features,
        "renderer": layer.renderer().type() if layer.renderer() else None,
        "aliases": {field.name(): field.alias() for field in fields if field.alias()},
        "subset": layer.subsetString(),
        "read_only": layer.readOnly(),
    }


def describe(path: str) -> dict[str, typing.Any]:
    from qgis.core import QgsProject

    project = QgsProject.instance()
    if not project.read(path):
        raise RuntimeError(f"cannot read {path}: {project.error()}")
    layers = {}
    for layer_id, layer in project.mapLayers().items():
        data = {
            "name": layer.name(),
            "valid": layer.isValid(),
            "type": int(layer.type()),
            "provider": layer.providerType(),
            "source": layer.source(),
            "crs": layer.crs().authid(),
            "properties": {key: str(layer.customProperty(key)) for key in layer.customPropertyKeys()},
        }
        if layer.isValid() and int(layer.type()) == 0:
            data.update(describe_vector(layer))
        layers[layer_id] = data
    result = {"crs": project.crs().authid(), "title": project.title(), "layers": layers}
    project.clear()
    return result


def main(argv: list[str]) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if "XDG_RUNTIME_DIR" not in os.environ:
        os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="xdg-")
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    try:
        result = describe(argv[0])
    finally:
        app.exitQgis()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    exit_code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(exit_code)  # skip interpreter finalisation, where leftover Qt objects may segfault
