"""Check `sam build` output: arm64 native code only, no runtime-provided SDK, a complete closure, sizes.

Usage: python tools/check_layer.py .aws-sam/build
"""

from __future__ import annotations

import sys
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ELF_MACHINE_AARCH64 = 0xB7
# What the Lambda python3.13 runtime already ships: never bundle it, and count it as present.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}


def elf_machine(path: Path) -> int | None:
    header = path.read_bytes()[:20]
    if header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def check_layer(layer: Path) -> list[str]:
    problems: list[str] = []
    site = layer / "python"
    native = [p for p in site.rglob("*") if p.is_file() and (p.suffix == ".so" or ".so." in p.name)]
    if not native:
        problems.append(f"{layer}: no native files found; expected pydantic_core and wrapt")
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
    for name, requires in requirements.items():
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate({"extra": "", "python_version": "3.13"}):
                continue
            dependency = canonicalize_name(requirement.name)
            if dependency not in installed and dependency not in RUNTIME_PROVIDED:
                problems.append(f"{layer}: {name} needs {requirement}, which is not in the layer")
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
    return []


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
    print("build check:", "FAILED" if problems else "ok (aarch64 native code, lean layer, code-only functions)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".aws-sam/build"))
