"""The pipeline cannot run here, so what makes it safe is checked statically: pinned actions, who may deploy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ROLE_TEMPLATE = cfn_yaml.load(str(ROOT / "pipeline" / "github-oidc-role.yaml"))


def _steps() -> list[dict[str, Any]]:
    return [
        step
        for workflow in WORKFLOWS
        for job in yaml.safe_load(workflow.read_text())["jobs"].values()
        for step in job.get("steps", [])
    ]


def test_every_action_is_pinned_to_a_full_commit_sha():
    used = [step["uses"] for step in _steps() if "uses" in step]
    assert used
    assert [u for u in used if not re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u)] == []


def test_only_deploy_jobs_get_an_oidc_token_and_pull_requests_never_deploy():
    for workflow in WORKFLOWS:
        document = yaml.safe_load(workflow.read_text())
        assert "id-token" not in document.get("permissions", {})  # not workflow-wide
        for name, job in document["jobs"].items():
            if job.get("permissions", {}).get("id-token") == "write":
                assert job.get("environment"), f"{name}: an OIDC token only in an environment the role trusts"
                assert "github.event_name == 'push'" in job["if"], f"{name}: never on a pull request"


def test_the_deploy_role_trusts_only_this_repositorys_environments():
    role = ROLE_TEMPLATE["Resources"]["GitHubDeployRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    condition = statement["Condition"]
    assert list(condition) == ["StringEquals"]  # exact subjects: no StringLike wildcard on the repository
    assert condition["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    subjects = condition["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert [s["Fn::Sub"] for s in subjects] == [
        "repo:${GitHubOrg}/${GitHubRepo}:environment:dev",
        "repo:${GitHubOrg}/${GitHubRepo}:environment:prod",
    ]


def test_the_deploy_role_can_pass_only_the_execution_role_and_only_to_cloudformation():
    (policy,) = ROLE_TEMPLATE["Resources"]["GitHubDeployRole"]["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    (pass_role,) = [s for s in statements if "iam:PassRole" in s["Action"]]
    assert pass_role["Resource"] == {"Fn::GetAtt": ["CloudFormationExecutionRole", "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    assert not any(s["Action"] == "*" or s["Action"] == ["*"] for s in statements)


def test_the_pre_commit_hooks_are_valid_and_run_the_venvs_pinned_tools():
    config = ROOT / ".pre-commit-config.yaml"
    pre_commit = Path(sys.executable).with_name("pre-commit")
    subprocess.run([str(pre_commit), "validate-config", str(config)], check=True, capture_output=True)  # noqa: S603
    hooks = [hook for repo in yaml.safe_load(config.read_text())["repos"] for hook in repo["hooks"]]
    assert {"ruff", "ruff-format", "mypy", "cfn-lint", "actionlint"} <= {hook["id"] for hook in hooks}
    tools = [word for hook in hooks for word in hook["entry"].split() if word.startswith(".venv/bin/")]
    assert tools
    installed = {path.name for path in Path(sys.executable).parent.iterdir()}  # the venv's bin/
    assert [tool for tool in tools if Path(tool).name not in installed] == []
