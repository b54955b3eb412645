"""Copy the files of ``copy``/``no_action`` layers into the package, keeping their relative paths.

A layer's file is found by asking its provider to decode the URI (so GDAL ``GPKG:``/``/vsizip/``
sources, OGR ``|layername=`` sources and delimited-text ``file://`` URLs all work), and the new
source is encoded the same way with only the path changed. Sidecar files that belong to the data
(shapefile .shx/.dbf/.prj/..., world files, .aux.xml, overviews) are copied along. Files in an
attachment directory are never copied: QField downloads those next to the package itself, so the
layer simply points at the same relative path.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import typing

Log = typing.Callable[[str], None]
SHAPEFILE_SIDECARS = (
    "shx",
    "dbf",
    "prj",
    "cpg",
    "qix",
    "sbn",
    "sbx",
    "fbn",
    "fbx",
    "ain",
    "aih",
    "atx",
    "qmd",
)
RASTER_SIDECARS = (
    "tfw",
    "tifw",
    "tiffw",
    "wld",
    "jgw",
    "jpgw",
    "pgw",
    "pngw",
    "gfw",
    "j2w",
    "bpw",
    "aux.xml",
)
MORE_SIDECARS = ("aux", "rrd", "ovr", "hdr", "rpb", "imd", "tab", "dat", "map", "id", "ind", "ixs", "mxs")
SIDECAR_EXTENSIONS = frozenset(SHAPEFILE_SIDECARS + RASTER_SIDECARS + MORE_SIDECARS)


class FileCopier:
    """Copies each source file once (several layers may share a GeoPackage or a shapefile)."""

    def __init__(
        self, project_dir: pathlib.Path, export_dir: pathlib.Path, attachment_dirs: list[str], log: Log
    ) -> None:
        self.project_dir = project_dir.resolve()
        self.export_dir = export_dir
        self.attachment_dirs = [name.strip("/") for name in attachment_dirs if name.strip("/")]
        self.log = log
        self.destinations: dict[pathlib.Path, str] = {}  # resolved source -> relative destination

    @property
    def used_names(self) -> set[str]:
        """Relative paths (lower case) taken by copied files; the offline GeoPackage must avoid them."""
        return {name.lower() for name in self.destinations.values()}

    def relocate(self, layer: typing.Any) -> str | None:
        """Copy the layer's data into the package and return its new source (None: not file-based)."""
        from qgis.core import QgsProviderRegistry

        registry = QgsProviderRegistry.instance()
        try:
            parts = registry.decodeUri(layer.providerType(), layer.source())
        except Exception:  # a provider that cannot decode its URI is treated as not file-based
            return None
        path = str(parts.get("path") or "")
        if not path or not os.path.exists(path):
            return None
        relative = self._copy(pathlib.Path(path).resolve())
        parts["path"] = str(self.export_dir / relative)
        return str(registry.encodeUri(layer.providerType(), parts))

    def _copy(self, source: pathlib.Path) -> str:
        if source in self.destinations:
            return self.destinations[source]
        relative = self._destination(source)
        self.destinations[source] = relative
        if self._in_attachment_dir(relative):
            self.log(f'"{relative}" is in an attachment directory: not copied, QField downloads it')
            return relative
        target = self.export_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():  # e.g. an ESRI File Geodatabase
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
            for sidecar in sidecars(source):
                shutil.copy2(sidecar, target.parent / sidecar.name)
        self.log(f'Copied "{relative}" into the package')
        return relative

    def _destination(self, source: pathlib.Path) -> str:
        """The path relative to the project directory; files outside it go to the package root."""
        if source.is_relative_to(self.project_dir):
            return source.relative_to(self.project_dir).as_posix()
        taken = self.used_names
        name, stem, suffix, index = source.name, source.stem, source.suffix, 0
        while name.lower() in taken:
            index += 1
            name = f"{stem}_{index}{suffix}"
        return name

    def _in_attachment_dir(self, relative: str) -> bool:
        return any(relative == name or relative.startswith(name + "/") for name in self.attachment_dirs)


def sidecars(path: pathlib.Path) -> list[pathlib.Path]:
    """Files next to ``path`` that belong to it: ``<name>.*`` and ``<stem>.<known sidecar extension>``."""
    name, stem = path.name.lower(), path.stem.lower()
    found = []
    for candidate in sorted(path.parent.iterdir()):
        lower = candidate.name.lower()
        if candidate == path or not candidate.is_file():
            continue
        own = lower.startswith(name + ".")
        sibling = lower.startswith(stem + ".") and lower[len(stem) + 1 :] in SIDECAR_EXTENSIONS
        if own or sibling:
            found.append(candidate)
    return found
