"""Apply QField deltas to the layers of an open QGIS project, each delta written on its own.

Every delta gets exactly one feedback entry (the server turns a delta without one into an error):

``{"msg", "status", "e_type", "delta_file_id", "layer_id", "delta_index", "delta_id", "feature_pk",
"modified_pk", "conflicts", "provider_errors", "method"}``, with ``status`` one of
``status_applied``, ``status_conflict``, ``status_apply_failed`` and ``status_unknown_error``.

* The layer is ``sourceLayerId`` (``localLayerId`` when that is empty); the key is its single-column
  primary key, else a field named fid (any case).
* create: the feature gets ``new.geometry`` and the ``new.attributes`` the layer has; a field the
  delta leaves NULL (or does not send) gets the provider's default, and an auto-generated integer
  key is always left to the provider. ``modified_pk`` is the key the committed feature got.
* patch / delete: the feature is found by ``clientPks["<clientId>__<localPk>"]`` when the client
  created it earlier, else by ``sourcePk``. ``old`` is compared with the feature as it is now, the
  attributes and the geometry: a field differs when the current value is neither the client's base
  value nor already the value the client wants. Conflicts are applied over when the job says
  ``overwrite_conflicts`` or the delta says ``force`` (``status_applied`` with the conflicts listed),
  otherwise nothing is written and the delta is ``status_conflict``.
* Each delta is checked completely before anything is written, then written through the data
  provider (one provider transaction per write; a patch whose geometry is refused gets its attributes
  put back), so one bad delta never costs the others; a refused write is ``status_apply_failed``
  with the provider's errors, an unexpected error ``status_unknown_error`` for that delta only.
"""

from __future__ import annotations

import dataclasses
import json
import traceback
import typing

from runner.worker import delta_values

APPLIED = "status_applied"
CONFLICT = "status_conflict"
APPLY_FAILED = "status_apply_failed"
UNKNOWN_ERROR = "status_unknown_error"
METHODS = ("create", "patch", "delete")
APPLIED_MSG = "Successfully applied delta!"
GEOMETRY = "geometry"
Log = typing.Callable[[str], None]


