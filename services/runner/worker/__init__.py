"""Outpost QGIS worker: runs one job (e.g. process_projectfile) in a QGIS-enabled Python.

It is executed as ``/usr/bin/python3 -m runner.worker`` so that PyQGIS from the system Python is
available; it depends only on the standard library, ``qgis`` and ``osgeo``. Importing this package
must stay cheap and QGIS-free (the QGIS modules are imported lazily by the steps that need them).
"""
