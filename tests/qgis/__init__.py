"""Tests of the QGIS worker (run PyQGIS through Debian's /usr/bin/python3)."""
