"""A SAM template after the SAM transform, as CloudFormation would receive it — without AWS.

The SAM translator's own `transform` with the template's parameter defaults and the overrides;
code locations replaced by placeholders (the translator insists on one, nothing here uploads),
no managed-policy lookups (the translator would ask IAM for their ARNs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped]
from samtranslator.translator.transform import transform


class _NoManagedPolicyLookups:
    def load(self) -> dict[str, str]:
        return {}


def read_template(path: Path) -> dict[str, Any]:
    """template.yaml as a dict, CloudFormation's short tags (`!Ref`, `!Sub`) read as their long forms."""
    plain: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(path))))  # dicts, not cfn-lint's node types
    return plain


def parameters(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """Each parameter's value as CloudFormation passes it: a string, a Number's default too (so that
    `!Equals [!Ref Count, "0"]` holds for `Default: 0`, as it does on AWS)."""
    values = {
        name: str(spec["Default"]) if isinstance(spec["Default"], int | float) else spec["Default"]
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
    return values | dict(overrides or {})


def transformed(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would create the stack from (Globals merged, events expanded)."""
    template = json.loads(json.dumps(template))
    template.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = "s3://local/code.zip"
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource.setdefault("Properties", {}).pop("CodeUri", None)  # a function may take them all from Globals
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://local/layer.zip"
    return transform(template, parameters(template, overrides), _NoManagedPolicyLookups())  # type: ignore[no-any-return]


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == resource_type}


if __name__ == "__main__":  # for tools that read CloudFormation, not SAM (cfripper in `make security-scan`)
    import sys

    print(json.dumps(transformed(read_template(Path(sys.argv[1]))), indent=1, default=str))
