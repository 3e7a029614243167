"""What this host can run, decided once: which wheels the layer is built for, and what is emulated here.

- Linux x86_64 or aarch64: everything — CPU and memory from cgroups (emulator/sandbox.py), read-only
  code and a private /tmp from mount namespaces when root (emulator/ephemeral.py); the layer's native
  code built for the host's architecture (manylinux2014), Lambda's python3.13 runtime otherwise.
- macOS (Intel or Apple Silicon): the functions run at the host's full speed, without cgroups, marked
  "not emulated" in every REPORT line; the layer is built with the host's own wheels (macOS's), since
  Linux native code does not load there; code folders are read-only by their modes only, and /tmp is
  the host's. SnapStart's fork works (POSIX).
- Windows: refused in one line. The runner needs POSIX pipes with select(), fork, inherited file
  descriptors and /bin/sh; WSL2 gives all of them (and Linux's cgroups).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

_MANYLINUX = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64", "arm64": "manylinux2014_aarch64"}
_MACOS = {"x86_64": "macosx_10_12_x86_64", "arm64": "macosx_11_0_arm64"}  # the oldest each architecture's wheels use


class UnsupportedHostError(RuntimeError):
    """This host cannot run the functions: one line says why, and what to use instead."""


@dataclass(frozen=True)
class Host:
    system: str  # platform.system(): Linux, Darwin, Windows
    machine: str  # platform.machine(): x86_64, aarch64, arm64, AMD64

    @classmethod
    def this(cls) -> Host:
        return cls(platform.system(), platform.machine())

    def check(self) -> None:
        """Refuse, in one line, a host the runner cannot run functions on."""
        if self.system == "Windows":
            raise UnsupportedHostError(
                "Windows cannot run the local Lambda runner (it needs POSIX pipes, fork and /bin/sh): "
                "run it in WSL2, e.g. Ubuntu, where the Linux emulation applies in full"
            )
        if self.system not in ("Linux", "Darwin") or self.wheel_platform is None:
            raise UnsupportedHostError(
                f"no wheels for a {self.system} {self.machine} host; the runner needs Linux (x86_64, aarch64) "
                "or macOS (Intel, Apple Silicon)"
            )

    @property
    def wheel_platform(self) -> str | None:
        """pip's --platform for the layer's twin: native code that loads on this host."""
        table = _MANYLINUX if self.system == "Linux" else _MACOS if self.system == "Darwin" else {}
        return table.get(self.machine)

    @property
    def emulates_cpu_and_memory(self) -> bool:
        """Only Linux has cgroups; elsewhere REPORT lines say the functions ran at the host's speed."""
        return self.system == "Linux"
