"""``project_details``: what the server stores about a project after process_projectfile."""

from __future__ import annotations

import math
import pathlib
import typing

from runner.worker import layers, project_xml

DEFAULT_ATTACHMENT_DIRS = ["DCIM"]
COLOR_PARTS = ("Red", "Green", "Blue")


def project_details(
    project: typing.Any, project_dir: pathlib.Path, saved: project_xml.ProjectXml
) -> dict[str, typing.Any]:
    """Collect the project-level facts and ``layers_by_id``."""
    layers_by_id = layers.layers_data(project, project_dir, saved.datasources)
    return {
        "background_color": background_color(project),
        "extent": extent_wkt(project, saved.extent),
        "crs": project.crs().authid() if project.crs().isValid() else None,
        "project_name": project.title(),
        "qgis_version": project.lastSaveVersion().text(),
        "layers_by_id": layers_by_id,
        "ordered_layer_ids": list(layers_by_id),
        "attachment_dirs": attachment_dirs(project),
    }


def background_color(project: typing.Any) -> str:
    """``#rrggbb`` from the Gui/CanvasColor*Part entries (white when unset)."""
    parts = [project.readNumEntry("Gui", f"/CanvasColor{part}Part", 255)[0] for part in COLOR_PARTS]
    return "#" + "".join(f"{max(0, min(255, int(value))):02x}" for value in parts)


def attachment_dirs(project: typing.Any) -> list[str]:
    """QFieldSync/attachmentDirs, defaulting to ["DCIM"] like QFieldSync does."""
    values, ok = project.readListEntry("QFieldSync", "attachmentDirs", DEFAULT_ATTACHMENT_DIRS)
    return [str(value) for value in values] if ok else list(DEFAULT_ATTACHMENT_DIRS)


def extent_wkt(project: typing.Any, canvas_extent: typing.Any) -> str | None:
    """The saved canvas extent, else the union of valid layer extents in the project CRS, else None."""
    rect = canvas_extent if usable(canvas_extent) else layers_extent(project)
    return rect.asWktPolygon() if usable(rect) else None


def usable(rect: typing.Any) -> bool:
    if rect is None or rect.isNull():
        return False
    values = (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())
    return all(math.isfinite(value) for value in values)


def layers_extent(project: typing.Any) -> typing.Any:
    """Union of the extents of the valid layers, transformed to the project CRS."""
    from qgis.core import QgsCoordinateTransform, QgsCsException, QgsRectangle

    combined = QgsRectangle()
    combined.setMinimal()
    for layer in project.mapLayers().values():
        if not layer.isValid() or not usable(layer.extent()):
            continue
        extent = layer.extent()
        if project.crs().isValid() and layer.crs().isValid() and layer.crs() != project.crs():
            try:
                transform = QgsCoordinateTransform(layer.crs(), project.crs(), project)
                extent = transform.transformBoundingBox(extent)
            except QgsCsException:
                continue
        combined.combineExtentWith(extent)
    return None if combined.isNull() or combined.xMinimum() > combined.xMaximum() else combined