class DeltaError(Exception):
    """The delta cannot be applied (``status_apply_failed``); the message tells the user why."""

    e_type = "ERROR"

    def __init__(self, message: str, provider_errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.provider_errors = provider_errors


class ProviderError(DeltaError):
    """The data provider refused the change when it was committed."""

    e_type = "IO"


@dataclasses.dataclass
class LayerKey:
    """The layer a delta edits and the field that identifies its features."""

    layer: typing.Any
    index: int
    field: typing.Any

    @property
    def name(self) -> str:
        return str(self.field.name())

    @property
    def is_ogr_fid(self) -> bool:
        """The key is the FID column the OGR provider exposes (its feature ids are the key values)."""
        return self.layer.providerType() == "ogr" and self.index in self.layer.primaryKeyAttributes()

    def label(self) -> str:
        return f'layer "{self.layer.name()}" ({self.layer.id()})'


def entry_for(delta: typing.Any, index: int, delta_file_id: typing.Any) -> dict[str, typing.Any]:
    """The feedback entry of a delta before it is applied."""
    get = delta.get if isinstance(delta, dict) else (lambda _key, default=None: default)
    return {
        "msg": "",
        "status": UNKNOWN_ERROR,
        "e_type": None,
        "delta_file_id": delta_file_id,
        "layer_id": get("sourceLayerId") or get("localLayerId") or None,
        "delta_index": index,
        "delta_id": get("uuid"),
        "feature_pk": None,
        "modified_pk": None,
        "conflicts": None,
        "provider_errors": None,
        "method": get("method"),
    }


class DeltaApplier:
    """Applies the deltas of one deltafile to ``project`` in order."""

    def __init__(
        self,
        project: typing.Any,
        deltafile: dict[str, typing.Any],
        *,
        overwrite_conflicts: bool = True,
        log: Log = print,
    ) -> None:
        self.project = project
        self.deltafile_id = deltafile.get("id")
        self.deltas = list(deltafile.get("deltas") or [])
        raw_pks = deltafile.get("clientPks") or {}
        self.client_pks = (
            {str(key): value for key, value in raw_pks.items()} if isinstance(raw_pks, dict) else {}
        )
        self.overwrite_conflicts = overwrite_conflicts
        self.log = log

    def apply_all(self) -> list[dict[str, typing.Any]]:
        return [self.apply_one(index, delta) for index, delta in enumerate(self.deltas)]

    def apply_one(self, index: int, delta: typing.Any) -> dict[str, typing.Any]:
        """Apply one delta on its own and return its feedback entry (never raises)."""
        entry = entry_for(delta, index, self.deltafile_id)
        try:
            if not isinstance(delta, dict):
                raise DeltaError("The delta is not a JSON object")
            if delta.get("method") not in METHODS:
                raise DeltaError(f"Unknown delta method {json.dumps(delta.get('method'))}")
            layer = self._layer(delta, entry)
            key = self._key(layer)
            if delta["method"] == "create":
                self._create(delta, key, entry)
            else:
                self._change(delta, key, entry)
        except DeltaError as error:
            entry.update(status=APPLY_FAILED, e_type=error.e_type, msg=str(error))
            entry["provider_errors"] = error.provider_errors
        except Exception as error:  # one broken delta must not stop the others
            entry.update(
                status=UNKNOWN_ERROR,
                e_type="ERROR",
                msg=f"Unexpected error: {type(error).__name__}: {error}",
            )
            self.log(f"Delta {index} failed unexpectedly:")
            for line in traceback.format_exception(type(error), error, error.__traceback__):
                self.log(line.rstrip())
        return entry

    # --- layer and key ------------------------------------------------------------------------

    def _layer(self, delta: dict[str, typing.Any], entry: dict[str, typing.Any]) -> typing.Any:
        from qgis.core import QgsVectorDataProvider, QgsVectorLayer

        layer_id = str(delta.get("sourceLayerId") or delta.get("localLayerId") or "")
        entry["layer_id"] = layer_id or None
        layer = self.project.mapLayer(layer_id) if layer_id else None
        if layer is None:
            raise DeltaError(f'No layer with id "{layer_id}" in the project')
        if not isinstance(layer, QgsVectorLayer):
            raise DeltaError(f'No layer with id "{layer_id}": layer "{layer.name()}" is not a vector layer')
        if not layer.isValid():
            raise DeltaError(
                f'No layer with id "{layer_id}": layer "{layer.name()}" is invalid (data source unavailable)'
            )
        provider = layer.dataProvider()
        capabilities = provider.capabilities()
        needed = {
            "create": (QgsVectorDataProvider.AddFeatures, "add features"),
            "patch": (QgsVectorDataProvider.ChangeAttributeValues, "change attribute values"),
            "delete": (QgsVectorDataProvider.DeleteFeatures, "delete features"),
        }[delta["method"]]
        if layer.readOnly() or not capabilities & needed[0]:
            raise DeltaError(
                f'Layer "{layer.name()}" ({layer_id}) cannot {needed[1]}: '
                f'its data source (provider "{layer.providerType()}") is read-only'
            )
        return layer

    @staticmethod
    def _key(layer: typing.Any) -> LayerKey:
        fields = layer.fields()
        indexes = [index for index in layer.primaryKeyAttributes() if 0 <= index < fields.count()]
        label = f'Layer "{layer.name()}" ({layer.id()})'
        if len(indexes) > 1:
            names = ", ".join(fields.at(index).name() for index in indexes)
            raise DeltaError(f"{label} has a composite primary key ({names}): not supported")
        if not indexes:
            indexes = [index for index, field in enumerate(fields) if field.name().lower() == "fid"]
        if not indexes:
            raise DeltaError(
                f'{label} has no primary key: it needs a single-column key or a field named "fid"'
            )
        field = fields.at(indexes[0])
        if "," in field.name():
            raise DeltaError(f'{label} has an unsupported primary key name "{field.name()}"')
        return LayerKey(layer, indexes[0], field)

    # --- create -------------------------------------------------------------------------------

    def _create(self, delta: dict[str, typing.Any], key: LayerKey, entry: dict[str, typing.Any]) -> None:
        from qgis.core import QgsFeature, QgsFields

        layer = key.layer
        new = _section(delta, "new")
        attributes = _attributes(new, "new")
        fields, provider = layer.fields(), layer.dataProvider()
        feature = QgsFeature(fields)
        ignored = sorted(name for name in attributes if fields.indexOf(name) < 0)
        auto_key = _auto_generated(provider, fields, key.index)
        for index, field in enumerate(fields):
            if fields.fieldOrigin(index) != QgsFields.OriginProvider:
                continue
            value = attributes.get(field.name())
            if index == key.index and auto_key:
                value = None  # the client's local key means nothing here: the provider assigns one
            value = self._value(field, value)
            if value is None:
                value = _provider_default(provider, fields.fieldOriginIndex(index))
            if value is None and index == key.index:
                value = _next_key(layer, key)
            feature.setAttribute(index, value)
        geometry = self._geometry(delta, new.get(GEOMETRY), layer)
        if geometry is not None:
            feature.setGeometry(geometry)
        key_value = feature.attribute(key.index)
        if not auto_key and not delta_values.is_null(key_value) and self._matches(key, key_value):
            raise DeltaError(f"A feature with {key.name}={key_value!r} already exists in {key.label()}")
        _ok, added = _write(layer, "add the feature", lambda provider: provider.addFeatures([feature]))
        modified = self._committed_key(key, list(added))
        entry.update(status=APPLIED, e_type=None, modified_pk=modified)
        entry["feature_pk"] = None if modified is None else str(modified)
        entry["msg"] = APPLIED_MSG + _ignored_note(ignored)
        keys = client_pk_keys(delta)
        if keys and modified is not None:
            # later deltas of this client in the same job address the feature by its local key
            self.client_pks[keys[0]] = str(modified)

    def _committed_key(self, key: LayerKey, added: list[typing.Any]) -> typing.Any:
        """The key value the provider gave the new feature (read back if the provider did not set it)."""
        if len(added) != 1:
            return None
        value = added[0].attribute(key.index)
        clause = key.layer.dataProvider().defaultValueClause(key.layer.fields().fieldOriginIndex(key.index))
        if delta_values.is_null(value) or (clause and value == clause):
            value = key.layer.getFeature(added[0].id()).attribute(key.index)
        return delta_values.plain(value)

    # --- patch / delete -----------------------------------------------------------------------

    def _change(self, delta: dict[str, typing.Any], key: LayerKey, entry: dict[str, typing.Any]) -> None:
        layer, method = key.layer, delta["method"]
        feature, pk_value = self._find(delta, key)
        entry["feature_pk"] = str(pk_value)
        conflicts = self._conflicts(delta, key, feature)
        forced = delta.get("force") is True
        if conflicts and not (self.overwrite_conflicts or forced):
            names = ", ".join(item["field"] for item in conflicts)
            entry.update(
                status=CONFLICT,
                e_type="CONFLICT",
                conflicts=conflicts,
                msg=f"Conflict: the feature changed on the server since the client's copy ({names}); "
                "the delta was not applied",
            )
            return
        ignored: list[str] = []
        if method == "patch":
            ignored = self._patch(delta, key, feature)
        else:
            _write(layer, "delete the feature", lambda provider: provider.deleteFeatures([feature.id()]))
        entry.update(status=APPLIED, e_type=None, modified_pk=delta_values.plain(pk_value))
        if conflicts:
            reason = "force" if forced else "overwrite_conflicts"
            names = ", ".join(item["field"] for item in conflicts)
            entry["conflicts"] = conflicts
            entry["msg"] = f"Applied over {len(conflicts)} conflict(s) ({names}) because of {reason}"
        else:
            entry["msg"] = APPLIED_MSG
        entry["msg"] += _ignored_note(ignored)

    def _find(self, delta: dict[str, typing.Any], key: LayerKey) -> tuple[typing.Any, typing.Any]:
        """The feature a patch/delete addresses, and its key value."""
        mapped = next((key for key in client_pk_keys(delta) if key in self.client_pks), None)
        raw = self.client_pks[mapped] if mapped else delta.get("sourcePk")
        how = f" (the server key of the client's local feature {delta.get('localPk')})" if mapped else ""
        if raw is None or raw == "":
            raise DeltaError(
                f"Unable to find feature in {key.label()}: the delta has no sourcePk and no server key "
                f"is known for the client's local feature {delta.get('localPk')!r}"
            )
        try:
            value = delta_values.key_value(key.field, raw)
        except delta_values.DeltaValueError:
            raise DeltaError(
                f"Unable to find feature with {key.name}={raw!r}{how} in {key.label()}: "
                f"not a valid {key.field.typeName()} key"
            ) from None
        features = self._matches(key, value)
        if not features:
            raise DeltaError(f"Unable to find feature with {key.name}={value!r}{how} in {key.label()}")
        if len(features) > 1:
            raise DeltaError(f"More than one feature with {key.name}={value!r} in {key.label()}")
        return features[0], value

    @staticmethod
    def _matches(key: LayerKey, value: typing.Any) -> list[typing.Any]:
        from qgis.core import QgsExpression, QgsFeatureRequest

        if key.is_ogr_fid and isinstance(value, int) and not isinstance(value, bool):
            # an OGR FID column (GeoPackage fid): the feature id is the key, the fastest lookup there is
            found = key.layer.getFeatures(QgsFeatureRequest(value))
            return [feature for feature in found if feature.attribute(key.index) == value]
        expression = QgsExpression.createFieldEqualityExpression(key.name, value)
        request = QgsFeatureRequest(QgsExpression(expression))
        request.setLimit(2)
        return list(key.layer.getFeatures(request))

    def _conflicts(
        self, delta: dict[str, typing.Any], key: LayerKey, feature: typing.Any
    ) -> list[dict[str, typing.Any]]:
        """Differences between the client's base (``old``) and the feature as it is now."""
        from qgis.core import QgsFields

        old, new = _section(delta, "old"), _section(delta, "new")
        old_attributes = _attributes(old, "old")
        new_attributes = _attributes(new, "new") if delta["method"] == "patch" else {}
        fields, conflicts = key.layer.fields(), []
        for name, base in old_attributes.items():
            index = fields.indexOf(name)
            if index < 0 or index == key.index or fields.fieldOrigin(index) != QgsFields.OriginProvider:
                continue  # unknown and virtual fields; the key differs for features the client created
            field_type = int(fields.at(index).type())
            current = delta_values.plain(feature.attribute(index))
            if delta_values.equal(field_type, base, current):
                continue
            incoming = new_attributes.get(name, base) if delta["method"] == "patch" else None
            if delta["method"] == "patch" and delta_values.equal(field_type, incoming, current):
                continue  # the feature already has the value the client wants
            conflicts.append({"field": name, "base": base, "current": current, "incoming": incoming})
        if GEOMETRY in old and key.layer.isSpatial():
            conflict = self._geometry_conflict(delta, old, new, feature)
            if conflict is not None:
                conflicts.append(conflict)
        return conflicts

    def _geometry_conflict(
        self,
        delta: dict[str, typing.Any],
        old: dict[str, typing.Any],
        new: dict[str, typing.Any],
        feature: typing.Any,
    ) -> dict[str, typing.Any] | None:
        base = self._parse(delta, old.get(GEOMETRY), "old")
        current = feature.geometry() if feature.hasGeometry() else None
        if delta_values.geometries_equal(base, current):
            return None
        incoming_text = new.get(GEOMETRY, old.get(GEOMETRY)) if delta["method"] == "patch" else None
        if delta["method"] == "patch" and GEOMETRY in new:
            incoming = self._parse(delta, incoming_text, "new")
            if delta_values.geometries_equal(incoming, current):
                return None
        return {
            "field": GEOMETRY,
            "base": old.get(GEOMETRY) or None,
            "current": delta_values.wkt(current),
            "incoming": incoming_text or None,
        }

    def _patch(self, delta: dict[str, typing.Any], key: LayerKey, feature: typing.Any) -> list[str]:
        """Write the new attributes and geometry that differ; return the ignored field names.

        Attributes are written first; if the geometry is then refused, they are put back, so a patch
        is applied completely or not at all.
        """
        from qgis.core import QgsFields

        layer, new = key.layer, _section(delta, "new")
        fields, ignored = layer.fields(), []
        changes, previous = {}, {}
        for name, value in _attributes(new, "new").items():
            index = fields.indexOf(name)
            if index < 0 or fields.fieldOrigin(index) != QgsFields.OriginProvider or index == key.index:
                ignored.append(name)
                continue
            field, current = fields.at(index), feature.attribute(index)
            converted = self._value(field, value)
            plain_new, plain_current = delta_values.plain(converted), delta_values.plain(current)
            if not delta_values.equal(int(field.type()), plain_new, plain_current):
                changes[fields.fieldOriginIndex(index)] = converted
                previous[fields.fieldOriginIndex(index)] = current
        geometry = None
        if new.get(GEOMETRY) and layer.isSpatial():
            geometry = self._geometry(delta, new[GEOMETRY], layer)
            current_geometry = feature.geometry() if feature.hasGeometry() else None
            if delta_values.geometries_equal(geometry, current_geometry):
                geometry = None
            elif not layer.dataProvider().capabilities() & _change_geometries():
                raise DeltaError(f'Layer "{layer.name()}" ({layer.id()}) cannot change geometries')
        fid = feature.id()
        if changes:
            _write(
                layer,
                "change the attributes",
                lambda provider: provider.changeAttributeValues({fid: changes}),
            )
        if geometry is not None:
            try:
                _write(
                    layer,
                    "change the geometry",
                    lambda provider: provider.changeGeometryValues({fid: geometry}),
                )
            except DeltaError:
                if changes and not layer.dataProvider().changeAttributeValues({fid: previous}):
                    self.log(
                        f"Could not restore the attributes of feature id {fid} after its geometry was refused"
                    )
                raise
        return ignored

    # --- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _value(field: typing.Any, value: typing.Any) -> typing.Any:
        try:
            return delta_values.to_qgis(field, value)
        except delta_values.DeltaValueError as error:
            raise DeltaError(f"Invalid value: {error}") from None

    def _parse(self, delta: dict[str, typing.Any], text: typing.Any, section: str) -> typing.Any:
        try:
            geometry = delta_values.parse_wkt(text)
        except delta_values.DeltaValueError as error:
            raise DeltaError(f"{error} in {section}.geometry") from None
        return self._transform(delta, geometry)

    def _geometry(self, delta: dict[str, typing.Any], text: typing.Any, layer: typing.Any) -> typing.Any:
        """The delta geometry ready for ``layer``; None for a layer without geometry or no geometry."""
        if not layer.isSpatial():
            return None
        geometry = self._parse(delta, text, "new")
        try:
            return delta_values.for_layer(geometry, layer.wkbType())
        except delta_values.DeltaValueError as error:
            raise DeltaError(f'{error} ("{layer.name()}")') from None

    def _transform(self, delta: dict[str, typing.Any], geometry: typing.Any) -> typing.Any:
        """From the client's layer CRS (``localLayerCrs``) to the source layer's CRS when they differ."""
        from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform

        layer = self.project.mapLayer(str(delta.get("sourceLayerId") or delta.get("localLayerId") or ""))
        local = str(delta.get("localLayerCrs") or "")
        if geometry is None or layer is None or not local:
            return geometry
        source_crs, local_crs = layer.crs(), QgsCoordinateReferenceSystem(local)
        if not local_crs.isValid() or not source_crs.isValid() or local_crs == source_crs:
            return geometry
        transformed = type(geometry)(geometry)
        try:
            transformed.transform(QgsCoordinateTransform(local_crs, source_crs, self.project))
        except Exception as error:  # QgsCsException
            raise DeltaError(
                f"Cannot transform the geometry from {local} to {source_crs.authid()}: {error}"
            ) from None
        return transformed


def client_pk_keys(delta: dict[str, typing.Any]) -> list[str]:
    """Keys of ``clientPks`` for the feature a client created, most precise first.

    QFieldCloud's key is ``<clientId>__<localPk>``; it does not say which layer, so a local key the
    client used in two layers is ambiguous. ``<clientId>__<localLayerId>__<localPk>`` is used for the
    features created in the same job and is looked up first when the server sends it.
    """
    client_id, local_pk = delta.get("clientId"), delta.get("localPk")
    if not client_id or local_pk in (None, ""):
        return []
    layer_id = delta.get("localLayerId") or delta.get("sourceLayerId") or ""
    return [f"{client_id}__{layer_id}__{local_pk}", f"{client_id}__{local_pk}"]


def _section(delta: dict[str, typing.Any], name: str) -> dict[str, typing.Any]:
    section = delta.get(name)
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise DeltaError(f'"{name}" must be an object')
    return section


def _attributes(section: dict[str, typing.Any], name: str) -> dict[str, typing.Any]:
    attributes = section.get("attributes")
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise DeltaError(f'"{name}.attributes" must be an object')
    return attributes


def _auto_generated(provider: typing.Any, fields: typing.Any, index: int) -> bool:
    """An integer key the provider fills itself (GeoPackage fid, serial, identity)."""
    from runner.worker.ogr_values import INTEGER_TYPES

    if int(fields.at(index).type()) not in INTEGER_TYPES:
        return False
    return bool(provider.defaultValueClause(fields.fieldOriginIndex(index)))


def _provider_default(provider: typing.Any, provider_index: int) -> typing.Any:
    """The provider's default for a field: its literal value, else the clause it recognises on insert."""
    literal = provider.defaultValue(provider_index)
    if not delta_values.is_null(literal):
        return literal
    clause = provider.defaultValueClause(provider_index)
    return clause or None


def _next_key(layer: typing.Any, key: LayerKey) -> typing.Any:
    """A free integer for a key nobody generates (e.g. a fid column of a shapefile): max + 1."""
    from runner.worker.ogr_values import INTEGER_TYPES

    if int(key.field.type()) not in INTEGER_TYPES:
        raise DeltaError(f"The new feature has no value for the key {key.name} of {key.label()}")
    highest = layer.maximumValue(key.index)
    return 1 if delta_values.is_null(highest) else int(highest) + 1


def _change_geometries() -> typing.Any:
    from qgis.core import QgsVectorDataProvider

    return QgsVectorDataProvider.ChangeGeometries


def _write(layer: typing.Any, action: str, call: typing.Callable[[typing.Any], typing.Any]) -> typing.Any:
    """One write through the data provider (its own transaction); ``ProviderError`` if refused.

    Writing through the provider rather than the layer's edit buffer costs a GeoPackage commit, not
    a commit plus the layer's bookkeeping, which is several times slower per delta.
    """
    provider = layer.dataProvider()
    provider.clearErrors()
    result = call(provider)
    ok = result[0] if isinstance(result, tuple) else bool(result)
    if not ok:
        errors = [str(line) for line in provider.errors()] or [f'provider "{layer.providerType()}" failed']
        provider.clearErrors()
        summary = " ".join("; ".join(errors).split())  # one line: the provider's text has newlines
        raise ProviderError(f"The data provider refused to {action}: {summary}", errors)
    return result


def _ignored_note(names: list[str]) -> str:
    if not names:
        return ""
    return " (ignored field(s) the layer does not have or that cannot be written: " + ", ".join(names) + ")"
