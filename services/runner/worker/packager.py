"""Turn an opened QGIS project into a QField package in an (empty) export directory.

The packaged project is the original project, modified in memory and saved elsewhere: layers keep
their ids (so deltas name the same layer on the device and on the server), names, styles, forms and
relations; only data sources change (``./data.gpkg|layername=<table>`` with provider ``ogr`` for
offline layers, the copied file for copied layers) and removed layers disappear. It is written as
``<stem>_qfield.qgs`` (always a plain .qgs) with relative paths.
"""

from __future__ import annotations

import dataclasses
import pathlib
import shutil
import typing

from runner.worker import aoi, details, errors, file_copy, layer_actions, offline_gpkg

Log = typing.Callable[[str], None]
OFFLINE_GPKG_STEM = "data"
PACKAGED_SUFFIX = "_qfield"
SOURCE_PK_PROPERTY = "QFieldSync/sourceDataPrimaryKeys"
RESERVED_TABLE_PREFIXES = ("gpkg_", "rtree_", "sqlite_")


@dataclasses.dataclass
class PackageResult:
    """What was written, for the step outputs and the packaged layers' data."""

    project_file: pathlib.Path
    offline_gpkg: str | None
    layers: dict[str, dict[str, typing.Any]]
    source_pk_names: dict[str, str]


def packaged_name(project_path: pathlib.Path) -> str:
    """``<stem>_qfield.qgs``, also for a .qgz input."""
    return f"{project_path.stem}{PACKAGED_SUFFIX}.qgs"


def package_project(
    project: typing.Any,
    project_path: pathlib.Path,
    export_dir: pathlib.Path,
    layers_by_id: dict[str, dict[str, typing.Any]],
    *,
    canvas_extent: typing.Any,
    log: Log,
) -> PackageResult:
    """Package ``project`` (read from ``project_path``) into ``export_dir``."""
    layers = project.mapLayers()
    if not layers:
        raise errors.PackagingError("The project has no layers: there is nothing to package")
    plans = [
        layer_actions.plan_layer(layers[layer_id], layers_by_id.get(layer_id, {}))
        for layer_id in layers_by_id
    ]
    plans += [
        layer_actions.plan_layer(layer, {})
        for layer_id, layer in layers.items()
        if layer_id not in layers_by_id
    ]
    log("Packaging actions:")
    for line in layer_actions.plan_table(plans):
        log(line)
    export_dir.mkdir(parents=True, exist_ok=True)
    copier = file_copy.FileCopier(project_path.parent, export_dir, details.attachment_dirs(project), log)
    summary = {
        plan.layer_id: {"name": plan.name, "action": plan.action, "reason": plan.reason} for plan in plans
    }
    new_sources = _copy_files(project, plans, copier)
    offline = [plan for plan in plans if plan.action == layer_actions.OFFLINE]
    gpkg_name = (
        offline_gpkg.unique_name(OFFLINE_GPKG_STEM, _stems(copier.used_names)) + ".gpkg" if offline else None
    )
    tables = []
    if gpkg_name:
        tables = _write_offline(project, offline, export_dir, gpkg_name, canvas_extent=canvas_extent, log=log)
    for written in tables:
        summary[written.layer_id].update(table=written.table, features=written.features)
        new_sources[written.layer_id] = (f"{export_dir / str(gpkg_name)}|layername={written.table}", "ogr")
    _apply_sources(project, new_sources, {written.layer_id: written for written in tables})
    _mark_unsupported_pk(project, plans)
    removed = [plan.layer_id for plan in plans if plan.action == layer_actions.REMOVE]
    project.removeMapLayers(removed)
    if not project.mapLayers():
        raise errors.PackagingError(
            f"The packaged project would be empty: all {len(plans)} layer(s) are invalid or removed"
        )
    target = export_dir / packaged_name(project_path)
    _write_project(project, target)
    _copy_project_plugin(project_path, target, log)
    log(f'Wrote "{target.name}" with {len(project.mapLayers())} layer(s); removed {len(removed)} layer(s)')
    source_pks = {written.layer_id: written.source_pk_name for written in tables}
    return PackageResult(target, gpkg_name, summary, source_pks)


def _copy_files(
    project: typing.Any, plans: list[layer_actions.LayerPlan], copier: file_copy.FileCopier
) -> dict[str, tuple[str, str]]:
    """Copy the files of copy/no_action layers; returns layer id -> (new source, provider)."""
    layers, sources = project.mapLayers(), {}
    for plan in plans:
        if plan.action not in (layer_actions.COPY, layer_actions.NO_ACTION) or plan.unsupported_pk:
            continue
        layer = layers[plan.layer_id]
        source = copier.relocate(layer)
        if source is not None:
            sources[plan.layer_id] = (source, layer.providerType())
    return sources


