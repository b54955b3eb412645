"""The ETag clients compare with ``md5sum``: computed exactly as the SDK computes it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from qfieldcloud_sdk.utils import calc_etag

from storage.domain.digests import PART_SIZE, Digester

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "size", [0, 1, PART_SIZE - 1, PART_SIZE, PART_SIZE + 1, 2 * PART_SIZE, 2 * PART_SIZE + 12345]
)
def test_etag_matches_the_sdk(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "blob"
    path.write_bytes(data)
    digester = Digester()
    for offset in range(0, size, 1_000_003):  # odd chunk sizes cross part boundaries
        digester.update(data[offset : offset + 1_000_003])
    assert digester.etag == calc_etag(str(path))
    assert digester.size == size
