"""Versioned event and command models and the NATS subjects they travel on.

The only code every service shares. Stored and published data names types by stable strings
(``job.started``), never by Python import paths, so a class can move without breaking history.
"""
