"""Lambda's CPU and memory for one execution environment, from Linux cgroups (v1 or v2).

- CPU: Lambda gives CPU in proportion to memory, 1,769 MB = one vCPU, up to 6 vCPUs at 10,240 MB
  (docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html). Emulated with a CFS quota of
  MemorySize / 1,769 of one CPU in every 20 ms period.
- INIT of an on-demand function runs unthrottled by default: observed, not documented by AWS
  (bitesizedserverless.com, "Lambda Cold Starts and Bootstrap Code", 2023; cebert/aws-lambda-performance-
  benchmarks, Dec 2025: init time flat from 128 to 2,048 MB while the first invocation is throttled).
  `throttle_init=True` throttles INIT too, for provisioned concurrency / SnapStart experiments.
- Memory: the cgroup's limit is MemorySize (no swap); the kernel's OOM killer ends the environment
  as Lambda's does, and `Max Memory Used` is the cgroup's peak.

Every cgroup is named `lambda-local-<runner pid>-<n>`; none outlives the runner (atexit, SIGTERM),
and those of a runner that was killed are removed by the next one.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.emulator.host import Host

ONE_VCPU_MB = 1769
MIN_MEMORY_MB, MAX_MEMORY_MB = 128, 10240
LAMBDA_MAX_VCPUS = 6
# 20 ms, not Linux's 100 ms default: the shortest period where 128 MB's share (7.2 %) stays above the
# kernel's 1 ms minimum quota. Shares are then enforced within every 20 ms, so a short invocation
# cannot burst at full speed through a 100 ms window: closer to "CPU in proportion to memory".
CFS_PERIOD_US = 20_000
PREFIX = "lambda-local-"
CGROUP_ROOT = Path(os.environ.get("LOCAL_RUNNER_CGROUP_ROOT", "/sys/fs/cgroup"))
NOT_EMULATED = "CPU/memory not emulated"


class EmulationError(ValueError):
    """A memory size that Lambda or this host cannot give."""


def vcpus_for(memory_mb: int) -> float:
    """Lambda's CPU share for a memory size: 1,769 MB = 1 vCPU, capped at Lambda's 6."""
    if not MIN_MEMORY_MB <= memory_mb <= MAX_MEMORY_MB:
        raise EmulationError(f"MemorySize {memory_mb} MB is outside Lambda's {MIN_MEMORY_MB}–{MAX_MEMORY_MB} MB")
    return min(memory_mb / ONE_VCPU_MB, LAMBDA_MAX_VCPUS)


def host_cpus() -> int:
    return len(os.sched_getaffinity(0))


def check_host_can_give(memory_mb: int) -> None:
    vcpus = vcpus_for(memory_mb)
    if vcpus > host_cpus():
        raise EmulationError(
            f"MemorySize {memory_mb} MB gets {vcpus:.2f} vCPUs on Lambda; this host has {host_cpus()} CPUs"
        )


@dataclass(frozen=True)
class CgroupHost:
    """Where the cpu and memory controllers are, and in which cgroup version."""

    version: int
    cpu_root: Path
    memory_root: Path

    @classmethod
    def detect(cls, root: Path = CGROUP_ROOT) -> CgroupHost | str:
        """The host's cgroups, or the reason they cannot be used."""
        controllers = root / "cgroup.controllers"
        if controllers.is_file():  # v2: one unified tree
            available = controllers.read_text().split()
            if not {"cpu", "memory"} <= set(available):
                return f"cgroup v2 at {root} lacks the cpu or memory controller"
            try:
                (root / "cgroup.subtree_control").write_text("+cpu +memory")
            except OSError as error:
                return f"cannot enable cgroup v2 controllers at {root}: {error.strerror}"
            return cls(2, root, root)
        cpu, memory = root / "cpu", root / "memory"
        if (cpu / "cpu.cfs_quota_us").is_file() and (memory / "memory.limit_in_bytes").is_file():
            if not (os.access(cpu, os.W_OK) and os.access(memory, os.W_OK)):
                return f"cgroup v1 at {root} is not writable (run as root, or in a privileged container)"
            return cls(1, cpu, memory)
        return f"no cgroup cpu and memory controllers under {root} (not Linux, or not mounted)"

    def remove_stale(self) -> int:
        """Remove the cgroups of runners that no longer exist; returns how many went."""
        removed = 0
        for root in {self.cpu_root, self.memory_root}:
            for path in root.glob(f"{PREFIX}*"):
                owner = path.name.removeprefix(PREFIX).split("-")[0]
                if owner.isdigit() and not process_exists(int(owner)):
                    _remove_cgroup(path)
                    removed += 1
        return removed


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_cgroup(path: Path) -> None:
    """Kill whatever is still inside, then remove the (empty) cgroup."""
    for _ in range(50):
        with contextlib.suppress(FileNotFoundError):
            for pid in (path / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # still busy: the killed processes are being reaped
            time.sleep(0.02)


class Sandbox:
    """The cgroup(s) of one execution environment."""

    _sequence = itertools.count(1)

    def __init__(self, host: CgroupHost, memory_mb: int, *, throttle_init: bool) -> None:
        check_host_can_give(memory_mb)
        self.host = host
        self.memory_mb = memory_mb
        name = f"{PREFIX}{os.getpid()}-{next(self._sequence)}"
        self.paths = sorted({host.cpu_root / name, host.memory_root / name})
        for path in self.paths:
            path.mkdir()
        _LIVE.add(self)
        self.cpu = host.cpu_root / name
        self.memory = host.memory_root / name
        limit = str(memory_mb * 1024 * 1024)
        if host.version == 1:
            (self.memory / "memory.limit_in_bytes").write_text(limit)
            with contextlib.suppress(OSError):  # only where swap accounting is on: no swap, as on Lambda
                (self.memory / "memory.memsw.limit_in_bytes").write_text(limit)
            with contextlib.suppress(OSError):  # charge what the process brings along when it joins
                (self.memory / "memory.move_charge_at_immigrate").write_text("3")
        else:
            (self.memory / "memory.max").write_text(limit)
            with contextlib.suppress(OSError):
                (self.memory / "memory.swap.max").write_text("0")
        self.set_throttled(throttle_init)

    @property
    def procs_files(self) -> list[Path]:
        """Where a process writes its pid to enter this sandbox."""
        return [path / "cgroup.procs" for path in self.paths]

    def enter(self, pid: int) -> None:
        """Move a running process in (a SnapStart restore: forked from the snapshot's sandbox)."""
        for path in self.procs_files:
            path.write_text(str(pid))

    def set_throttled(self, throttled: bool) -> None:
        quota = round(CFS_PERIOD_US * vcpus_for(self.memory_mb)) if throttled else -1
        if self.host.version == 1:
            (self.cpu / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
            (self.cpu / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (self.cpu / "cpu.max").write_text(f"{quota if quota > 0 else 'max'} {CFS_PERIOD_US}")

    def peak_memory_mb(self) -> int | None:
        name = "memory.max_usage_in_bytes" if self.host.version == 1 else "memory.peak"
        try:
            return int((self.memory / name).read_text()) // (1024 * 1024)
        except (OSError, ValueError):  # memory.peak needs Linux 5.19
            return None

    def out_of_memory(self) -> bool:
        """Whether the kernel's OOM killer acted (or the limit was hit) in this sandbox."""
        try:
            if self.host.version == 1:
                stats = dict(line.split() for line in (self.memory / "memory.oom_control").read_text().splitlines())
                return int(stats.get("oom_kill", "0")) > 0 or int((self.memory / "memory.failcnt").read_text()) > 0
            events = dict(line.split() for line in (self.memory / "memory.events").read_text().splitlines())
            return int(events.get("oom_kill", "0")) > 0
        except OSError:
            return False

    def remove(self) -> None:
        for path in self.paths:
            _remove_cgroup(path)
        _LIVE.discard(self)


_LIVE: set[Sandbox] = set()
_host_lock = threading.Lock()
_host: CgroupHost | str | None = None


def cgroup_host() -> CgroupHost | str:
    """The host's cgroups (detected once, stale ones removed) or why they cannot be used."""
    global _host
    with _host_lock:
        if _host is None:
            this = Host.this()
            _host = CgroupHost.detect() if this.emulates_cpu_and_memory else f"{this.system} has no cgroups"
            if isinstance(_host, CgroupHost):
                _host.remove_stale()
                atexit.register(remove_all)
                _remove_on_sigterm()
        return _host


def remove_all() -> None:
    for sandbox in list(_LIVE):
        sandbox.remove()


def _remove_on_sigterm() -> None:
    """SIGTERM ends the runner through SystemExit, so atexit (and every `finally`) runs."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        return  # someone else handles SIGTERM; atexit still runs when they exit

    def _exit(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


_mounts_lock = threading.Lock()
_mounts: bool | None = None


def read_only_mounts() -> bool:
    """Whether environments can get read-only code mounts (root, with mount namespaces).

    Root ignores file modes, so for root the code and layer folders are bind-mounted read-only in
    the environment's own mount namespace; any other user is kept out by the folders' modes alone.
    """
    global _mounts
    with _mounts_lock:
        if _mounts is None:
            unshare = shutil.which("unshare")
            _mounts = (
                os.geteuid() == 0
                and unshare is not None
                and subprocess.run(  # noqa: S603 - util-linux, probing mount namespaces
                    [unshare, "--mount", "--propagation", "private", "true"], capture_output=True, check=False
                ).returncode
                == 0
            )
        return _mounts


def launch_command(
    command: list[str], *, sandbox: Sandbox | None, read_only: tuple[Path, ...], mounts: tuple[str, ...] = ()
) -> tuple[list[str], str | None]:
    """`command`, started inside the sandbox's cgroups, after `mounts` (shell steps: the environment's /tmp),
    with `read_only` folders unwritable.

    Returns the command line and, when a folder cannot be made unwritable, why.
    The shell enters the cgroups before it execs Python, so INIT's memory and CPU are counted too.
    """
    steps = ["set -e"]
    if sandbox is not None:
        steps += [f"echo $$ > {shlex.quote(str(path))}" for path in sandbox.procs_files]
    problem = None
    prefix: list[str] = []
    if os.geteuid() == 0:
        if read_only_mounts():
            prefix = ["unshare", "--mount", "--propagation", "private", "--"]
            steps += list(mounts)  # before the read-only binds: an overlay on /tmp would hide those under it
            steps += [f"mount --bind -o ro {shlex.quote(str(d))} {shlex.quote(str(d))}" for d in read_only]
        else:
            problem = "code folders writable: root without mount namespaces (unshare) here"
    steps.append('exec "$@"')
    return [*prefix, "/bin/sh", "-c", "; ".join(steps), "sh", *command], problem
