"""What each platform gets (emulator/host.py): decided from platform.system() and machine(), so every
platform's decision is tested here, on Linux."""

from __future__ import annotations

import pytest

from workbench.emulator.host import Host, UnsupportedHostError


@pytest.mark.parametrize(
    ("system", "machine", "wheels", "emulated"),
    [
        ("Linux", "x86_64", "manylinux2014_x86_64", True),
        ("Linux", "aarch64", "manylinux2014_aarch64", True),
        ("Darwin", "arm64", "macosx_11_0_arm64", False),  # Apple Silicon: its own wheels, the host's speed
        ("Darwin", "x86_64", "macosx_10_12_x86_64", False),
    ],
)
def test_linux_and_macos_run_with_wheels_that_load_on_the_host(system: str, machine: str, wheels: str, emulated: bool):
    host = Host(system, machine)
    host.check()
    assert host.wheel_platform == wheels
    assert host.emulates_cpu_and_memory is emulated


def test_windows_is_refused_in_one_line_naming_wsl2():
    with pytest.raises(UnsupportedHostError, match="run it in WSL2") as refused:
        Host("Windows", "AMD64").check()
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(("system", "machine"), [("Linux", "riscv64"), ("FreeBSD", "amd64"), ("Darwin", "ppc")])
def test_a_host_without_wheels_is_refused(system: str, machine: str):
    with pytest.raises(UnsupportedHostError, match="no wheels for a"):
        Host(system, machine).check()


def test_this_host_is_one_the_runner_supports():
    Host.this().check()  # CI and this machine: Linux
