"""The QFieldCloud-compatible HTTP API. Writes events, serves read models; no job logic of its own."""
