"""Memory and CPU limits for one worker process: a cgroup of its own where the kernel lets us make one.

cgroup v2 (``memory.max``, ``cpu.max``, OOM kills counted in ``memory.events``) or v1
(``memory.limit_in_bytes``, ``cpu.cfs_quota_us``, ``memory.oom_control``), as a child of the runner's
own cgroup. Without a writable cgroup hierarchy the worker gets an address-space rlimit instead, and an
out-of-memory death can then only be reported as a crash.
"""

from __future__ import annotations

import contextlib
import os
import resource
from dataclasses import dataclass
from pathlib import Path

V2_ROOTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))
V1_MEMORY = Path("/sys/fs/cgroup/memory")
V1_CPU = Path("/sys/fs/cgroup/cpu")
CFS_PERIOD_US = 100_000


def _own_cgroup(controller: str | None) -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if (controller is None and controllers == "") or (
            controller and controller in controllers.split(",")
        ):
            return path.lstrip("/")
    return ""


@dataclass
class JobLimits:
    """The limits of one job; ``enter()`` runs in the child before exec, ``oom_killed()`` after exit."""

    name: str
    memory_bytes: int
    cpus: float
    dirs: tuple[Path, ...] = ()
    version: int = 0

    @classmethod
    def create(cls, name: str, memory_mb: int, cpus: float) -> JobLimits:
        limits = cls(name, memory_mb * 1024 * 1024, cpus)
        with contextlib.suppress(OSError):
            if limits._try_v2() or limits._try_v1():
                return limits
        return limits

    def _try_v2(self) -> bool:
        for root in V2_ROOTS:
            if not (root / "cgroup.controllers").exists():
                continue
            parent = root / _own_cgroup(None)
            control = parent / "cgroup.subtree_control"
            if not control.exists() or "memory" not in control.read_text():
                continue
            group = parent / self.name
            group.mkdir()
            (group / "memory.max").write_text(str(self.memory_bytes))
            with contextlib.suppress(OSError):
                (group / "memory.swap.max").write_text("0")
            with contextlib.suppress(OSError):
                (group / "cpu.max").write_text(f"{int(self.cpus * CFS_PERIOD_US)} {CFS_PERIOD_US}")
            self.dirs, self.version = (group,), 2
            return True
        return False

    def _try_v1(self) -> bool:
        if not V1_MEMORY.is_dir():
            return False
        memory = V1_MEMORY / _own_cgroup("memory") / self.name
        memory.mkdir()
        (memory / "memory.limit_in_bytes").write_text(str(self.memory_bytes))
        dirs = [memory]
        with contextlib.suppress(OSError):
            cpu = V1_CPU / _own_cgroup("cpu") / self.name
            cpu.mkdir()
            (cpu / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
            (cpu / "cpu.cfs_quota_us").write_text(str(int(self.cpus * CFS_PERIOD_US)))
            dirs.append(cpu)
        self.dirs, self.version = tuple(dirs), 1
        return True

    def enter(self) -> None:
        """In the forked child, before exec: join the cgroups, or cap the address space."""
        if self.dirs:
            for group in self.dirs:
                (group / "cgroup.procs").write_text(str(os.getpid()))
        else:
            cap = max(self.memory_bytes * 4, 1024 * 1024 * 1024)  # address space, not RSS: leave headroom
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    def oom_killed(self) -> bool:
        if not self.dirs:
            return False
        memory = self.dirs[0]
        events = memory / ("memory.events" if self.version == 2 else "memory.oom_control")
        with contextlib.suppress(OSError):
            for line in events.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value or 0) > 0:
                    return True
        if self.version == 1:
            with contextlib.suppress(OSError, ValueError):
                return int((memory / "memory.failcnt").read_text()) > 0 and self._at_limit(memory)
        return False

    def _at_limit(self, memory: Path) -> bool:
        peak = int((memory / "memory.max_usage_in_bytes").read_text())
        return peak >= self.memory_bytes * 0.95

    def remove(self) -> None:
        for group in self.dirs:
            with contextlib.suppress(OSError):
                group.rmdir()

    @property
    def enforced(self) -> str:
        return f"cgroup v{self.version}" if self.dirs else "rlimit"
