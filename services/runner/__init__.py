"""The runner: takes job commands, runs the QGIS worker through an executor, reports every step.

Keep this file free of imports: the QGIS worker (``runner.worker``) runs under Debian's Python with
only the standard library and PyQGIS, and importing ``runner.worker`` imports this package first.
"""
