"""Facts taken from the project DOM while QGIS reads it (``QgsProject.readProject`` signal).

Headless QGIS exposes neither the saved ``theMapCanvas`` settings nor the data sources exactly as
saved (a ``localized:`` source that cannot be resolved on this machine becomes ""), but the
signal hands over the parsed document, so nothing has to be parsed or unzipped a second time.
"""

from __future__ import annotations

import typing

CANVAS_NAME = "theMapCanvas"


class ProjectXml:
    """Slot for ``readProject``; keeps the canvas extent and each layer's saved datasource."""

    def __init__(self) -> None:
        self.extent: typing.Any = None
        self.datasources: dict[str, str] = {}

    def __call__(self, document: typing.Any) -> None:
        try:  # an exception escaping a Qt slot would abort the process
            self.extent = canvas_extent(document)
            self.datasources = saved_datasources(document)
        except Exception:
            self.extent, self.datasources = None, {}


def canvas_extent(document: typing.Any) -> typing.Any:
    """The extent of the saved main canvas, read the way QGIS reads it (1024x768, no rotation)."""
    from qgis.core import QgsMapSettings
    from qgis.PyQt.QtCore import QSize

    nodes = document.elementsByTagName("mapcanvas")
    for index in range(nodes.count()):
        element = nodes.at(index).toElement()
        if element.attribute("name") == CANVAS_NAME:
            settings = QgsMapSettings()
            settings.readXml(element)
            settings.setOutputSize(QSize(1024, 768))
            settings.setRotation(0)
            return settings.extent()
    return None


def saved_datasources(document: typing.Any) -> dict[str, str]:
    """Layer id -> ``<datasource>`` text as written in the project file."""
    result = {}
    nodes = document.elementsByTagName("maplayer")
    for index in range(nodes.count()):
        element = nodes.at(index).toElement()
        layer_id = element.firstChildElement("id").text()
        if layer_id:
            result[layer_id] = element.firstChildElement("datasource").text()
    return result
