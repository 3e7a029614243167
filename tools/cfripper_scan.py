"""cfripper over CloudFormation templates, each remaining finding justified where the resource is declared.

Runs in the scan venv (`make security-scan`). cfripper reads CloudFormation, not SAM, so the service's
template is scanned as `python -m sam_testkit.sam_template template.yaml` prints it. A finding is accepted only where
the resource's own Metadata names the rule and says why, as checkov's skips do:

    Metadata:
      cfripper:
        allow:
          - rule: WildcardResourceRule
            reason: ...

A rule that crashes, a justification naming a rule that found nothing there, and any finding without
a justification fail the scan (exit 2); what cfripper could not read is printed, not hidden.

    python tools/cfripper_scan.py TEMPLATE [TEMPLATE ...]
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pycfmodel
from cfripper.config.config import Config
from cfripper.config.filter import Filter
from cfripper.config.pluggy.utils import get_all_rules
from cfripper.model.enums import RuleMode
from cfripper.model.utils import convert_json_or_yaml_to_dict
from cfripper.rule_processor import RuleProcessor


class _Unread(logging.Handler):
    """cfripper logs, and then skips, what it cannot analyse (a policy written as a Fn::Sub string)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().splitlines()[0]
        if not message.startswith("Instantiation of GenericResource"):  # a type pycfmodel models generically
            self.messages.append(message if len(message) < 160 else f"{message[:80]} … {message[-60:]}")


def justifications(template: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(logical id, rule) -> reason, from every resource's Metadata.cfripper.allow."""
    allowed: dict[tuple[str, str], str] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        for entry in (resource.get("Metadata") or {}).get("cfripper", {}).get("allow", []):
            if not str(entry.get("reason", "")).strip():
                raise SystemExit(f"{logical_id}: cfripper allows {entry.get('rule')} without a reason")
            allowed[(logical_id, entry["rule"])] = entry["reason"]
    return allowed


def scan(path: Path) -> list[str]:
    """Problems that fail the scan; prints what was allowed and what could not be read."""
    template = convert_json_or_yaml_to_dict(path.read_text())
    allowed = justifications(template)
    rules = get_all_rules()
    config = Config(rules=rules.keys())
    used: set[tuple[str, str]] = set()

    def allow(logical_id: str, rule: str) -> Filter:
        def matches(context: dict[str, Any]) -> bool:
            hit = context.get("logical_id") == logical_id
            if hit:
                used.add((logical_id, rule))
            return hit

        # A callable as eval, set after validation: Filter's validator would wrap it as a constant (always true),
        # and cfripper's own eval language cannot say which justifications matched, which the scan reports.
        return Filter(reason=allowed[(logical_id, rule)], rule_mode=RuleMode.ALLOWED, eval={}, rules={rule}).model_copy(
            update={"eval": matches}
        )

    config.add_filters([allow(logical_id, rule) for logical_id, rule in allowed])
    processor = RuleProcessor(*[rules[name](config) for name in config.rules])
    unread = _Unread()
    logging.getLogger().addHandler(unread)
    try:
        result = processor.process_cf_template(pycfmodel.parse(template), config)
    finally:
        logging.getLogger().removeHandler(unread)

    problems = [f"{type(error).__name__} in a rule: {error}" for error in result.exceptions]
    for failure in result.failures:
        resources = ", ".join(sorted(failure.resource_ids or []))
        problems.append(f"{failure.rule} ({failure.rule_mode.value}) on {resources}: {failure.reason}")
    problems += [
        f"{logical_id}: allows {rule}, which found nothing there (remove the justification)"
        for logical_id, rule in sorted(allowed.keys() - used)
    ]
    for logical_id, rule in sorted(used):
        print(f"  allowed {rule} on {logical_id}: {allowed[(logical_id, rule)]}")
    for message in sorted(set(unread.messages)):
        print(f"  not analysed: {message}")
    return problems


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: cfripper_scan.py TEMPLATE [TEMPLATE ...]", file=sys.stderr)
        return 2
    failed = False
    for path in map(Path, paths):
        print(f"cfripper: {path}")
        problems = scan(path)
        for problem in problems:
            print(f"  FAIL {problem}")
        failed = failed or bool(problems)
        print(f"  {'FAILED' if problems else 'passed'}: {len(problems)} unjustified")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
