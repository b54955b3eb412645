"""Upload and download of a 1 GiB file through the API, per storage backend, with the API's peak RSS.

Floor: a plain copy of the same file on the same disk, in the same run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests
from requests_toolbelt import MultipartEncoder

from bench.report import Report
from common import migrate
from common.devstack import PostgresServer, SeaweedServer, free_port, wait_for_port

GIB = 1024 * 1024 * 1024
MIB = 1024 * 1024


def make_file(path: Path, size: int) -> None:
    block = os.urandom(16 * MIB)
    with path.open("wb") as out:
        for _ in range(size // len(block)):
            out.write(block)


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak(pid: int) -> None:
    """Reset the kernel's peak-RSS counter (VmHWM) so the next reading covers only what follows."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def run(report: Report, work: Path, pg: PostgresServer, seaweed: SeaweedServer) -> None:
    source = work / "one.gib"
    make_file(source, GIB)
    started = time.perf_counter()
    shutil.copyfile(source, work / "copy.gib")
    raw = GIB / MIB / (time.perf_counter() - started)
    (work / "copy.gib").unlink()
    report.add(
        "raw_copy_1gib_mib_per_s",
        raw,
        "MiB/s",
        notes="plain file copy on the same disk",
        higher_is_better=True,
    )
    for backend in ("postgres", "s3"):
        _one_backend(report, pg, seaweed, backend, source=source, raw=raw)


def _one_backend(
    report: Report, pg: PostgresServer, seaweed: SeaweedServer, backend: str, *, source: Path, raw: float
) -> None:
    url = pg.create_database(f"bench_{backend}")
    migrate.upgrade(url)
    from api.cli import ensure_user

    ensure_user(url, "bench", "bench-password")
    port = free_port()
    env = {
        **os.environ,
        "OUTPOST_DATABASE_URL": url,
        "OUTPOST_PORT": str(port),
        "OUTPOST_RELAY": "false",
        "OUTPOST_SECRET_KEY": "bench" * 8,
        "OUTPOST_STORAGE_BACKEND": backend,
        "OUTPOST_S3_ENDPOINT": seaweed.endpoint,
        "OUTPOST_S3_ACCESS_KEY": seaweed.access_key,
        "OUTPOST_S3_SECRET_KEY": seaweed.secret_key,
        "OUTPOST_S3_BUCKET": f"bench{backend}",
    }
    api = subprocess.Popen([sys.executable, "-m", "api"], env=env, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}/api/v1/"
        token = requests.post(
            f"{base}auth/login/", data={"username": "bench", "password": "bench-password"}, timeout=30
        ).json()["token"]
        headers = {"Authorization": f"Token {token}"}
        pid = requests.post(
            f"{base}projects/", data={"name": f"bench-{backend}"}, headers=headers, timeout=30
        ).json()["id"]
        idle = rss_kib(api.pid, "VmRSS")
        reset_peak(api.pid)
        with source.open("rb") as handle:
            body = MultipartEncoder({"file": ("one.gib", handle, "application/octet-stream")})
            started = time.perf_counter()
            response = requests.post(
                f"{base}files/{pid}/one.gib/",
                data=body,
                headers={**headers, "Content-Type": body.content_type},
                timeout=3600,
            )
            upload = GIB / MIB / (time.perf_counter() - started)
        response.raise_for_status()
        peak_upload = rss_kib(api.pid, "VmHWM")
        reset_peak(api.pid)
        started = time.perf_counter()
        received = 0
        with requests.get(
            f"{base}files/{pid}/one.gib/", headers=headers, stream=True, timeout=3600
        ) as download:
            download.raise_for_status()
            for chunk in download.iter_content(MIB):
                received += len(chunk)
        assert received == GIB
        down = GIB / MIB / (time.perf_counter() - started)
        peak_download = rss_kib(api.pid, "VmHWM")
        peak = max(peak_upload, peak_download)
        floor = {"floor": "raw_copy_1gib_mib_per_s", "floor_value": raw, "higher_is_better": True}
        report.add(f"upload_1gib_mib_per_s_{backend}", upload, "MiB/s", **floor)  # type: ignore[arg-type]
        report.add(f"download_1gib_mib_per_s_{backend}", down, "MiB/s", **floor)  # type: ignore[arg-type]
        report.add(
            f"api_peak_rss_delta_mib_{backend}",
            (peak - idle) / 1024,
            "MiB",
            target="< 64 MiB above idle",
            notes=f"idle {idle // 1024} MiB; peaks {peak_upload // 1024}, {peak_download // 1024} MiB",
        )
    finally:
        api.terminate()
        api.wait(timeout=30)
