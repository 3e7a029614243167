"""Code as Lambda runs it: the `sam build` output, for this host's architecture, read-only.

Lambda imports a function from /var/task and its layers from /opt, both read-only, so Python never
writes bytecode there: what the build ships is what every cold start gets. The runner therefore
runs `sam build` itself (the same packaging/Makefile recipes) into `.aws-sam/local/`, with one
difference: the layer's wheels are for this host's architecture (`LAYER_PLATFORM`), because aarch64
native code does not load on an x86_64 host. The packages the python3.13 runtime provides (boto3,
botocore, …) come from the runner's own install, compiled the same way, as the runtime's directory.
Nothing is rebuilt while the inputs are unchanged.
"""

from __future__ import annotations

import compileall
import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import py_compile
import re
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from workbench.emulator.host import Host
from workbench.emulator.template import PROJECT_ROOT, FunctionSpec, SamApplication

# What the Lambda python3.13 runtime ships beside the interpreter (tools/check_layer.py's list).
RUNTIME_DISTRIBUTIONS = (  # what the python3.13 runtime ships beside the standard library
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "urllib3",
    "python-dateutil",
    "six",
    "snapshot-restore-py",  # SnapStart's runtime hooks (src/orders/snapstart.py)
)
LOCAL_BUILD_ROOT = PROJECT_ROOT / ".aws-sam" / "local"
KEPT_BUILDS = 2  # older builds kept beside the current one, for other runs of the checkout still using them


class _BuildLock:
    """One writer at a time in a build folder: across this run's threads, and across the runs of one
    checkout (`start-api` in one terminal, `make demo` in another), which share `.aws-sam/local/`."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._threads = threading.Lock()

    @contextlib.contextmanager
    def held(self, root: Path) -> Iterator[None]:
        with self._threads:
            root.mkdir(parents=True, exist_ok=True)
            with open(root / f".{self._name}.lock", "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
                yield


_copy_lock = _BuildLock("copies")
# The properties of functions and layers `sam build` depends on (policies, events, sizes: it does not).
_BUILD_PROPERTIES = ("CodeUri", "ContentUri", "Handler", "Runtime", "Architectures", "Layers", "CompatibleRuntimes")


class BuildError(RuntimeError):
    pass


def host_wheel_platform() -> str:
    """The layer twin's wheels: native code that loads on this host (emulator/host.py decides)."""
    host = Host.this()
    host.check()
    return str(host.wheel_platform)


def _pick(properties: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: properties[key] for key in keys if key in properties}


def source_files(root: Path) -> list[Path]:
    """The files under `root` a build reads: no bytecode caches, nothing hidden (.aws-sam, .git, .venv — a
    CodeUri of `.` holds them, and the build's own output would change its inputs)."""
    if root.is_file():
        return [root]
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and not any(part == "__pycache__" or part.startswith(".") for part in path.relative_to(root).parts)
    )


