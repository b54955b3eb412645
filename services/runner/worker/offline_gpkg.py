"""Write vector layers into the package's single offline GeoPackage (``data.gpkg``), one table each.

Each table keeps the source's fields and field types, geometry type (with Z and M) and CRS. A
single-column integer primary key becomes the GeoPackage FID column with the same name and values,
so the feature ids QField reports in its deltas are the source's keys. Any other key (text, UUID,
composite, none) is kept as a plain attribute next to a new ``fid``. Features are read through the
layer's data provider, so the layer's filter (subset string) applies and virtual (expression or
joined) fields, which stay defined in the layer's XML, are not duplicated as columns.
"""

from __future__ import annotations

import dataclasses
import pathlib
import typing

from runner.worker import errors, layers, ogr_values

COMMIT_EVERY = 20000
NULL_FID = -1  # OGRNullFID: the driver assigns the next key
Log = typing.Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class OfflineTable:
    """What was written for one layer; ``source_pk_name`` is what deltas must match on the server."""

    layer_id: str
    table: str
    fid_column: str
    features: int
    source_pk_name: str
    pk_is_fid: bool


class GpkgWriter:
    """One GeoPackage opened once for all layers (each layer goes into its own table)."""

    def __init__(self, path: pathlib.Path) -> None:
        from osgeo import ogr

        ogr.UseExceptions()
        self.path = path
        driver = ogr.GetDriverByName("GPKG")
        self._datasource = driver.CreateDataSource(str(path))
        if self._datasource is None:
            raise errors.PackagingError(f'Cannot create the offline GeoPackage "{path.name}"')

    def close(self) -> None:
        """Flush and close the GeoPackage (OGR writes everything on close)."""
        self._datasource = None

    def write_layer(self, layer: typing.Any, table: str, area: typing.Any, log: Log) -> OfflineTable:
        """Copy ``layer``'s features (only those intersecting ``area`` if given) into ``table``."""
        try:
            written = self._write(layer, table, area)
        except RuntimeError as error:  # OGR errors (with UseExceptions) name the failing operation
            raise errors.PackagingError(
                f'Failed to write layer "{layer.name()}" to "{table}": {error}'
            ) from error
        where = f'{self.path.name} table "{table}"'
        log(f'Layer "{layer.name()}": {written.features} feature(s) written to {where}')
        return written

    def _write(self, layer: typing.Any, table: str, area: typing.Any) -> OfflineTable:
        from osgeo import ogr

        provider = layer.dataProvider()
        fields = provider.fields()
        pk_indexes = [index for index in provider.pkAttributeIndexes() if 0 <= index < fields.count()]
        pk_is_fid = len(pk_indexes) == 1 and int(fields.at(pk_indexes[0]).type()) in ogr_values.INTEGER_TYPES
        taken = {field.name().lower() for field in fields}
        fid_column = fields.at(pk_indexes[0]).name() if pk_is_fid else unique_name("fid", taken)
        wkb_type = layer.wkbType()
        geometry_type = ogr_values.ogr_geometry_type(wkb_type)
        area = area if geometry_type != ogr.wkbNone else None  # an area cannot filter a plain table
        options = [f"FID={fid_column}"]
        if geometry_type != ogr.wkbNone:
            options += [
                f"GEOMETRY_NAME={unique_name('geom', taken | {fid_column.lower()})}",
                "SPATIAL_INDEX=YES",
            ]
        target = self._datasource.CreateLayer(table, _srs(layer.crs()), geometry_type, options)
        columns = self._create_fields(target, fields, pk_indexes[0] if pk_is_fid else -1)
        out = ogr.Feature(target.GetLayerDefn())  # reused: every feature sets its FID and every field
        fid_index = pk_indexes[0] if pk_is_fid else -1
        to_ogr = ogr_values.geometry_converter(wkb_type)
        count = 0
        target.StartTransaction()
        for feature in provider.getFeatures(_request(area)):
            if area is not None and not area.accepts(feature.geometry()):
                continue
            attributes = feature.attributes()
            fid = attributes[fid_index] if fid_index >= 0 else None
            out.SetFID(NULL_FID if ogr_values.is_null(fid) else int(fid))
            for source_index, target_index, qtype in columns:
                ogr_values.set_value(out, target_index, qtype, attributes[source_index])
            if geometry_type != ogr.wkbNone:
                out.SetGeometry(to_ogr(feature.geometry()))
            target.CreateFeature(out)
            count += 1
            if count % COMMIT_EVERY == 0:
                target.CommitTransaction()
                target.StartTransaction()
        target.CommitTransaction()
        source_pk = layers.source_pk_name(layer)
        return OfflineTable(layer.id(), table, fid_column, count, source_pk, pk_is_fid)

    @staticmethod
    def _create_fields(target: typing.Any, fields: typing.Any, fid_index: int) -> list[tuple[int, int, int]]:
        """Create the columns; returns (source index, OGR index, QVariant type) per written field."""
        from qgis.core import QgsFieldConstraints

        columns = []
        for index in range(fields.count()):
            if index == fid_index:
                continue
            field = fields.at(index)
            definition = ogr_values.ogr_field_defn(field)
            constraints = field.constraints()
            not_null = QgsFieldConstraints.ConstraintNotNull
            if constraints.constraintOrigin(not_null) == QgsFieldConstraints.ConstraintOriginProvider:
                definition.SetNullable(False)
            target.CreateField(definition)
            columns.append((index, target.GetLayerDefn().GetFieldCount() - 1, int(field.type())))
        return columns


class AreaFilter:
    """An area in a layer's CRS, prepared once for fast exact intersection tests."""

    def __init__(self, geometry: typing.Any) -> None:
        from qgis.core import QgsGeometry

        self.geometry = geometry
        self.bbox = geometry.boundingBox()
        self._engine = QgsGeometry.createGeometryEngine(geometry.constGet())
        self._engine.prepareGeometry()

    def accepts(self, geometry: typing.Any) -> bool:
        """Features without geometry are outside any area."""
        if geometry is None or geometry.isNull() or geometry.isEmpty():
            return False
        return bool(self._engine.intersects(geometry.constGet()))


def _request(area: AreaFilter | None) -> typing.Any:
    from qgis.core import QgsFeatureRequest

    request = QgsFeatureRequest()
    if area is not None:
        request.setFilterRect(area.bbox)
    return request


def _srs(crs: typing.Any) -> typing.Any:
    """The OGR spatial reference of a QGIS CRS: by EPSG code when possible (so authids survive)."""
    from osgeo import osr
    from qgis.core import QgsCoordinateReferenceSystem

    if not crs.isValid():
        return None
    srs = osr.SpatialReference()
    authority, _, code = crs.authid().partition(":")
    if authority.upper() == "EPSG" and code.isdigit():
        try:
            srs.ImportFromEPSG(int(code))
            return srs
        except RuntimeError:
            pass
    srs.ImportFromWkt(crs.toWkt(QgsCoordinateReferenceSystem.WKT_PREFERRED_GDAL))
    return srs


def unique_name(base: str, taken: typing.Collection[str]) -> str:
    """``base``, else ``base_1``, ``base_2``, ... not in ``taken`` (compared case-insensitively)."""
    taken_lower = {name.lower() for name in taken}
    name, suffix = base, 0
    while name.lower() in taken_lower:
        suffix += 1
        name = f"{base}_{suffix}"
    return name
