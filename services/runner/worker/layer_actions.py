"""What the packager does with each layer, decided from QFieldSync's settings and the layer's state.

Actions (QFieldSync's ``QFieldSync/cloud_action`` layer property):

* ``offline``: the features are copied into the package's GeoPackage (default for vector layers);
* ``copy`` / ``no_action``: a file-based source is copied into the package as is, any other source
  (database, web service) is left untouched (``no_action`` is the default for rasters, web services
  and virtual layers);
* ``remove``: the layer is not in the packaged project.

Invalid and unsupported layers are removed, except a ``localized:`` layer (shared data QField resolves
on the device) and an invalid online raster, which stay unchanged (``keep``). A database layer
without a usable primary key cannot be synchronised back, so, as in QFieldCloud, it stays online,
read-only and flagged with ``QFieldSync/unsupported_source_pk``.
"""

from __future__ import annotations

import dataclasses
import pathlib
import typing

from runner.worker import table

OFFLINE, COPY, NO_ACTION, REMOVE, KEEP = "offline", "copy", "no_action", "remove", "keep"
CLOUD_ACTIONS = (OFFLINE, COPY, NO_ACTION, REMOVE)
CLOUD_ACTION_PROPERTY = "QFieldSync/cloud_action"
UNSUPPORTED_PK_PROPERTY = "QFieldSync/unsupported_source_pk"
UNSUPPORTED_EXTENSIONS = (".ecw",)
DATABASE_PROVIDERS = ("postgres", "mssql", "oracle", "hana", "db2")
NO_ACTION_VECTOR_PROVIDERS = ("virtual",)
VECTOR = 0
RASTER = 1
TABLE_HEADERS = ["Layer Name", "Layer Id", "Action", "Reason"]


@dataclasses.dataclass
class LayerPlan:
    """The action for one layer and why it was chosen (logged as a table)."""

    layer_id: str
    name: str
    action: str
    reason: str
    unsupported_pk: bool = False


def plan_layer(layer: typing.Any, data: dict[str, typing.Any]) -> LayerPlan:
    """Decide the action of one layer; ``data`` is its entry of the original ``layers_by_id``."""
    layer_id, name = layer.id(), layer.name()
    unusable = _unusable(layer, data)
    if unusable is not None:
        return unusable
    configured = layer.customProperty(CLOUD_ACTION_PROPERTY)
    action = str(configured) if configured in CLOUD_ACTIONS else default_action(layer)
    reason = f"{CLOUD_ACTION_PROPERTY}={configured}" if configured in CLOUD_ACTIONS else "default"
    if action == OFFLINE and int(layer.type()) != VECTOR:
        return LayerPlan(layer_id, name, COPY, "only vector layers can be offline: copied instead")
    if (
        action == OFFLINE
        and layer.providerType() in DATABASE_PROVIDERS
        and not data.get("qfc_source_data_pk_name")
    ):
        return LayerPlan(layer_id, name, NO_ACTION, "no usable primary key: kept online, read-only", True)
    return LayerPlan(layer_id, name, action, reason)


def _unusable(layer: typing.Any, data: dict[str, typing.Any]) -> LayerPlan | None:
    """The plan of a localized, invalid or unsupported layer; None for a layer that can be packaged."""
    layer_id, name = layer.id(), layer.name()
    if data.get("is_localized"):
        return LayerPlan(layer_id, name, KEEP, "localized data source, resolved by QField")
    filename = str(data.get("filename") or "")
    if not layer.isValid():
        if int(layer.type()) == RASTER and not filename:
            return LayerPlan(layer_id, name, KEEP, "invalid online raster, kept unchanged")
        return LayerPlan(layer_id, name, REMOVE, f"invalid layer ({data.get('error_code', 'invalid_layer')})")
    suffix = pathlib.PurePath(filename).suffix
    if suffix.lower() in UNSUPPORTED_EXTENSIONS:
        return LayerPlan(layer_id, name, REMOVE, f"unsupported format {suffix}")
    return None


def default_action(layer: typing.Any) -> str:
    """``offline`` for vector layers, ``no_action`` for everything else and for virtual layers."""
    if int(layer.type()) == VECTOR and layer.providerType() not in NO_ACTION_VECTOR_PROVIDERS:
        return OFFLINE
    return NO_ACTION


def plan_table(plans: typing.Iterable[LayerPlan]) -> list[str]:
    """The plain-text table of the actions, for the job log."""
    rows = [
        (
            plan.name,
            "…" + plan.layer_id[-6:] if len(plan.layer_id) > 6 else plan.layer_id,
            plan.action,
            plan.reason,
        )
        for plan in plans
    ]
    return table.format_table(TABLE_HEADERS, rows)
