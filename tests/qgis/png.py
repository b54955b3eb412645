"""A tiny PNG reader (stdlib only) to check the worker's thumbnails without trusting Qt to read them.

Supports what a PNG writer produces for a small image: 8-bit greyscale, RGB, RGBA or grey+alpha,
non-interlaced, in any number of IDAT chunks. Chunk CRCs are verified.
"""

from __future__ import annotations

import struct
import typing
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


class Png(typing.NamedTuple):
    width: int
    height: int
    colour_type: int
    pixels: list[tuple[int, ...]]  # row-major


def chunks(data: bytes) -> typing.Iterator[tuple[bytes, bytes]]:
    """(type, payload) of every chunk, checking each CRC."""
    assert data[:8] == SIGNATURE, "not a PNG signature"
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        payload = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + payload) == crc, f"bad CRC in chunk {kind!r}"
        yield kind, payload
        offset += 12 + length


def header(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first."""
    kind, payload = next(chunks(data))
    assert kind == b"IHDR"
    width, height = struct.unpack(">II", payload[:8])
    return width, height


def _paeth(left: int, up: int, up_left: int) -> int:
    estimate = left + up - up_left
    distances = (abs(estimate - left), abs(estimate - up), abs(estimate - up_left))
    return (left, up, up_left)[distances.index(min(distances))]


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> list[bytes]:
    stride, rows, previous, offset = width * bpp, [], bytes(width * bpp), 0
    for _ in range(height):
        kind, line = raw[offset], bytearray(raw[offset + 1 : offset + 1 + stride])
        offset += 1 + stride
        for index in range(stride):
            left = line[index - bpp] if index >= bpp else 0
            up = previous[index]
            up_left = previous[index - bpp] if index >= bpp else 0
            predictor = (0, left, up, (left + up) // 2, _paeth(left, up, up_left))[kind]
            line[index] = (line[index] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = rows[-1]
    return rows


def read(data: bytes) -> Png:
    """Decode the whole image."""
    all_chunks = list(chunks(data))
    assert all_chunks[0][0] == b"IHDR" and all_chunks[-1][0] == b"IEND"
    width, height, depth, colour_type, _compression, _filter, interlace = struct.unpack(
        ">IIBBBBB", all_chunks[0][1]
    )
    assert depth == 8 and colour_type in CHANNELS and interlace == 0, (depth, colour_type, interlace)
    bpp = CHANNELS[colour_type]
    raw = zlib.decompress(b"".join(payload for kind, payload in all_chunks if kind == b"IDAT"))
    rows = _unfilter(raw, width, height, bpp)
    pixels = [tuple(row[x * bpp : (x + 1) * bpp]) for row in rows for x in range(width)]
    return Png(width, height, colour_type, pixels)
