"""Each execution environment's own /tmp, of the size its `EphemeralStorage` gives (512 MB by default).

On Lambda every environment has a /tmp of its own, from 512 MB to 10,240 MB; a write past it fails with
ENOSPC, "No space left on device" ("Configuring ephemeral storage", Lambda Developer Guide). Here, where
the runner is root with mount namespaces, the environment's /tmp is an overlay: the host's /tmp as its
read-only lower layer (a project under /tmp must stay visible), and as its upper layer an ext4 image of
that size, loop-mounted — so what one environment writes no other sees, and a write past the size fails
as on Lambda. Not tmpfs: its pages would be charged to the environment's memory, where Lambda's /tmp is
not. Where that cannot be done, the environments share the host's /tmp and the runner says so once.

SnapStart: restored environments are forks of the snapshot's process and share its /tmp (on Lambda, each
restore gets its own copy of the snapshot's).
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from workbench.emulator.sandbox import process_exists, read_only_mounts

# Outside /tmp: an overlay refuses an upper layer inside its lower one.
IMAGES_ROOT = Path(os.environ.get("LOCAL_RUNNER_EPHEMERAL_ROOT", "/var/tmp"))  # noqa: S108 - mkdtemp, mode 700
# Where a harness shares files with the functions (what they write under the host's /tmp stays in theirs).
HOST_SCRATCH = IMAGES_ROOT
PREFIX = "lambda-local-tmp-"
PROBE_SIZE_MB = 8  # the smallest image worth probing the mounts with
NOT_PRIVATE = "/tmp shared with the host, size not enforced"  # noqa: S108 - a message


class PrivateTmp:
    """One environment's /tmp: its image, and the shell steps that mount it in the environment's namespace."""

    def __init__(self, size_mb: int) -> None:
        self.size_mb = size_mb
        self.root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=IMAGES_ROOT))
        try:
            image = self.root / "image"
            with image.open("wb") as handle:
                handle.truncate(size_mb * 1024 * 1024)  # sparse: disk is used as the function writes
            subprocess.run(  # noqa: S603 - e2fsprogs on our own image file
                [shutil.which("mkfs.ext4") or "mkfs.ext4", "-q", "-F", "-m", "0", str(image)],
                check=True,
                capture_output=True,
            )
            (self.root / "layer").mkdir()
        except BaseException:
            self.remove()
            raise

    def mount_steps(self) -> list[str]:
        image, layer = shlex.quote(str(self.root / "image")), shlex.quote(str(self.root / "layer"))
        return [
            f"mount -o loop,nosuid,nodev {image} {layer}",
            f"mkdir -m 1777 {layer}/upper {layer}/work",
            f"mount -t overlay overlay -o lowerdir=/tmp,upperdir={layer}/upper,workdir={layer}/work /tmp",
        ]

    def remove(self) -> None:
        """The image goes with the environment (its loop device went when its namespace ended)."""
        shutil.rmtree(self.root, ignore_errors=True)


_swept = threading.Lock()
_stale_removed = False


@functools.cache  # the host does not change under a running process: probed once
def private_tmp_reason() -> str | None:
    """Why environments share the host's /tmp here, or None: each gets its own (a real mount, probed once)."""
    if os.geteuid() != 0 or not read_only_mounts():
        return f"{NOT_PRIVATE}: needs root with mount namespaces"
    if shutil.which("mkfs.ext4") is None:
        return f"{NOT_PRIVATE}: no mkfs.ext4 (e2fsprogs)"
    if not IMAGES_ROOT.is_dir():
        return f"{NOT_PRIVATE}: no {IMAGES_ROOT}"
    try:
        probe = PrivateTmp(PROBE_SIZE_MB)
    except (OSError, subprocess.CalledProcessError) as error:
        return f"{NOT_PRIVATE}: cannot make an ext4 image in {IMAGES_ROOT} ({error})"
    try:
        script = "set -e; " + "; ".join(probe.mount_steps())
        mounted = subprocess.run(  # noqa: S603 - util-linux, probing the mounts an environment would get
            ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        probe.remove()
    if mounted.returncode != 0:
        return f"{NOT_PRIVATE}: {mounted.stderr.strip().splitlines()[-1] if mounted.stderr.strip() else 'mount failed'}"
    return None


def private_tmp(size_mb: int) -> PrivateTmp | str:
    """A /tmp for one environment, or why environments share the host's here (once per run, stale images go)."""
    global _stale_removed
    if (reason := private_tmp_reason()) is not None:
        return reason
    with _swept:
        if not _stale_removed:
            remove_stale()
            _stale_removed = True
    return PrivateTmp(size_mb)


def remove_stale() -> list[str]:
    """Images of runners that are gone (killed before their cleanup ran): removed, their names returned."""
    removed = []
    for path in IMAGES_ROOT.glob(f"{PREFIX}*"):
        pid_text = path.name.removeprefix(PREFIX).split("-", 1)[0]
        if pid_text.isdigit() and not process_exists(int(pid_text)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed
