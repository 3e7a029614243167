"""Check `sam build` output: arm64 native code only, no runtime-provided SDK, a complete closure,
python3.13 bytecode shipped beside every module (Lambda's code folders are read-only), sizes.

Usage: python tools/check_layer.py .aws-sam/build
"""

from __future__ import annotations

import sys
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ELF_MACHINE_AARCH64 = 0xB7
# CPython 3.13's bytecode magic number (importlib.util.MAGIC_NUMBER on python3.13): Lambda's runtime.
PYTHON_313_MAGIC = (3571).to_bytes(2, "little") + b"\r\n"
UNCHECKED_HASH_FLAGS = 0b01  # PEP 552: hash-based, source not checked (zip timestamps cannot be trusted)
# What the Lambda python3.13 runtime already ships: never bundle it, and count it as present.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
# Tracing is OpenTelemetry's API plus src/orders/tracing: these would only add INIT (README, tracing).
NEVER_IN_THE_LAYER = {"aws-xray-sdk", "opentelemetry-sdk", "opentelemetry-instrumentation-botocore", "protobuf"}


def elf_machine(path: Path) -> int | None:
    header = path.read_bytes()[:20]
    if header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def check_bytecode(tree: Path) -> list[str]:
    """Every module has python3.13, unchecked-hash bytecode beside it, or Lambda compiles it at every cold start."""
    problems: list[str] = []
    modules = sorted(tree.rglob("*.py"))
    for module in modules:
        compiled = module.parent / "__pycache__" / f"{module.stem}.cpython-313.pyc"
        if not compiled.is_file():
            problems.append(f"{module}: no {compiled.name}")
            continue
        header = compiled.read_bytes()[:8]
        if header[:4] != PYTHON_313_MAGIC:
            problems.append(f"{compiled}: bytecode is not python3.13's")
        elif int.from_bytes(header[4:8], "little") != UNCHECKED_HASH_FLAGS:
            problems.append(f"{compiled}: not unchecked-hash bytecode")
    if len(problems) > 5:  # one line per module would drown the rest
        problems = [*problems[:5], f"{tree}: … and {len(problems) - 5} more modules without proper bytecode"]
    return problems


def tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def check_layer(layer: Path) -> list[str]:
    problems: list[str] = []
    site = layer / "python"
    native = [p for p in site.rglob("*") if p.is_file() and (p.suffix == ".so" or ".so." in p.name)]
    if not native:
        problems.append(f"{layer}: no native files found; expected pydantic_core")
    for path in native:
        machine = elf_machine(path)
        if machine != ELF_MACHINE_AARCH64:
            problems.append(f"{path}: ELF machine {machine!r}, not aarch64")
    installed: dict[str, str] = {}
    requirements: dict[str, list[str]] = {}
    name: str
    for metadata in site.glob("*.dist-info/METADATA"):
        message = Parser().parsestr(metadata.read_text(encoding="utf-8"))
        name = canonicalize_name(message["Name"])
        installed[name] = message["Version"]
        requirements[name] = message.get_all("Requires-Dist") or []
    for name in sorted(set(installed) & RUNTIME_PROVIDED):
        problems.append(f"{layer}: bundles {name}, which the Lambda runtime already provides")
    for name in sorted(set(installed) & NEVER_IN_THE_LAYER):
        problems.append(f"{layer}: bundles {name}; tracing needs only opentelemetry-api (src/orders/tracing)")
    for name, requires in requirements.items():
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate({"extra": "", "python_version": "3.13"}):
                continue
            dependency = canonicalize_name(requirement.name)
            if dependency not in installed and dependency not in RUNTIME_PROVIDED:
                problems.append(f"{layer}: {name} needs {requirement}, which is not in the layer")
    problems += check_bytecode(site)
    print(
        f"layer {layer.name}: {len(installed)} distributions, {len(native)} native files, "
        f"{tree_size(site) / 1e6:.1f} MB unzipped"
    )
    return problems


def check_function(function: Path) -> list[str]:
    size = tree_size(function)
    print(f"function {function.name}: {size / 1024:.0f} KB unzipped")
    if any(function.glob("*.dist-info")):
        return [f"{function}: dependencies bundled into function code; they belong in the layer"]
    return check_bytecode(function)


def main(build_dir: str) -> int:
    build = Path(build_dir)
    problems: list[str] = []
    layers = [d for d in build.iterdir() if d.is_dir() and (d / "python").is_dir()]
    functions = [d for d in build.iterdir() if d.is_dir() and (d / "orders").is_dir()]
    if not layers or not functions:
        problems.append(f"{build}: expected a layer and function artifacts; run `sam build` first")
    for layer in layers:
        problems += check_layer(layer)
    for function in functions:
        problems += check_function(function)
    for problem in problems:
        print(f"FAIL {problem}")
    print(
        "build check:",
        "FAILED" if problems else "ok (aarch64 native code, lean layer, code-only functions, python3.13 bytecode)",
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".aws-sam/build"))