def _fingerprint(paths: list[Path], *extra: str) -> str:
    digest = hashlib.sha256("\0".join(extra).encode())
    for root in paths:
        for path in source_files(root):
            digest.update(str(path.relative_to(root.parent)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _compile(directory: Path) -> None:
    """The same bytecode the packaging recipe ships (python3.13, unchecked hash)."""
    compileall.compile_dir(
        directory, quiet=1, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    )


def _make_read_only(directory: Path) -> None:
    """Unwritable for any user but root (root is kept out by a read-only mount; see sandbox.py)."""
    for path in [directory, *directory.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _remove(directory: Path) -> None:
    if directory.exists():
        for path in [directory, *directory.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(directory)


def _staged(target: Path, fill: Callable[[Path], None]) -> Path:
    """`target`, made once: filled in a staging folder, made read-only, then renamed into place."""
    if not target.is_dir():
        staging = target.with_name(target.name + ".tmp")
        _remove(staging)
        fill(staging)
        _make_read_only(staging)
        staging.rename(target)
    return target


@functools.cache  # the venv does not change under a running process: check once, not per cold start
def installed_copy(name: str, distributions: tuple[str, ...], root: Path = LOCAL_BUILD_ROOT) -> Path:
    """These distributions as installed in this venv, copied into `root/name`, compiled like the build's.

    No download and no install step: the exact files (native code included) the venv has, read-only.
    """
    versions = [f"{d}=={importlib.metadata.version(d)}" for d in distributions]
    target = root / name
    stamp = root / f"{name}.fingerprint"
    fingerprint = hashlib.sha256("\0".join([*versions, sys.version]).encode()).hexdigest()[:16]
    with _copy_lock.held(root):
        if stamp.is_file() and stamp.read_text() == fingerprint and target.is_dir():
            return target
        _remove(target)
        for distribution_name in distributions:
            distribution = importlib.metadata.distribution(distribution_name)
            for file in distribution.files or []:
                if file.suffix == ".pyc" or (file.parts[0].endswith(".dist-info") and file.name == "RECORD"):
                    continue
                source = Path(str(distribution.locate_file(file)))
                if source.is_file() and not str(file).startswith(".."):
                    destination = target / file
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, destination)
        _compile(target)
        _make_read_only(target)
        stamp.write_text(fingerprint)
        return target


def runtime_dir(root: Path = LOCAL_BUILD_ROOT) -> Path:
    """The packages the python3.13 runtime provides (boto3, botocore, …), from this venv."""
    return installed_copy("runtime", RUNTIME_DISTRIBUTIONS, root)


class LocalBuild:
    """`.aws-sam/local/`: functions, the host-architecture layer twin, and the runtime's packages."""

    _lock = _BuildLock("build")

    def __init__(self, app: SamApplication) -> None:
        self.app = app
        self.root = app.template_path.parent / ".aws-sam" / "local"
        self._built: Path | None = None
        self.function_fingerprints: dict[str, str] = {}  # each function's sources (code, layers, packaging)
        self.native_note = (
            f"layer native code built for this host ({platform.machine()}); Lambda runs the template's "
            f"{', '.join(sorted({a for f in app.functions.values() for a in f.architectures}))} build"
        )

    def inputs(self) -> list[Path]:
        """What the build reads besides the template: the functions' code, the layers' sources, the packaging."""
        sources = {self.app.template_path.parent / "packaging"}
        for function in self.app.functions.values():
            sources.add(function.code_dir)
            sources.update(function.layer_dirs)
        return sorted(p for p in sources if p.exists())

    def _build_view(self) -> str:
        """What of the template `sam build` reads: a copy that changes only policies reuses the build."""
        template = self.app.sam_template
        view: dict[str, Any] = {"Globals": _pick(template.get("Globals", {}).get("Function", {}), _BUILD_PROPERTIES)}
        for name, resource in template["Resources"].items():
            if resource["Type"] in {"AWS::Serverless::Function", "AWS::Serverless::LayerVersion"}:
                properties = _pick(resource.get("Properties", {}), _BUILD_PROPERTIES)
                view[name] = {"Type": resource["Type"], "Metadata": resource.get("Metadata"), **properties}
        return json.dumps(view, sort_keys=True, default=str)

    def sam_build(self) -> Path:
        """`sam build` into .aws-sam/local/sam-<fingerprint> (host-architecture layer), unless it is there.

        Checked once per run (hashing every input again at each spec() would read the sources each time);
        `rebuild()` checks again. Each set of inputs gets its own folder: environments still running the
        previous code keep their files while the new ones start.
        """
        if self._built is None:
            self._built = self._build_current()
        return self._built

    def rebuild(self, in_use: Iterable[Path]) -> set[str]:
        """After a change of the inputs: the build of what they are now (the builds `in_use` are kept); the
        functions whose code changed."""
        before = dict(self.function_fingerprints)
        self._built = self._build_current(in_use)
        return {name for name, fingerprint in self.function_fingerprints.items() if before.get(name) != fingerprint}

    def _build_current(self, in_use: Iterable[Path] = ()) -> Path:
        self.function_fingerprints = {
            name: _fingerprint(self._function_inputs(function), sys.version)
            for name, function in self.app.functions.items()
        }
        fingerprint = _fingerprint(self.inputs(), host_wheel_platform(), sys.version, self._build_view())
        target = self.root / f"sam-{fingerprint}"
        with self._lock.held(self.root):
            if not target.is_dir():
                staging = target.with_name(target.name + ".tmp")
                self._build_into(staging)
                staging.rename(target)  # whole, or not there: a reader never sees half a build
            self._prune(keep={target, *in_use})
        return target

    def _function_inputs(self, function: FunctionSpec) -> list[Path]:
        packaging = self.app.template_path.parent / "packaging"
        return [p for p in (function.code_dir, *function.layer_dirs, packaging) if p.exists()]

    def _prune(self, keep: set[Path]) -> None:
        """Older builds, but the latest few and those kept: another run of this checkout may still be on one."""
        builds = [p for p in self.root.glob("sam-*") if re.fullmatch(r"sam-[0-9a-f]{16}", p.name)]
        builds.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in [b for b in builds if b not in keep and b != self._built][KEPT_BUILDS:]:
            _remove(old)

    def _build_into(self, target: Path) -> None:
        _remove(target)
        env = {
            **os.environ,
            "LAYER_PLATFORM": host_wheel_platform(),
            "PYTHON": sys.executable,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "SAM_CLI_TELEMETRY": "0",
        }
        sam = shutil.which("sam", path=env["PATH"]) or "sam"
        # --cached: a function or layer whose sources did not change is copied from the cache, not built again
        command = [sam, "build", "--template", str(self.app.template_path), "--build-dir", str(target)]
        command += ["--cached", "--cache-dir", str(self.root / "sam-cache")]
        result = subprocess.run(  # noqa: S603 - SAM CLI from our own venv
            command, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            _remove(target)
            raise BuildError(f"sam build for the local runner failed:\n{tail}")
        _make_read_only(target)
        _remove(self.root / "no-bytecode")  # derived from the old build

    def code(self, source: Path) -> Path:
        """A code folder outside the template (the lab's twins), packaged like a function's."""

        def fill(staging: Path) -> None:
            shutil.copytree(source, staging, ignore=shutil.ignore_patterns("__pycache__"))
            _compile(staging)

        with self._lock.held(self.root):
            return _staged(self.root / "extra" / f"{source.name}-{_fingerprint([source], sys.version)}", fill)

    def spec(self, function: FunctionSpec) -> FunctionSpec:
        """The function as the runner runs it: its built code and its built layers."""
        built = self.sam_build()
        layer_ids = [
            name
            for name, resource in self.app.sam_template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::LayerVersion"
            and (self.app.template_path.parent / resource["Properties"]["ContentUri"]).resolve() in function.layer_dirs
        ]
        return dataclasses.replace(
            function,
            code_dir=built / function.logical_id,
            layer_dirs=tuple(built / layer_id for layer_id in layer_ids),
        )

    def debug_spec(self, function: FunctionSpec) -> FunctionSpec:
        """The built function run from `.aws-sam/local/debug/<LogicalId>`, a link to its current build: a path
        that stays the same across rebuilds, for a debugger's pathMappings."""
        built = self.spec(function)
        link = self.root / "debug" / function.logical_id
        link.parent.mkdir(parents=True, exist_ok=True)
        staging = link.with_name(f".{link.name}.link")
        staging.unlink(missing_ok=True)
        staging.symlink_to(built.code_dir)
        staging.replace(link)  # atomic: the link is the old build or the new one, never missing
        return dataclasses.replace(built, code_dir=link)

    def without_bytecode(self, function: FunctionSpec) -> FunctionSpec:
        """The same built function and layers with every .pyc removed: what `--no-compile` ships."""
        built = self.spec(function)
        copies = [
            _staged(
                self.root / "no-bytecode" / folder.name,
                functools.partial(shutil.copytree, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")),
            )
            for folder in (built.code_dir, *built.layer_dirs)
        ]
        return dataclasses.replace(built, code_dir=copies[0], layer_dirs=tuple(copies[1:]))
