"""Render the project thumbnail: a small PNG of the saved map canvas, as the QGIS desktop shows it.

The map is drawn with the canvas background colour, the visible layers of the layer tree in its
(custom) layer order and the saved canvas extent (else the layers' extent), in the project CRS.
Rendering runs on QGIS's render thread while this thread waits, with a deadline: a remote layer
(WMS, XYZ, ...) that does not answer is cancelled instead of blocking the job. Layers that fail to
draw are reported as warnings and the rest of the map is kept: a partial thumbnail beats none.
"""

from __future__ import annotations

import pathlib
import typing

from runner.worker import details, errors

SIZE = 100
RENDER_TIMEOUT_S = 30.0
Log = typing.Callable[[str], None]


class ThumbnailError(errors.WorkerError):
    """The thumbnail could not be rendered or saved."""


def render(project: typing.Any, canvas_extent: typing.Any, target: pathlib.Path, log: Log) -> dict[str, int]:
    """Render a ``SIZE``x``SIZE`` PNG into ``target``; returns its size in bytes, width and height."""
    from qgis.PyQt.QtGui import QColor, QImage, QPainter

    settings = map_settings(project, canvas_extent)
    image = QImage(SIZE, SIZE, QImage.Format_ARGB32_Premultiplied)
    image.fill(QColor(details.background_color(project)))
    painter = QPainter(image)
    try:
        problems = _render_with_deadline(settings, painter)
    finally:
        painter.end()
    for problem in problems:
        log(f"Warning: thumbnail: {problem}")
    if not image.save(str(target), "PNG"):
        raise ThumbnailError(f'Failed to save the thumbnail as "{target.name}"')
    return {"size": target.stat().st_size, "width": SIZE, "height": SIZE}


def map_settings(project: typing.Any, canvas_extent: typing.Any) -> typing.Any:
    """What the canvas would draw, scaled to the thumbnail size."""
    from qgis.core import QgsExpressionContext, QgsExpressionContextUtils, QgsMapSettings
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    extent = canvas_extent if details.usable(canvas_extent) else details.layers_extent(project)
    if not details.usable(extent):
        raise ThumbnailError("The project has neither a saved map extent nor a layer with an extent")
    settings = QgsMapSettings()
    if project.crs().isValid():
        settings.setDestinationCrs(project.crs())
    settings.setTransformContext(project.transformContext())
    settings.setPathResolver(project.pathResolver())
    settings.setEllipsoid(project.ellipsoid())
    settings.setOutputSize(QSize(SIZE, SIZE))
    settings.setExtent(extent)
    settings.setBackgroundColor(QColor(details.background_color(project)))
    settings.setFlag(QgsMapSettings.Antialiasing, True)
    settings.setLayers(visible_layers(project))
    context = QgsExpressionContext(QgsExpressionContextUtils.globalProjectLayerScopes(None))
    context.appendScope(QgsExpressionContextUtils.mapSettingsScope(settings))
    settings.setExpressionContext(context)
    return settings


def visible_layers(project: typing.Any) -> list[typing.Any]:
    """Valid, checked layers in the layer tree's (custom) order, the top layer first."""
    root = project.layerTreeRoot()
    shown = []
    for layer in root.layerOrder():
        node = root.findLayer(layer.id())
        if layer.isValid() and (node is None or node.isVisible()):
            shown.append(layer)
    return shown


def _render_with_deadline(settings: typing.Any, painter: typing.Any) -> list[str]:
    """Render onto ``painter``; returns what went wrong (layer errors, the deadline)."""
    from qgis.core import QgsMapRendererCustomPainterJob
    from qgis.PyQt.QtCore import QEventLoop, QTimer

    job = QgsMapRendererCustomPainterJob(settings, painter)
    loop, timer, finished = QEventLoop(), QTimer(), []
    job.finished.connect(lambda: (finished.append(True), loop.quit()))
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(int(RENDER_TIMEOUT_S * 1000))
    job.start()
    if not finished:
        loop.exec_()
    timer.stop()
    problems = [f'layer "{error.layerID}": {error.message}' for error in job.errors()]
    if not finished:
        job.cancel()  # blocks until the layer renderers have stopped
        problems.append(f"rendering stopped after {RENDER_TIMEOUT_S:.0f} s, the map is incomplete")
    return problems
