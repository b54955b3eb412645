"""The area of interest (AOI) that limits which features go into the offline GeoPackage.

QFieldSync stores it in the project as ``QFieldSync/areaOfInterest`` (WKT) and
``QFieldSync/areaOfInterestCrs`` (an authid); it is applied only when
``QFieldSync/offlineCopyOnlyAoi`` is true. Without a configured area the project extent is used
(union of the layer extents, else the saved canvas extent), as QFieldCloud does. The area is grown
by one map unit so that features on its border are kept; in a geographic CRS that would be a whole
degree, so no buffer is applied there.
"""

from __future__ import annotations

import dataclasses
import typing

from runner.worker import details, errors

SCOPE = "QFieldSync"
BUFFER_SEGMENTS = 8


@dataclasses.dataclass(frozen=True)
class AreaOfInterest:
    """A polygon and its CRS; ``for_layer`` gives it in a layer's CRS for filtering."""

    geometry: typing.Any
    crs: typing.Any
    origin: str

    def describe(self) -> str:
        """For the log: where the area comes from, its CRS and bounding box."""
        return f"{self.origin}, {self.crs.authid()}, bbox {self.geometry.boundingBox().toString(1)}"

    def for_layer(self, layer: typing.Any, context: typing.Any) -> typing.Any:
        """The area in ``layer``'s CRS, or None when it cannot be transformed (then nothing is filtered)."""
        from qgis.core import QgsCoordinateTransform, QgsCsException, QgsGeometry

        geometry = QgsGeometry(self.geometry)
        if layer.crs().isValid() and self.crs.isValid() and layer.crs() != self.crs:
            try:
                geometry.transform(QgsCoordinateTransform(self.crs, layer.crs(), context))
            except QgsCsException:
                return None
        return geometry


def only_aoi(project: typing.Any) -> bool:
    """Whether QFieldSync asked to copy only the features inside the area of interest."""
    value, _ok = project.readBoolEntry(SCOPE, "offlineCopyOnlyAoi", False)
    return bool(value)


def area_of_interest(project: typing.Any, canvas_extent: typing.Any = None) -> AreaOfInterest:
    """The configured area, else the project extent; fails when neither is usable."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsGeometry

    wkt, _ok = project.readEntry(SCOPE, "areaOfInterest", "")
    crs_id, _ok = project.readEntry(SCOPE, "areaOfInterestCrs", "")
    crs = QgsCoordinateReferenceSystem(crs_id) if crs_id else project.crs()
    if not crs.isValid():
        crs = project.crs()
    geometry, origin = (QgsGeometry.fromWkt(wkt) if wkt.strip() else QgsGeometry()), "configured area"
    if geometry.isNull() or geometry.isEmpty():
        geometry, crs, origin = _project_extent(project, canvas_extent), project.crs(), "project extent"
    if not crs.isGeographic():
        geometry = geometry.buffer(1.0, BUFFER_SEGMENTS)
    return AreaOfInterest(geometry, crs, origin)


def _project_extent(project: typing.Any, canvas_extent: typing.Any) -> typing.Any:
    from qgis.core import QgsGeometry

    rect = details.layers_extent(project)
    if rect is None or not details.usable(rect):
        rect = canvas_extent
    if rect is None or not details.usable(rect):
        raise errors.PackagingError("Failed to obtain the project extent.")
    return QgsGeometry.fromRect(rect)
