"""Plain-text tables for the job log (no third-party ``tabulate`` in the worker)."""

from __future__ import annotations

import typing

MAX_CELL = 80


def _cell(value: typing.Any) -> str:
    """One-line, bounded cell text so a long provider error cannot blow up the table."""
    text = " ".join(str("" if value is None else value).split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


Row = typing.Sequence[typing.Any]


def format_table(headers: typing.Sequence[str], rows: typing.Iterable[Row]) -> list[str]:
    """Return the table as lines: header, separator, then one line per row."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for index, text in enumerate(row):
            widths[index] = max(widths[index], len(text))

    def join(values: typing.Sequence[str]) -> str:
        return " | ".join(text.ljust(widths[index]) for index, text in enumerate(values)).rstrip()

    separator = "-+-".join("-" * width for width in widths)
    return [join(headers), separator, *(join(row) for row in cells)]
