"""The bench/results.json format: every figure next to the floor it is compared with."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Result:
    name: str
    value: float | None
    unit: str
    floor: str | None = None
    floor_value: float | None = None
    ratio: float | None = None
    target: str = ""
    notes: str = ""


class Report:
    def __init__(self) -> None:
        self.results: list[Result] = []

    def add(
        self,
        name: str,
        value: float | None,
        unit: str,
        *,
        floor: str | None = None,
        floor_value: float | None = None,
        target: str = "",
        notes: str = "",
        higher_is_better: bool = False,
    ) -> None:
        ratio = None
        if value is not None and floor_value:
            ratio = round(floor_value / value if higher_is_better else value / floor_value, 3)
        rounded = None if value is None else round(value, 3)
        floor_rounded = None if floor_value is None else round(floor_value, 3)
        self.results.append(Result(name, rounded, unit, floor, floor_rounded, ratio, target, notes))
        print(
            f"{name:38} {rounded!s:>12} {unit:8} floor {floor or '-'}={floor_rounded}  ratio={ratio}  {notes}"
        )

    def write(self, path: Path) -> None:
        git = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
        machine = f"{os.cpu_count()} cores, {_memory_gib()} GiB, {platform.platform()}"
        data = {
            "machine": machine,
            "git": git,
            "started_at": datetime.now(UTC).isoformat(),
            "results": [asdict(r) for r in self.results],
        }
        path.write_text(json.dumps(data, indent=2) + "\n")


def _memory_gib() -> int:
    with open("/proc/meminfo") as meminfo:
        kib = int(meminfo.readline().split()[1])
    return round(kib / 1024 / 1024)
