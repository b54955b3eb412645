"""``make bench``: run every benchmark this machine can run and write bench/results.json."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from bench import deltas, package, runner, scheduler, storage
from bench.report import Report
from common.devstack import PostgresServer, SeaweedServer

NOT_YET: dict[str, str] = {}  # figure -> why this machine cannot measure it


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="outpost-bench-"))
    work.chmod(0o711)
    report = Report()
    pg = PostgresServer(work / "pg").start()
    seaweed = SeaweedServer(work / "seaweed").start()
    try:
        package.run(report, work)
        deltas.run(report, work)
        asyncio.run(runner.run(report))
        asyncio.run(scheduler.run(report, work, pg))
        storage.run(report, work, pg, seaweed)
        for name, why in NOT_YET.items():
            report.add(name, None, "", notes=f"not measured: {why}")
    finally:
        seaweed.stop()
        pg.stop()
        out = Path(__file__).parent / "results.json"
        report.write(out)
        print(f"wrote {out}")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
