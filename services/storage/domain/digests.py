"""Digests computed while a blob streams through: the S3-style ETag (``md5sum``) and SHA-256."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

PART_SIZE = 8 * 1024 * 1024


@dataclass
class Digester:
    """Feed chunks of any size; ``etag`` is md5 hex for <= 8 MiB, else md5-of-part-md5s + ``-<parts>``."""

    size: int = 0
    _sha256: hashlib._Hash = field(default_factory=hashlib.sha256)
    _part: hashlib._Hash = field(default_factory=hashlib.md5)
    _part_fill: int = 0
    _part_digests: list[bytes] = field(default_factory=list)

    def update(self, chunk: bytes) -> None:
        self._sha256.update(chunk)
        self.size += len(chunk)
        view = memoryview(chunk)
        while view:
            room = PART_SIZE - self._part_fill
            piece, view = view[:room], view[room:]
            self._part.update(piece)
            self._part_fill += len(piece)
            if self._part_fill == PART_SIZE:
                self._part_digests.append(self._part.digest())
                self._part, self._part_fill = hashlib.md5(), 0  # noqa: S324  (an ETag, not security)

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    @property
    def etag(self) -> str:
        digests = list(self._part_digests)
        if self._part_fill or not digests:
            digests.append(self._part.digest())
        if len(digests) == 1:
            return digests[0].hex()
        return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"  # noqa: S324
