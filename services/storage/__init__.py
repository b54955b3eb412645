"""Blob storage: file contents behind one narrow port, streamed in bounded memory.

Backends: ``postgres`` (large objects, the default) and, in a later step, ``s3``.
"""