def _stems(names: typing.Iterable[str]) -> set[str]:
    """Lower-case stems of root-level ``*.gpkg`` names, so the offline GeoPackage avoids copied ones."""
    return {name[: -len(".gpkg")] for name in names if "/" not in name and name.endswith(".gpkg")}


def _write_offline(
    project: typing.Any,
    plans: list[layer_actions.LayerPlan],
    export_dir: pathlib.Path,
    gpkg_name: str,
    *,
    canvas_extent: typing.Any,
    log: Log,
) -> list[offline_gpkg.OfflineTable]:
    """Write every offline layer into one GeoPackage, filtered by the area of interest if asked."""
    area = None
    if aoi.only_aoi(project):
        area = aoi.area_of_interest(project, canvas_extent)
        log(f"Copying only the features intersecting the area of interest ({area.describe()})")
    layers, taken, written = project.mapLayers(), set(), []
    writer = offline_gpkg.GpkgWriter(export_dir / gpkg_name)
    try:
        for plan in plans:
            layer = layers[plan.layer_id]
            table = table_name(layer.name(), taken)
            taken.add(table)
            written.append(writer.write_layer(layer, table, _layer_filter(area, layer, project, log), log))
    finally:
        writer.close()
    return written


def _layer_filter(
    area: aoi.AreaOfInterest | None, layer: typing.Any, project: typing.Any, log: Log
) -> typing.Any:
    if area is None:
        return None
    geometry = area.for_layer(layer, project.transformContext())
    if geometry is None:
        log(f'Layer "{layer.name()}": cannot transform the area of interest to its CRS; all features copied')
        return None
    return offline_gpkg.AreaFilter(geometry)


def table_name(layer_name: str, taken: set[str]) -> str:
    """A GeoPackage table name from the layer name: letters, digits and ``_``; unique, not reserved."""
    cleaned = (
        "".join(char if char.isalnum() or char == "_" else "_" for char in layer_name).strip("_") or "layer"
    )
    if cleaned.lower().startswith(RESERVED_TABLE_PREFIXES):
        cleaned = f"layer_{cleaned}"
    return offline_gpkg.unique_name(cleaned, taken)


def _apply_sources(
    project: typing.Any, sources: dict[str, tuple[str, str]], tables: dict[str, offline_gpkg.OfflineTable]
) -> None:
    """Point layers at their packaged data, keeping the layer XML (style, form, ...)."""
    from qgis.core import QgsDataProvider

    layers = project.mapLayers()
    for layer_id, (source, provider) in sources.items():
        layer = layers[layer_id]
        options = QgsDataProvider.ProviderOptions()
        options.transformContext = project.transformContext()
        layer.setDataSource(source, layer.name(), provider, options, False)
        if not layer.isValid():
            raise errors.PackagingError(
                f'Layer "{layer.name()}" is invalid after packaging (source {source})'
            )
        if layer_id in tables and tables[layer_id].source_pk_name:
            layer.setCustomProperty(SOURCE_PK_PROPERTY, tables[layer_id].source_pk_name)


def _mark_unsupported_pk(project: typing.Any, plans: list[layer_actions.LayerPlan]) -> None:
    layers = project.mapLayers()
    for plan in plans:
        if plan.unsupported_pk:
            layers[plan.layer_id].setReadOnly(True)
            layers[plan.layer_id].setCustomProperty(layer_actions.UNSUPPORTED_PK_PROPERTY, 1)


def _write_project(project: typing.Any, target: pathlib.Path) -> None:
    """Save as a plain .qgs with relative paths."""
    project.writeEntryBool("Paths", "/Absolute", False)
    if not project.write(str(target)):
        raise errors.PackagingError(
            f'Failed to write the packaged project "{target.name}": {project.error()}'
        )


def _copy_project_plugin(project_path: pathlib.Path, target: pathlib.Path, log: Log) -> None:
    """QField loads ``<project stem>.qml`` as the project's plugin: give the packaged project its copy."""
    plugin = project_path.with_suffix(".qml")
    if plugin.is_file():
        shutil.copy2(plugin, target.with_suffix(".qml"))
        log(f'Copied the project plugin "{plugin.name}" as "{target.with_suffix(".qml").name}"')
