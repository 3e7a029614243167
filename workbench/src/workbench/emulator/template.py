"""Read template.yaml through SAM's own machinery: SAM CLI's providers and the SAM translator."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

from sam_testkit.sam_template import parameters, resources_of_type, transformed
from workbench.emulator.platform_log import LogConfig

# The application is the folder the command runs in, as for `sam` (`-t` names another template).
PROJECT_ROOT = Path.cwd()
DEFAULT_TEMPLATE = PROJECT_ROOT / "template.yaml"


@dataclass(frozen=True)
class FunctionSpec:
    """A function as the template declares it, with the paths made absolute."""

    logical_id: str
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    architectures: tuple[str, ...]
    events: dict[str, Any] = field(default_factory=dict)
    raw_environment: dict[str, Any] = field(default_factory=dict)
    log_config: LogConfig = field(default_factory=LogConfig)  # its LoggingConfig: format and levels
    ephemeral_storage_mb: int = 512  # EphemeralStorage.Size: its /tmp

    def events_of_type(self, event_type: str) -> dict[str, dict[str, Any]]:
        return {name: e.get("Properties", {}) for name, e in self.events.items() if e.get("Type") == event_type}


class SamApplication:
    """template.yaml with parameter overrides applied, as `sam local` sees it."""

    def __init__(self, template_path: Path = DEFAULT_TEMPLATE, parameter_overrides: dict[str, str] | None = None):
        self.template_path = template_path.resolve()
        self.parameter_overrides = dict(parameter_overrides or {})
        region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        stacks, _ = SamLocalStackProvider.get_stacks(
            str(self.template_path),
            parameter_overrides=self.parameter_overrides,
            global_parameter_overrides={"AWS::Region": region},
        )
        self._stack = stacks[0]
        for resource in self._stack.template_dict.get("Resources", {}).values():
            resource.setdefault("Properties", {})  # CloudFormation reads a resource without them as empty
        self.region = region

    @property
    def sam_template(self) -> dict[str, Any]:
        return self._stack.template_dict  # type: ignore[no-any-return]

    @cached_property
    def cloudformation(self) -> dict[str, Any]:
        """The template after the SAM transform (Globals merged, events expanded), no AWS calls."""
        template = transformed(self.sam_template, self.parameter_overrides)
        for resource in template["Resources"].values():
            resource.setdefault("Properties", {})  # CloudFormation reads a resource without them as empty
        return template

    @cached_property
    def parameters(self) -> dict[str, Any]:
        return parameters(self.sam_template, self.parameter_overrides)

    @cached_property
    def functions(self) -> dict[str, FunctionSpec]:
        provider = SamFunctionProvider([self._stack], use_raw_codeuri=True, ignore_code_extraction_warnings=True)
        base = self.template_path.parent
        specs: dict[str, FunctionSpec] = {}
        for function in provider.get_all():
            cfn = self.cloudformation["Resources"][function.name]["Properties"]
            specs[function.name] = FunctionSpec(
                logical_id=function.name,
                handler=function.handler,
                runtime=function.runtime,
                memory_mb=int(function.memory or 128),
                timeout_s=int(function.timeout or 3),
                code_dir=(base / function.codeuri).resolve(),
                layer_dirs=tuple((base / layer.codeuri).resolve() for layer in function.layers),
                architectures=tuple(function.architectures or ["x86_64"]),
                events=copy.deepcopy(self.sam_template["Resources"][function.name]["Properties"].get("Events", {})),
                raw_environment=copy.deepcopy(cfn.get("Environment", {}).get("Variables", {})),
                log_config=LogConfig.of(cfn.get("LoggingConfig")),
                ephemeral_storage_mb=int(cfn.get("EphemeralStorage", {}).get("Size", 512)),
            )
        return specs

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return resources_of_type(self.cloudformation, resource_type)

    def aliases(self, logical_id: str) -> set[str]:
        """The function's alias names (SAM's AutoPublishAlias becomes an AWS::Lambda::Alias)."""
        return {
            str(alias["Properties"]["Name"])
            for alias in self.resources_of_type("AWS::Lambda::Alias").values()
            if alias["Properties"].get("FunctionName") == {"Ref": logical_id}
        }
