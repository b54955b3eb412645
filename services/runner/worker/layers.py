"""Per-layer data and statuses (``layers_by_id``) plus the "QGIS project layer checks" table.

An invalid layer does not fail a job: the table and ``error_code`` tell the user what is wrong
(missing file, unreachable database, missing provider, ...). No network probing is done here;
only loopback hosts are recognised as unreachable from the worker.
"""

from __future__ import annotations

import os
import pathlib
import typing

from runner.worker import protocol, table

QFIELDSYNC_PROPERTIES = {
    "qfs_action": "QFieldSync/action",
    "qfs_cloud_action": "QFieldSync/cloud_action",
    "qfs_is_geometry_locked": "QFieldSync/is_geometry_locked",
    "qfs_photo_naming": "QFieldSync/photo_naming",
    "qfs_unsupported_source_pk": "QFieldSync/unsupported_source_pk",
}
TYPE_NAMES = {
    0: "Vector",
    1: "Raster",
    2: "Plugin",
    3: "Mesh",
    4: "VectorTile",
    5: "Annotation",
    6: "PointCloud",
}
LOCALIZED_PREFIX = "localized:"
NO_PROVIDER = "No data provider available"
TABLE_HEADERS = ["Layer Name", "Layer Id", "Is Valid", "Status", "Error Summary", "Provider Summary"]


def layers_data(
    project: typing.Any, project_dir: pathlib.Path, saved_sources: dict[str, str] | None = None
) -> dict[str, dict[str, typing.Any]]:
    """``layers_by_id`` for every map layer of the project, in layer-tree order."""
    layers, saved_sources = project.mapLayers(), saved_sources or {}
    return {
        layer_id: layer_data(layers[layer_id], project_dir, saved_sources.get(layer_id, ""))
        for layer_id in ordered_layer_ids(project)
    }


def ordered_layer_ids(project: typing.Any) -> list[str]:
    """Layer ids in the layer tree's (custom) order, then any layer that is not in the tree."""
    ordered = [layer.id() for layer in project.layerTreeRoot().layerOrder()]
    return ordered + [layer_id for layer_id in project.mapLayers() if layer_id not in ordered]


def layer_data(layer: typing.Any, project_dir: pathlib.Path, saved_source: str = "") -> dict[str, typing.Any]:
    """All recorded facts of one layer, with the diagnostics for invalid ones.

    ``saved_source`` is the datasource as written in the project; it is used when QGIS could not
    resolve the source at all (an unknown ``localized:`` path leaves ``layer.source()`` empty).
    """
    from qgis.core import QgsDataSourceUri

    provider = layer.dataProvider()
    source = layer.source() or saved_source
    path = _decoded_path(layer.providerType(), source)
    data: dict[str, typing.Any] = {
        "id": layer.id(),
        "name": layer.name(),
        "crs": layer.crs().authid() if layer.crs().isValid() else None,
        "wkb_type": int(layer.wkbType()) if _is_vector(layer) else None,
        "is_valid": layer.isValid(),
        "is_localized": path.startswith(LOCALIZED_PREFIX),
        "datasource": QgsDataSourceUri.removePassword(source),
        "type": int(layer.type()),
        "type_name": TYPE_NAMES.get(int(layer.type()), str(layer.type())),
        "error_summary": error_summary(layer.error()),
        "error_message": error_message(layer.error()),
        "filename": _relative_filename(path, project_dir),
        "provider_name": layer.providerType(),
        "provider_error_summary": error_summary(provider.error()) if provider else NO_PROVIDER,
        "provider_error_message": error_message(provider.error()) if provider else "",
        "qfc_source_data_pk_name": source_pk_name(layer),
    }
    data["error_code"] = error_code(layer, provider, path)
    for key, prop in QFIELDSYNC_PROPERTIES.items():
        data[key] = protocol.jsonable(layer.customProperty(prop))
    if not data["is_valid"]:
        _add_diagnostics(data, source, path)
    return data


def error_summary(error: typing.Any) -> str:
    """QgsError.summary(), guarded: on an empty QgsError it dereferences an empty list and segfaults."""
    return "" if error.isEmpty() else error.summary()


def error_message(error: typing.Any) -> str:
    """The full plain-text QgsError message ("" when there is none)."""
    from qgis.core import QgsErrorMessage

    return "" if error.isEmpty() else error.message(QgsErrorMessage.Text)


def error_code(layer: typing.Any, provider: typing.Any, path: str) -> str:
    """QFieldCloud's layer status codes."""
    if layer.isValid():
        return "no_error"
    if provider is None:
        return "missing_dataprovider"
    if provider.isValid():
        return "invalid_layer"
    if path.startswith(LOCALIZED_PREFIX):
        return "localized_dataprovider"
    return "invalid_dataprovider"


def source_pk_name(layer: typing.Any) -> str:
    """The single-column primary key, else a field named fid (any case), else ""."""
    if not _is_vector(layer):
        return ""
    fields = layer.fields()
    pk_indexes = list(layer.primaryKeyAttributes())
    if len(pk_indexes) == 1 and 0 <= pk_indexes[0] < fields.count():
        return fields.at(pk_indexes[0]).name()
    for field in fields:
        if field.name().lower() == "fid":
            return field.name()
    return ""


def _is_vector(layer: typing.Any) -> bool:
    return int(layer.type()) == 0


def _decoded_path(provider_name: str, source: str) -> str:
    """The file path of a file-based source ("" for databases and services)."""
    from qgis.core import QgsProviderRegistry

    try:
        parts = QgsProviderRegistry.instance().decodeUri(provider_name, source)
    except Exception:  # a provider that cannot decode its own URI must not break the checks
        return ""
    return str(parts.get("path") or "")


def _relative_filename(path: str, project_dir: pathlib.Path) -> str:
    if not path or path.startswith(LOCALIZED_PREFIX):
        return path
    if not os.path.isabs(path):
        return path
    return os.path.relpath(path, project_dir)


def is_loopback_host(host: str) -> bool:
    """Hosts that can only mean the user's own machine, never reachable from the worker."""
    host = host.strip("[]").lower()
    return host in ("localhost", "::1") or host.endswith(".localhost") or host.startswith("127.")


def _add_diagnostics(data: dict[str, typing.Any], source: str, path: str) -> None:
    """Replace unhelpful QGIS errors with the likely cause (service, loopback host, missing file)."""
    from qgis.core import QgsDataSourceUri

    uri = QgsDataSourceUri(source)
    if not data["provider_error_summary"] and uri.service():
        data["provider_error_summary"] = f'Unable to connect to service "{uri.service()}".'
    if uri.host() and is_loopback_host(uri.host()):
        data["provider_error_summary"] = f'Unable to connect to host "{uri.host()}".'
    if path and not path.startswith(LOCALIZED_PREFIX) and not os.path.exists(path):
        data["error_summary"] = f'File "{data["filename"]}" missing.'


def layer_table(layers_by_id: dict[str, dict[str, typing.Any]]) -> list[str]:
    """The plain-text layer check table; ids are shortened to their last 6 characters."""
    rows = [
        (
            data["name"],
            "…" + data["id"][-6:] if len(data["id"]) > 6 else data["id"],
            data["is_valid"],
            data["error_code"],
            data["error_summary"],
            data["provider_error_summary"],
        )
        for data in layers_by_id.values()
    ]
    return table.format_table(TABLE_HEADERS, rows)
